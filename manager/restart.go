package manager

import (
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/ganger/ganger/conf"
)

// This file decides what follows when a slot's process ends by itself or
// cannot be started: respawn now, after a backoff delay, after a flapping
// pause, give up, or stay exited. The decision is a pure function of the
// job's policy, the slot's history and the facts of the exit, made with
// the time it is given; it says why in words that go into the event and
// the daemon's log (nomad's RestartTracker does the same).

// verdict is what a decision says happens to the slot.
type verdict int

const (
	stayExited   verdict = iota // not respawned: the restart policy says so
	respawnNow                  // respawned at once (backoff off)
	respawnLater                // respawned after decision.delay (backoff)
	flapPause                   // flapping: respawned after decision.delay (retry_in)
	giveUp                      // fatal until the job is started again
)

// decision is what follows an exit, and why.
type decision struct {
	verdict verdict
	delay   time.Duration
	reason  string
}

// exitFacts is what the decision needs to know of how a process ended.
type exitFacts struct {
	status      syscall.WaitStatus
	ranFor      time.Duration // from spawn to exit
	spawnFailed bool          // it never started (spawn_error)
	unhealthy   bool          // its liveness probe failed and it was stopped
}

// history is one slot's memory of its recent crashes. The zero value is a
// slot that never crashed; a user's start of the job resets it.
type history struct {
	crashes       []time.Time   // unexpected ends within the flapping window, oldest first
	delay         time.Duration // the last backoff delay, 0 before the first
	retries       int           // flapping retries that flapped again
	spawnFailures int           // consecutive failed spawns
}

// success reports whether an exit counts as a success under cfg: a code
// in success_exit_codes, not a signal, not a liveness failure.
func success(cfg conf.Job, f exitFacts) bool {
	if f.spawnFailed || f.unhealthy || f.status.Signaled() {
		return false
	}
	return slices.Contains(cfg.SuccessExitCodes, f.status.ExitStatus())
}

// describeExit says how a process ended, for reasons: "exited with code
// 1", "was killed by SIGSEGV", "could not start".
func describeExit(f exitFacts) string {
	switch {
	case f.spawnFailed:
		return "could not start"
	case f.unhealthy:
		return "failed its liveness probe"
	case f.status.Signaled():
		return "was killed by " + signalName(f.status.Signal())
	default:
		return fmt.Sprintf("exited with code %d", f.status.ExitStatus())
	}
}

func signalName(sig syscall.Signal) string {
	if n := conf.SignalName(sig); n != "" {
		return "SIG" + n
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// decide returns what follows an end of a slot's process that nobody
// asked for, and updates h. now is when it ended.
//
//  1. The restart policy: "never" never respawns, "on-failure" does not
//     respawn a success. A process that could not start, or failed its
//     liveness probe, is always a failure and always retried.
//  2. Flapping (when enabled): the end is counted; attempts ends within
//     window make the slot flap: a pause of retry_in, or, after max_retry
//     retries that flapped again, giving up. A process that ran a whole
//     window before it ended clears the retries.
//  3. Backoff (when enabled): the first delay is initial, each next one
//     factor times the last, at most max; a process that ran reset_after
//     starts the sequence again. Without backoff the slot respawns at once.
//  4. Without flapping, a program that cannot be started at all gives up
//     after max_retry consecutive failed starts (5 by default).
func decide(cfg conf.Job, h *history, f exitFacts, now time.Time) decision {
	what := describeExit(f)
	if f.spawnFailed {
		h.spawnFailures++
	} else {
		h.spawnFailures = 0
	}
	if !f.spawnFailed && !f.unhealthy {
		switch {
		case cfg.Restart == conf.RestartNever:
			return decision{verdict: stayExited, reason: what + "; restart policy never: not respawned"}
		case cfg.Restart == conf.RestartOnFailure && success(cfg, f):
			return decision{verdict: stayExited, reason: what + ", a success; restart policy on-failure: not respawned"}
		}
	}

	if fc := cfg.Flapping; fc.Enabled {
		if f.ranFor >= fc.Window {
			h.retries = 0
		}
		h.crashes = append(h.crashes, now)
		for len(h.crashes) > 0 && now.Sub(h.crashes[0]) > fc.Window {
			h.crashes = h.crashes[1:]
		}
		if len(h.crashes) >= fc.Attempts {
			h.crashes = nil
			if h.retries >= fc.MaxRetry {
				return decision{verdict: giveUp, reason: fmt.Sprintf("%s: %d unexpected ends within %v, %d times after a pause; giving up",
					what, fc.Attempts, fc.Window, h.retries+1)}
			}
			h.retries++
			h.delay = 0
			return decision{verdict: flapPause, delay: fc.RetryIn, reason: fmt.Sprintf("%s: %d unexpected ends within %v: flapping, retrying in %v",
				what, fc.Attempts, fc.Window, fc.RetryIn)}
		}
	} else if max := cmpPositive(cfg.Flapping.MaxRetry, conf.DefaultFlapMaxRetry); h.spawnFailures > max {
		return decision{verdict: giveUp, reason: fmt.Sprintf("%s %d times in a row; giving up", what, h.spawnFailures)}
	}

	b := cfg.Backoff
	if !b.Enabled {
		return decision{verdict: respawnNow, reason: what + ": respawning"}
	}
	switch {
	case h.delay == 0 || (!f.spawnFailed && f.ranFor >= b.ResetAfter):
		h.delay = b.Initial
	case float64(h.delay)*b.Factor >= float64(b.Max):
		h.delay = b.Max
	default:
		h.delay = time.Duration(float64(h.delay) * b.Factor)
	}
	return decision{verdict: respawnLater, delay: h.delay, reason: fmt.Sprintf("%s: respawning in %v", what, h.delay)}
}

// cmpPositive returns v if it is above 0, else def.
func cmpPositive(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}
