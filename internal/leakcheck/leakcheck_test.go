package leakcheck

import (
	"strings"
	"testing"
	"time"
)

// parked blocks until release is closed; its frame names this package.
func parked(release <-chan struct{}) { <-release }

// TestCheck: a goroutine of the named code is a leak until it ends; an
// ignored one never is.
func TestCheck(t *testing.T) {
	release := make(chan struct{})
	done := make(chan struct{})
	go func() { parked(release); close(done) }()

	ours := Filter{Code: []string{"leakcheck.parked"}}
	err := Check(50*time.Millisecond, ours)
	if err == nil || !strings.Contains(err.Error(), "leakcheck.parked") {
		t.Fatalf("a parked goroutine of the named code: got %v, want a leak naming it", err)
	}
	if err := Check(50*time.Millisecond, Filter{Code: ours.Code, Ignore: []string{"leakcheck.parked"}}); err != nil {
		t.Fatalf("an ignored goroutine is reported: %v", err)
	}

	// Check waits for a goroutine that is ending.
	go func() { time.Sleep(30 * time.Millisecond); close(release) }()
	if err := Check(5*time.Second, ours); err != nil {
		t.Fatalf("a goroutine that ended is reported: %v", err)
	}
	<-done
}
