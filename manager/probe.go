package manager

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/process"
)

// This file runs readiness and liveness probes. Each probe of a process
// runs on a goroutine of its own (runProbe): it waits, makes an attempt,
// counts consecutive successes and failures, and posts a message to the
// loop only when a threshold is crossed, so a steady probe costs the loop
// nothing. The loop cancels it when the process stops or ends. An http or
// tcp attempt dials from that goroutine (package probe); an exec attempt
// is a child the loop starts and reaps like any other (never a zombie,
// never one of the job's processes), killed at the probe's timeout. A log
// probe has no goroutine: the process's output readers match its lines.

// msgProbe is a probe's verdict: passed (readiness) or failed.
type msgProbe struct {
	p      *proc
	kind   probeKind
	pass   bool
	reason string // why it failed
}

// msgProbeTimeout is an exec probe's timeout: its group is killed.
type msgProbeTimeout struct{ osPid int }

// probeRun is one running exec probe attempt. Loop-owned.
type probeRun struct {
	owner    *proc // the process probed
	os       osProcess
	done     func(error) // answers the attempt, once
	timer    *timer
	timeout  time.Duration
	timedOut bool
}

// startProbe starts p's probe of kind; its verdicts come back as msgProbe.
func (m *Manager) startProbe(p *proc, kind probeKind) {
	cfg := p.cfg.Liveness
	if kind == readinessProbe {
		cfg = p.cfg.Readiness
	}
	if cfg == nil || p.probes[kind] != nil || p.stopping || p.leaderDone {
		return
	}
	if cfg.Log != "" {
		return // matched by the output readers (processSpec)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.probes[kind] = cancel
	go m.runProbe(ctx, p, kind, *cfg)
}

// stopProbes cancels p's probes, and kills an exec probe of p that is
// running (it is reaped as usual).
func (m *Manager) stopProbes(p *proc) {
	for k, cancel := range p.probes {
		if cancel != nil {
			cancel()
			p.probes[k] = nil
		}
	}
	for osPid, run := range m.probeRuns {
		if run.owner == p {
			m.probeTimedOut(osPid)
		}
	}
}

// runProbe probes p until ctx ends: after initial_delay, one attempt, then
// one every interval after the last ended. Readiness posts a pass after
// success_threshold consecutive successes, and a failure (unready) after
// failure_threshold consecutive failures once passed; liveness posts a
// failure after failure_threshold consecutive failures and ends.
func (m *Manager) runProbe(ctx context.Context, p *proc, kind probeKind, cfg conf.Probe) {
	target := expand(cfg.Target(), p.env)
	t := time.NewTimer(cfg.InitialDelay)
	defer t.Stop()
	var successes, failures int
	passed := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := m.attempt(ctx, p, cfg, target)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			successes, failures = successes+1, 0
		} else {
			successes, failures = 0, failures+1
		}
		verdict := func(pass bool) {
			reason := ""
			if !pass {
				reason = fmt.Sprintf("%s probe failed %d times: %v", kind, failures, err)
			}
			select {
			case m.msgs <- msgProbe{p: p, kind: kind, pass: pass, reason: reason}:
			case <-ctx.Done():
			case <-m.done:
			}
		}
		switch {
		case kind == readinessProbe && !passed && successes >= cfg.SuccessThreshold:
			passed = true
			verdict(true)
		case kind == readinessProbe && passed && failures >= cfg.FailureThreshold:
			passed = false
			verdict(false)
		case kind == livenessProbe && failures >= cfg.FailureThreshold:
			verdict(false)
			return
		}
		t.Reset(cfg.Interval)
	}
}

// attempt makes one attempt of a probe, bounded by its timeout.
func (m *Manager) attempt(ctx context.Context, p *proc, cfg conf.Probe, target string) error {
	actx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	switch {
	case cfg.HTTP != "":
		return m.sys.checkHTTP(actx, target)
	case cfg.TCP != "":
		return m.sys.checkTCP(actx, target)
	default:
		return m.execAttempt(ctx, p, cfg, target)
	}
}

// execAttempt has the loop run the probe's command and waits for its
// result (the loop kills it at the timeout, so the result always comes).
func (m *Manager) execAttempt(ctx context.Context, p *proc, cfg conf.Probe, cmd string) error {
	argv, err := expandCommand(cmd, nil, p.env)
	if err != nil {
		return err
	}
	return callWait(ctx, m, func(done func(error)) { m.runExecProbe(p, argv, cfg.Timeout, done) })
}

// runExecProbe starts an exec probe attempt: the command with the job's
// environment, cwd and user, its output discarded. done answers it once
// it is reaped (execProbeDone), or at once if it cannot start.
func (m *Manager) runExecProbe(p *proc, argv []string, timeout time.Duration, done func(error)) {
	if p.stopping || p.leaderDone || m.shutting {
		done(errors.New("the process is stopping"))
		return
	}
	pr, err := m.sys.start(process.Spec{
		Path: argv[0], Args: argv, Env: envList(p.env),
		Dir: p.cfg.Cwd, User: p.cfg.UID, Group: p.cfg.GID,
	})
	if err != nil {
		done(err)
		return
	}
	osPid := pr.Pid()
	run := &probeRun{owner: p, os: pr, done: done, timeout: timeout}
	m.probeRuns[osPid] = run
	m.sys.watch(osPid)
	run.timer = m.after(timeout, msgProbeTimeout{osPid})
}

// probeTimedOut kills an exec probe that outlived its timeout; its exit
// follows through the reaper.
func (m *Manager) probeTimedOut(osPid int) {
	if run := m.probeRuns[osPid]; run != nil {
		run.timedOut = true
		run.os.Signal(syscall.SIGKILL)
	}
}

// execProbeDone answers an exec probe attempt once its leader is reaped;
// what is left of its group is killed.
func (m *Manager) execProbeDone(e process.Exit, run *probeRun) {
	delete(m.probeRuns, e.Pid)
	run.timer.Stop()
	if run.os.GroupAlive() {
		run.os.Signal(syscall.SIGKILL)
	}
	run.os.Release()
	var err error
	switch {
	case run.timedOut:
		err = fmt.Errorf("timed out after %v", run.timeout)
	case e.Status.Signaled():
		err = fmt.Errorf("killed by %s", signalName(e.Status.Signal()))
	case e.Status.ExitStatus() != 0:
		err = fmt.Errorf("exited with code %d", e.Status.ExitStatus())
	}
	run.done(err)
}

// probeVerdict hands a probe's verdict to p's slot.
func (m *Manager) probeVerdict(msg msgProbe) {
	p := msg.p
	s := p.slot
	if s == nil || s.proc != p || m.procs[p.pid] != p {
		return // stale: the process stopped or ended meanwhile
	}
	now := m.now()
	switch {
	case msg.kind == readinessProbe && msg.pass:
		m.apply(p.job, s, s.ready(p.job.cfg, now))
	case msg.kind == readinessProbe:
		m.apply(p.job, s, s.unready(msg.reason, now))
	default:
		if cancel := p.probes[livenessProbe]; cancel != nil {
			cancel() // it has ended
			p.probes[livenessProbe] = nil
		}
		m.apply(p.job, s, s.unhealthy(msg.reason, now))
	}
}
