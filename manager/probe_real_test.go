package manager

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/internal/await"
)

// The tests of this file are the real-process counterparts of the fake
// clock's: real probes against real servers, real exec probes, real
// rollouts watched through /proc.

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// helperJob is a job whose process is this test binary in helper mode
// (runHelper in main_test.go).
func helperJob(t *testing.T, name, mode string, delay time.Duration, mods ...func(*conf.Job)) conf.Job {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return mkJob(name, exe, append([]func(*conf.Job){func(j *conf.Job) {
		j.Shell = false
		j.Port = freePort(t)
		j.Env = map[string]string{"GANGER_TEST_HELPER": mode, "HELPER_DELAY": delay.String()}
	}}, mods...)...)
}

func fastProbe(p conf.Probe) *conf.Probe {
	p.Interval, p.Timeout, p.SuccessThreshold = 100*time.Millisecond, time.Second, 1
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 2
	}
	return &p
}

func TestReadinessProbesOfEachKind(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	tests := []struct {
		name  string
		mode  string // the helper's
		probe conf.Probe
		pass  func() // makes the probe pass, if the helper's delay does not
	}{
		{"http", "http", conf.Probe{HTTP: "http://127.0.0.1:$PORT/health"}, nil},
		{"tcp", "tcp", conf.Probe{TCP: "127.0.0.1:$PORT"}, nil},
		{"log", "log", conf.Probe{Log: `^listening on`}, nil},
		{"exec", "tcp", conf.Probe{Exec: "test -f " + ready}, func() { os.WriteFile(ready, nil, 0o600) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(t, Options{})
			sub := subscribe(t, m, "job.default.web")
			delay := 400 * time.Millisecond
			start := time.Now()
			name := mustLoad(t, m, helperJob(t, "web", tt.mode, delay, func(j *conf.Job) { j.Readiness = fastProbe(tt.probe) }))
			nextEvent(t, sub, 5*time.Second, isType(EventSpawn))
			if info, _ := m.JobInfo(bg, name); info.State != JobStarting || info.Slots[0].State != SlotStarting {
				t.Fatalf("before the probe passed: job %q, slot %q", info.State, info.Slots[0].State)
			}
			if tt.pass != nil {
				time.Sleep(delay) // the probe fails meanwhile: nothing to make it pass yet
				if info, _ := m.JobInfo(bg, name); info.Ready != 0 {
					t.Fatal("ready before the exec probe could pass")
				}
				tt.pass()
			}
			ev := nextEvent(t, sub, 10*time.Second, isType(EventReady))
			if waited := time.Since(start); waited < delay || ev.Slot != 1 {
				t.Fatalf("ready after %v (slot %d), before the helper served at %v", waited, ev.Slot, delay)
			}
			if info, _ := m.JobInfo(bg, name); info.State != JobRunning || !info.Slots[0].Ready {
				t.Fatalf("after ready: job %q, slot %+v", info.State, info.Slots[0])
			}
		})
	}
}

// TestLivenessFailureRestarts: a ready process whose server stops
// answering is unhealthy after failure_threshold failures, stopped, and
// respawned as a crash.
func TestLivenessFailureRestarts(t *testing.T) {
	m := newManager(t, Options{})
	sub := subscribe(t, m, "job.default.web")
	name := mustLoad(t, m, helperJob(t, "web", "http", 0, func(j *conf.Job) {
		j.Readiness = fastProbe(conf.Probe{TCP: "127.0.0.1:$PORT"})
		j.Liveness = fastProbe(conf.Probe{HTTP: "http://127.0.0.1:$PORT/health", FailureThreshold: 3})
		j.GracefulTimeout = time.Second
	}))
	nextEvent(t, sub, 10*time.Second, isType(EventReady))
	first := osPids(t, m, name)[0]
	if err := syscall.Kill(first, syscall.SIGUSR1); err != nil { // it stops serving
		t.Fatal(err)
	}
	ev := nextEvent(t, sub, 10*time.Second, isType(EventUnhealthy))
	if !strings.Contains(ev.Reason, "liveness probe failed 3 times") || !strings.Contains(ev.Reason, "connection refused") {
		t.Errorf("unhealthy reason %q", ev.Reason)
	}
	exit := nextEvent(t, sub, 10*time.Second, isType(EventExit))
	if exit.Reason != ReasonUnhealthy || exit.TermSignal != int(syscall.SIGTERM) {
		t.Errorf("exit %+v, want reason unhealthy after SIGTERM", exit)
	}
	nextEvent(t, sub, 10*time.Second, isType(EventReady))
	info, _ := m.JobInfo(bg, name)
	if now := osPids(t, m, name); len(now) != 1 || now[0] == first || info.Restarts != 1 {
		t.Fatalf("after the restart: os pids %v (first %d), restarts %d", now, first, info.Restarts)
	}
}

// TestExecProbeIsKilledAtItsTimeout: an exec probe that hangs is killed
// at its timeout and reaped; none piles up and no zombie stays.
func TestExecProbeIsKilledAtItsTimeout(t *testing.T) {
	m := newManager(t, Options{})
	marker := "probe-" + strconv.Itoa(os.Getpid())
	sub := subscribe(t, m, "job.default.web")
	name := mustLoad(t, m, mkJob("web", "sleep 30", func(j *conf.Job) {
		j.Shell = false
		// sh's own command line names the marker; it waits for its sleep.
		j.Readiness = &conf.Probe{Exec: "sh -c 'sleep 10; :' " + marker, Interval: 50 * time.Millisecond, Timeout: 200 * time.Millisecond,
			SuccessThreshold: 1, FailureThreshold: 1}
	}))
	nextEvent(t, sub, 5*time.Second, isType(EventSpawn))
	probes := func() int {
		n := 0
		for _, p := range allProcs() {
			if b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/cmdline"); err == nil && strings.Contains(string(b), marker) {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(await.Scale(2 * time.Second))
	seen := false
	for time.Now().Before(deadline) {
		n := probes()
		seen = seen || n > 0
		if n > 1 {
			t.Fatalf("%d exec probes at once: one is not killed at its timeout", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !seen {
		t.Fatal("no exec probe ever ran")
	}
	if info, _ := m.JobInfo(bg, name); info.Ready != 0 || info.Slots[0].State != SlotStarting {
		t.Fatalf("ready with a probe that never passes: %+v", info.Slots[0])
	}
	if err := m.StopJob(bg, name); err != nil {
		t.Fatal(err)
	}
	await.Until(t, 5*time.Second, "no probe left, no zombie", func() bool { return probes() == 0 && len(myZombies()) == 0 })
}

// TestRollingReloadKeepsTwoOfThree watches /proc all along a reload of a
// 3-slot job: 2 of its processes always run, and all 3 are replaced.
func TestRollingReloadKeepsTwoOfThree(t *testing.T) {
	m := newManager(t, Options{})
	name := mustLoad(t, m, mkJob("web", "sleep 30", func(j *conf.Job) {
		j.Shell = false
		j.NumProcesses = 3
		j.MinUptime = 200 * time.Millisecond
	}))
	await.Until(t, 10*time.Second, "3 ready", func() bool { info, _ := m.JobInfo(bg, name); return info.Ready == 3 })
	old := osPids(t, m, name)
	if err := m.ReloadJob(bg, name); err != nil {
		t.Fatal(err)
	}
	alive := func(pids []int) int {
		n := 0
		for _, p := range pids {
			if st, ok := readStat(p); ok && st.state != 'Z' {
				n++
			}
		}
		return n
	}
	var seen []int
	await.Until(t, 20*time.Second, "3 new processes ready", func() bool {
		now := osPids(t, m, name)
		for _, p := range now {
			if !containsInt(seen, p) {
				seen = append(seen, p)
			}
		}
		if n := alive(seen) + alive(old); n < 2 {
			t.Fatalf("only %d processes of the job alive during the reload", n)
		}
		info, _ := m.JobInfo(bg, name)
		return info.Ready == 3 && alive(old) == 0 && len(now) == 3 && !containsInt(old, now[0]) && !containsInt(old, now[1]) && !containsInt(old, now[2])
	})
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestFlappingSlotKeepsItsSiblings: the slot whose process keeps crashing
// flaps and gives up; the healthy slots keep their processes.
func TestFlappingSlotKeepsItsSiblings(t *testing.T) {
	m := newManager(t, Options{})
	sub := subscribe(t, m, "job.default.web")
	port := freePort(t)
	name := mustLoad(t, m, mkJob("web", `if [ "$PORT" = `+strconv.Itoa(port+1)+` ]; then exit 1; fi; exec sleep 30`, func(j *conf.Job) {
		j.NumProcesses = 3
		j.Port = port
		j.Backoff = conf.Backoff{Enabled: true, Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond, Factor: 2, ResetAfter: time.Minute}
		j.Flapping = conf.Flapping{Enabled: true, Attempts: 2, Window: 10 * time.Second, RetryIn: 100 * time.Millisecond, MaxRetry: 1}
	}))
	await.Until(t, 10*time.Second, "slots 1 and 3 ready", func() bool {
		info, _ := m.JobInfo(bg, name)
		return info.Slots[0].Ready && info.Slots[2].Ready
	})
	before := osPids(t, m, name)
	ev := nextEvent(t, sub, 10*time.Second, isType(EventGiveUp))
	if ev.Slot != 2 {
		t.Fatalf("giveup of slot %d, want 2", ev.Slot)
	}
	info, _ := m.JobInfo(bg, name)
	if info.State != JobDegraded || info.Slots[1].State != SlotFatal {
		t.Fatalf("job %q, slots %v; want degraded with slot 2 fatal", info.State, slotStates(info))
	}
	if after := osPids(t, m, name); len(after) != 2 || after[0] != before[0] || after[1] != before[1] {
		t.Fatalf("healthy slots' os pids %v, were %v", after, before)
	}
}
