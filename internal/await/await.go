// Package await holds the deadlines of ganger's tests: one multiplier for
// slow machines and one way to wait for a condition, by polling it until
// it holds or a deadline passes (never by sleeping a fixed time and
// hoping).
//
// Every duration given to this package is the one a normal machine needs;
// the package multiplies it by $GANGER_TEST_SLOW (a positive number, 1 when
// unset), so on a loaded machine GANGER_TEST_SLOW=3 stretches every
// deadline of every package's tests alike:
//
//	await.Until(t, 10*time.Second, "two processes in the group", func() bool {
//		return len(group(pid)) == 2
//	})
//	ctx, cancel := context.WithTimeout(ctx, await.Scale(20*time.Second))
//
// Poll is for a caller that reports a timeout itself (with the last state
// it saw, or with t.Errorf rather than t.Fatalf).
package await

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Interval is how often Poll and Until call their condition.
const Interval = 10 * time.Millisecond

// Factor returns the multiplier $GANGER_TEST_SLOW sets for every deadline:
// 1 when it is unset or empty. It panics if GANGER_TEST_SLOW is set to
// anything but a positive number, so that a typo does not leave every
// deadline silently unscaled.
func Factor() float64 { return factor() }

var factor = sync.OnceValue(func() float64 {
	f, err := parseFactor(os.Getenv("GANGER_TEST_SLOW"))
	if err != nil {
		panic(err)
	}
	return f
})

func parseFactor(s string) (float64, error) {
	if s == "" {
		return 1, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f > 0) || math.IsInf(f, 1) {
		return 0, fmt.Errorf("GANGER_TEST_SLOW=%q: want a positive number, such as 3", s)
	}
	return f, nil
}

// Scale returns d multiplied by Factor.
func Scale(d time.Duration) time.Duration { return time.Duration(float64(d) * Factor()) }

// Poll calls cond every Interval until it returns true, and then returns
// true; if Scale(timeout) passes first, it returns false. cond is called at
// least once, and runs on the caller's goroutine (it may call t.Fatal).
func Poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(Scale(timeout))
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(Interval)
	}
	return true
}

// Until polls cond like Poll and fails the test with
// "timed out after <scaled timeout> waiting for <what>" if it does not
// hold in time. Like t.Fatal, it must be called from the test's goroutine.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Poll(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", Scale(timeout), what)
	}
}
