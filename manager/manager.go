package manager

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/pubsub"
)

// Options configure a Manager. The zero value is usable.
type Options struct {
	// Logger receives the manager's own log lines; nil means slog.Default().
	Logger *slog.Logger
	// LogDir, when set, receives each job's output in <session>.<job>.log.
	LogDir string
	// LogFileMax is the size at which a job's log file is rotated (default 10 MiB).
	LogFileMax int64
	// LogFileKeep is how many rotated files are kept (default 3).
	LogFileKeep int
	// LogLines is how many output lines are kept per job for Logs (default 1000).
	LogLines int
	// LogBytes bounds the memory those lines take per job (default 1 MiB):
	// past it the oldest lines go first, so a job writing long lines keeps
	// fewer of them.
	LogBytes int
	// ReapAll makes the manager reap every child of this process, not only
	// its own: the daemon sets it, together with process.SetSubreaper, so
	// orphaned grandchildren are reaped. Leave it off where other code of the
	// same program waits on its own children (os/exec).
	ReapAll bool
	// DrainTimeout bounds how long output is awaited after a process group
	// is gone (a grandchild that left the group may hold the pipe). Default 2s.
	DrainTimeout time.Duration
	// EventBuffer is the default buffer of a Subscribe call (default 1024).
	EventBuffer int
}

// Manager runs jobs. Create one with New and stop it with Close.
type Manager struct {
	opts    Options
	log     *slog.Logger
	cwd     string // the daemon's working directory: a job's without cwd
	sys     system
	events  *pubsub.Bus[Event]
	output  *pubsub.Bus[Chunk]       // output copies, for SubscribeOutput
	follows *pubsub.Bus[followChunk] // output in pooled buffers, for FollowProcess
	bufs    *bufPool                 // output line buffers, shared by every job's ring

	cmds      chan func()
	msgs      chan any
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	spawns, spawnErrors, exits, restarts, flaps, giveups atomic.Uint64

	// Loop-owned state: touched only by the loop goroutine.
	sessions     map[string]*session
	sessionOrder []string
	procs        map[int]*proc     // every process not yet gone, by internal pid
	byOS         map[int][]*proc   // processes whose leader is not reaped yet, by os pid
	probeRuns    map[int]*probeRun // exec probe attempts not yet reaped, by os pid
	waiting      []*job            // started jobs whose slots wait for dependencies
	revision     uint64            // the last revision given to a job (job.changed)
	anyHeld      bool              // some job's stop waits for its dependents' (deps.go)
	timers       timers            // the loop's deadlines (timers.go)
	nextPid      int
	shutting     bool
}

// New starts a manager's loop.
func New(opts Options) *Manager {
	return newWithSystem(opts, newOSSystem(opts.ReapAll))
}

// newWithSystem starts a manager on sys (the tests' fake system, or the OS).
func newWithSystem(opts Options, sys system) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LogFileMax <= 0 {
		opts.LogFileMax = 10 << 20
	}
	if opts.LogFileKeep <= 0 {
		opts.LogFileKeep = 3
	}
	if opts.LogLines <= 0 {
		opts.LogLines = 1000
	}
	if opts.LogBytes <= 0 {
		opts.LogBytes = 1 << 20
	}
	if opts.DrainTimeout <= 0 {
		opts.DrainTimeout = 2 * time.Second
	}
	if opts.EventBuffer <= 0 {
		opts.EventBuffer = 1024
	}
	m := &Manager{
		opts:      opts,
		log:       opts.Logger,
		sys:       sys,
		events:    pubsub.New[Event](),
		output:    pubsub.New[Chunk](),
		follows:   pubsub.New[followChunk](),
		bufs:      new(bufPool),
		cmds:      make(chan func()),
		msgs:      make(chan any, 256),
		quit:      make(chan struct{}),
		done:      make(chan struct{}),
		sessions:  map[string]*session{},
		procs:     map[int]*proc{},
		byOS:      map[int][]*proc{},
		probeRuns: map[int]*probeRun{},
	}
	m.cwd, _ = os.Getwd()
	go m.loop()
	return m
}

// Done is closed once the manager's loop has ended.
func (m *Manager) Done() <-chan struct{} { return m.done }

// Metrics returns the manager's counters.
func (m *Manager) Metrics() Metrics {
	return Metrics{
		Spawns: m.spawns.Load(), SpawnErrors: m.spawnErrors.Load(), Exits: m.exits.Load(),
		Restarts: m.restarts.Load(), Flaps: m.flaps.Load(), GiveUps: m.giveups.Load(),
	}
}

// DroppedEvents returns how many events and output chunks subscribers
// (followers included) have missed because they read too slowly.
func (m *Manager) DroppedEvents() (events, output uint64) {
	return m.events.Dropped(), m.output.Dropped() + m.follows.Dropped()
}

// Close stops every job gracefully (dependents first), waits until all
// processes are gone and ends the loop. When ctx expires first, every
// remaining process group is killed and Close waits a little more before
// returning ctx's error.
func (m *Manager) Close(ctx context.Context) error {
	m.closeOnce.Do(func() { close(m.quit) })
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
	}
	m.post(msgKillAll{})
	select {
	case <-m.done:
	case <-time.After(5 * time.Second):
	}
	return ctx.Err()
}

func (m *Manager) loop() {
	defer close(m.done)
	defer m.sys.close()
	quit := m.quit
	for {
		select {
		case f := <-m.cmds:
			f()
		case e := <-m.sys.exits():
			m.handleExit(e)
		case msg := <-m.msgs:
			m.handleMsg(msg)
		case <-m.timerC():
			m.fireTimers()
		case <-quit:
			quit = nil
			m.beginShutdown()
		}
		if m.shutting && len(m.procs) == 0 && len(m.probeRuns) == 0 {
			m.finishShutdown()
			return
		}
	}
}

// Internal messages to the loop, from its timers, watchers and probes.
type (
	msgKillDue   struct{ p *proc }
	msgProcGone  struct{ p *proc }
	msgSlotTimer struct {
		j    *job
		s    *slot
		kind timerKind
		gen  int
	}
	msgKillAll struct{}
)

func (m *Manager) handleMsg(msg any) {
	switch msg := msg.(type) {
	case msgSlotTimer:
		m.slotTimer(msg)
	case msgKillDue:
		if _, ok := m.procs[msg.p.pid]; ok {
			m.killProc(msg.p)
		}
	case msgProcGone:
		m.procGone(msg.p)
	case msgProbe:
		m.probeVerdict(msg)
	case msgProbeTimeout:
		m.probeTimedOut(msg.osPid)
	case msgRolloutDue:
		m.rolloutDue(msg)
	case msgKillAll:
		for _, p := range m.procs {
			m.killProc(p)
		}
		for osPid := range m.probeRuns {
			m.probeTimedOut(osPid)
		}
	}
}

// slotTimer hands a slot's timer to the slot, unless it is stale.
func (m *Manager) slotTimer(msg msgSlotTimer) {
	j, s := msg.j, msg.s
	if s.timerGen != msg.gen || j.slot(s.n) != s || j.removed {
		return
	}
	s.timer = nil
	cfg := j.cfg
	if s.proc != nil {
		cfg = s.proc.cfg // its readiness rules are those it was spawned with
	}
	m.apply(j, s, s.timerFired(msg.kind, cfg, m.now()))
}

// now is the manager's clock: time.Now, which a testing/synctest bubble
// fakes.
func (m *Manager) now() time.Time { return time.Now() }

// post hands an internal message to the loop; it gives up once the loop ended.
func (m *Manager) post(msg any) {
	select {
	case m.msgs <- msg:
	case <-m.done:
	}
}

// call runs f on the loop and returns its result.
func call[T any](ctx context.Context, m *Manager, f func() (T, error)) (T, error) {
	var zero T
	type result struct {
		v   T
		err error
	}
	reply := make(chan result, 1)
	cmd := func() {
		v, err := f()
		reply <- result{v, err}
	}
	select {
	case m.cmds <- cmd:
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-m.done:
		return zero, ErrClosed
	}
	select {
	case r := <-reply:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// callWait runs f on the loop; f answers later by calling done (exactly
// once), possibly from a later turn of the loop.
func callWait(ctx context.Context, m *Manager, f func(done func(error))) error {
	reply := make(chan error, 1)
	cmd := func() { f(func(err error) { reply <- err }) }
	select {
	case m.cmds <- cmd:
	case <-ctx.Done():
		return ctx.Err()
	case <-m.done:
		return ErrClosed
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-m.done:
		select {
		case err := <-reply:
			return err
		default:
			return ErrClosed
		}
	}
}

func (m *Manager) publish(ev Event) { m.events.Publish(ev, ev.topics()...) }

// beginShutdown stops everything: every job is deactivated at once and
// its processes are stopped dependents first; commits and exec probes
// are stopped at once.
func (m *Manager) beginShutdown() {
	m.shutting = true
	jobs := m.jobs()
	m.stopInOrder(jobs)
	for _, j := range jobs {
		m.stopCommits(j)
	}
	for osPid := range m.probeRuns {
		m.probeTimedOut(osPid)
	}
}

func (m *Manager) finishShutdown() {
	for _, j := range m.jobs() {
		j.closeLog()
	}
}

func notFound(format string, args ...any) error {
	return ganger.Errorf(ganger.ENOTFOUND, format, args...)
}

func errShutdown() error {
	return ganger.Errorf(ganger.EUNAVAILABLE, "the manager is shutting down")
}
