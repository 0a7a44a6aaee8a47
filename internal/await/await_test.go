package await

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseFactor(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64 // 0: an error
	}{
		{"", 1},
		{"1", 1},
		{"3", 3},
		{"0.5", 0.5},
		{"2.5", 2.5},
		{"0", 0},
		{"-2", 0},
		{"three", 0},
		{"NaN", 0},
		{"Inf", 0},
		{"3x", 0},
	} {
		got, err := parseFactor(tt.in)
		if tt.want == 0 {
			if err == nil || !strings.Contains(err.Error(), "GANGER_TEST_SLOW") {
				t.Errorf("parseFactor(%q) = %v, %v; want an error naming GANGER_TEST_SLOW", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("parseFactor(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestScale(t *testing.T) {
	if got, want := Scale(2*time.Second), time.Duration(float64(2*time.Second)*Factor()); got != want {
		t.Errorf("Scale(2s) = %v, want %v (factor %v)", got, want, Factor())
	}
}

func TestPoll(t *testing.T) {
	t.Run("holds later", func(t *testing.T) {
		var calls atomic.Int32
		if !Poll(10*time.Second, func() bool { return calls.Add(1) == 3 }) {
			t.Fatal("Poll gave up on a condition that held at the third call")
		}
		if n := calls.Load(); n != 3 {
			t.Errorf("cond called %d times, want 3 (no call after it held)", n)
		}
	})
	t.Run("holds at once", func(t *testing.T) {
		if !Poll(0, func() bool { return true }) {
			t.Error("Poll with no time left gave up on a condition that holds")
		}
	})
	t.Run("never holds", func(t *testing.T) {
		timeout := 50 * time.Millisecond
		start := time.Now()
		if Poll(timeout, func() bool { return false }) {
			t.Fatal("Poll reported a condition that never holds")
		}
		if took := time.Since(start); took < Scale(timeout) {
			t.Errorf("Poll gave up after %v, before its deadline %v", took, Scale(timeout))
		}
	})
}

// fakeTB records a failure instead of ending the test.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
}

func TestUntil(t *testing.T) {
	ok := &fakeTB{TB: t}
	var calls int
	Until(ok, 10*time.Second, "the third call", func() bool { calls++; return calls == 3 })
	if ok.failed != "" {
		t.Errorf("Until failed on a condition that held: %s", ok.failed)
	}

	late := &fakeTB{TB: t}
	Until(late, 20*time.Millisecond, "a condition that never holds", func() bool { return false })
	want := fmt.Sprintf("timed out after %v waiting for a condition that never holds", Scale(20*time.Millisecond))
	if late.failed != want {
		t.Errorf("failure %q, want %q", late.failed, want)
	}
}
