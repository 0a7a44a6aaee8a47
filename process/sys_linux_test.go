//go:build linux

package process

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"

	"golang.org/x/sys/unix"
)

// runHelper runs one helper mode when the test binary runs itself, and
// returns the exit code.
func runHelper(mode string) int {
	var err error
	switch mode {
	case "rlimit":
		err = helperRlimit()
	case "pdeathsig":
		err = helperPdeathsig()
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// helperRlimit prints the soft RLIMIT_NOFILE seen by: this process, a
// child started by Start, the same child's /proc/<pid>/limits, and a child
// started by os/exec.
func helperRlimit() error {
	var own unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &own); err != nil {
		return err
	}
	r := NewReaper(false)
	defer r.Close()
	var out bytes.Buffer
	done := make(chan struct{})
	p, err := Start(Spec{
		Path:   "sh",
		Args:   []string{"sh", "-c", "ulimit -Sn; exec sleep 30"},
		Env:    testEnv(),
		Output: []string{"out"},
		OnOutput: func(_ string, b []byte) {
			out.Write(b)
			if bytes.HasSuffix(b, []byte("\n")) {
				close(done)
			}
		},
	})
	if err != nil {
		return err
	}
	defer p.Release()
	r.Watch(p.Pid())
	select {
	case <-done:
	case <-time.After(timeout):
		return fmt.Errorf("no output from the child")
	}
	limits, err := softNofile(p.Pid())
	if err != nil {
		return err
	}
	p.Signal(syscall.SIGKILL)
	viaExec, err := exec.Command("sh", "-c", "ulimit -Sn").Output()
	if err != nil {
		return err
	}
	fmt.Printf("own=%d start=%s limits=%s exec=%s\n", own.Cur,
		strings.TrimSpace(out.String()), limits, strings.TrimSpace(string(viaExec)))
	return nil
}

// softNofile reads the soft "Max open files" of /proc/<pid>/limits.
func softNofile(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "Max open files"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0], nil
			}
		}
	}
	return "", fmt.Errorf("no Max open files in /proc/%d/limits", pid)
}

// helperPdeathsig starts a sleep, prints its pid and exits without
// stopping it: Pdeathsig must kill it.
func helperPdeathsig() error {
	p, err := Start(Spec{Path: "sleep", Args: []string{"sleep", "30"}, Env: testEnv()})
	if err != nil {
		return err
	}
	fmt.Println(p.Pid())
	return nil
}

// runSelf runs the test binary in a helper mode through sh, so that script
// can set limits first, and returns its output.
func runSelf(t *testing.T, mode, script string) string {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script+`; exec "$0"`, os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper %s: %v\n%s", mode, err, stderr.Bytes())
	}
	return string(out)
}

// The child gets the daemon's original soft RLIMIT_NOFILE, not the one
// the Go runtime raised for itself. Not parallel: it uses os/exec.
func TestChildGetsOriginalNofileLimit(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	const soft = 256
	if lim.Max <= soft+1 {
		t.Skipf("hard RLIMIT_NOFILE %d too low to tell a raised limit", lim.Max)
	}
	out := runSelf(t, "rlimit", fmt.Sprintf("ulimit -Sn %d", soft))
	t.Logf("helper: %s", out)
	var own uint64
	var start, limits, viaExec string
	if _, err := fmt.Sscanf(out, "own=%d start=%s limits=%s exec=%s", &own, &start, &limits, &viaExec); err != nil {
		t.Fatalf("parsing %q: %v", out, err)
	}
	if own == soft {
		t.Logf("the Go runtime did not raise its own soft limit (%d)", own)
	}
	want := strconv.Itoa(soft)
	if start != want || limits != want || viaExec != want {
		t.Errorf("child soft RLIMIT_NOFILE: ulimit -Sn %s, /proc limits %s, os/exec child %s; want %s", start, limits, viaExec, want)
	}
}

// A child dies with the daemon. Not parallel: it uses os/exec.
func TestPdeathsigKillsChildWithDaemon(t *testing.T) {
	out := runSelf(t, "pdeathsig", "true")
	pid, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	// The orphan is re-parented to init, which may reap it late: a zombie
	// counts as dead.
	await.Until(t, limit, fmt.Sprintf("orphan %d to die", pid), func() bool { return !alive(pid) })
}

// Start forks on its own long-lived thread, so a child survives the exit
// of the thread that called Start. A control child forked directly on that
// thread with Pdeathsig shows the thread did exit.
func TestChildSurvivesCallerThreadExit(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		control int
		p       *Process
		err     error
	}
	r := onExitingThread(t, func() result {
		ctl, err := syscall.ForkExec(sleep, []string{"sleep", "30"}, &syscall.ProcAttr{
			Env: testEnv(),
			Sys: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
		})
		if err != nil {
			return result{err: err}
		}
		p, err := Start(Spec{Path: sleep, Args: []string{"sleep", "30"}})
		return result{control: ctl, p: p, err: err}
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	h.mu.Lock()
	h.procs = append(h.procs, r.p)
	h.mu.Unlock()
	h.r.Watch(r.control)
	h.r.Watch(r.p.Pid())

	e := h.waitExit(r.control)
	if !e.Status.Signaled() || e.Status.Signal() != syscall.SIGKILL {
		t.Fatalf("control child: status %v, want killed by SIGKILL", e.Status)
	}
	if !alive(r.p.Pid()) {
		t.Fatal("the child of Start died with the calling thread")
	}
	// Had it been signalled with the control, SIGKILL would be pending.
	for _, field := range []string{"SigPnd", "ShdPnd"} {
		mask, err := strconv.ParseUint(statusField(t, r.p.Pid(), field), 16, 64)
		if err != nil {
			t.Fatal(err)
		}
		if mask&(1<<(syscall.SIGKILL-1)) != 0 {
			t.Fatalf("SIGKILL pending for the child of Start (%s %x)", field, mask)
		}
	}
}

// onExitingThread runs f on a goroutine locked to an OS thread that ends
// when f returns. That cannot be the main thread, which the runtime keeps
// (wedged) instead of ending: a goroutine that lands there holds it while
// another one tries.
func onExitingThread[T any](t *testing.T, f func() T) T {
	t.Helper()
	var release []chan struct{}
	defer func() {
		for _, c := range release {
			close(c)
		}
	}()
	for range 100 {
		res := make(chan T, 1)
		onMain := make(chan struct{})
		rel := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			if unix.Gettid() == unix.Getpid() {
				close(onMain)
				<-rel
				runtime.UnlockOSThread()
				return
			}
			res <- f() // returns locked: the runtime ends the thread
		}()
		select {
		case v := <-res:
			return v
		case <-onMain:
			release = append(release, rel)
		}
	}
	t.Fatal("could not get a thread other than the main one")
	panic("unreachable")
}

// A subreaper with an all=true Reaper collects orphaned grandchildren.
// Not parallel, and nothing else may have children meanwhile: wait4(-1)
// would take them.
func TestReaperAllCollectsOrphans(t *testing.T) {
	if err := SetSubreaper(); err != nil {
		t.Skip(err)
	}
	defer func() {
		if err := setSubreaper(false); err != nil {
			t.Error(err)
		}
	}()
	r := NewReaper(true)
	defer r.Close()
	c := newCollector()
	p, err := Start(Spec{
		Path:     "sh",
		Args:     []string{"sh", "-c", "sleep 0.2 & echo $!"},
		Env:      testEnv(),
		Output:   []string{"out"},
		OnOutput: c.onOutput,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Release()
	// No Watch: all=true reaps every child anyway.
	exits := make(map[int]Exit)
	waitFor := func(pid int) Exit {
		t.Helper()
		deadline := time.After(timeout)
		for {
			if e, ok := exits[pid]; ok {
				return e
			}
			select {
			case e := <-r.Exits():
				exits[e.Pid] = e
			case <-deadline:
				t.Fatalf("pid %d not reaped; reaped %v", pid, exits)
			}
		}
	}
	if e := waitFor(p.Pid()); !e.Status.Exited() || e.Status.ExitStatus() != 0 {
		t.Errorf("leader: status %v", e.Status)
	}
	waitDone(t, p)
	gc, err := strconv.Atoi(strings.TrimSpace(string(c.get("out"))))
	if err != nil {
		t.Fatalf("output %q: %v", c.get("out"), err)
	}
	if e := waitFor(gc); !e.Status.Exited() || e.Status.ExitStatus() != 0 {
		t.Errorf("orphaned grandchild: status %v", e.Status)
	}
	if len(exits) != 2 {
		t.Errorf("reaped %v, want only the leader and the grandchild", exits)
	}
}
