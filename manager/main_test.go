package manager

import (
	"testing"
	"time"

	"github.com/ganger/ganger/internal/leakcheck"
)

// TestMain fails the run if a goroutine of the manager (or of the process
// package it drives, apart from the spawner thread that lives forever)
// outlives the tests.
func TestMain(m *testing.M) {
	leakcheck.Main(m, slow(10*time.Second), leakcheck.Filter{
		Code:   []string{"ganger/manager.", "ganger/process."},
		Ignore: []string{"process.spawnLoop"},
	})
}
