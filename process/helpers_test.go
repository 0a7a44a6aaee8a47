package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"
	"github.com/ganger/ganger/internal/leakcheck"
)

// limit bounds every wait in these tests; timeout is limit scaled for
// slow machines (see await.Scale).
const limit = 10 * time.Second

var timeout = await.Scale(limit)

// helperEnv selects a helper mode when the test binary runs itself.
const helperEnv = "GANGER_PROCESS_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	// The spawner thread lives for the rest of the program by design.
	leakcheck.Main(m, timeout, leakcheck.Filter{Code: []string{"ganger/process."}, Ignore: []string{"process.spawnLoop"}})
}

// testEnv is a minimal environment for children.
func testEnv() []string { return []string{"PATH=" + os.Getenv("PATH")} }

// harness runs processes for one test: its own Reaper (all=false), every
// exit recorded by pid, and a cleanup that kills, reaps and releases
// everything started.
type harness struct {
	t       *testing.T
	r       *Reaper
	drained chan struct{}

	// mu guards the following fields.
	mu      sync.Mutex
	exits   map[int]Exit
	changed chan struct{} // closed and replaced on each exit
	procs   []*Process
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{
		t:       t,
		r:       NewReaper(false),
		drained: make(chan struct{}),
		exits:   make(map[int]Exit),
		changed: make(chan struct{}),
	}
	go func() {
		defer close(h.drained)
		for e := range h.r.Exits() {
			h.mu.Lock()
			h.exits[e.Pid] = e
			close(h.changed)
			h.changed = make(chan struct{})
			h.mu.Unlock()
		}
	}()
	t.Cleanup(h.cleanup)
	return h
}

func (h *harness) cleanup() {
	h.mu.Lock()
	procs := h.procs
	h.mu.Unlock()
	for _, p := range procs {
		if err := p.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, ErrGone) {
			h.t.Errorf("cleanup: %v", err)
		}
		h.r.Watch(p.Pid())
		if _, ok := h.exitWithin(p.Pid(), timeout); !ok {
			h.t.Errorf("cleanup: process %d was not reaped", p.Pid())
		}
		p.Release()
		select {
		case <-p.OutputDone():
		case <-time.After(timeout):
			h.t.Errorf("cleanup: output of process %d not done after Release", p.Pid())
		}
	}
	h.r.Close()
	<-h.drained
}

// startUnwatched starts spec without telling the Reaper.
func (h *harness) startUnwatched(spec Spec) *Process {
	h.t.Helper()
	if spec.Env == nil {
		spec.Env = testEnv()
	}
	p, err := Start(spec)
	if err != nil {
		h.t.Fatalf("Start: %v", err)
	}
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	return p
}

// start starts spec and watches its pid.
func (h *harness) start(spec Spec) *Process {
	h.t.Helper()
	p := h.startUnwatched(spec)
	h.r.Watch(p.Pid())
	return p
}

func (h *harness) exitWithin(pid int, d time.Duration) (Exit, bool) {
	deadline := time.After(d)
	for {
		h.mu.Lock()
		e, ok := h.exits[pid]
		changed := h.changed
		h.mu.Unlock()
		if ok {
			return e, true
		}
		select {
		case <-changed:
		case <-deadline:
			return Exit{}, false
		}
	}
}

// waitExit returns pid's exit, failing the test after timeout.
func (h *harness) waitExit(pid int) Exit {
	h.t.Helper()
	e, ok := h.exitWithin(pid, timeout)
	if !ok {
		h.t.Fatalf("process %d not reaped after %v", pid, timeout)
	}
	return e
}

// waitDone waits for p's output to be done.
func waitDone(t *testing.T, p *Process) {
	t.Helper()
	select {
	case <-p.OutputDone():
	case <-time.After(timeout):
		t.Fatalf("output of process %d not done after %v", p.Pid(), timeout)
	}
}

// collector gathers output by label; its onOutput is a Spec.OnOutput.
type collector struct {
	mu   sync.Mutex
	data map[string][]byte
}

func newCollector() *collector { return &collector{data: make(map[string][]byte)} }

func (c *collector) onOutput(label string, b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data[label] = append(c.data[label], b...)
}

func (c *collector) get(label string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.data[label])
}

// waitOutput waits until label's output equals want.
func (c *collector) waitOutput(t *testing.T, label string, want []byte) {
	t.Helper()
	if !await.Poll(limit, func() bool { return bytes.Equal(c.get(label), want) }) {
		t.Fatalf("output %q = %q, want %q", label, c.get(label), want)
	}
}

// procStat is what these tests read from /proc/<pid>/stat.
type procStat struct {
	state byte
	ppid  int
	pgrp  int
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("malformed stat of %d: %q", pid, b)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return procStat{}, fmt.Errorf("malformed stat of %d: %q", pid, b)
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgrp, err2 := strconv.Atoi(f[2])
	if err := errors.Join(err1, err2); err != nil {
		return procStat{}, fmt.Errorf("malformed stat of %d: %w", pid, err)
	}
	return procStat{state: f[0][0], ppid: ppid, pgrp: pgrp}, nil
}

func mustStat(t *testing.T, pid int) procStat {
	t.Helper()
	st, err := readStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// liveInGroup returns the pids of processes in group pgid that are not
// zombies (an orphan may wait as a zombie for an init that reaps late).
func liveInGroup(t *testing.T, pgid int) []int {
	t.Helper()
	paths, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, path := range paths {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		if st.pgrp == pgid && st.state != 'Z' && st.state != 'X' {
			pids = append(pids, pid)
		}
	}
	return pids
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.state != 'Z' && st.state != 'X'
}

// openFDs lists the descriptors of pid.
func openFDs(t *testing.T, pid int) []int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	var fds []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		fds = append(fds, n)
	}
	return fds
}

// statusField returns a field of /proc/<pid>/status, e.g. "Uid".
func statusField(t *testing.T, pid int, name string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", name, pid)
	return ""
}
