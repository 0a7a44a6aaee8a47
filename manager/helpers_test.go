package manager

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/internal/await"
	"github.com/ganger/ganger/pubsub"
)

func newManager(t testing.TB, opts Options) *Manager {
	t.Helper()
	opts.ReapAll = true // as in the daemon: TestMain made the test binary a subreaper
	m := New(opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), await.Scale(30*time.Second))
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("closing manager: %v", err)
		}
	})
	return m
}

// mkJob returns a job config running cmd through /bin/sh -c.
func mkJob(name, cmd string, mods ...func(*conf.Job)) conf.Job {
	j := conf.DefaultJob()
	j.Name = name
	j.Cmd = cmd
	j.Shell = true
	j.GracefulTimeout = 5 * time.Second
	j.MinUptime = 50 * time.Millisecond
	for _, f := range mods {
		f(&j)
	}
	return j
}

func mustLoad(t testing.TB, m *Manager, cfg conf.Job) string {
	t.Helper()
	name, err := m.Load(context.Background(), "default", cfg)
	if err != nil {
		t.Fatalf("loading %s: %v", cfg.Name, err)
	}
	return name
}

func subscribe(t testing.TB, m *Manager, patterns ...string) *pubsub.Sub[Event] {
	t.Helper()
	sub, err := m.Subscribe(context.Background(), 100000, patterns...)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	t.Cleanup(sub.Close)
	return sub
}

// nextEvent waits for the next event matching pred, failing after d.
func nextEvent(t testing.TB, sub *pubsub.Sub[Event], d time.Duration, pred func(Event) bool) Event {
	t.Helper()
	deadline := time.After(await.Scale(d))
	for {
		select {
		case msg, ok := <-sub.C():
			if !ok {
				t.Fatal("subscription closed")
			}
			if msg.Dropped > 0 {
				t.Fatalf("%d events dropped", msg.Dropped)
			}
			if pred(msg.Event) {
				return msg.Event
			}
		case <-deadline:
			t.Fatalf("no matching event within %v", d)
		}
	}
}

func isType(typ string) func(Event) bool { return func(e Event) bool { return e.Type == typ } }

// procStat is what the tests read of /proc/<pid>/stat.
type procStat struct {
	pid, ppid, pgrp int
	state           byte
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+2:])
	ppid, _ := strconv.Atoi(f[1])
	pgrp, _ := strconv.Atoi(f[2])
	return procStat{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0][0]}, true
}

// allProcs lists every process on the machine.
func allProcs() []procStat {
	ents, _ := filepath.Glob("/proc/[0-9]*")
	var out []procStat
	for _, e := range ents {
		pid, err := strconv.Atoi(filepath.Base(e))
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok {
			out = append(out, st)
		}
	}
	return out
}

// groupMembers returns the live processes of process group pgid.
func groupMembers(pgid int) []procStat {
	var out []procStat
	for _, p := range allProcs() {
		if p.pgrp == pgid {
			out = append(out, p)
		}
	}
	return out
}

// myZombies returns this process's children that are zombies.
func myZombies() []procStat {
	var out []procStat
	me := os.Getpid()
	for _, p := range allProcs() {
		if p.ppid == me && p.state == 'Z' {
			out = append(out, p)
		}
	}
	return out
}

// liveChildren counts this process's live (non-zombie) children in the
// given process groups.
func liveInGroups(pgids []int) int {
	set := map[int]bool{}
	for _, g := range pgids {
		set[g] = true
	}
	n := 0
	for _, p := range allProcs() {
		if set[p.pgrp] && p.state != 'Z' {
			n++
		}
	}
	return n
}

func osPids(t testing.TB, m *Manager, name string) []int {
	t.Helper()
	pids, err := m.Pids(context.Background(), name)
	if err != nil {
		t.Fatalf("pids: %v", err)
	}
	var out []int
	for _, pid := range pids {
		info, err := m.ProcessInfo(context.Background(), pid)
		if err != nil {
			continue
		}
		out = append(out, info.OSPid)
	}
	return out
}
