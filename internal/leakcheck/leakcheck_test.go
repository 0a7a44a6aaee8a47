package leakcheck

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// parked closes started, then blocks until release is closed: from
// started on, its frame is in the goroutine's stack.
//
//go:noinline
func parked(started chan<- struct{}, release <-chan struct{}, done *sync.WaitGroup) {
	defer done.Done()
	close(started)
	<-release
}

// TestCheck: a goroutine of the named code is a leak until it ends; an
// ignored one never is.
func TestCheck(t *testing.T) {
	release := make(chan struct{})
	var done sync.WaitGroup
	done.Add(1)
	started := make(chan struct{})
	go parked(started, release, &done)
	<-started
	var once sync.Once
	end := func() { once.Do(func() { close(release) }) }
	defer done.Wait()
	defer end()

	ours := Filter{Code: []string{"leakcheck.parked"}}
	err := Check(50*time.Millisecond, ours)
	if err == nil || !strings.Contains(err.Error(), "leakcheck.parked") {
		t.Fatalf("a parked goroutine of the named code: got %v, want a leak naming it", err)
	}
	if err := Check(50*time.Millisecond, Filter{Code: ours.Code, Ignore: []string{"leakcheck.parked"}}); err != nil {
		t.Fatalf("an ignored goroutine is reported: %v", err)
	}

	// Check waits for a goroutine that is ending.
	go func() { time.Sleep(30 * time.Millisecond); end() }()
	if err := Check(5*time.Second, ours); err != nil {
		t.Fatalf("a goroutine that ended is reported: %v", err)
	}
}
