// Package leakcheck fails a test binary when goroutines of the code under
// test outlive its tests: a goroutine left behind by a Close, a cancelled
// context or a finished process is a leak even when every test passed.
//
// A goroutine is judged by its stack: it belongs to the code under test if
// the stack names one of the Filter's Code strings (a package path such as
// "ganger/manager.") and none of its Ignore strings. Goroutines of the
// runtime, the testing package and libraries are left alone unless named.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Filter says which goroutines belong to the code under test.
type Filter struct {
	Code   []string // a stack naming any of these is ours...
	Ignore []string // ...unless it names one of these (a goroutine that lives forever by design)
}

// Main runs the tests of m and exits. If they passed, it first waits up to
// wait for the goroutines f calls ours to end, and fails the run, printing
// their stacks, if some are still there.
func Main(m *testing.M, wait time.Duration, f Filter) {
	code := m.Run()
	if code == 0 {
		if err := Check(wait, f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// Check waits up to wait, polling, until no goroutine f calls ours runs,
// and returns an error with their stacks if some still do then.
func Check(wait time.Duration, f Filter) error {
	deadline := time.Now().Add(wait)
	for {
		leaked := f.running()
		if len(leaked) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("leaked %d goroutines:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running returns the stacks of the goroutines f calls ours, other than
// the caller's and those of the testing package's own machinery.
func (f Filter) running() []string {
	var out []string
	for i, g := range strings.Split(allStacks(), "\n\n") {
		if i > 0 && f.ours(g) { // the first is the caller's
			out = append(out, g)
		}
	}
	return out
}

func (f Filter) ours(stack string) bool {
	named := func(subs []string) bool {
		for _, s := range subs {
			if strings.Contains(stack, s) {
				return true
			}
		}
		return false
	}
	// The frames of goroutines the tests themselves run on.
	machinery := []string{"testing.tRunner", "testing.(*B)", "testing.(*M)", ".TestMain("}
	return named(f.Code) && !named(f.Ignore) && !named(machinery)
}

// allStacks returns every goroutine's stack, separated by blank lines.
func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}
