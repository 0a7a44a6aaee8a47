package manager

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"syscall"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/pubsub"
)

// This file holds the manager's public methods. Each one is a command:
// a closure run by the loop, whose answer the caller waits for.

// apply returns the count after the change, or an error below 0.
func (o ScaleOp) apply(cur int) (int, error) {
	n := o.N
	switch o.Op {
	case '+':
		n = cur + o.N
	case '-':
		n = cur - o.N
	}
	if n < 0 {
		return 0, ganger.Errorf(ganger.EBADREQUEST, "cannot scale below 0 (have %d, asked %c%d)", cur, o.Op, o.N)
	}
	if n > conf.MaxNumProcesses {
		return 0, ganger.Errorf(ganger.EBADREQUEST, "cannot scale above %d processes (asked %d)", conf.MaxNumProcesses, n)
	}
	return n, nil
}

// lookupJob finds a job by full name. Loop only.
func (m *Manager) lookupJob(name string) (*job, error) {
	s, jn, err := ganger.ParseJobName(name)
	if err != nil {
		return nil, err
	}
	if sess := m.sessions[s]; sess != nil {
		if j := sess.jobs[jn]; j != nil {
			return j, nil
		}
	}
	return nil, notFound("job %q not found", ganger.JobName(s, jn))
}

func (m *Manager) lookupProc(pid int) (*proc, error) {
	if p := m.procs[pid]; p != nil {
		return p, nil
	}
	return nil, notFound("process %d not found", pid)
}

func (m *Manager) sessionsInOrder() []*session {
	out := make([]*session, 0, len(m.sessionOrder))
	for _, n := range m.sessionOrder {
		out = append(out, m.sessions[n])
	}
	return out
}

// checkCycles returns an EINVALID error if cfg, replacing the job of its
// name, would close a depends_on cycle among the loaded jobs.
func (m *Manager) checkCycles(cfg conf.Job) error {
	full := ganger.JobName(cfg.Session, cfg.Name)
	jobs := []conf.Job{cfg}
	for _, j := range m.jobs() {
		if j.fullName != full && !j.removed {
			jobs = append(jobs, j.cfg)
		}
	}
	return conf.CheckDependencyCycles(jobs)
}

// Load adds a job to session (cfg.Session when session is "", else
// "default") and starts it if cfg.Start. It returns the job's full name, an
// EINVALID error for a bad config (or a depends_on cycle with the loaded
// jobs) and ECONFLICT if the job exists.
func (m *Manager) Load(ctx context.Context, sessName string, cfg conf.Job) (string, error) {
	if sessName == "" {
		sessName = cmp.Or(cfg.Session, ganger.DefaultSession)
	}
	cfg.Session = sessName
	if err := cfg.Validate(); err != nil {
		return "", err
	}
	cfg = cfg.Clone()
	return call(ctx, m, func() (string, error) {
		if m.shutting {
			return "", errShutdown()
		}
		full := ganger.JobName(sessName, cfg.Name)
		if s := m.sessions[sessName]; s != nil && s.jobs[cfg.Name] != nil {
			return "", ganger.Errorf(ganger.ECONFLICT, "job %q already exists", full)
		}
		if err := m.checkCycles(cfg); err != nil {
			return "", err
		}
		s := m.sessions[sessName]
		if s == nil {
			s = &session{name: sessName, jobs: map[string]*job{}}
			m.sessions[sessName] = s
			m.sessionOrder = append(m.sessionOrder, sessName)
		}
		j := &job{
			session: sessName, name: cfg.Name, fullName: full, cfg: cfg,
			procs: map[int]*proc{}, revs: &m.revision,
			ring: newRing(m.opts.LogLines, m.opts.LogBytes, m.bufs),
		}
		if m.opts.LogDir != "" {
			lf, err := openLogFile(m.opts.LogDir, full, m.opts.LogFileMax, m.opts.LogFileKeep)
			if err != nil {
				m.log.Error("job log file", "job", full, "err", err)
			}
			j.logf = lf
		}
		j.liveSlots(m.now())
		j.changed()
		s.jobs[cfg.Name] = j
		s.order = append(s.order, cfg.Name)
		m.publish(Event{Type: EventLoad, Name: full})
		if cfg.Start {
			m.activate(j)
		}
		m.checkWaiting() // jobs waiting for this one
		return full, nil
	})
}

// Unload stops every process of a job, commits included, and forgets it;
// it returns once the processes are gone. ENOTFOUND if there is no such job.
func (m *Manager) Unload(ctx context.Context, name string) error {
	return callWait(ctx, m, func(done func(error)) {
		j, err := m.lookupJob(name)
		if err != nil {
			done(err)
			return
		}
		m.deactivate(j, false)
		m.stopCommits(j)
		j.removed = true
		m.sessions[j.session].remove(j.name)
		m.whenGone(j, func() {
			j.closeLog()
			m.publish(Event{Type: EventUnload, Name: j.fullName})
			done(nil)
		})
	})
}

// Update replaces a job's config: a running job's processes are replaced
// slot by slot by processes of the new one (a rolling replacement, see
// rollout.go), and its process count becomes the new config's. ENOTFOUND,
// EINVALID (a bad config, or one that closes a depends_on cycle).
func (m *Manager) Update(ctx context.Context, name string, cfg conf.Job) error {
	return m.withJob(ctx, name, func(j *job) error {
		cfg.Session = j.session
		if cfg.Name != j.name {
			return ganger.Errorf(ganger.EINVALID, "field \"name\": %q does not match the job %q", cfg.Name, j.fullName)
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		if err := m.checkCycles(cfg); err != nil {
			return err
		}
		old, n := j.cfg.NumProcesses, cfg.NumProcesses
		cfg = cfg.Clone()
		cfg.NumProcesses = old
		j.cfg = cfg
		j.changed()
		m.publish(Event{Type: EventUpdate, Name: j.fullName})
		if n != old {
			// Slots past the new count go; new slots start with the new
			// config; the rollout replaces the slots both configs have.
			m.publish(Event{Type: EventScale, Name: j.fullName, NumProcesses: n})
			m.scaleTo(j, n)
		}
		if j.active {
			m.startRollout(j, min(old, n))
		}
		return nil
	})
}

// StartJob starts a job: every slot without a process gets one, once the
// job's dependencies hold, and every slot's crash history is reset.
// ENOTFOUND; EUNAVAILABLE while shutting down.
func (m *Manager) StartJob(ctx context.Context, name string) error {
	return m.withJob(ctx, name, func(j *job) error {
		if m.shutting {
			return errShutdown()
		}
		m.activate(j)
		return nil
	})
}

// StopJob stops a job's processes gracefully and keeps it stopped. ENOTFOUND.
func (m *Manager) StopJob(ctx context.Context, name string) error {
	return m.withJob(ctx, name, func(j *job) error { m.deactivate(j, false); return nil })
}

// ReloadJob replaces a job's processes with fresh ones, slot by slot (a
// rolling replacement: the restart action too); a stopped job is started.
// ENOTFOUND.
func (m *Manager) ReloadJob(ctx context.Context, name string) error {
	return m.withJob(ctx, name, func(j *job) error {
		if m.shutting {
			return errShutdown()
		}
		if !j.active {
			m.activate(j)
			return nil
		}
		m.startRollout(j, j.cfg.NumProcesses)
		return nil
	})
}

// Scale changes a job's process count and returns the new count: a
// scale-down stops the highest slots first. ENOTFOUND; EBADREQUEST below
// 0 or above conf.MaxNumProcesses.
func (m *Manager) Scale(ctx context.Context, name string, op ScaleOp) (int, error) {
	return callJob(ctx, m, name, func(j *job) (int, error) {
		n, err := op.apply(j.cfg.NumProcesses)
		if err != nil {
			return 0, err
		}
		m.publish(Event{Type: EventScale, Name: j.fullName, NumProcesses: n})
		m.scaleTo(j, n)
		return n, nil
	})
}

// Commit runs one extra process of a job, never restarted and not counted
// in numprocesses, and returns its pid. ENOTFOUND; EBADREQUEST if it
// cannot start.
func (m *Manager) Commit(ctx context.Context, name string, o CommitOptions) (int, error) {
	return callJob(ctx, m, name, func(j *job) (int, error) {
		p, err := m.spawn(j, nil, spawnOptions{once: true, env: o.Env, grace: o.GracefulTimeout})
		if err != nil {
			if ganger.ErrorCode(err) == ganger.EUNAVAILABLE {
				return 0, err
			}
			return 0, ganger.Errorf(ganger.EBADREQUEST, "commit %s: %v", j.fullName, err)
		}
		return p.pid, nil
	})
}

// SignalJob sends sig to every process of a job. ENOTFOUND.
func (m *Manager) SignalJob(ctx context.Context, name string, sig syscall.Signal) error {
	return m.withJob(ctx, name, func(j *job) error {
		for _, pid := range j.allPids() {
			m.signalProc(j.procs[pid], sig)
		}
		return nil
	})
}

// SignalProcess sends sig to one process's group. ENOTFOUND.
func (m *Manager) SignalProcess(ctx context.Context, pid int, sig syscall.Signal) error {
	return m.withProc(ctx, pid, func(p *proc) { m.signalProc(p, sig) })
}

// StopProcess stops one process gracefully; a slot's process is replaced
// by a new one if its job is active. ENOTFOUND.
func (m *Manager) StopProcess(ctx context.Context, pid int) error {
	return m.withProc(ctx, pid, func(p *proc) {
		s := p.slot
		if s == nil || s.proc != p {
			m.stopProcess(p)
			return
		}
		why := stopToExit
		if p.job.active {
			why = stopToRespawn
		}
		m.apply(p.job, s, s.stop(why, m.now()))
	})
}

// StopAll stops every job gracefully, dependents before what they depend
// on, commits included.
func (m *Manager) StopAll(ctx context.Context) error {
	_, err := call(ctx, m, func() (struct{}, error) {
		jobs := m.jobs()
		m.stopInOrder(jobs)
		for _, j := range jobs {
			m.stopCommits(j)
		}
		return struct{}{}, nil
	})
	return err
}

// KillAll sends sig to every process.
func (m *Manager) KillAll(ctx context.Context, sig syscall.Signal) error {
	_, err := call(ctx, m, func() (struct{}, error) {
		for _, p := range m.procs {
			m.signalProc(p, sig)
		}
		return struct{}{}, nil
	})
	return err
}

// Send writes data to a process's stdin (stream "" or "stdin") or custom
// stream. ENOTFOUND; EBADREQUEST if the process has no such input;
// ECONFLICT if it does not read it before ctx ends.
func (m *Manager) Send(ctx context.Context, pid int, stream string, data []byte) error {
	pr, err := m.processOf(ctx, pid)
	if err != nil {
		return err
	}
	// A child that does not read its input blocks the write; the caller's
	// context bounds the wait (the write itself ends when the process goes).
	written := make(chan error, 1)
	go func() {
		_, err := pr.Write(stream, data)
		written <- err
	}()
	select {
	case err := <-written:
		if err != nil {
			return ganger.Errorf(ganger.EBADREQUEST, "writing to process %d: %v", pid, err)
		}
		return nil
	case <-ctx.Done():
		return ganger.Errorf(ganger.ECONFLICT, "writing to process %d: it is not reading its input", pid)
	}
}

// processOf returns the OS process behind pid, for work done outside the loop.
func (m *Manager) processOf(ctx context.Context, pid int) (osProcess, error) {
	return call(ctx, m, func() (osProcess, error) {
		p, err := m.lookupProc(pid)
		if err != nil {
			return nil, err
		}
		return p.os, nil
	})
}

// CloseInput closes a process's stdin (stream "" or "stdin") or the
// writing half of a custom stream, so the process reads end-of-file.
// ENOTFOUND; EBADREQUEST if the process has no such input.
func (m *Manager) CloseInput(ctx context.Context, pid int, stream string) error {
	pr, err := m.processOf(ctx, pid)
	if err != nil {
		return err
	}
	if err := pr.CloseInput(stream); err != nil {
		return ganger.Errorf(ganger.EBADREQUEST, "closing input of process %d: %v", pid, err)
	}
	return nil
}

// Sessions returns the session names in load order.
func (m *Manager) Sessions(ctx context.Context) ([]string, error) {
	return call(ctx, m, func() ([]string, error) {
		return append([]string{}, m.sessionOrder...), nil
	})
}

// Jobs returns the full names of the jobs of a session, or of all sessions
// when session is "". ENOTFOUND for an unknown session.
func (m *Manager) Jobs(ctx context.Context, session string) ([]string, error) {
	return call(ctx, m, func() ([]string, error) {
		if session != "" && m.sessions[session] == nil {
			return nil, notFound("session %q not found", session)
		}
		out := []string{}
		for _, j := range m.jobs() {
			if session == "" || j.session == session {
				out = append(out, j.fullName)
			}
		}
		return out, nil
	})
}

// JobInfo describes a job. ENOTFOUND.
func (m *Manager) JobInfo(ctx context.Context, name string) (JobInfo, error) {
	return callJob(ctx, m, name, func(j *job) (JobInfo, error) { return j.info(), nil })
}

// JobRevision returns the revision JobInfo would describe the job with
// now, without describing it: a caller that keeps what it derived from a
// JobInfo by revision (the API's encoded answers) asks this first, and
// JobInfo only when it changed. ENOTFOUND.
func (m *Manager) JobRevision(ctx context.Context, name string) (uint64, error) {
	return callJob(ctx, m, name, func(j *job) (uint64, error) { return j.rev, nil })
}

// Pids returns the pids a job keeps alive (by slot), or, for name "",
// every pid (commits included) in ascending order. ENOTFOUND.
func (m *Manager) Pids(ctx context.Context, name string) ([]int, error) {
	if name == "" {
		return call(ctx, m, func() ([]int, error) {
			return append([]int{}, slices.Sorted(maps.Keys(m.procs))...), nil
		})
	}
	return callJob(ctx, m, name, func(j *job) ([]int, error) { return j.keptPids(), nil })
}

// ProcessInfo describes one process. ENOTFOUND.
func (m *Manager) ProcessInfo(ctx context.Context, pid int) (ProcessInfo, error) {
	return call(ctx, m, func() (ProcessInfo, error) {
		p, err := m.lookupProc(pid)
		if err != nil {
			return ProcessInfo{}, err
		}
		return p.info(), nil
	})
}

// info describes p. Loop only.
func (p *proc) info() ProcessInfo {
	info := ProcessInfo{
		Pid: p.pid, Name: p.job.fullName, OSPid: p.osPid, Slot: p.slotNumber(),
		Cmd: p.argv[0], Args: slices.Clone(p.argv[1:]), Env: maps.Clone(p.env), Cwd: p.cwd,
		CreateTime: unixSeconds(p.created), Once: p.once,
		Active:         !p.stopping && !p.leaderDone,
		RedirectOutput: slices.Clone(p.cfg.RedirectOutput), RedirectInput: p.cfg.RedirectInput,
		CustomStreams: slices.Clone(p.cfg.CustomStreams), Template: slices.Clone(p.tmpl),
	}
	if s := p.slot; s != nil && s.proc == p {
		info.State, info.Restarts = s.state, s.restarts
	} else {
		info.State = SlotRunning // a commit
	}
	if p.stopping {
		info.State = SlotStopping
	}
	info.Ready = info.State == SlotRunning
	if info.Args == nil {
		info.Args = []string{}
	}
	if info.RedirectOutput == nil {
		info.RedirectOutput = []string{}
	}
	if info.CustomStreams == nil {
		info.CustomStreams = []string{}
	}
	return info
}

// Logs returns the last n captured output lines of a job (all of them for
// n <= 0, up to the ring's size). ENOTFOUND.
func (m *Manager) Logs(ctx context.Context, name string, n int) ([]LogLine, error) {
	r, err := callJob(ctx, m, name, func(j *job) (*ring, error) { return j.ring, nil })
	if err != nil {
		return nil, err
	}
	return r.last(n), nil
}

// Subscribe returns a subscription to events matching patterns (topic
// patterns of the contract). Made on the loop, it sees every event
// published after the call and none before.
func (m *Manager) Subscribe(ctx context.Context, buffer int, patterns ...string) (*pubsub.Sub[Event], error) {
	if buffer <= 0 {
		buffer = m.opts.EventBuffer
	}
	return call(ctx, m, func() (*pubsub.Sub[Event], error) {
		return m.events.Subscribe(buffer, patterns...), nil
	})
}

// SubscribeOutput returns a subscription to output chunks matching patterns
// (see OutputTopic and JobOutputTopic).
func (m *Manager) SubscribeOutput(buffer int, patterns ...string) *pubsub.Sub[Chunk] {
	if buffer <= 0 {
		buffer = m.opts.EventBuffer
	}
	return m.output.Subscribe(buffer, patterns...)
}

// withJob runs f on the loop with the named job.
func (m *Manager) withJob(ctx context.Context, name string, f func(*job) error) error {
	_, err := callJob(ctx, m, name, func(j *job) (struct{}, error) { return struct{}{}, f(j) })
	return err
}

// withProc runs f on the loop with the process pid. ENOTFOUND.
func (m *Manager) withProc(ctx context.Context, pid int, f func(*proc)) error {
	_, err := call(ctx, m, func() (struct{}, error) {
		p, err := m.lookupProc(pid)
		if err == nil {
			f(p)
		}
		return struct{}{}, err
	})
	return err
}

func callJob[T any](ctx context.Context, m *Manager, name string, f func(*job) (T, error)) (T, error) {
	return call(ctx, m, func() (T, error) {
		j, err := m.lookupJob(name)
		if err != nil {
			var zero T
			return zero, err
		}
		return f(j)
	})
}
