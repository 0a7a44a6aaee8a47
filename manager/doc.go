// Package manager keeps a set of jobs' processes alive and healthy.
//
// # Ownership
//
// One goroutine, the loop started by New, owns every session, job, slot
// and process record. Nothing else reads or writes them. Public methods
// (methods.go) wrap their work in a command (a closure with its own reply
// channel), send it to the loop and wait for the answer; every send and
// wait also selects on the caller's context and on the manager's done
// channel, so no call hangs after Close. What a method answers (JobInfo,
// ProcessInfo…) is a value made by the loop and owned by the caller; a
// JobInfo's Revision changes whenever anything in it changes, so callers
// may cache what they derive from it (the API caches its encoded answers).
//
// # Slots and what happens to them
//
// A job has slots 1…numprocesses, each holding at most one process. A
// slot's life is one state machine (slot.go): one method per event, each
// returning the actions the loop performs (Manager.apply). What follows a
// crash is decided by a pure function of the job's restart policy, backoff
// and flapping settings and the slot's history (restart.go). Readiness and
// liveness probes run off the loop (probe.go); depends_on holds a started
// job's slots waiting and orders a stop of everything, dependents first
// (deps.go); reload, restart and update replace processes slot by slot
// (rollout.go).
//
// # The OS, and time
//
// The loop reaches the operating system only through a small seam
// (system.go): starting a process, handing its pid to the reaper, reading
// exits, dialing a probe's target. Exits come back as messages: a single
// process.Reaper is the only waiter of children; watch returns only once
// the reaper has the pid, and the loop registers the process before it
// reads the next exit, so no exit is reported for an unknown pid. A
// process counts as gone only when its leader was reaped, its whole
// process group is empty and its output is drained (or a drain bound
// passed); a small watcher goroutine per exited process checks that and
// sends a message. Timers (kill deadlines, backoff, flapping pauses,
// min_uptime, rollout deadlines, exec probe timeouts) are the loop's own:
// one heap of deadlines and one time.Timer for the earliest, selected on
// like any channel (timers.go); a due timer's message is handled like any
// other, and stale ones are dropped by generation. The manager's clock is
// time.Now and time.Timer, so the tests run the loop on a fake system
// inside a testing/synctest bubble, where time is fake: the timing rules
// are tested exactly, in microseconds.
//
// # Events
//
// The loop publishes every event of the API contract on the events bus, in
// the order things happened, on "<type>", "job.<session>.<job>.<type>" and,
// for process events, "proc.<pid>.<type>". An exit event is published exactly
// once per process, after every byte of its output was published, and
// before what follows it (backoff, flap, giveup, a respawn's spawn). Output
// travels on a separate bus (topics "<session>.<job>.<pid>.<label>"),
// published straight from each process's reader goroutines, so heavy
// output never goes through the loop and event subscribers never see it.
// A SubscribeOutput chunk is a copy of its own, which receivers may keep.
// A follower of one process (FollowProcess, the hot path of output) gets
// the bytes only during a callback, in pooled buffers the manager takes
// back afterwards (follow.go): no buffer of the manager's ever outlives a
// call into another package.
//
// # What may block
//
// The loop never blocks on a subscriber (the buses drop and count), on a
// timer, a watcher or a probe. It does block briefly on fork/exec (through
// the process package's spawner thread). Output readers never stop
// reading: lines go to a bounded ring buffer per job (for Logs) and, when
// configured, to a rotated log file; both are set when the job is loaded,
// never replaced, and guard themselves with a mutex, which is what makes
// their use from reader goroutines safe.
package manager
