//go:build linux

package process

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// sysProcAttr is the fork configuration of every child: a new process group
// led by the child, SIGKILL when its parent thread dies, and the credential
// when one was asked for.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: cred,
	}
}

// The spawner.
//
// Pdeathsig is not tied to the parent process but to the parent *thread*:
// the kernel signals the child when the thread that forked it exits. The Go
// runtime may end a thread whenever a goroutine that locked it returns, so a
// child forked on an arbitrary goroutine could be SIGKILLed at a random
// moment. Every fork therefore happens on one goroutine that locks its OS
// thread and never returns, so that thread lives exactly as long as the
// program.
//
// Limits:
//   - Forks are serialised through this one goroutine (syscall.ForkExec
//     already serialises them behind syscall.ForkLock, so nothing is lost).
//   - The goroutine and its thread live for the rest of the program once the
//     first Start runs; tests see one extra goroutine (spawnLoop).
//   - Pdeathsig covers the direct child only, and is cleared by the kernel
//     when the child executes a set-user-ID or set-group-ID program.
//   - If the spawner lands on the main thread, that is fine: the main thread
//     ends only with the process.
//   - Before each fork it marks the daemon's descriptors close-on-exec
//     (markCloseOnExec), a process-wide side effect.

// spawnReq asks the spawner to fork and exec.
type spawnReq struct {
	argv0 string
	argv  []string
	attr  *syscall.ProcAttr
	reply chan spawnResult
}

type spawnResult struct {
	pid int
	err error
}

// spawner returns the request channel of the one spawner goroutine,
// starting it on first use.
var spawner = sync.OnceValue(func() chan<- spawnReq {
	reqs := make(chan spawnReq)
	go spawnLoop(reqs)
	return reqs
})

// spawnLoop runs forever on a locked OS thread; reqs is never closed.
func spawnLoop(reqs <-chan spawnReq) {
	runtime.LockOSThread() // never unlocked: the thread must outlive every child
	for req := range reqs {
		markCloseOnExec()
		pid, err := syscall.ForkExec(req.argv0, req.argv, req.attr)
		req.reply <- spawnResult{pid, err}
	}
}

// forkExec forks and executes argv0 on the spawner's thread.
func forkExec(argv0 string, argv []string, attr *syscall.ProcAttr) (int, error) {
	req := spawnReq{argv0: argv0, argv: argv, attr: attr, reply: make(chan spawnResult, 1)}
	spawner() <- req
	res := <-req.reply
	return res.pid, res.err
}

// markCloseOnExec sets close-on-exec on every descriptor of the daemon
// above 2. Go opens everything close-on-exec, but a daemon may inherit
// descriptors without it from whatever started it (or get some from
// foreign code), and syscall.ForkExec does not close them in the child.
// Descriptors passed on purpose (ProcAttr.Files, os/exec's ExtraFiles) are
// dup2'ed into the child and so are unaffected. Errors are ignored: this is
// a best effort against leaks, not a reason to fail a start.
func markCloseOnExec() {
	if unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC) == nil {
		return
	}
	// Before Linux 5.11: one by one.
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd <= 2 {
			continue
		}
		if flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil && flags&unix.FD_CLOEXEC == 0 {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC)
		}
	}
}

// pipe returns a close-on-exec pipe (read end, write end).
func pipe() (r, w int, err error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return -1, -1, fmt.Errorf("creating pipe: %w", err)
	}
	return fds[0], fds[1], nil
}

// socketpair returns a close-on-exec connected pair of stream sockets
// (parent end, child end).
func socketpair() (parent, child int, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, fmt.Errorf("creating socketpair: %w", err)
	}
	return fds[0], fds[1], nil
}

// SetSubreaper makes the calling process a child subreaper
// (prctl(PR_SET_CHILD_SUBREAPER)): orphaned descendants are re-parented to
// it instead of to init, so a [Reaper] created with all=true collects their
// exits too. It affects the whole process and lasts until it exits.
func SetSubreaper() error { return setSubreaper(true) }

func setSubreaper(on bool) error {
	var v uintptr
	if on {
		v = 1
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, v, 0, 0, 0); err != nil {
		return fmt.Errorf("setting child subreaper: %w", err)
	}
	return nil
}
