package manager

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/process"
)

// proc is one process of a job. Loop-owned, except pr and splitters, which
// the process's reader goroutines use through the output callback.
type proc struct {
	pid     int
	osPid   int
	job     *job
	pr      *process.Process
	slot    int // -1 for a commit
	once    bool
	cfg     conf.Job
	grace   time.Duration
	argv    []string
	env     map[string]string
	created time.Time

	stopping   bool // a stop was asked for (user, scale-down, reload, shutdown)
	holdSlot   bool // its slot waits for it: a replacement starts once it is gone
	leaderDone bool
	status     syscall.WaitStatus
	killTimer  *time.Timer
	splitters  map[string]*lineSplitter
}

type spawnOptions struct {
	once  bool
	env   map[string]string
	grace *time.Duration
}

// Internal messages to the loop.
type (
	msgRespawn  struct{ j *job }
	msgKillDue  struct{ p *proc }
	msgProcGone struct{ p *proc }
	msgRetry    struct {
		j   *job
		gen int
	}
	msgStable struct {
		j   *job
		gen int
	}
	msgKillAll struct{}
)

func (m *Manager) handleMsg(msg any) {
	switch msg := msg.(type) {
	case msgRespawn:
		msg.j.respawnTimer = nil
		m.ensure(msg.j)
	case msgKillDue:
		if _, ok := m.procs[msg.p.pid]; ok {
			m.killProc(msg.p)
		}
	case msgProcGone:
		m.procGone(msg.p)
	case msgRetry:
		m.flapRetry(msg.j, msg.gen)
	case msgStable:
		if msg.j.flap.gen == msg.gen {
			msg.j.flap.retries = 0
		}
	case msgKillAll:
		for _, p := range m.procs {
			m.killProc(p)
		}
	}
}

// spawn starts one process of j in slot (-1 for a commit).
func (m *Manager) spawn(j *job, slot int, o spawnOptions) (*proc, error) {
	if m.shutting {
		return nil, errShutdown()
	}
	m.nextPid++
	p := &proc{pid: m.nextPid, job: j, slot: slot, once: o.once, cfg: j.cfg, grace: j.cfg.GracefulTimeout}
	if o.grace != nil {
		p.grace = *o.grace
	}
	p.env = buildEnv(j.cfg, slot, o.env)
	argv, err := buildArgv(j.cfg, p.env)
	if err == nil {
		p.argv = argv
		p.pr, err = process.Start(m.processSpec(p))
	}
	if err != nil {
		m.spawnErrors.Add(1)
		m.log.Warn("spawn failed", "job", j.fullName, "err", err)
		m.publish(Event{Type: EventSpawnError, Name: j.fullName, Reason: err.Error()})
		return nil, err
	}
	m.spawns.Add(1)
	p.osPid = p.pr.Pid()
	p.created = time.Now()
	m.reaper.Watch(p.osPid)
	m.procs[p.pid] = p
	m.byOS[p.osPid] = append(m.byOS[p.osPid], p)
	j.all[p.pid] = p
	if slot >= 0 {
		j.running[p.pid] = p
		j.slots[slot] = p
	}
	m.publish(Event{Type: EventSpawn, Name: j.fullName, Pid: p.pid, OSPid: p.osPid, Slot: p.slot + 1})
	j.rev++
	return p, nil
}

// processSpec builds the process package's spec for p, wiring its output
// to the job's ring, log file and the output bus.
func (m *Manager) processSpec(p *proc) process.Spec {
	cfg := p.cfg
	labels := uniqueLabels(append(append([]string{}, cfg.RedirectOutput...), cfg.CustomStreams...))
	p.splitters = make(map[string]*lineSplitter, len(labels))
	j := p.job
	emit := func(c logChunk) {
		if j.logf != nil {
			j.logf.write(c) // first: once in the ring, c may be recycled
		}
		j.ring.add(c)
	}
	for _, l := range labels {
		p.splitters[l] = &lineSplitter{pid: p.pid, label: l, bufs: m.bufs, emit: emit}
	}
	splitters := p.splitters // read-only from here on
	pid, name := p.pid, j.fullName
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
			if m.output.Subscribers() == 0 {
				return
			}
			for len(data) > 0 { // in pieces, so a follower's buffer bounds bytes
				n := min(len(data), maxChunk)
				m.publishChunk(Chunk{Name: name, Pid: pid, Stream: label}, data[:n], topicPrefix+label)
				data = data[n:]
			}
		},
	}
}

// publishChunk publishes c with a copy of data on topic: each receiver
// owns what it gets.
func (m *Manager) publishChunk(c Chunk, data []byte, topic string) {
	c.Data = bytes.Clone(data)
	m.output.Publish(c, topic)
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

// buildEnv returns the environment of a process of cfg in slot.
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
	if cfg.Port > 0 && slot >= 0 {
		env["PORT"] = strconv.Itoa(cfg.Port + slot)
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
	sort.Strings(out)
	return out
}

// buildArgv returns the argv of a process of cfg: cmd split like a shell,
// then args, with $NAME expanded from env; or /bin/sh -c for shell jobs.
func buildArgv(cfg conf.Job, env map[string]string) ([]string, error) {
	if cfg.Shell {
		return []string{"/bin/sh", "-c", strings.Join(append([]string{cfg.Cmd}, cfg.Args...), " ")}, nil
	}
	words, err := conf.SplitCommand(cfg.Cmd)
	if err != nil {
		return nil, fmt.Errorf("parsing cmd: %w", err)
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("empty cmd")
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	argv := append(words, cfg.Args...)
	for i := range argv {
		argv[i] = conf.Expand(argv[i], lookup)
	}
	return argv, nil
}

// signalProc sends sig to p's process group and publishes kill.
func (m *Manager) signalProc(p *proc, sig syscall.Signal) error {
	err := p.pr.Signal(sig)
	if err == nil {
		m.publish(Event{Type: EventKill, Name: p.job.fullName, Pid: p.pid, OSPid: p.osPid, Signal: int(sig)})
	}
	return err
}

// stopProc starts a graceful stop of p: the stop signal (and SIGCONT) to
// its group, then SIGKILL to the group after its graceful timeout. With
// hold, p keeps its slot until it is gone.
func (m *Manager) stopProc(p *proc, hold bool) {
	j := p.job
	if p.stopping {
		if !hold && p.holdSlot {
			p.holdSlot = false
			m.releaseSlot(p)
		}
		return
	}
	p.stopping, p.holdSlot = true, hold
	j.rev++
	delete(j.running, p.pid)
	if !hold {
		m.releaseSlot(p)
	}
	m.publish(Event{Type: EventStopProcess, Name: j.fullName, Pid: p.pid, OSPid: p.osPid})
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
	if err := p.pr.Terminate(p.cfg.StopSignal); err == nil {
		m.publish(Event{Type: EventKill, Name: p.job.fullName, Pid: p.pid, OSPid: p.osPid, Signal: int(p.cfg.StopSignal)})
	}
	p.killTimer = m.after(p.grace, msgKillDue{p})
}

// killProc sends SIGKILL to p's whole group, even if the leader is gone.
func (m *Manager) killProc(p *proc) {
	if p.pr.GroupAlive() {
		m.signalProc(p, syscall.SIGKILL)
	}
}

func (m *Manager) releaseSlot(p *proc) {
	if p.slot >= 0 && p.job.slots[p.slot] == p {
		delete(p.job.slots, p.slot)
	}
}

// handleExit records a reaped leader and starts waiting for its group and
// output; what remains of a crashed process's group is stopped.
func (m *Manager) handleExit(e process.Exit) {
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
	p.job.rev++
	delete(p.job.running, p.pid)
	if p.pr.GroupAlive() {
		m.terminate(p)
	}
	go m.watchGone(p, p.pr)
}

// watchGone waits until p's group is empty and its output drained, then
// tells the loop. It runs on its own goroutine and touches no loop state.
func (m *Manager) watchGone(p *proc, pr *process.Process) {
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

// procGone forgets p, publishes its exit and decides what comes next.
func (m *Manager) procGone(p *proc) {
	j := p.job
	j.rev++
	delete(m.procs, p.pid)
	delete(j.all, p.pid)
	delete(j.running, p.pid)
	m.releaseSlot(p)
	if p.killTimer != nil {
		p.killTimer.Stop()
	}
	for _, s := range p.splitters {
		s.flush()
	}
	p.pr.Release()
	ev := Event{Type: EventExit, Name: j.fullName, Pid: p.pid, OSPid: p.osPid, Once: p.once}
	if p.status.Signaled() {
		ev.TermSignal = int(p.status.Signal())
	} else {
		ev.ExitStatus = p.status.ExitStatus()
	}
	m.exits.Add(1)
	m.publish(ev)
	if len(j.all) == 0 {
		m.jobGone(j)
	}
	if !p.stopping && !p.once && j.active && !j.removed {
		if !m.recordCrash(j) {
			return
		}
		m.restarts.Add(1)
	}
	m.ensure(j)
}
