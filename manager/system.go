package manager

import (
	"context"
	"syscall"

	"github.com/ganger/ganger/probe"
	"github.com/ganger/ganger/process"
)

// system is what the manager needs of the operating system: starting
// processes, learning of their exits, and reaching a probe's target. The
// loop talks to it and to nothing else of the OS, so that the manager's
// tests can run the loop on a fake system inside a testing/synctest
// bubble, where time.Now, timers and sleeps follow a fake clock: the
// timing rules (backoff, flapping, probe schedules, kill deadlines) are
// tested in microseconds. osSystem is the real one.
type system interface {
	// start starts one process. It may block briefly (fork and exec).
	start(spec process.Spec) (osProcess, error)
	// watch hands a started process's pid to the reaper. It returns once
	// the reaper has it, so its exit cannot be reported before.
	watch(pid int)
	// exits reports every reaped child, in reap order.
	exits() <-chan process.Exit
	// checkHTTP and checkTCP are one probe attempt each (see package
	// probe); they return nil when the target passes.
	checkHTTP(ctx context.Context, url string) error
	checkTCP(ctx context.Context, addr string) error
	// close stops the reaper.
	close()
}

// osProcess is one started process, as the manager uses it;
// *process.Process implements it.
type osProcess interface {
	Pid() int
	Signal(sig syscall.Signal) error
	Terminate(sig syscall.Signal) error
	GroupAlive() bool
	OutputDone() <-chan struct{}
	CloseOutput()
	Release()
	Write(stream string, b []byte) (int, error)
	CloseInput(stream string) error
	Stats() (process.Stats, error)
}

var _ osProcess = (*process.Process)(nil)

// osSystem is the real system: package process and one Reaper.
type osSystem struct{ reaper *process.Reaper }

func newOSSystem(reapAll bool) *osSystem {
	return &osSystem{reaper: process.NewReaper(reapAll)}
}

func (s *osSystem) start(spec process.Spec) (osProcess, error) {
	p, err := process.Start(spec)
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (s *osSystem) watch(pid int)              { s.reaper.Watch(pid) }
func (s *osSystem) exits() <-chan process.Exit { return s.reaper.Exits() }
func (s *osSystem) close()                     { s.reaper.Close() }

func (s *osSystem) checkHTTP(ctx context.Context, url string) error { return probe.HTTP(ctx, url) }
func (s *osSystem) checkTCP(ctx context.Context, addr string) error { return probe.TCP(ctx, addr) }
