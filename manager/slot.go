package manager

import (
	"time"

	"github.com/ganger/ganger/conf"
)

// This file is a slot's life, read top to bottom: its record, then one
// method per event that can happen to it (the job starts, its process
// spawns or cannot, becomes ready, loses readiness, fails its liveness
// probe, is asked to stop, is gone; its timer fires). Each method reads
// the slot's state, moves it, and returns the actions that follow: spawn
// a process, stop it, arm or drop the slot's timer, start a probe,
// publish an event, log why, forget the slot. The methods touch no OS and
// call nothing of the manager; the loop performs the actions in order
// (Manager.apply in job.go).
//
// States (API.md "Lifecycle and health"):
//
//	waiting   the job is started, a depends_on condition does not hold yet
//	starting  its process was spawned and is not ready yet
//	running   its process is ready
//	stopping  a graceful stop was sent; SIGKILL follows after graceful_timeout
//	backoff   its process crashed; respawned after a delay
//	exited    its process ended and is not respawned
//	fatal     gave up
//
// A slot holds at most one process at a time: a replacement starts only
// once the old process is gone (never two holders of one PORT).

// slot is one of a job's numbered places for a process. Loop-owned.
type slot struct {
	n        int    // 1…numprocesses
	state    string // one of the Slot… constants
	since    time.Time
	proc     *proc      // its process, nil when it has none
	intent   stopIntent // why its process is stopping
	restarts int        // respawns after a crash, since the job was loaded
	lastExit *ExitInfo
	spawnErr string // why its last start failed, "" after one that worked
	hist     history
	flapping bool // the pending respawn ends a flapping pause
	gaveUp   bool // fatal

	timer    *timer // its one timer (respawn or uptime); loop-owned
	timerGen int    // a timer message of another generation is stale
}

// stopIntent is why a slot's process is stopping, which says what follows
// once it is gone.
type stopIntent int

const (
	noStop        stopIntent = iota // it is not stopping
	stopToExit                      // a user's stop, unload, shutdown: the slot is exited after
	stopToRespawn                   // a replacement (reload, update, DELETE /{pid}): a new process after
	stopToRemove                    // a scale-down: the slot is forgotten after
	stopUnhealthy                   // its liveness probe failed: a crash, as the restart rules say
)

// timerKind is what a slot's timer is for.
type timerKind int

const (
	timerRespawn timerKind = iota // a backoff delay or flapping pause is over
	timerUptime                   // min_uptime passed: ready, for a process without a readiness probe
)

// probeKind names a process's two probes.
type probeKind int

const (
	readinessProbe probeKind = iota
	livenessProbe
)

func (k probeKind) String() string {
	if k == readinessProbe {
		return "readiness"
	}
	return "liveness"
}

// actionKind is what the loop does for a slot after a transition.
type actionKind int

const (
	actSpawn   actionKind = iota // spawn a process for the slot
	actStop                      // start a graceful stop of the slot's process
	actArm                       // arm the slot's timer
	actDisarm                    // drop the slot's timer
	actProbe                     // start one of the probes of the slot's process
	actPublish                   // publish an event about the slot
	actLog                       // log why something happened to the slot
	actRemove                    // forget the slot
)

// action is one thing the loop does after a transition.
type action struct {
	kind    actionKind
	restart bool          // actSpawn: the respawn of a crashed process (a restart)
	timer   timerKind     // actArm
	delay   time.Duration // actArm
	probe   probeKind     // actProbe
	event   Event         // actPublish: the loop fills in the job, slot and process
	reason  string        // actLog
}

func spawnAction(restart bool) action { return action{kind: actSpawn, restart: restart} }
func armAction(t timerKind, d time.Duration) action {
	return action{kind: actArm, timer: t, delay: d}
}
func publishAction(ev Event) action  { return action{kind: actPublish, event: ev} }
func logAction(reason string) action { return action{kind: actLog, reason: reason} }

var (
	disarmAction = action{kind: actDisarm}
	stopAction   = action{kind: actStop}
	removeAction = action{kind: actRemove}
)

// set moves the slot to state.
func (s *slot) set(state string, now time.Time) {
	if s.state != state {
		s.state, s.since = state, now
	}
}

// live reports whether the slot's process runs and was not asked to stop.
func (s *slot) live() bool { return s.proc != nil && s.intent == noStop }

// start: the job is started, or the slot was added to a started job.
// waiting says a depends_on condition does not hold. A start resets the
// slot's crash history; a process already running is left alone, one
// still stopping is replaced once it is gone.
func (s *slot) start(now time.Time, waiting bool) []action {
	s.hist, s.flapping, s.gaveUp = history{}, false, false
	switch {
	case s.live():
		return nil
	case s.proc != nil:
		s.intent = stopToRespawn
		return nil
	case waiting:
		s.set(SlotWaiting, now)
		return []action{disarmAction}
	default:
		return []action{disarmAction, spawnAction(false)}
	}
}

// dependenciesMet: the conditions a waiting slot waited for hold.
func (s *slot) dependenciesMet() []action {
	if s.state != SlotWaiting {
		return nil
	}
	return []action{spawnAction(false)}
}

// spawned: its process started. Without a readiness probe it is ready
// after min_uptime; a liveness probe without readiness starts now.
func (s *slot) spawned(p *proc, cfg conf.Job, now time.Time) []action {
	s.proc, s.intent = p, noStop
	s.set(SlotStarting, now)
	var acts []action
	if cfg.Readiness != nil {
		acts = append(acts, action{kind: actProbe, probe: readinessProbe})
	} else if cfg.Liveness != nil {
		acts = append(acts, action{kind: actProbe, probe: livenessProbe})
	}
	if cfg.Readiness == nil {
		if cfg.MinUptime <= 0 {
			return append(acts, s.ready(cfg, now)...)
		}
		acts = append(acts, armAction(timerUptime, cfg.MinUptime))
	}
	return acts
}

// spawnFailed: no process could be started (no such program, bad cwd or
// user). It counts as a crash.
func (s *slot) spawnFailed(cfg conf.Job, now time.Time) []action {
	return s.crashed(cfg, exitFacts{spawnFailed: true}, now)
}

// ready: its readiness probe passed success_threshold times, or, without
// one, it ran min_uptime. Its liveness probe starts now if it has both.
func (s *slot) ready(cfg conf.Job, now time.Time) []action {
	if s.state != SlotStarting || !s.live() {
		return nil
	}
	s.set(SlotRunning, now)
	acts := []action{publishAction(Event{Type: EventReady})}
	if cfg.Readiness != nil && cfg.Liveness != nil && !s.proc.probing(livenessProbe) {
		acts = append(acts, action{kind: actProbe, probe: livenessProbe})
	}
	return acts
}

// unready: the readiness probe of a ready process failed
// failure_threshold times. It is not restarted.
func (s *slot) unready(reason string, now time.Time) []action {
	if s.state != SlotRunning || !s.live() {
		return nil
	}
	s.set(SlotStarting, now)
	return []action{publishAction(Event{Type: EventUnready, Reason: reason})}
}

// unhealthy: its liveness probe failed failure_threshold times. The
// process is stopped gracefully and its end counts as a crash.
func (s *slot) unhealthy(reason string, now time.Time) []action {
	if !s.live() {
		return nil
	}
	acts := []action{publishAction(Event{Type: EventUnhealthy, Reason: reason})}
	return append(acts, s.stop(stopUnhealthy, now)...)
}

// stop: its process is asked to stop, for why. A slot without a process
// has nothing to stop: its timer is dropped and it goes where why says.
// One that is already stopping keeps stopping; the newest reason says
// what follows, except that a scale-down's removal stands until the slot
// is taken back (keep).
func (s *slot) stop(why stopIntent, now time.Time) []action {
	switch {
	case s.proc == nil:
		switch {
		case why == stopToRemove:
			return []action{disarmAction, removeAction}
		case why == stopToRespawn && s.state == SlotWaiting:
			return nil // it starts once the job's dependencies hold
		case why == stopToRespawn:
			s.hist, s.flapping, s.gaveUp = history{}, false, false
			return []action{disarmAction, spawnAction(false)}
		}
		if s.state != SlotFatal && s.state != SlotExited {
			s.set(SlotExited, now)
		}
		return []action{disarmAction}
	case s.intent != noStop:
		if s.intent != stopToRemove || why == stopToRemove {
			s.intent = why
		}
		return nil
	default:
		s.intent = why
		s.set(SlotStopping, now)
		return []action{disarmAction, stopAction}
	}
}

// keep: a scale-up takes back a slot that a scale-down was removing.
// Its stopping process is replaced once gone if the job is active.
func (s *slot) keep(active bool) {
	if s.intent == stopToRemove {
		s.intent = stopToExit
		if active {
			s.intent = stopToRespawn
		}
	}
}

// gone: its process ended and is gone (group empty, output drained).
// What follows depends on why it stopped; a process that ended by itself
// crashed, and the restart rules decide.
func (s *slot) gone(cfg conf.Job, f exitFacts, exit ExitInfo, active bool, now time.Time) []action {
	intent := s.intent
	s.proc, s.intent, s.lastExit = nil, noStop, &exit
	acts := []action{disarmAction}
	switch {
	case intent == stopToRemove:
		return append(acts, removeAction)
	case intent == stopToExit, !active:
		s.set(SlotExited, now)
		return acts
	case intent == stopToRespawn:
		return append(acts, spawnAction(false))
	case intent == stopUnhealthy:
		f.unhealthy = true
	}
	return append(acts, s.crashed(cfg, f, now)...)
}

// crashed: the process ended by itself, or could not start, and the job
// is active: the restart decision says what follows (restart.go).
func (s *slot) crashed(cfg conf.Job, f exitFacts, now time.Time) []action {
	d := decide(cfg, &s.hist, f, now)
	switch d.verdict {
	case respawnNow:
		return []action{logAction(d.reason), spawnAction(true)}
	case respawnLater:
		s.set(SlotBackoff, now)
		return []action{logAction(d.reason), publishAction(Event{Type: EventBackoff, Delay: d.delay, Reason: d.reason}),
			armAction(timerRespawn, d.delay)}
	case flapPause:
		s.set(SlotBackoff, now)
		s.flapping = true
		return []action{logAction(d.reason), publishAction(Event{Type: EventFlap, RetryIn: d.delay, Reason: d.reason}),
			armAction(timerRespawn, d.delay)}
	case giveUp:
		s.set(SlotFatal, now)
		s.gaveUp = true
		return []action{logAction(d.reason), publishAction(Event{Type: EventGiveUp, Reason: d.reason})}
	default: // stayExited
		s.set(SlotExited, now)
		return []action{logAction(d.reason)}
	}
}

// timerFired: the slot's timer went off.
func (s *slot) timerFired(kind timerKind, cfg conf.Job, now time.Time) []action {
	switch kind {
	case timerRespawn:
		if s.state != SlotBackoff {
			return nil
		}
		s.flapping = false
		return []action{spawnAction(true)}
	default: // timerUptime
		return s.ready(cfg, now)
	}
}
