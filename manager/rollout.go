package manager

import (
	"fmt"
	"time"
)

// This file is the rolling replacement of a job's processes (reload,
// restart, update, a SIGHUP-changed job): one slot at a time, stop the
// slot's old process gracefully, start the new one, wait until it is
// running (ready), then the next slot; so a job with two slots or more
// always has a process serving. If a new process does not become ready in
// time (graceful_timeout plus its readiness budget), or crashes, the
// replacement stops there with update_failed and the remaining old
// processes keep running.

// rollout is a rolling replacement in progress. Loop-owned.
type rollout struct {
	last     int // the last slot to replace
	slot     int // the slot being replaced
	newPid   int // its new process, once spawned
	timer    *timer
	timerGen int
}

// msgRolloutDue is a rollout step's deadline.
type msgRolloutDue struct {
	j   *job
	gen int
}

// startRollout replaces the processes of slots 1…last of j, slot by
// slot, with processes of its current config. A rollout in progress
// starts over.
func (m *Manager) startRollout(j *job, last int) {
	m.cancelRollout(j)
	j.rollout = &rollout{last: last}
	m.rolloutNext(j)
}

// cancelRollout ends j's rollout, if any, where it is.
func (m *Manager) cancelRollout(j *job) {
	if r := j.rollout; r != nil {
		r.timerGen++
		if r.timer != nil {
			r.timer.Stop()
		}
		j.rollout = nil
	}
}

// rolloutNext starts the replacement of the next slot, or ends the rollout
// after the last.
func (m *Manager) rolloutNext(j *job) {
	r := j.rollout
	now := m.now()
	r.slot++
	r.newPid = 0
	if r.slot > min(r.last, j.cfg.NumProcesses) || !j.active {
		m.cancelRollout(j)
		return
	}
	s := j.liveSlots(now)[r.slot-1]
	if s.state == SlotWaiting {
		m.rolloutNext(j) // nothing to replace: it starts, with the current config, once its dependencies hold
		return
	}
	r.timerGen++
	if r.timer != nil {
		r.timer.Stop()
	}
	r.timer = m.after(m.rolloutBudget(j), msgRolloutDue{j: j, gen: r.timerGen})
	m.apply(j, s, s.stop(stopToRespawn, now))
}

// rolloutBudget is how long one slot's replacement may take: the old
// process's graceful_timeout, then the new one's time to become ready
// (its readiness probe's initial delay and enough attempts for its
// thresholds, or min_uptime), and a second of slack.
func (m *Manager) rolloutBudget(j *job) time.Duration {
	budget := j.cfg.GracefulTimeout + j.cfg.MinUptime + time.Second
	if r := j.cfg.Readiness; r != nil {
		attempts := time.Duration(r.SuccessThreshold + r.FailureThreshold)
		budget = j.cfg.GracefulTimeout + r.InitialDelay + attempts*(r.Interval+r.Timeout) + time.Second
	}
	return budget
}

// rolloutSpawned notes the new process of the slot being replaced.
func (m *Manager) rolloutSpawned(j *job, s *slot, p *proc) {
	if r := j.rollout; r != nil && r.slot == s.n && r.newPid == 0 {
		r.newPid = p.pid
	}
}

// rolloutProgress moves j's rollout on after a change of slot s: to the
// next slot once the new process is running (or, a one-shot, exited with
// success), or to update_failed once it crashed.
func (m *Manager) rolloutProgress(j *job, s *slot) {
	r := j.rollout
	if r == nil || r.slot != s.n {
		return
	}
	if r.newPid == 0 { // no new process yet: the old one is stopping, or the new one could not start
		if s.state == SlotBackoff || s.state == SlotFatal {
			m.rolloutFailed(j, s.n, "the new process could not start")
		}
		return
	}
	switch {
	case s.state == SlotRunning && s.proc != nil && s.proc.pid == r.newPid,
		s.state == SlotExited && s.lastExit != nil && s.lastExit.success:
		m.rolloutNext(j)
	case s.state == SlotBackoff || s.state == SlotFatal || s.state == SlotExited:
		why := "the new process ended"
		if e := s.lastExit; e != nil {
			why = fmt.Sprintf("the new process ended (exit status %d, signal %d)", e.ExitStatus, e.TermSignal)
		}
		m.rolloutFailed(j, s.n, why)
	}
}

// rolloutDue ends a rollout step that took too long.
func (m *Manager) rolloutDue(msg msgRolloutDue) {
	r := msg.j.rollout
	if r == nil || r.timerGen != msg.gen {
		return
	}
	m.rolloutFailed(msg.j, r.slot, fmt.Sprintf("the new process did not become ready within %v", m.rolloutBudget(msg.j)))
}

// rolloutFailed stops j's rollout at slot n and says why.
func (m *Manager) rolloutFailed(j *job, n int, why string) {
	m.cancelRollout(j)
	j.changed()
	m.log.Warn("rolling replacement stopped", "job", j.fullName, "slot", n, "reason", why)
	m.publish(Event{Type: EventUpdateFail, Name: j.fullName, Slot: n, Reason: why})
}
