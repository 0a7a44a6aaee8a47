package manager

import (
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"
	"github.com/ganger/ganger/process"

	"github.com/ganger/ganger/internal/leakcheck"
)

// TestMain fails the run if a goroutine of the manager (or of the process
// package it drives, apart from the spawner thread that lives forever)
// outlives the tests.
func TestMain(m *testing.M) {
	// As the daemon is: orphaned grandchildren come back to the test binary
	// and the managers (ReapAll) reap them at once, rather than leaving
	// zombies in their process groups until the machine's init reaps them.
	if err := process.SetSubreaper(); err != nil {
		panic(err)
	}
	leakcheck.Main(m, await.Scale(10*time.Second), leakcheck.Filter{
		Code:   []string{"ganger/manager.", "ganger/process."},
		Ignore: []string{"process.spawnLoop"},
	})
}
