// Package manager keeps a set of jobs' processes alive.
//
// # Ownership
//
// One goroutine, the loop started by New, owns every session, job and
// process record. Nothing else reads or writes them. Public methods wrap
// their work in a command (a closure with its own reply channel), send it to
// the loop and wait for the answer; every send and wait also selects on the
// caller's context and on the manager's done channel, so no call hangs after
// Close.
//
// One read skips the trip when it can: the loop counts its turns, and
// JobInfo keeps the answer the loop last made for a job with the turn it
// was made in. While no turn has begun since (no command, exit or message
// has been handled), that answer is still true and is given again without
// the loop; a turn that has begun makes it stale, so no answer is older
// than a call that returned before it was asked. Each such answer carries
// a Memo in which a caller keeps what it derives from it (the API, its
// encoded JSON), so an unchanged job is not described or encoded again.
//
// Exits come back as messages: a single process.Reaper is the only waiter of
// children and hands (os pid, status) to the loop. A process counts as gone
// only when its leader was reaped, its whole process group is empty and its
// output is drained (or a drain bound passed); a small watcher goroutine per
// exited process checks that and sends a message. Timers (graceful-kill
// deadlines, flapping retries) are time.AfterFunc callbacks that only send a
// message to the loop; they never touch state.
//
// # Events
//
// The loop publishes every event of the API contract on the events bus, in
// the order things happened, on "<type>", "job.<session>.<job>.<type>" and,
// for process events, "proc.<pid>.<type>". An exit event is published exactly
// once per process, after every byte of its output was published. Output
// travels on a separate bus (topics "<session>.<job>.<pid>.<label>"),
// published straight from each process's reader goroutines, so heavy output
// never goes through the loop and event subscribers never see it.
//
// # What may block
//
// The loop never blocks on a subscriber (the buses drop and count), on a
// timer or on a watcher. It does block briefly on fork/exec (through the
// process package's spawner thread). Output readers never stop reading:
// lines go to a bounded ring buffer per job (for Logs) and, when configured,
// to a rotated log file.
package manager
