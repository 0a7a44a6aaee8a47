package process

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"

	"golang.org/x/sys/unix"
)

func TestArgvEnvCwdReachChild(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"FOO=bar baz", "EMPTY=", "PATH=" + os.Getenv("PATH")}
	p := h.start(Spec{Path: "sleep", Args: []string{"custom-argv0", "30"}, Env: env, Dir: dir})

	// ForkExec returns once exec is past the point of no return, a moment
	// before the kernel records the new argv and environment: poll.
	readProc := func(name string) string {
		t.Helper()
		var b []byte
		await.Until(t, limit, "/proc/<pid>/"+name, func() bool {
			var err error
			b, err = os.ReadFile(fmt.Sprintf("/proc/%d/%s", p.Pid(), name))
			if err != nil {
				t.Fatal(err)
			}
			return len(b) > 0
		})
		return string(b)
	}
	if got, want := readProc("cmdline"), "custom-argv0\x0030\x00"; got != want {
		t.Errorf("cmdline = %q, want %q", got, want)
	}
	if got, want := readProc("environ"), strings.Join(env, "\x00")+"\x00"; got != want {
		t.Errorf("environ = %q, want %q", got, want)
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if cwd != dir {
		t.Errorf("cwd = %q, want %q", cwd, dir)
	}
}

func TestArgvEnvCwdInOutput(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c := newCollector()
	script := `printf '%s|' "$0" "$@"; printf '%s|' "$FOO"; pwd`
	p := h.start(Spec{
		Path:     "/bin/sh",
		Args:     []string{"sh", "-c", script, "zero", "a b", "", "c"},
		Env:      []string{"FOO=bar baz"},
		Dir:      dir,
		Output:   []string{"out"},
		OnOutput: c.onOutput,
	})
	if e := h.waitExit(p.Pid()); e.Status.ExitStatus() != 0 {
		t.Fatalf("exit status %v", e.Status)
	}
	waitDone(t, p)
	if got, want := string(c.get("out")), "zero|a b||c|bar baz|"+dir+"\n"; got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
}

func TestPathLookup(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	prog := filepath.Join(bin, "ganger-hello")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		env  []string
		dir  string
	}{
		{"PATH from Env", "ganger-hello", []string{"PATH=/nonexistent:" + bin}, ""},
		{"last PATH in Env wins", "ganger-hello", []string{"PATH=/nonexistent", "PATH=" + bin}, ""},
		{"relative to Dir", "./ganger-hello", nil, bin},
		{"absolute", prog, nil, ""},
		{"daemon PATH when Env has none", "sh", []string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			c := newCollector()
			path, args := tt.path, []string(nil)
			if tt.path == "sh" {
				args = []string{"sh", "-c", "echo hello"}
			}
			p := h.start(Spec{Path: path, Args: args, Env: tt.env, Dir: tt.dir, Output: []string{"out"}, OnOutput: c.onOutput})
			if e := h.waitExit(p.Pid()); !e.Status.Exited() || e.Status.ExitStatus() != 0 {
				t.Fatalf("status %v", e.Status)
			}
			waitDone(t, p)
			if got := string(c.get("out")); got != "hello\n" {
				t.Errorf("output = %q, want %q", got, "hello\n")
			}
		})
	}
}

func TestPgidIsPid(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.start(Spec{Path: "sleep", Args: []string{"sleep", "30"}})
	if st := mustStat(t, p.Pid()); st.pgrp != p.Pid() {
		t.Errorf("pgrp = %d, want pid %d", st.pgrp, p.Pid())
	}
}

func TestKillReachesGrandchildren(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.start(Spec{Path: "sh", Args: []string{"sh", "-c", "sleep 30 & exec sleep 30"}})
	await.Until(t, limit, "two processes in the group", func() bool { return len(liveInGroup(t, p.Pid())) == 2 })
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e := h.waitExit(p.Pid())
	if !e.Status.Signaled() || e.Status.Signal() != syscall.SIGKILL {
		t.Errorf("status %v, want killed by SIGKILL", e.Status)
	}
	await.Until(t, limit, "no process left in the group", func() bool { return len(liveInGroup(t, p.Pid())) == 0 })
}

func TestSignalAfterGroupGone(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.start(Spec{Path: "true"})
	h.waitExit(p.Pid())
	// The leader is reaped and had no children: the group is empty.
	if p.GroupAlive() {
		t.Error("GroupAlive = true after the only member was reaped")
	}
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, ErrGone) {
		t.Errorf("Signal = %v, want ErrGone", err)
	}
	if err := p.Terminate(syscall.SIGTERM); !errors.Is(err, ErrGone) {
		t.Errorf("Terminate = %v, want ErrGone", err)
	}
	if err := p.Signal(syscall.SIGKILL); !errors.Is(err, ErrGone) {
		t.Errorf("Signal(SIGKILL) = %v, want ErrGone", err)
	}
	if _, err := p.Stats(); !errors.Is(err, ErrGone) {
		t.Errorf("Stats = %v, want ErrGone", err)
	}
}

func TestExitStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		stop   func(*Process) error
		code   int
		signal syscall.Signal
	}{
		{name: "exit 0", args: []string{"true"}},
		{name: "exit 3", args: []string{"sh", "-c", "exit 3"}, code: 3},
		{name: "terminated", args: []string{"sleep", "30"},
			stop: func(p *Process) error { return p.Terminate(syscall.SIGTERM) }, signal: syscall.SIGTERM},
		{name: "terminated through sh", args: []string{"sh", "-c", "sleep 1000"},
			stop: func(p *Process) error { return p.Terminate(syscall.SIGTERM) }, signal: syscall.SIGTERM},
		{name: "killed", args: []string{"sleep", "30"},
			stop: func(p *Process) error { return p.Signal(syscall.SIGKILL) }, signal: syscall.SIGKILL},
		{name: "hup", args: []string{"sleep", "30"},
			stop: func(p *Process) error { return p.Signal(syscall.SIGHUP) }, signal: syscall.SIGHUP},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			p := h.start(Spec{Path: tt.args[0], Args: tt.args})
			if tt.stop != nil {
				if err := tt.stop(p); err != nil {
					t.Fatal(err)
				}
			}
			e := h.waitExit(p.Pid())
			if e.Pid != p.Pid() {
				t.Errorf("Exit.Pid = %d, want %d", e.Pid, p.Pid())
			}
			if tt.signal != 0 {
				if !e.Status.Signaled() || e.Status.Signal() != tt.signal {
					t.Errorf("status %v, want killed by %v", e.Status, tt.signal)
				}
				return
			}
			if !e.Status.Exited() || e.Status.ExitStatus() != tt.code {
				t.Errorf("status %v, want exit %d", e.Status, tt.code)
			}
		})
	}
}

func TestTerminateWakesStoppedProcess(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.start(Spec{Path: "sleep", Args: []string{"sleep", "30"}})
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	await.Until(t, limit, "the process to stop", func() bool { return mustStat(t, p.Pid()).state == 'T' })
	if err := p.Terminate(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	e := h.waitExit(p.Pid())
	if !e.Status.Signaled() || e.Status.Signal() != syscall.SIGTERM {
		t.Errorf("status %v, want killed by SIGTERM", e.Status)
	}
}

// A child writing far more than a pipe holds, with nobody listening, must
// still finish: the readers drain everything.
func TestLargeOutputWithoutListener(t *testing.T) {
	t.Parallel()
	const size = 50 << 20
	tests := []struct {
		name    string
		script  string
		output  []string
		streams []string
	}{
		{"stdout", "head -c %d /dev/zero", []string{"out"}, nil},
		{"stderr", "head -c %d /dev/zero >&2", []string{"out", "err"}, nil},
		{"merged", "head -c %d /dev/zero >&2", []string{"all", "all"}, nil},
		{"stream", "head -c %d /dev/zero >&3", nil, []string{"ctl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			p := h.start(Spec{
				Path:    "sh",
				Args:    []string{"sh", "-c", fmt.Sprintf(tt.script, size)},
				Output:  tt.output,
				Streams: tt.streams,
			})
			if e := h.waitExit(p.Pid()); !e.Status.Exited() || e.Status.ExitStatus() != 0 {
				t.Fatalf("status %v", e.Status)
			}
			waitDone(t, p)
		})
	}
}

func TestOutputDeliveredExactly(t *testing.T) {
	t.Parallel()
	random := make([]byte, 300<<10)
	rand.Read(random)
	file := filepath.Join(t.TempDir(), "random")
	if err := os.WriteFile(file, random, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		script string
		output []string
		want   map[string][]byte
	}{
		{
			name:   "invalid UTF-8 and no final newline",
			script: `printf 'one\n\377\376\375 invalid\n\0nul\ntwo\nno newline'; printf 'e1\ne2' >&2`,
			output: []string{"out", "err"},
			want: map[string][]byte{
				"out": []byte("one\n\xff\xfe\xfd invalid\n\x00nul\ntwo\nno newline"),
				"err": []byte("e1\ne2"),
			},
		},
		{
			name:   "random bytes over many chunks",
			script: `cat "$1"`,
			output: []string{"out"},
			want:   map[string][]byte{"out": random},
		},
		{
			name:   "merged stdout and stderr keep their order",
			script: `echo 1; echo 2 >&2; echo 3; echo 4 >&2; printf 5 >&2`,
			output: []string{"both", "both"},
			want:   map[string][]byte{"both": []byte("1\n2\n3\n4\n5")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			c := newCollector()
			p := h.start(Spec{
				Path:     "sh",
				Args:     []string{"sh", "-c", tt.script, "sh", file},
				Output:   tt.output,
				OnOutput: c.onOutput,
			})
			h.waitExit(p.Pid())
			waitDone(t, p)
			for label, want := range tt.want {
				if got := c.get(label); !bytes.Equal(got, want) {
					t.Errorf("output %q = %q (%d bytes), want %q (%d bytes)", label, trunc(got), len(got), trunc(want), len(want))
				}
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			for label := range c.data {
				if _, ok := tt.want[label]; !ok {
					t.Errorf("unexpected output label %q", label)
				}
			}
		})
	}
}

func trunc(b []byte) []byte { return b[:min(len(b), 64)] }

// Where 0, 1 and 2 of the child point, for each form of Output and Input.
func TestStdioWiring(t *testing.T) {
	t.Parallel()
	ourStderr, err := os.Readlink("/proc/self/fd/2")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		input  bool
		output []string
		check  func(t *testing.T, fd0, fd1, fd2 string)
	}{
		{"no output", false, nil, func(t *testing.T, fd0, fd1, fd2 string) {
			for i, fd := range []string{fd0, fd1, fd2} {
				if fd != os.DevNull {
					t.Errorf("fd %d = %q, want %s", i, fd, os.DevNull)
				}
			}
		}},
		{"stdout only, stderr inherited", true, []string{"out"}, func(t *testing.T, fd0, fd1, fd2 string) {
			if !strings.HasPrefix(fd0, "pipe:") || !strings.HasPrefix(fd1, "pipe:") || fd0 == fd1 {
				t.Errorf("fd 0 = %q, fd 1 = %q, want two pipes", fd0, fd1)
			}
			if fd2 != ourStderr {
				t.Errorf("fd 2 = %q, want the daemon's stderr %q", fd2, ourStderr)
			}
		}},
		{"two labels", false, []string{"out", "err"}, func(t *testing.T, fd0, fd1, fd2 string) {
			if !strings.HasPrefix(fd1, "pipe:") || !strings.HasPrefix(fd2, "pipe:") || fd1 == fd2 {
				t.Errorf("fd 1 = %q, fd 2 = %q, want two pipes", fd1, fd2)
			}
		}},
		{"same label twice", false, []string{"all", "all"}, func(t *testing.T, fd0, fd1, fd2 string) {
			if !strings.HasPrefix(fd1, "pipe:") || fd1 != fd2 {
				t.Errorf("fd 1 = %q, fd 2 = %q, want one shared pipe", fd1, fd2)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			p := h.start(Spec{Path: "sleep", Args: []string{"sleep", "30"}, Input: tt.input, Output: tt.output})
			var fds [3]string
			for i := range fds {
				var err error
				if fds[i], err = os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", p.Pid(), i)); err != nil {
					t.Fatal(err)
				}
			}
			tt.check(t, fds[0], fds[1], fds[2])
		})
	}
}

func TestStdinRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := newCollector()
	p := h.start(Spec{Path: "cat", Input: true, Output: []string{"out"}, OnOutput: c.onOutput})
	if _, err := p.Write("", []byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	c.waitOutput(t, "out", []byte("hello\n"))
	if _, err := p.Write("stdin", []byte("\xffworld")); err != nil {
		t.Fatal(err)
	}
	c.waitOutput(t, "out", []byte("hello\n\xffworld"))
	if err := p.CloseInput(""); err != nil {
		t.Fatal(err)
	}
	if e := h.waitExit(p.Pid()); !e.Status.Exited() || e.Status.ExitStatus() != 0 {
		t.Errorf("cat: status %v after stdin closed", e.Status)
	}
	waitDone(t, p)
	if _, err := p.Write("", []byte("late")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after CloseInput = %v, want os.ErrClosed", err)
	}
}

func TestCustomStreams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		script  string
		streams []string
		in, out string
	}{
		{"echo on fd 3", "cat <&3 >&3", []string{"ctl"}, "ctl", "ctl"},
		{"fd 3 to fd 4", "cat <&3 >&4", []string{"in", "out"}, "in", "out"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			c := newCollector()
			p := h.start(Spec{Path: "sh", Args: []string{"sh", "-c", tt.script}, Streams: tt.streams, OnOutput: c.onOutput})
			msg := []byte("ping \xff\n")
			if _, err := p.Write(tt.in, msg); err != nil {
				t.Fatal(err)
			}
			c.waitOutput(t, tt.out, msg)
			if err := p.CloseInput(tt.in); err != nil {
				t.Fatal(err)
			}
			if e := h.waitExit(p.Pid()); !e.Status.Exited() || e.Status.ExitStatus() != 0 {
				t.Errorf("status %v after the stream was shut down", e.Status)
			}
			waitDone(t, p)
			if got := c.get(tt.out); !bytes.Equal(got, msg) {
				t.Errorf("stream output = %q, want %q", got, msg)
			}
		})
	}
}

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.start(Spec{Path: "sleep", Args: []string{"sleep", "30"}, Streams: []string{"ctl"}})
	for _, stream := range []string{"", "stdin", "nope"} {
		if _, err := p.Write(stream, []byte("x")); !errors.Is(err, ErrNoStream) {
			t.Errorf("Write(%q) = %v, want ErrNoStream", stream, err)
		}
		if err := p.CloseInput(stream); !errors.Is(err, ErrNoStream) {
			t.Errorf("CloseInput(%q) = %v, want ErrNoStream", stream, err)
		}
	}
	p.Release()
	p.Release() // idempotent
	if _, err := p.Write("ctl", []byte("x")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Release = %v, want os.ErrClosed", err)
	}
}

// A Write blocked on a child that never reads is released by CloseInput.
func TestBlockedWriteUnblockedByClose(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.start(Spec{Path: "sleep", Args: []string{"sleep", "30"}, Input: true})
	errc := make(chan error, 1)
	go func() {
		_, err := p.Write("", make([]byte, 1<<20)) // more than a pipe holds
		errc <- err
	}()
	// Watch the pipe through the child's end until it is full.
	r, err := os.Open(fmt.Sprintf("/proc/%d/fd/0", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	await.Until(t, limit, "the pipe to fill", func() bool {
		n, err := unix.IoctlGetInt(int(r.Fd()), unix.TIOCINQ) // FIONREAD
		return err == nil && n >= 64<<10
	})
	if len(errc) > 0 {
		t.Fatalf("Write returned early: %v", <-errc)
	}
	if err := p.CloseInput(""); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("blocked Write = %v, want os.ErrClosed", err)
		}
	case <-time.After(timeout):
		t.Fatal("Write still blocked after CloseInput")
	}
}

// A grandchild that keeps the output pipe open keeps OutputDone open until
// CloseOutput.
func TestCloseOutputWithEscapedGrandchild(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.start(Spec{Path: "sh", Args: []string{"sh", "-c", "sleep 30 & exit 0"}, Output: []string{"out"}})
	h.waitExit(p.Pid())
	select {
	case <-p.OutputDone():
		t.Fatal("output done while the grandchild still holds the pipe")
	default:
	}
	p.CloseOutput()
	waitDone(t, p)
	p.CloseOutput() // idempotent
	if !p.GroupAlive() {
		t.Error("GroupAlive = false while the grandchild lives")
	}
}

func TestNoFDLeak(t *testing.T) {
	t.Parallel()
	// Descriptors the test process holds must not reach the child.
	f, err := os.Open("/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()

	tests := []struct {
		name string
		spec Spec
		want []int
	}{
		{"plain", Spec{}, []int{0, 1, 2}},
		{"everything", Spec{Input: true, Output: []string{"a", "b"}, Streams: []string{"x", "y"}}, []int{0, 1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			spec := tt.spec
			spec.Path, spec.Args = "sleep", []string{"sleep", "30"}
			p := h.start(spec)
			// The child's own startup may hold a file open for a moment
			// (the C library reading locale data): wait for it to settle;
			// a leaked descriptor stays.
			await.Until(t, limit, fmt.Sprintf("the child's descriptors to be %v", tt.want), func() bool {
				return slices.Equal(openFDs(t, p.Pid()), tt.want)
			})
		})
	}
}

// Start errors are distinguishable, readable, and a failed Start leaks no
// descriptor. Not parallel: it counts the test process's descriptors.
func TestStartErrors(t *testing.T) {
	emptyDir := t.TempDir()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		spec     Spec
		is       error
		contains []string
	}{
		{"missing program", Spec{Path: "ganger-no-such-program"}, ErrNotFound,
			[]string{"starting ganger-no-such-program: no such program", "not found in PATH"}},
		{"missing program path", Spec{Path: "/nonexistent/prog"}, ErrNotFound,
			[]string{"starting /nonexistent/prog: no such program"}},
		{"only in the daemon's PATH", Spec{Path: "sleep", Env: []string{"PATH=" + emptyDir}}, ErrNotFound,
			[]string{"no such program"}},
		{"empty path", Spec{}, ErrNotFound, []string{"no such program"}},
		{"missing cwd", Spec{Path: "true", Dir: "/nonexistent-dir"}, ErrBadDir,
			[]string{"starting true: bad working directory: /nonexistent-dir", "no such file or directory"}},
		{"cwd is a file", Spec{Path: "true", Dir: file}, ErrBadDir,
			[]string{"bad working directory", "not a directory"}},
		{"unknown user", Spec{Path: "true", User: "ganger-no-such-user"}, ErrBadUser,
			[]string{"starting true: unknown user or group", `"ganger-no-such-user"`}},
		{"unknown group", Spec{Path: "true", Group: "ganger-no-such-group"}, ErrBadUser,
			[]string{"unknown user or group", `"ganger-no-such-group"`}},
		{"uid without passwd entry nor group", Spec{Path: "true", User: "54321"}, ErrBadUser,
			[]string{"set a group"}},
		{"not executable", Spec{Path: file}, syscall.EACCES, []string{"permission denied"}},
		{"directory as program", Spec{Path: emptyDir}, syscall.EACCES, []string{"permission denied"}},
		{"too many output labels", Spec{Path: "true", Output: []string{"a", "b", "c"}}, nil,
			[]string{"3 output labels"}},
	}
	countFDs := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := countFDs()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			if spec.Env == nil {
				spec.Env = testEnv()
			}
			spec.Input, spec.Streams = true, []string{"s1", "s2"}
			if spec.Output == nil {
				spec.Output = []string{"out", "err"}
			}
			p, err := Start(spec)
			if err == nil {
				p.Signal(syscall.SIGKILL)
				p.Release()
				t.Fatalf("Start succeeded, pid %d", p.Pid())
			}
			t.Logf("error: %v", err)
			if p != nil {
				t.Errorf("Start returned a Process with an error")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			for _, s := range tt.contains {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
	if after := countFDs(); after != before {
		t.Errorf("open descriptors: %d before failed starts, %d after", before, after)
	}
}

func TestUserAndGroup(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	tests := []struct {
		name, user, group string
		uid, gid, groups  string
	}{
		{"user name", "nobody", "", "65534", "65534", "65534"},
		{"numeric uid", "65534", "", "65534", "65534", "65534"},
		{"user and group", "nobody", "0", "65534", "0", "65534"},
		{"uid without passwd entry", "54321", "54322", "54321", "54322", ""},
		{"group only", "", "nogroup", "0", "65534", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			p := h.start(Spec{Path: "sleep", Args: []string{"sleep", "30"}, Dir: "/", User: tt.user, Group: tt.group})
			for field, want := range map[string]string{"Uid": tt.uid, "Gid": tt.gid} {
				got := strings.Fields(statusField(t, p.Pid(), field))
				if len(got) != 4 || got[0] != want || got[1] != want {
					t.Errorf("%s = %q, want real and effective %s", field, got, want)
				}
			}
			if tt.user != "" {
				// The user's supplementary groups, or none; never the daemon's.
				if got := statusField(t, p.Pid(), "Groups"); got != tt.groups && got != "" {
					t.Errorf("Groups = %q, want %q or none", got, tt.groups)
				}
			}
		})
	}
}

func TestStats(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	before := time.Now()
	p := h.start(Spec{Path: "sleep", Args: []string{"sleep", "30"}})
	after := time.Now()
	var st Stats
	await.Until(t, limit, "a sample with RSS > 0", func() bool {
		var err error
		if st, err = p.Stats(); err != nil {
			t.Fatal(err)
		}
		return st.RSS > 0 // 0 for a moment while exec sets up the new image
	})
	t.Logf("%+v", st)
	if st.RSS == 0 || st.VMS < st.RSS {
		t.Errorf("RSS = %d, VMS = %d: want 0 < RSS <= VMS", st.RSS, st.VMS)
	}
	if st.Mem <= 0 || st.Mem > 100 {
		t.Errorf("Mem = %v%%", st.Mem)
	}
	// The kernel counts start time in clock ticks since boot: allow slack.
	created := time.UnixMilli(int64(st.CreateTime * 1e3))
	if created.Before(before.Add(-2*time.Second)) || created.After(after.Add(2*time.Second)) {
		t.Errorf("CreateTime = %v, want between %v and %v", created, before, after)
	}
	if st.CPU < 0 || st.CTime < 0 {
		t.Errorf("CPU = %v, CTime = %v", st.CPU, st.CTime)
	}
}

func TestStatsCPU(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.start(Spec{Path: "sh", Args: []string{"sh", "-c", "while :; do :; done"}})
	await.Until(t, limit, "a busy loop to show CPU use", func() bool {
		st, err := p.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st.CPU > 20 && st.CTime > 0
	})
}

// TestChattyPipeGrows checks that the stdout pipe of a child writing
// faster than it is read grows to bigPipe, while a quiet child's keeps the
// kernel's default, and that every byte still arrives.
func TestChattyPipeGrows(t *testing.T) {
	t.Parallel()
	const size = 16 << 20
	tests := []struct {
		name, script string
		want         int // bytes of output
		pipe         int // pipe capacity afterwards
	}{
		{"chatty", "dd if=/dev/zero bs=1M count=16 2>/dev/null; exec sleep 30", size, bigPipe},
		{"quiet", "echo hi; exec sleep 30", 3, 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			var got atomic.Int64
			p := h.start(Spec{
				Path:     "sh",
				Args:     []string{"sh", "-c", tt.script},
				Output:   []string{"out"},
				OnOutput: func(_ string, b []byte) { got.Add(int64(len(b))) },
			})
			await.Until(t, limit, "all output", func() bool { return got.Load() == int64(tt.want) })
			size := -1
			rc, err := p.readers[0].SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			rc.Control(func(fd uintptr) { size, err = unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0) })
			if err != nil || size != tt.pipe {
				t.Fatalf("pipe capacity = %d (%v), want %d", size, err, tt.pipe)
			}
		})
	}
}
