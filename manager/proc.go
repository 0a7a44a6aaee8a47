package manager

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/process"
)

// proc is one process of a job: a slot's, or a commit. Loop-owned, except
// os, splitters and logProbe, which the process's output reader
// goroutines use (see processSpec).
type proc struct {
	pid     int
	osPid   int
	job     *job
	slot    *slot // nil for a commit
	os      osProcess
	once    bool
	cfg     conf.Job // the config it was spawned with
	grace   time.Duration
	argv    []string // as run
	tmpl    []string // argv before $NAME expansion
	env     map[string]string
	cwd     string // its working directory: the job's cwd, else the daemon's
	created time.Time

	stopping   bool // a stop was asked for (user, scale-down, reload, shutdown, liveness)
	leaderDone bool
	status     syscall.WaitStatus
	killTimer  *timer
	splitters  map[string]*lineSplitter
	probes     [2]context.CancelFunc // running probes, by probeKind
	logProbe   *logProbe             // a readiness probe on the output, if any
}

// probing reports whether the probe of kind runs for p.
func (p *proc) probing(kind probeKind) bool {
	return p.probes[kind] != nil || (kind == readinessProbe && p.logProbe != nil)
}

// slotNumber is p's slot, 0 for a commit.
func (p *proc) slotNumber() int {
	if p.slot == nil {
		return 0
	}
	return p.slot.n
}

// logProbe is a readiness probe that passes when an output line of the
// process matches: the reader goroutines match, once.
type logProbe struct {
	re     *regexp.Regexp
	passed atomic.Bool
}

type spawnOptions struct {
	once  bool
	env   map[string]string
	grace *time.Duration
}

// spawn starts one process of j in slot s (nil for a commit). A failure
// is published as spawn_error and logged.
func (m *Manager) spawn(j *job, s *slot, o spawnOptions) (*proc, error) {
	if m.shutting {
		return nil, errShutdown()
	}
	m.nextPid++
	p := &proc{pid: m.nextPid, job: j, slot: s, once: o.once, cfg: j.cfg, grace: j.cfg.GracefulTimeout}
	if o.grace != nil {
		p.grace = *o.grace
	}
	p.env = buildEnv(j.cfg, p.slotNumber(), o.env)
	p.cwd = cmp.Or(j.cfg.Cwd, m.cwd)
	argv, tmpl, err := buildArgv(j.cfg, p.env)
	if err == nil {
		p.argv, p.tmpl = argv, tmpl
		var spec process.Spec
		if spec, err = m.processSpec(p); err == nil {
			p.os, err = m.sys.start(spec)
		}
	}
	if err != nil {
		m.spawnErrors.Add(1)
		m.log.Warn("spawn failed", "job", j.fullName, "slot", p.slotNumber(), "err", err)
		m.publish(Event{Type: EventSpawnError, Name: j.fullName, Slot: p.slotNumber(), Reason: err.Error()})
		return nil, err
	}
	m.spawns.Add(1)
	p.osPid = p.os.Pid()
	p.created = m.now()
	m.sys.watch(p.osPid)
	m.procs[p.pid] = p
	m.byOS[p.osPid] = append(m.byOS[p.osPid], p)
	j.procs[p.pid] = p
	j.changed()
	m.publish(Event{Type: EventSpawn, Name: j.fullName, Pid: p.pid, OSPid: p.osPid, Slot: p.slotNumber()})
	return p, nil
}

// processSpec builds the process package's spec for p, wiring its output
// to the job's ring, log file, the output bus and a log probe.
func (m *Manager) processSpec(p *proc) (process.Spec, error) {
	cfg := p.cfg
	if r := cfg.Readiness; r != nil && r.Log != "" && p.slot != nil {
		re, err := regexp.Compile(r.Log)
		if err != nil {
			return process.Spec{}, fmt.Errorf("readiness log probe: %w", err)
		}
		p.logProbe = &logProbe{re: re}
	}
	labels := uniqueLabels(append(slices.Clone(cfg.RedirectOutput), cfg.CustomStreams...))
	p.splitters = make(map[string]*lineSplitter, len(labels))
	j := p.job
	lp := p.logProbe
	emit := func(c logChunk) {
		if lp != nil && !lp.passed.Load() && lp.matches(c.data) {
			m.post(msgProbe{p: p, kind: readinessProbe, pass: true})
		}
		if j.logf != nil {
			j.logf.write(c) // first: once in the ring, c may be recycled
		}
		j.ring.add(c)
	}
	for _, l := range labels {
		p.splitters[l] = &lineSplitter{pid: p.pid, label: l, bufs: m.bufs, emit: emit}
	}
	splitters := p.splitters // read-only from here on
	pid, name, slot := p.pid, j.fullName, p.slotNumber()
	topicPrefix := name + "." + strconv.Itoa(pid) + "."
	return process.Spec{
		Path:    p.argv[0],
		Args:    p.argv,
		Env:     envList(p.env),
		Dir:     cfg.Cwd,
		User:    cfg.UID,
		Group:   cfg.GID,
		Output:  cfg.RedirectOutput,
		Input:   cfg.RedirectInput,
		Streams: cfg.CustomStreams,
		OnOutput: func(label string, data []byte) {
			if s := splitters[label]; s != nil {
				s.write(data)
			}
			follows, subs := m.follows.Subscribers() > 0, m.output.Subscribers() > 0
			for len(data) > 0 && (follows || subs) { // in pieces, so a follower's buffer bounds bytes
				n := min(len(data), maxChunk)
				if follows {
					m.publishFollow(data[:n], topicPrefix+label)
				}
				if subs {
					m.publishChunk(Chunk{Name: name, Pid: pid, Slot: slot, Stream: label}, data[:n], topicPrefix+label)
				}
				data = data[n:]
			}
		},
	}, nil
}

// publishChunk publishes c with a copy of data on topic: the copy is the
// chunk's own, which every receiver may keep.
func (m *Manager) publishChunk(c Chunk, data []byte, topic string) {
	c.Data = bytes.Clone(data)
	m.output.Publish(c, topic)
}

// matches reports whether a line of data (lines ending in '\n') matches,
// and marks the probe passed if one does.
func (lp *logProbe) matches(data []byte) bool {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			i = len(data)
		}
		if lp.re.Match(data[:i]) {
			return lp.passed.CompareAndSwap(false, true)
		}
		data = data[min(i+1, len(data)):]
	}
	return false
}

func uniqueLabels(labels []string) []string {
	seen := map[string]bool{}
	out := labels[:0]
	for _, l := range labels {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// buildEnv returns the environment of a process of cfg in slot (0 for a
// commit): PORT=port+slot-1 when the job has a port.
func buildEnv(cfg conf.Job, slot int, extra map[string]string) map[string]string {
	env := map[string]string{}
	if cfg.OSEnv {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	for k, v := range cfg.Env {
		env[k] = v
	}
	if cfg.Port > 0 && slot > 0 {
		env["PORT"] = strconv.Itoa(cfg.Port + slot - 1)
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// buildArgv returns the argv of a process of cfg, and its template before
// expansion: cmd split like a shell, then args, with $NAME expanded from
// env; or /bin/sh -c for shell jobs (the shell expands: argv is its own
// template).
func buildArgv(cfg conf.Job, env map[string]string) (argv, tmpl []string, err error) {
	if cfg.Shell {
		argv = []string{"/bin/sh", "-c", strings.Join(append([]string{cfg.Cmd}, cfg.Args...), " ")}
		return argv, argv, nil
	}
	if tmpl, err = splitCommand(cfg.Cmd, cfg.Args); err != nil {
		return nil, nil, err
	}
	argv = make([]string, len(tmpl))
	for i, w := range tmpl {
		argv[i] = expand(w, env)
	}
	return argv, tmpl, nil
}

// splitCommand splits cmd like a shell and appends args.
func splitCommand(cmd string, args []string) ([]string, error) {
	words, err := conf.SplitCommand(cmd)
	if err != nil {
		return nil, fmt.Errorf("parsing cmd: %w", err)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("empty cmd")
	}
	return append(words, args...), nil
}

// expandCommand splits cmd like a shell, appends args and expands $NAME
// in every word from env.
func expandCommand(cmd string, args []string, env map[string]string) ([]string, error) {
	argv, err := splitCommand(cmd, args)
	if err != nil {
		return nil, err
	}
	for i := range argv {
		argv[i] = expand(argv[i], env)
	}
	return argv, nil
}

// expand replaces $NAME and ${NAME} in s by their values in env.
func expand(s string, env map[string]string) string {
	return conf.Expand(s, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

// signalProc sends sig to p's process group and publishes kill.
func (m *Manager) signalProc(p *proc, sig syscall.Signal) error {
	err := p.os.Signal(sig)
	if err == nil {
		m.publish(Event{Type: EventKill, Name: p.job.fullName, Pid: p.pid, OSPid: p.osPid, Slot: p.slotNumber(), Signal: int(sig)})
	}
	return err
}

// stopProcess starts a graceful stop of p: stop_process, then the stop
// signal (and SIGCONT) to its group, then SIGKILL to the group after its
// graceful timeout (at once with a timeout of 0). Its probes stop.
// Asking again changes nothing.
func (m *Manager) stopProcess(p *proc) {
	if p.stopping {
		return
	}
	p.stopping = true
	p.job.changed()
	m.stopProbes(p)
	m.publish(Event{Type: EventStopProcess, Name: p.job.fullName, Pid: p.pid, OSPid: p.osPid, Slot: p.slotNumber()})
	m.terminate(p)
}

// terminate sends p's stop signal to its group and arms the kill deadline.
func (m *Manager) terminate(p *proc) {
	if p.killTimer != nil {
		return
	}
	if p.grace <= 0 {
		m.killProc(p)
		return
	}
	if err := p.os.Terminate(p.cfg.StopSignal); err == nil {
		m.publish(Event{Type: EventKill, Name: p.job.fullName, Pid: p.pid, OSPid: p.osPid, Slot: p.slotNumber(), Signal: int(p.cfg.StopSignal)})
	}
	p.killTimer = m.after(p.grace, msgKillDue{p})
}

// killProc sends SIGKILL to p's whole group, even if the leader is gone.
func (m *Manager) killProc(p *proc) {
	if p.os.GroupAlive() {
		m.signalProc(p, syscall.SIGKILL)
	}
}

// handleExit records a reaped child: a job's process leader, whose group
// and output are then awaited, or an exec probe.
func (m *Manager) handleExit(e process.Exit) {
	if run := m.probeRuns[e.Pid]; run != nil {
		m.execProbeDone(e, run)
		return
	}
	list := m.byOS[e.Pid]
	if len(list) == 0 {
		m.log.Debug("reaped a child that belongs to no job", "os_pid", e.Pid, "status", e.Status)
		return
	}
	p := list[0]
	if len(list) == 1 {
		delete(m.byOS, e.Pid)
	} else {
		m.byOS[e.Pid] = list[1:]
	}
	p.leaderDone, p.status = true, e.Status
	p.job.changed()
	m.stopProbes(p)
	if p.os.GroupAlive() {
		m.terminate(p) // what is left of its group is stopped
	}
	go m.watchGone(p, p.os)
}

// watchGone waits until p's group is empty and its output drained, then
// tells the loop. It runs on its own goroutine and touches no loop state.
func (m *Manager) watchGone(p *proc, pr osProcess) {
	delay := time.Millisecond
	for pr.GroupAlive() {
		select {
		case <-time.After(delay):
		case <-m.done:
			return
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
	select {
	case <-pr.OutputDone():
	case <-time.After(m.opts.DrainTimeout):
		pr.CloseOutput()
		<-pr.OutputDone()
	}
	m.post(msgProcGone{p})
}

// procGone forgets p, publishes its exit and lets its slot decide what
// comes next.
func (m *Manager) procGone(p *proc) {
	j := p.job
	delete(m.procs, p.pid)
	delete(j.procs, p.pid)
	j.changed()
	if p.killTimer != nil {
		p.killTimer.Stop()
	}
	for _, s := range p.splitters {
		s.flush()
	}
	p.os.Release()
	now := m.now()
	s := p.slot
	if s != nil && s.proc != p {
		s = nil // not its slot's process any more (cannot happen: a slot keeps its process until gone)
	}
	intent := noStop
	if s != nil {
		intent = s.intent
	}
	exit := ExitInfo{Reason: exitReason(p, intent), Time: unixSeconds(now)}
	if p.status.Signaled() {
		exit.TermSignal = int(p.status.Signal())
	} else {
		exit.ExitStatus = p.status.ExitStatus()
	}
	facts := exitFacts{status: p.status, ranFor: now.Sub(p.created)}
	exit.success = success(j.cfg, facts)
	m.exits.Add(1)
	m.publish(Event{Type: EventExit, Name: j.fullName, Pid: p.pid, OSPid: p.osPid, Slot: p.slotNumber(),
		ExitStatus: exit.ExitStatus, TermSignal: exit.TermSignal, Once: p.once, Reason: exit.Reason})
	if s != nil {
		m.apply(j, s, s.gone(j.cfg, facts, exit, j.active && !j.removed, now))
		m.releaseHeldStops()
	}
	if len(j.procs) == 0 {
		m.jobEmptied(j)
	}
}

// exitReason says why p ended, for its exit event; intent is why its
// slot was stopping it.
func exitReason(p *proc, intent stopIntent) string {
	switch {
	case intent == stopUnhealthy:
		return ReasonUnhealthy
	case p.stopping:
		return ReasonStopped
	case p.status.Signaled():
		return ReasonSignal
	default:
		return ReasonExited
	}
}
