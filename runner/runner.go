package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/manager"
	"github.com/ganger/ganger/process"
	"github.com/ganger/ganger/pubsub"
)

// DefaultAPI is where `ganger start` serves the API and dashboard.
const DefaultAPI = "127.0.0.1:5999"

// Buffers of the runner's subscriptions: output chunks and events that may
// wait for the terminal before some are dropped (and the drop reported).
const (
	outputBuffer = 8192
	eventBuffer  = 4096
)

// stopMargin is added to the manager's StopBound to bound the whole
// shutdown; past it every remaining process group is killed.
const stopMargin = 5 * time.Second

// Options configure Run.
type Options struct {
	// Session is the session the jobs are loaded into (required).
	Session string
	// Jobs are loaded in order; their index is their colour.
	Jobs []conf.Job
	// Out receives the prefixed output and the system lines.
	Out io.Writer
	// Color turns on ANSI colours (for a terminal).
	Color bool
	// Listener is where the API is served; nil disables it. Run closes it.
	Listener net.Listener
	// Server builds the API server for the manager (required with Listener).
	Server func(*manager.Manager) *http.Server
	// Signals: the first one received stops every process gracefully, a
	// second one kills them at once.
	Signals <-chan os.Signal
	// Logger receives the manager's and the API's log lines; nil discards.
	Logger *slog.Logger
	// Subreaper makes this process a child subreaper, so orphaned
	// grandchildren are reaped too. Only for a program that runs no other
	// children (the reaper waits for every child).
	Subreaper bool
}

// KilledError is returned by Run when a second signal made it kill the
// processes instead of waiting for them.
type KilledError struct{ Signal os.Signal }

func (e *KilledError) Error() string {
	return fmt.Sprintf("killed all processes on a second %v", e.Signal)
}

// ExitCode is the conventional status of a program ended by the signal.
func (e *KilledError) ExitCode() int {
	if s, ok := e.Signal.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// Run runs opts.Jobs on an embedded manager until ctx is done or a signal
// arrives, printing their output and events to opts.Out, then stops them
// gracefully. It returns nil after a clean stop, a *KilledError after a
// second signal, and an error if a job cannot be loaded (nothing is left
// running then). The API, when configured, is shut down before Run returns.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	ln := o.Listener
	if o.Server == nil && ln != nil {
		ln.Close()
		ln = nil
	}
	if o.Subreaper {
		if err := process.SetSubreaper(); err != nil {
			o.Logger.Warn("cannot become a subreaper; orphaned grandchildren will not be reaped", "err", err)
		}
	}
	m := manager.New(manager.Options{Logger: o.Logger, ReapAll: o.Subreaper})
	pr := NewPrefixer(o.Out, o.Color)
	p := newPrinter(m, pr, o)
	if ln != nil {
		p.api = apiURL(ln)
	}
	// Events after which everything may have ended kick the check.
	kick := make(chan struct{}, 1)
	p.ended = func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}

	evSub, err := m.Subscribe(ctx, eventBuffer, "")
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		m.Close(context.Background())
		return err
	}
	outSub := m.SubscribeOutput(outputBuffer, "")
	printed := make(chan struct{})
	go func() {
		defer close(printed)
		p.loop(evSub, outSub)
	}()
	// finish waits (boundedly) for the manager's end, then for the printer
	// to print everything the manager published.
	finish := func() {
		select {
		case <-m.Done():
		case <-time.After(finishLimit):
			pr.System("the manager did not finish within %v; giving up waiting", finishLimit)
		}
		evSub.Close()
		outSub.Close()
		<-printed
	}

	var srv *http.Server
	if ln != nil {
		srv = o.Server(m)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				pr.System("api: %v", err)
			}
		}()
	}

	names := make([]string, len(o.Jobs))
	for i, j := range o.Jobs {
		names[i] = fmt.Sprintf("%s (%d)", j.Name, j.NumProcesses)
	}
	where := "API off"
	if ln != nil {
		where = "API and dashboard on " + apiURL(ln) + "/ui/"
	}
	pr.System("starting %s: %s; %s", o.Session, strings.Join(names, ", "), where)
	for _, j := range o.Jobs {
		if _, err := m.Load(ctx, o.Session, j); err != nil {
			shutdownAPI(srv)
			closeCtx, cancel := context.WithTimeout(context.Background(), stopBound(m)+stopMargin)
			m.Close(closeCtx)
			cancel()
			finish()
			return fmt.Errorf("loading %s: %w", j.Name, err)
		}
	}

	// Wait for a reason to stop: a signal, or nothing left to run.
	finished := make(chan error, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go watchEnd(watchCtx, m, o.Session, kick, finished)
	var sig os.Signal
	var result error
	select {
	case <-ctx.Done():
		pr.System("stopping all processes")
	case sig = <-o.Signals:
		pr.System("%v received, stopping all processes gracefully (again to kill them)", sigName(sig))
	case result = <-finished:
		if result == nil {
			pr.System("every process has ended with success; nothing is left to run")
		} else {
			pr.System("nothing is left to run: %v", result)
		}
	}
	stopWatch()
	p.shutdown.Store(true)
	apiDone := make(chan struct{})
	go func() {
		defer close(apiDone)
		shutdownAPI(srv)
	}()
	// Each process is killed after its graceful timeout by the manager
	// itself; the deadline of Close is a backstop above the longest chain
	// of them (dependents stop first).
	limit := stopBound(m) + stopMargin
	closeCtx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	go m.Close(closeCtx)

	var killed error
	select {
	case <-m.Done():
	case sig = <-o.Signals:
		pr.System("%v received again, killing all processes", sigName(sig))
		killed = &KilledError{Signal: sig}
		cancel() // Close kills every remaining process group at once
	}
	finish()
	<-apiDone
	if killed == nil && closeCtx.Err() != nil {
		pr.System("some processes did not stop within %v and were killed", limit)
	}
	pr.System("all processes stopped")
	if killed != nil {
		return killed
	}
	return result
}

// EndedError is what Run returns when everything ended by itself and some
// process did not end with a success code (or a slot gave up): `ganger
// start` then exits with status 1.
type EndedError struct {
	Failed []string // the jobs that did not complete, as "web (gave_up)"
}

func (e *EndedError) Error() string {
	return "some processes did not end with success: " + strings.Join(e.Failed, ", ")
}

// ExitCode is the status of `ganger start` after such an end.
func (e *EndedError) ExitCode() int { return 1 }

// watchEnd sends on finished once nothing is left to run in session: no
// process at all, and every slot exited or fatal (or waiting for a
// dependency that will not come). It checks whenever kick fires. What it
// sends is nil if every job completed, else an *EndedError.
func watchEnd(ctx context.Context, m *manager.Manager, session string, kick <-chan struct{}, finished chan<- error) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
		}
		if done, err := nothingLeft(ctx, m, session); done {
			finished <- err
			return
		}
	}
}

// nothingLeft reports whether nothing is left to run in session (see
// watchEnd), and if so, what Run returns.
func nothingLeft(ctx context.Context, m *manager.Manager, session string) (bool, error) {
	pids, err := m.Pids(ctx, "")
	if err != nil || len(pids) > 0 {
		return false, nil
	}
	names, err := m.Jobs(ctx, session)
	if err != nil {
		return false, nil
	}
	var failed []string
	for _, n := range names {
		info, err := m.JobInfo(ctx, n)
		if err != nil {
			return false, nil
		}
		for _, s := range info.Slots {
			switch s.State {
			case manager.SlotExited, manager.SlotFatal, manager.SlotWaiting:
			default:
				return false, nil // starting, running, stopping or in backoff
			}
		}
		if info.Active && info.State != manager.JobCompleted && info.NumProcesses > 0 {
			failed = append(failed, fmt.Sprintf("%s (%s)", strings.TrimPrefix(n, session+"."), info.State))
		}
	}
	if len(failed) > 0 {
		return true, &EndedError{Failed: failed}
	}
	return true, nil
}

// stopBound is the manager's StopBound, or 0 if it cannot answer.
func stopBound(m *manager.Manager) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, _ := m.StopBound(ctx)
	return d
}

// finishLimit bounds the wait for the manager once its processes were
// killed (a process stuck in the kernel may never go).
const finishLimit = 15 * time.Second

// shutdownAPI stops the API server: open requests get a moment to finish,
// then every connection is closed.
func shutdownAPI(srv *http.Server) {
	if srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	srv.Close()
}

// apiURL is the address clients give --address to reach ln.
func apiURL(ln net.Listener) string {
	if ln.Addr().Network() == "unix" {
		return "unix:" + ln.Addr().String()
	}
	return "http://" + ln.Addr().String()
}

func sigName(s os.Signal) string {
	if ss, ok := s.(syscall.Signal); ok {
		if n := conf.SignalName(ss); n != "" {
			return "SIG" + n
		}
	}
	return s.String()
}

// procLabel is what the printer knows of one process.
type procLabel struct {
	label    Label
	job      string // full name
	stopping bool
}

// printer turns the manager's events and output into prefixed lines. It
// runs on one goroutine (loop) and owns its maps.
type printer struct {
	m       *manager.Manager
	pr      *Prefixer
	session string
	api     string              // the API's URL, "" when off
	jobs    map[string]conf.Job // by full name: the jobs we loaded
	colors  map[string]int      // by full name
	procs   map[int]*procLabel  // by internal pid
	seen    map[string]bool     // jobs whose first start was seen
	ended   func()              // told of every event after which all may have ended

	shutdown atomic.Bool // set by Run once everything is being stopped
}

func newPrinter(m *manager.Manager, pr *Prefixer, o Options) *printer {
	p := &printer{
		m: m, pr: pr, session: o.Session,
		jobs: map[string]conf.Job{}, colors: map[string]int{},
		procs: map[int]*procLabel{}, seen: map[string]bool{}, ended: func() {},
	}
	for i, j := range o.Jobs {
		full := ganger.JobName(o.Session, j.Name)
		p.jobs[full] = j
		p.colors[full] = i
		for n := 1; n <= max(j.NumProcesses, 1); n++ {
			pr.Pad(j.Name + "." + strconv.Itoa(n))
		}
	}
	return p
}

func (p *printer) loop(evSub *pubsub.Sub[manager.Event], outSub *pubsub.Sub[manager.Chunk]) {
	evC, outC := evSub.C(), outSub.C()
	for evC != nil || outC != nil {
		select {
		case msg, ok := <-outC:
			if !ok {
				outC = nil
				continue
			}
			p.output(msg)
		case msg, ok := <-evC:
			if !ok {
				evC = nil
				continue
			}
			if msg.Dropped > 0 {
				p.pr.System("%d events were lost (the output is printed too slowly)", msg.Dropped)
				continue
			}
			if msg.Event.Type == manager.EventExit {
				// Every byte of the process was published before its exit:
				// print what is already queued first.
				p.drain(outC)
			}
			p.event(msg.Event)
		}
	}
}

// drain prints the output chunks already queued, without waiting.
func (p *printer) drain(outC <-chan pubsub.Message[manager.Chunk]) {
	for {
		select {
		case msg, ok := <-outC:
			if !ok {
				return
			}
			p.output(msg)
		default:
			return
		}
	}
}

func (p *printer) output(msg pubsub.Message[manager.Chunk]) {
	if msg.Dropped > 0 {
		p.pr.System("%d pieces of output were lost (the output is printed too slowly)", msg.Dropped)
		return
	}
	c := msg.Event
	pl := p.label(c.Pid, c.Name, c.Slot)
	p.pr.Write(c.Pid, c.Stream, pl.label, c.Data)
}

// shortName is a job's name as printed: without the session when it is ours.
func (p *printer) shortName(full string) string {
	if s, ok := strings.CutPrefix(full, p.session+"."); ok {
		return s
	}
	return full
}

// label returns the label of process pid of job full in slot (0 for a
// commit): "web.2", as foreman numbers processes, or "web.run" for a
// commit. Output and events carry the slot, so the printer asks the
// manager nothing.
func (p *printer) label(pid int, full string, slot int) *procLabel {
	if pl := p.procs[pid]; pl != nil {
		return pl
	}
	color, ok := p.colors[full]
	if !ok {
		color = len(p.colors)
		p.colors[full] = color
	}
	n := "run"
	if slot > 0 {
		n = strconv.Itoa(slot)
	}
	pl := &procLabel{job: full, label: Label{Name: p.shortName(full) + "." + n, Color: color}}
	p.pr.Pad(pl.label.Name)
	p.procs[pid] = pl
	return pl
}

// slotName is a slot's name as printed: "web.2".
func (p *printer) slotName(ev manager.Event) string {
	return p.shortName(ev.Name) + "." + strconv.Itoa(ev.Slot)
}

func (p *printer) event(ev manager.Event) {
	name := p.shortName(ev.Name)
	switch ev.Type {
	case manager.EventSpawn:
		pl := p.label(ev.Pid, ev.Name, ev.Slot)
		port := ""
		if base := p.jobs[ev.Name].Port; base > 0 && ev.Slot > 0 {
			port = fmt.Sprintf(", PORT=%d", base+ev.Slot-1)
		}
		p.pr.System("%s started (pid %d%s)", pl.label.Name, ev.OSPid, port)
	case manager.EventStopProcess, manager.EventReap:
		if pl := p.procs[ev.Pid]; pl != nil {
			pl.stopping = true
		}
	case manager.EventExit:
		p.exit(ev)
		p.ended()
	case manager.EventReady:
		if r := p.jobs[ev.Name].Readiness; r != nil {
			p.pr.System("%s is ready (its %s probe passed)", p.slotName(ev), r.Kind())
		}
	case manager.EventUnready:
		p.pr.System("%s is not ready any more: %s", p.slotName(ev), ev.Reason)
	case manager.EventUnhealthy:
		p.pr.System("%s is unhealthy, restarting it: %s", p.slotName(ev), ev.Reason)
	case manager.EventBackoff:
		p.pr.System("%s restarting in %v", p.slotName(ev), ev.Delay)
	case manager.EventFlap:
		f := p.jobs[ev.Name].Flapping
		why := ""
		if f.Enabled {
			why = fmt.Sprintf(" (%d unexpected exits within %v)", f.Attempts, f.Window)
		}
		p.pr.System("%s is flapping%s: not restarting it for %v", p.slotName(ev), why, ev.RetryIn)
	case manager.EventGiveUp:
		hint := "it stays stopped"
		if p.api != "" {
			hint = fmt.Sprintf("start it again with: ganger start-job --address %s %s", p.api, ev.Name)
		}
		p.pr.System("%s kept failing, giving up: %s", p.slotName(ev), hint)
		p.ended()
	case manager.EventSpawnError:
		p.pr.System("%s could not start: %s", p.slotName(ev), ev.Reason)
		p.ended()
	case manager.EventWaiting:
		var conds []string
		for _, d := range ev.WaitingFor {
			conds = append(conds, p.shortName(d.Name)+" "+d.Condition)
		}
		p.pr.System("%s waits for %s", name, strings.Join(conds, ", "))
		p.ended()
	case manager.EventUpdateFail:
		p.pr.System("%s: the rolling restart stopped at %s: %s", name, p.slotName(ev), ev.Reason)
	case manager.EventScale:
		p.pr.System("%s scaled to %d", name, ev.NumProcesses)
	case manager.EventStart:
		if p.seen[ev.Name] {
			p.pr.System("%s started", name)
		}
		p.seen[ev.Name] = true
	case manager.EventStop:
		if !p.shutdown.Load() {
			p.pr.System("%s stopped", name)
		}
	case manager.EventLoad:
		if _, ours := p.jobs[ev.Name]; !ours {
			p.pr.System("%s loaded", name)
		}
	case manager.EventUnload:
		p.pr.System("%s unloaded", name)
	case manager.EventUpdate:
		p.pr.System("%s updated", name)
	}
}

func (p *printer) exit(ev manager.Event) {
	pl := p.label(ev.Pid, ev.Name, ev.Slot)
	p.pr.Flush(ev.Pid, pl.label)
	delete(p.procs, ev.Pid)

	if pl.stopping || ev.Reason == manager.ReasonStopped {
		how := fmt.Sprintf("exit code %d", ev.ExitStatus)
		if ev.TermSignal != 0 {
			how = sigName(syscall.Signal(ev.TermSignal))
		}
		p.pr.System("%s stopped (%s)", pl.label.Name, how)
		return
	}
	how := fmt.Sprintf("exited with code %d", ev.ExitStatus)
	if ev.TermSignal != 0 {
		how = "was killed by " + sigName(syscall.Signal(ev.TermSignal))
	}
	p.pr.System("%s %s", pl.label.Name, how)
}
