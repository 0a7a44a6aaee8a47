package manager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ganger/ganger/process"
	"github.com/ganger/ganger/pubsub"
)

// This file is a system without an OS, for running the manager's loop in
// a testing/synctest bubble: time.Now, timers and sleeps follow the
// bubble's fake clock, so the timing rules (backoff, flapping, probes,
// kill deadlines, rollouts) are tested exactly and in microseconds. A
// fake process does what its script says: run for a while and exit with a
// code, obey or ignore its stop signal. Probes' targets answer what the
// test says.

// fakeScript is how one fake process behaves.
type fakeScript struct {
	runFor     time.Duration  // it exits by itself after this; 0: it runs until signalled
	code       int            // its exit code then
	signal     syscall.Signal // or the signal it dies of then
	ignoreTerm bool           // its stop signal does nothing: only SIGKILL ends it
	termDelay  time.Duration  // how long it takes to exit after its stop signal
	spawnErr   error          // it cannot be started
}

// fakeSystem is the fake OS. Safe for concurrent use.
type fakeSystem struct {
	mu      sync.Mutex
	nextPid int
	procs   map[int]*fakeProc
	exitCh  chan process.Exit
	started []*fakeProc

	// script says how a process of spec behaves (n: how many processes
	// of that spec's job were started before); nil: run until signalled.
	script func(spec process.Spec, n int) fakeScript
	// probe answers an http or tcp probe of target; nil: it passes.
	probe func(target string) error
}

func newFakeSystem() *fakeSystem {
	return &fakeSystem{procs: map[int]*fakeProc{}, exitCh: make(chan process.Exit, 4096), nextPid: 1000}
}

// fakeProc is one fake process.
type fakeProc struct {
	sys     *fakeSystem
	pid     int
	spec    process.Spec
	script  fakeScript
	started time.Time

	// guarded by sys.mu
	alive   bool
	ended   time.Time
	signals []syscall.Signal
	timer   *time.Timer
}

func envOf(spec process.Spec, key string) string {
	for _, kv := range slices.Backward(spec.Env) {
		if len(kv) > len(key) && kv[:len(key)+1] == key+"=" {
			return kv[len(key)+1:]
		}
	}
	return ""
}

func (f *fakeSystem) start(spec process.Spec) (osProcess, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var sc fakeScript
	if f.script != nil {
		n := 0
		for _, p := range f.started {
			if envOf(p.spec, "GANGER_TEST_JOB") == envOf(spec, "GANGER_TEST_JOB") {
				n++
			}
		}
		sc = f.script(spec, n)
	}
	if sc.spawnErr != nil {
		return nil, sc.spawnErr
	}
	f.nextPid++
	p := &fakeProc{sys: f, pid: f.nextPid, spec: spec, script: sc, started: time.Now(), alive: true}
	f.procs[p.pid] = p
	f.started = append(f.started, p)
	if sc.runFor > 0 {
		ws := syscall.WaitStatus(sc.code << 8)
		if sc.signal != 0 {
			ws = syscall.WaitStatus(sc.signal)
		}
		p.timer = time.AfterFunc(sc.runFor, func() { p.end(ws) })
	}
	return p, nil
}

// end makes p exit with status, once.
func (p *fakeProc) end(ws syscall.WaitStatus) {
	p.sys.mu.Lock()
	defer p.sys.mu.Unlock()
	p.endLocked(ws)
}

func (p *fakeProc) endLocked(ws syscall.WaitStatus) {
	if !p.alive {
		return
	}
	p.alive = false
	p.ended = time.Now()
	if p.timer != nil {
		p.timer.Stop()
	}
	p.sys.exitCh <- process.Exit{Pid: p.pid, Status: ws}
}

func (f *fakeSystem) watch(pid int)              { _ = pid }
func (f *fakeSystem) exits() <-chan process.Exit { return f.exitCh }
func (f *fakeSystem) close()                     {}

func (f *fakeSystem) checkHTTP(ctx context.Context, url string) error { return f.answer(url) }
func (f *fakeSystem) checkTCP(ctx context.Context, addr string) error { return f.answer(addr) }

func (f *fakeSystem) answer(target string) error {
	if f.probe == nil {
		return nil
	}
	return f.probe(target)
}

// spawned returns the fake processes started so far whose job is name
// (the env GANGER_TEST_JOB of the test's jobs), oldest first.
func (f *fakeSystem) spawned(job string) []*fakeProc {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*fakeProc
	for _, p := range f.started {
		if envOf(p.spec, "GANGER_TEST_JOB") == job {
			out = append(out, p)
		}
	}
	return out
}

// liveCount counts the live fake processes of job.
func (f *fakeSystem) liveCount(job string) int {
	n := 0
	for _, p := range f.spawned(job) {
		if p.isAlive() {
			n++
		}
	}
	return n
}

func (p *fakeProc) isAlive() bool {
	p.sys.mu.Lock()
	defer p.sys.mu.Unlock()
	return p.alive
}

func (p *fakeProc) Pid() int { return p.pid }

func (p *fakeProc) Signal(sig syscall.Signal) error {
	p.sys.mu.Lock()
	defer p.sys.mu.Unlock()
	if !p.alive {
		return process.ErrGone
	}
	p.signals = append(p.signals, sig)
	switch {
	case sig == syscall.SIGKILL:
		p.endLocked(syscall.WaitStatus(syscall.SIGKILL))
	case sig == syscall.SIGCONT, sig == 0:
	case p.script.ignoreTerm:
	case p.script.termDelay > 0:
		time.AfterFunc(p.script.termDelay, func() { p.end(syscall.WaitStatus(sig)) })
	default:
		p.endLocked(syscall.WaitStatus(sig))
	}
	return nil
}

func (p *fakeProc) Terminate(sig syscall.Signal) error {
	if err := p.Signal(sig); err != nil {
		return err
	}
	p.Signal(syscall.SIGCONT)
	return nil
}

func (p *fakeProc) GroupAlive() bool { return p.isAlive() }

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (p *fakeProc) OutputDone() <-chan struct{} { return closedChan }
func (p *fakeProc) CloseOutput()                {}
func (p *fakeProc) Release()                    {}
func (p *fakeProc) Write(stream string, b []byte) (int, error) {
	return 0, fmt.Errorf("fake process: %w", process.ErrNoStream)
}
func (p *fakeProc) CloseInput(stream string) error { return process.ErrNoStream }
func (p *fakeProc) Stats() (process.Stats, error)  { return process.Stats{}, errors.New("fake process") }

// signalled returns the signals p received.
func (p *fakeProc) signalled() []syscall.Signal {
	p.sys.mu.Lock()
	defer p.sys.mu.Unlock()
	return slices.Clone(p.signals)
}

// fakeBubble runs test in a synctest bubble with a manager on a fake
// system, and closes the manager before the bubble ends.
func fakeBubble(t *testing.T, setup func(*fakeSystem), test func(t *testing.T, f *fakeSystem, m *Manager)) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSystem()
		if setup != nil {
			setup(f)
		}
		m := newWithSystem(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, f)
		test(t, f, m)
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("closing the manager: %v", err)
		}
	})
}

// recorder keeps every event of a bubble's manager, with the fake time it
// was published at.
type recorder struct {
	sub *pubsub.Sub[Event]
	mu  sync.Mutex
	got []timedEvent
}

type timedEvent struct {
	Event
	at time.Duration // since the recorder started
}

func record(t *testing.T, m *Manager) *recorder {
	t.Helper()
	sub, err := m.Subscribe(context.Background(), 1<<16, "")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{sub: sub}
	start := time.Now()
	go func() {
		for msg := range sub.C() {
			r.mu.Lock()
			r.got = append(r.got, timedEvent{msg.Event, time.Since(start)})
			r.mu.Unlock()
		}
	}()
	t.Cleanup(sub.Close)
	return r
}

// events returns what was recorded so far (after synctest.Wait, so that
// the recorder has caught up), of the given types (every type for none).
func (r *recorder) events(types ...string) []timedEvent {
	synctest.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []timedEvent
	for _, e := range r.got {
		if len(types) == 0 || slices.Contains(types, e.Type) {
			out = append(out, e)
		}
	}
	return out
}
