// Package process starts and controls one operating-system process at a
// time. It knows nothing of jobs, sessions or the manager: it turns a fully
// resolved [Spec] into a running child, moves bytes in and out of it, sends
// signals to its process group, samples its resource usage, and reaps exits.
// It is Linux-only.
//
// # What it owns
//
//   - The fork. Every child is forked by one dedicated goroutine locked to
//     one OS thread that never exits (see sys_linux.go), with
//     [syscall.ForkExec]: no os/exec, no os.StartProcess.
//   - The parent's ends of the child's stdio and custom streams, and one
//     reader goroutine per output source.
//   - Waiting. Nothing in this package waits for a child except a [Reaper];
//     a program should run exactly one (the daemon runs one with all=true as
//     a child subreaper, see [SetSubreaper]). The Reaper opens a pidfd
//     (pidfd_open, Linux 5.3) for each child given to [Reaper.Watch] and
//     waits for them in one epoll set, so an exit is noticed at once and
//     reaping costs the same with ten children or ten thousand (see
//     pidfd_linux.go). SIGCHLD and a scan every 500ms with wait4 catch the
//     rest: children without a pidfd (an older kernel) and, with all,
//     orphaned descendants. Pidfds are only used to learn of exits:
//     signals go to the process group with kill(2), see below.
//
// # Guarantees
//
//   - Process group: each child leads a new process group (pgid == pid).
//     [Process.Signal] and [Process.Terminate] address the whole group
//     with kill(-pgid, sig), so grandchildren that stay in the group are
//     reached even after the leader has exited. A group whose
//     every member is gone yields [ErrGone]. Once the group is gone its id
//     may in theory be reused by an unrelated group; callers should stop
//     signalling a Process once [Process.GroupAlive] has reported false.
//   - Parent death: every child gets Pdeathsig=SIGKILL (set after the
//     credential switch, so it survives it), so it dies with the daemon,
//     even on SIGKILL of the daemon. This covers the direct child only:
//     grandchildren are not killed, and a child that executes a
//     set-user-ID program loses the setting.
//   - File descriptors: the child receives exactly fds 0, 1, 2 and one fd per
//     custom stream (3, 4, …). To make sure of it, Start marks every
//     descriptor of the daemon above 2 close-on-exec before it forks, so
//     that descriptors the daemon inherited without O_CLOEXEC do not leak
//     either (descriptors handed to os/exec children through ExtraFiles
//     are unaffected).
//   - Resource limits: the child gets the daemon's original soft
//     RLIMIT_NOFILE (the Go runtime raises its own soft limit at start-up
//     and syscall.ForkExec restores the original in the child).
//   - Output: every output source is read until EOF in chunks of up to
//     32 KiB, even when nobody listens, so a child never blocks on a full
//     pipe. Bytes are delivered raw and in order per source; a source that
//     fails to read is closed rather than left full.
//   - A failed [Start] leaves nothing behind: every descriptor it created is
//     closed and no goroutine is started.
//
// # Usage
//
//	r := process.NewReaper(true) // after process.SetSubreaper()
//	defer r.Close()
//	p, err := process.Start(process.Spec{
//		Path:   "sleep",
//		Args:   []string{"sleep", "30"},
//		Env:    os.Environ(),
//		Output: []string{"stdout", "stderr"},
//		OnOutput: func(label string, data []byte) {
//			log.Printf("%s: %q", label, data) // data is only valid during the call
//		},
//	})
//	if err != nil {
//		return err // errors.Is(err, process.ErrNotFound) etc.
//	}
//	r.Watch(p.Pid())
//	_ = p.Terminate(syscall.SIGTERM)
//	for e := range r.Exits() {
//		if e.Pid == p.Pid() {
//			break
//		}
//	}
//	<-p.OutputDone() // or, after a bound, p.CloseOutput()
//	p.Release()
package process
