package process

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"
)

func TestReaperExitBeforeWatch(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	p := h.startUnwatched(Spec{Path: "true"})
	await.Until(t, limit, "the child to become a zombie", func() bool { return mustStat(t, p.Pid()).state == 'Z' })
	h.r.Watch(p.Pid())
	if e := h.waitExit(p.Pid()); !e.Status.Exited() || e.Status.ExitStatus() != 0 {
		t.Errorf("status %v", e.Status)
	}
}

// The Reaper keeps reaping while nobody receives, and then delivers every
// exit.
func TestReaperNeverDrops(t *testing.T) {
	t.Parallel()
	r := NewReaper(false)
	defer r.Close()
	const n = 20
	pids := make(map[int]bool)
	for i := range n {
		p, err := Start(Spec{Path: "sh", Args: []string{"sh", "-c", fmt.Sprintf("exit %d", i)}, Env: testEnv()})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Release()
		pids[p.Pid()] = true
		r.Watch(p.Pid())
	}
	await.Until(t, limit, "every child to be reaped with nobody receiving", func() bool {
		for pid := range pids {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				return false
			}
		}
		return true
	})
	deadline := time.After(timeout)
	for len(pids) > 0 {
		select {
		case e := <-r.Exits():
			if !pids[e.Pid] {
				t.Fatalf("unexpected exit %+v", e)
			}
			delete(pids, e.Pid)
		case <-deadline:
			t.Fatalf("exits not delivered: %v", pids)
		}
	}
}

func TestReaperClose(t *testing.T) {
	t.Parallel()
	r := NewReaper(false)
	r.Close()
	r.Close() // idempotent
	select {
	case _, ok := <-r.Exits():
		if ok {
			t.Error("received an exit from a closed Reaper")
		}
	case <-time.After(timeout):
		t.Fatal("Exits not closed by Close")
	}
	done := make(chan struct{})
	go func() {
		r.Watch(os.Getpid())
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatal("Watch blocked after Close")
	}
}

// TestReaperPidfds: each watched child gets a pidfd, its exit is reaped
// through it, and no pidfd is left open once every child is reaped.
// Not parallel: it counts this process's pidfds.
func TestReaperPidfds(t *testing.T) {
	base := openPidfds(t)
	r := NewReaper(false)
	defer r.Close()
	const n = 200
	pids := make(map[int]*Process)
	for range n {
		p, err := Start(Spec{Path: "sleep", Args: []string{"sleep", "30"}, Env: testEnv()})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Release()
		pids[p.Pid()] = p
		r.Watch(p.Pid())
	}
	await.Until(t, limit, "a pidfd per child", func() bool { return openPidfds(t) == base+n })
	for _, p := range pids {
		if err := p.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(timeout)
	for len(pids) > 0 {
		select {
		case e := <-r.Exits():
			if pids[e.Pid] == nil || !e.Status.Signaled() || e.Status.Signal() != syscall.SIGKILL {
				t.Fatalf("unexpected exit %+v", e)
			}
			delete(pids, e.Pid)
		case <-deadline:
			t.Fatalf("%d exits not delivered", len(pids))
		}
	}
	await.Until(t, limit, "every pidfd closed", func() bool { return openPidfds(t) == base })
}

// openPidfds counts this process's open pidfds.
func openPidfds(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l == "anon_inode:[pidfd]" {
			n++
		}
	}
	return n
}
