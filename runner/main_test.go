package runner

import (
	"testing"
	"time"

	"github.com/ganger/ganger/internal/leakcheck"
)

// TestMain fails the package if goroutines outlive the tests: Run must
// leave nothing behind (its manager, printer and API server all end). The
// process package's fork thread lives forever by design.
func TestMain(m *testing.M) {
	leakcheck.Main(m, 5*time.Second, leakcheck.Filter{
		Code:   []string{"github.com/ganger/ganger/"},
		Ignore: []string{"process.spawnLoop"},
	})
}
