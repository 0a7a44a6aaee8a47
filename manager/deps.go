package manager

import (
	"context"
	"slices"
	"time"

	"github.com/ganger/ganger/conf"
)

// This file is depends_on: a started job whose dependencies do not hold
// waits (its slots are waiting) until they do; stopping everything stops
// dependents before what they depend on. A job is never stopped because a
// dependency stopped, and conditions are checked when a job starts only:
// a dependency that fails later does not stop its dependents.

// unmetDependencies returns the conditions of j that do not hold now, in
// the order of j's Dependencies. A dependency that is not loaded does not
// hold: it is waited for.
func (m *Manager) unmetDependencies(j *job) []Dependency {
	var out []Dependency
	for _, d := range j.cfg.Dependencies() {
		if !m.holds(d) {
			out = append(out, Dependency{Name: d.Job, Condition: d.Condition})
		}
	}
	return out
}

// holds reports whether one depends_on condition holds.
func (m *Manager) holds(d conf.Dependency) bool {
	dep := m.lookupFull(d.Job)
	if dep == nil || !dep.active {
		return false
	}
	switch d.Condition {
	case conf.DependStarted:
		for _, s := range dep.allSlots() {
			if s.proc != nil || s.lastExit != nil {
				return true // it has spawned a process since it started
			}
		}
		return dep.cfg.NumProcesses == 0
	case conf.DependCompleted:
		return dep.state() == JobCompleted
	default: // conf.DependReady
		for _, s := range dep.liveSlots(m.now()) {
			if s.state != SlotRunning {
				return false
			}
		}
		return true
	}
}

// checkWaiting starts the waiting jobs whose dependencies now hold, and
// brings up to date what the others wait for. It runs after every change
// of a slot, so its cost is the number of waiting jobs (m.waiting).
func (m *Manager) checkWaiting() {
	if len(m.waiting) == 0 {
		return
	}
	for _, j := range slices.Clone(m.waiting) {
		if !j.active || j.removed || len(j.waitingFor) == 0 {
			m.waiting = slices.DeleteFunc(m.waiting, func(w *job) bool { return w == j })
			continue
		}
		unmet := m.unmetDependencies(j)
		if slices.Equal(unmet, j.waitingFor) {
			continue
		}
		j.waitingFor = unmet
		j.changed()
		if len(unmet) > 0 {
			continue
		}
		m.waiting = slices.DeleteFunc(m.waiting, func(w *job) bool { return w == j })
		for _, s := range j.liveSlots(m.now()) {
			m.apply(j, s, s.dependenciesMet())
		}
	}
}

// stopInOrder stops every job of jobs: each is deactivated at once, so
// nothing respawns, and its processes are stopped once no job depending on
// it has a process left (dependents first).
func (m *Manager) stopInOrder(jobs []*job) {
	for _, j := range jobs {
		m.deactivate(j, true)
	}
	m.releaseHeldStops()
}

// releaseHeldStops stops the held jobs whose dependents have no slot
// process left. It runs whenever a slot's process is gone while some job
// is held.
func (m *Manager) releaseHeldStops() {
	if !m.anyHeld {
		return
	}
	held := false
	for _, j := range m.jobs() {
		switch {
		case !j.stopHeld:
		case m.hasLiveDependents(j):
			held = true
		default:
			m.releaseStop(j)
		}
	}
	m.anyHeld = held
}

// hasLiveDependents reports whether a job that depends on j still has a
// slot process.
func (m *Manager) hasLiveDependents(j *job) bool {
	for _, k := range m.jobs() {
		if k == j {
			continue
		}
		for _, d := range k.cfg.Dependencies() {
			if d.Job == j.fullName && k.hasSlotProcess() {
				return true
			}
		}
	}
	return false
}

// hasSlotProcess reports whether any slot of j has a process.
func (j *job) hasSlotProcess() bool {
	for _, s := range j.allSlots() {
		if s.proc != nil {
			return true
		}
	}
	return false
}

// StopBound returns how long a graceful stop of everything (Close,
// StopAll) may take: along the longest chain of dependencies, the sum of
// the graceful timeouts of its jobs (and of their running commits), since
// a job's processes are stopped only once its dependents' are gone.
func (m *Manager) StopBound(ctx context.Context) (time.Duration, error) {
	return call(ctx, m, func() (time.Duration, error) {
		memo := map[*job]time.Duration{}
		var until func(j *job) time.Duration // from the stop until j's processes are gone
		until = func(j *job) time.Duration {
			if d, ok := memo[j]; ok {
				return d
			}
			memo[j] = 0 // no cycles (refused at load), but never loop
			own := j.cfg.GracefulTimeout
			for _, p := range j.procs {
				own = max(own, p.grace)
			}
			var after time.Duration
			for _, k := range m.jobs() {
				for _, d := range k.cfg.Dependencies() {
					if d.Job == j.fullName {
						after = max(after, until(k))
					}
				}
			}
			memo[j] = after + own
			return memo[j]
		}
		var longest time.Duration
		for _, j := range m.jobs() {
			longest = max(longest, until(j))
		}
		return longest, nil
	})
}
