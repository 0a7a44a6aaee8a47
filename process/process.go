package process

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Errors that callers tell apart with errors.Is. Their text is meant to be
// shown to users (the manager publishes a failed Start's message as the
// spawn_error reason).
var (
	// ErrNotFound: the program does not exist (or is not in PATH).
	ErrNotFound = errors.New("no such program")
	// ErrBadDir: the working directory does not exist or is not a directory.
	ErrBadDir = errors.New("bad working directory")
	// ErrBadUser: the user or group is unknown.
	ErrBadUser = errors.New("unknown user or group")
	// ErrGone: no process is left in the process group.
	ErrGone = errors.New("process group is gone")
	// ErrNoStream: the process has no such input stream.
	ErrNoStream = errors.New("no such stream")
)

// Spec describes one process to start. All fields are already resolved by
// the caller except the user, the group and the PATH lookup.
type Spec struct {
	// Path is the program, found with LookPath(Path, Dir, Env): without a
	// slash it is looked up in the PATH found in Env (or else in the
	// daemon's PATH), skipping relative PATH entries; a relative path with
	// a slash is relative to Dir.
	Path string
	// Args is the full argv, including argv[0]; empty means {Path}.
	Args []string
	// Env is exactly the child's environment, as "K=V" strings.
	Env []string
	// Dir is the working directory; "" is the daemon's.
	Dir string
	// User is a user name or numeric uid; "" inherits the daemon's. With a
	// user, the child gets the user's primary group (unless Group is set)
	// and the user's supplementary groups.
	User string
	// Group is a group name or numeric gid; "" inherits the daemon's (or
	// takes the user's primary group when User is set).
	Group string
	// Output labels the child's stdout and stderr: none sends both to
	// /dev/null; one captures stdout under Output[0] and lets stderr go to
	// the daemon's stderr; two capture stdout under Output[0] and stderr
	// under Output[1], through one shared pipe (order preserved) when the
	// two labels are equal. More than two is an error.
	Output []string
	// Input gives the child a stdin pipe written with Process.Write;
	// otherwise its stdin is /dev/null.
	Input bool
	// Streams are custom two-way streams at fd 3, 4, …, one connected unix
	// stream socket each: what the child writes arrives as output under the
	// stream's label, and Process.Write sends to it.
	Streams []string
	// OnOutput receives every chunk read (at most 32 KiB) with its label.
	// It is called from reader goroutines, concurrently for different
	// labels but never concurrently for the same label. data is only valid
	// during the call. It may be nil: output is then drained and dropped.
	OnOutput func(label string, data []byte)
}

// Process is one started child. Its methods are safe for concurrent use.
type Process struct {
	pid     int
	stdin   *os.File // nil without Spec.Input
	streams []stream
	readers []*os.File // every read end: output pipes and stream sockets
	done    chan struct{}

	// statsMu guards the following fields.
	statsMu sync.Mutex
	sampler sampler
}

// stream is a custom stream: the parent's end of its socketpair.
type stream struct {
	label string
	f     *os.File
}

// Start starts the process described by spec. The caller must hand the pid
// to a Reaper (Reaper.Watch) and call Release once the process is gone.
//
// Errors read "starting <path>: …" and wrap ErrNotFound for a missing
// program, ErrBadDir for a bad working directory, and ErrBadUser for an
// unknown user or group; any other failure of fork or exec (such as
// permission denied) wraps the system error.
func Start(spec Spec) (*Process, error) {
	p, err := start(spec)
	if err != nil {
		name := spec.Path
		if name == "" {
			name = `""`
		}
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return p, nil
}

func start(spec Spec) (_ *Process, err error) {
	if len(spec.Output) > 2 {
		return nil, fmt.Errorf("%d output labels, want at most 2 (stdout, stderr)", len(spec.Output))
	}
	if err := checkDir(spec.Dir); err != nil {
		return nil, err
	}
	argv0, err := LookPath(spec.Path, spec.Dir, spec.Env)
	if err != nil {
		return nil, err
	}
	cred, err := credential(spec.User, spec.Group)
	if err != nil {
		return nil, err
	}
	argv := spec.Args
	if len(argv) == 0 {
		argv = []string{spec.Path}
	}

	// childFDs are closed once the fork is done, whatever happens;
	// parent files are closed only if Start fails.
	var childFDs []int
	var parentFiles []*os.File
	defer func() {
		for _, fd := range childFDs {
			unix.Close(fd)
		}
		if err != nil {
			for _, f := range parentFiles {
				f.Close()
			}
		}
	}()
	devNull := -1
	null := func() (int, error) {
		if devNull < 0 {
			fd, err := unix.Open(os.DevNull, unix.O_RDWR|unix.O_CLOEXEC, 0)
			if err != nil {
				return -1, fmt.Errorf("opening %s: %w", os.DevNull, err)
			}
			devNull = fd
			childFDs = append(childFDs, fd)
		}
		return devNull, nil
	}
	// newPipe returns the child's end of a new pipe and wraps the parent's.
	newPipe := func(childReads bool) (int, *os.File, error) {
		r, w, err := pipe()
		if err != nil {
			return -1, nil, err
		}
		child, parent := w, r
		if childReads {
			child, parent = r, w
		}
		childFDs = append(childFDs, child)
		f, err := parentFile(parent, "pipe")
		if err != nil {
			return -1, nil, err
		}
		parentFiles = append(parentFiles, f)
		return child, f, nil
	}

	p := &Process{done: make(chan struct{})}
	var sources []source
	files := make([]uintptr, 3, 3+len(spec.Streams))

	if spec.Input {
		fd, f, err := newPipe(true)
		if err != nil {
			return nil, err
		}
		files[0], p.stdin = uintptr(fd), f
	} else {
		fd, err := null()
		if err != nil {
			return nil, err
		}
		files[0] = uintptr(fd)
	}

	switch {
	case len(spec.Output) == 0:
		fd, err := null()
		if err != nil {
			return nil, err
		}
		files[1], files[2] = uintptr(fd), uintptr(fd)
	case len(spec.Output) == 1 || spec.Output[0] == spec.Output[1]:
		fd, f, err := newPipe(false)
		if err != nil {
			return nil, err
		}
		files[1], files[2] = uintptr(fd), uintptr(fd)
		if len(spec.Output) == 1 {
			files[2] = uintptr(unix.Stderr) // the daemon's stderr, as gaffer does
		}
		sources = append(sources, source{label: spec.Output[0], f: f})
	default:
		for i, label := range spec.Output {
			fd, f, err := newPipe(false)
			if err != nil {
				return nil, err
			}
			files[1+i] = uintptr(fd)
			sources = append(sources, source{label: label, f: f})
		}
	}

	for _, label := range spec.Streams {
		parent, child, err := socketpair()
		if err != nil {
			return nil, err
		}
		childFDs = append(childFDs, child)
		f, err := parentFile(parent, "stream "+label)
		if err != nil {
			return nil, err
		}
		parentFiles = append(parentFiles, f)
		files = append(files, uintptr(child))
		p.streams = append(p.streams, stream{label: label, f: f})
		sources = append(sources, source{label: label, f: f, socket: true})
	}

	pid, err := forkExec(argv0, argv, &syscall.ProcAttr{
		Dir:   spec.Dir,
		Env:   spec.Env,
		Files: files,
		Sys:   sysProcAttr(cred),
	})
	if err != nil {
		return nil, forkError(err, spec.Dir)
	}
	p.pid = pid
	p.sampler.pid = pid
	for _, s := range sources {
		p.readers = append(p.readers, s.f)
	}
	startReaders(sources, spec.OnOutput, p.done)
	return p, nil
}

// parentFile makes fd non-blocking, so that the runtime poller serves it
// and closing it interrupts a pending Read or Write, and wraps it.
func parentFile(fd int, name string) (*os.File, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("setting %s non-blocking: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// checkDir reports a working directory that does not exist or is not a
// directory. The child's chdir may still fail later (permissions).
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("%w: %s: %w", ErrBadDir, dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s: not a directory", ErrBadDir, dir)
	}
	return nil
}

// forkError turns a failure reported by the child before exec into a
// readable error, telling a directory that vanished from a missing program.
func forkError(err error, dir string) error {
	if errors.Is(err, syscall.ENOENT) {
		if dir != "" {
			if derr := checkDir(dir); derr != nil {
				return derr
			}
		}
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// Pid returns the OS process id, which is also the process group id.
func (p *Process) Pid() int { return p.pid }

// Signal sends sig to every process in the group (kill(-pgid, sig)), even
// when the leader has already exited. It returns ErrGone when no process
// is left in the group.
func (p *Process) Signal(sig syscall.Signal) error {
	if err := unix.Kill(-p.pid, sig); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signalling process group %d: %w", p.pid, ErrGone)
		}
		return fmt.Errorf("signalling process group %d with %v: %w", p.pid, sig, err)
	}
	return nil
}

// Terminate starts a graceful stop: sig to the group, then SIGCONT to the
// group, so that a stopped process wakes up to act on sig. It returns
// ErrGone when no process is left in the group.
func (p *Process) Terminate(sig syscall.Signal) error {
	if err := p.Signal(sig); err != nil {
		return err
	}
	if err := p.Signal(syscall.SIGCONT); err != nil && !errors.Is(err, ErrGone) {
		return err
	}
	return nil
}

// GroupAlive reports whether any process is left in the group. A member
// that has exited but not been reaped yet (a zombie) still counts.
func (p *Process) GroupAlive() bool {
	return !errors.Is(unix.Kill(-p.pid, 0), unix.ESRCH)
}

// Write writes b to the child's stdin (stream "" or "stdin") or to the
// custom stream of that label. It blocks while the child does not read,
// until CloseInput or Release. It returns ErrNoStream if the process has
// no such stream, and an error wrapping os.ErrClosed once it is closed.
func (p *Process) Write(stream string, b []byte) (int, error) {
	f, name, err := p.input(stream)
	if err != nil {
		return 0, err
	}
	n, err := f.Write(b)
	if err != nil {
		return n, fmt.Errorf("writing to %s of process %d: %w", name, p.pid, err)
	}
	return n, nil
}

// CloseInput closes the child's stdin (stream "" or "stdin"), or shuts
// down the writing half of a custom stream (the child reads EOF; its
// output keeps flowing). It returns ErrNoStream if there is no such stream.
func (p *Process) CloseInput(stream string) error {
	f, name, err := p.input(stream)
	if err != nil {
		return err
	}
	if f == p.stdin {
		err = f.Close()
	} else {
		err = shutdownWrite(f)
	}
	if err != nil {
		return fmt.Errorf("closing %s of process %d: %w", name, p.pid, err)
	}
	return nil
}

// input finds the file behind an input stream name.
func (p *Process) input(name string) (*os.File, string, error) {
	if name == "" || name == "stdin" {
		if p.stdin == nil {
			return nil, "", fmt.Errorf("process %d has no stdin pipe: %w", p.pid, ErrNoStream)
		}
		return p.stdin, "stdin", nil
	}
	for _, s := range p.streams {
		if s.label == name {
			return s.f, "stream " + name, nil
		}
	}
	return nil, "", fmt.Errorf("process %d has no stream %q: %w", p.pid, name, ErrNoStream)
}

func shutdownWrite(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.Shutdown(int(fd), unix.SHUT_WR)
	}); err != nil {
		return err
	}
	return serr
}

// OutputDone returns a channel closed once every output reader has finished
// (EOF, read error, or CloseOutput) and has delivered its last chunk. It is
// closed from the start when nothing is captured.
func (p *Process) OutputDone() <-chan struct{} { return p.done }

// CloseOutput stops reading output now by closing every read end, custom
// streams included. Use it when the output will not end by itself, e.g.
// after a drain bound when a grandchild that escaped the group still holds
// the pipe. Idempotent.
func (p *Process) CloseOutput() {
	for _, f := range p.readers {
		f.Close() // a second close only reports os.ErrClosed
	}
}

// Release closes every descriptor the parent still holds: stdin, custom
// streams and output read ends (so it also stops reading, like
// CloseOutput: call it once the output is drained or abandoned). Call it
// when the process is gone. Idempotent.
func (p *Process) Release() {
	if p.stdin != nil {
		p.stdin.Close()
	}
	p.CloseOutput()
}
