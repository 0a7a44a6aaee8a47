// Package tests holds black-box tests of the ganger binary: TestMain
// builds it once, and the tests run it as a user would — the daemon on a
// free port with a temporary config, driven over HTTP, the WebSocket and
// the command line.
//
// When the tests run with -race, the daemon started by startDaemon is a
// second build of ganger with -race (its concurrency is where races would
// be). Everything else runs the plain build: a race-enabled binary takes
// over a second to start on some machines, and the CLI runs hundreds of
// times.
//
// Environment:
//
//	GANGER_TEST_BIN   use this binary (for everything) instead of building
//	GANGER_TEST_SLOW  multiply every timeout by this factor (slow machines)
package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ganger/ganger/internal/await"
)

// gangerBin is the path of the ganger binary under test.
var gangerBin string

// daemonBin is the binary startDaemon runs: gangerBin, or a -race build of
// it when the tests run with -race.
var daemonBin string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	await.Factor() // a bad $GANGER_TEST_SLOW fails now, not after the build
	if bin := os.Getenv("GANGER_TEST_BIN"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		gangerBin, daemonBin = abs, abs
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ganger-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	gangerBin = filepath.Join(dir, "ganger")
	daemonBin = gangerBin
	builds := [][]string{{"-o", gangerBin}}
	if raceEnabled {
		daemonBin = filepath.Join(dir, "ganger-race")
		builds = append(builds, []string{"-race", "-o", daemonBin})
	}
	errs := make(chan error, len(builds))
	for _, b := range builds {
		go func() {
			cmd := exec.Command("go", append(append([]string{"build"}, b...), "./cmd/ganger")...)
			cmd.Dir = ".." // the module's root
			out, err := cmd.CombinedOutput()
			if err != nil {
				err = fmt.Errorf("go build %v: %v\n%s", b, err, out)
			}
			errs <- err
		}()
	}
	failed := false
	for range builds {
		if err := <-errs; err != nil {
			fmt.Fprintf(os.Stderr, "building ganger: %v\n", err)
			failed = true
		}
	}
	if failed {
		return 2
	}
	return m.Run()
}
