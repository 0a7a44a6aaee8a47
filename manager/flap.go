package manager

import "time"

// Flapping states.
const (
	flapOK       = ""
	flapFlapping = "flapping"
	flapGaveUp   = "gave_up"
)

// flapState is a job's restart-storm detector. Loop-owned.
type flapState struct {
	state       string
	history     []time.Time // recent unexpected exits and spawn failures
	retries     int         // consecutive retries that flapped again
	gen         int         // invalidates pending retry and stable messages
	retryTimer  *time.Timer
	stableTimer *time.Timer
}

// recordCrash notes an unexpected exit or failed spawn of j and reports
// whether j may be respawned now. When j flaps it publishes flap (and
// schedules a retry) or giveup, and stops j's remaining processes.
func (m *Manager) recordCrash(j *job) bool {
	fc := j.cfg.Flapping
	if !fc.Enabled || !j.active {
		return j.active
	}
	now := time.Now()
	h := append(j.flap.history, now)
	for len(h) > 0 && now.Sub(h[0]) > fc.Window {
		h = h[1:]
	}
	j.flap.history = h
	if len(h) < fc.Attempts {
		return true
	}
	m.flaps.Add(1)
	j.rev++
	m.cancelFlapTimers(j)
	j.flap.history = nil
	if j.flap.retries >= fc.MaxRetry {
		m.giveups.Add(1)
		j.flap.state = flapGaveUp
		j.active = false
		m.publish(Event{Type: EventGiveUp, Name: j.fullName})
		m.stopJobProcs(j, false)
		return false
	}
	j.flap.state = flapFlapping
	m.publish(Event{Type: EventFlap, Name: j.fullName, RetryIn: fc.RetryIn})
	m.stopJobProcs(j, false)
	j.flap.retryTimer = m.after(fc.RetryIn, msgRetry{j, j.flap.gen})
	return false
}

// flapRetry ends a flapping pause: the job runs again and, if it stays up
// for a window, its retry count is reset.
func (m *Manager) flapRetry(j *job, gen int) {
	if j.flap.gen != gen || j.removed || j.flap.state != flapFlapping {
		return
	}
	j.flap.retryTimer = nil
	j.flap.state = flapOK
	j.rev++
	j.flap.retries++
	j.flap.stableTimer = m.after(j.cfg.Flapping.Window, msgStable{j, j.flap.gen})
	m.ensure(j)
}

// cancelFlapTimers drops any pending retry or stability check of j.
func (m *Manager) cancelFlapTimers(j *job) {
	j.flap.gen++
	if j.flap.retryTimer != nil {
		j.flap.retryTimer.Stop()
		j.flap.retryTimer = nil
	}
	if j.flap.stableTimer != nil {
		j.flap.stableTimer.Stop()
		j.flap.stableTimer = nil
	}
	if j.respawnTimer != nil {
		j.respawnTimer.Stop()
		j.respawnTimer = nil
	}
}
