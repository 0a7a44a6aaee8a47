package tests

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"
)

// Tests of health probes (API.md "Lifecycle and health"), each kind
// against a real target: the probeserver helper for http and tcp, files
// and commands for exec, the process's own output for log.

// serverAnswer is what the probe server on port answers now: "refused",
// "503", "200"…
func serverAnswer(port int) string {
	c := http.Client{Timeout: 500 * time.Millisecond}
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/health")
	if err != nil {
		if strings.Contains(err.Error(), "connection refused") {
			return "refused"
		}
		return "error: " + err.Error()
	}
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

// waitStartingUntilReady polls job web's slot 1 until it is running and
// fails the test if it is ever anything but starting before (or the job
// anything but starting, or the slot ready). observe is called at each
// poll while the slot is starting, after its state was read.
func waitStartingUntilReady(t *testing.T, d *daemonProc, job string, timeout time.Duration, observe func()) jobView {
	t.Helper()
	return waitJob(t, d, job, timeout, job+"'s slot 1 to become running", func(v jobView) bool {
		s := v.slot(1)
		if s.State == "running" {
			return true
		}
		if s.State != "starting" || s.Ready || v.State != "starting" || v.Ready != 0 {
			t.Fatalf("before its readiness probe passed, %s was %s, slot 1 %s (ready %v), want starting: %s", job, v.State, s.State, s.Ready, jsonString(v))
		}
		if observe != nil {
			observe()
		}
		return false
	})
}

// checkLivenessRestart makes sure a liveness failure of slot 1's process
// old was handled as API.md says: unhealthy (with slot and a reason), an
// exit with reason unhealthy, a new process, counted as a restart. It
// returns the unhealthy event's reason and the new os pid.
func checkLivenessRestart(t *testing.T, d *daemonProc, ev *eventLog, job string, old int) (reason string, newPid int) {
	t.Helper()
	full := "default." + job
	un := ev.wait(10*time.Second, "an unhealthy event", is("unhealthy", full))
	if un.Slot != 1 || un.OSPid != old || un.Reason == "" {
		t.Errorf("unhealthy event %v: want slot 1, os_pid %d and a reason", un, old)
	}
	exit := ev.wait(10*time.Second, "the exit of the unhealthy process", func(e event) bool { return is("exit", full)(e) && e.OSPid == old })
	if exit.Reason != "unhealthy" || exit.Slot != 1 {
		t.Errorf("exit of the unhealthy process: %v, want reason unhealthy, slot 1", exit)
	}
	if i, j := ev.index(is("unhealthy", full)), ev.index(func(e event) bool { return is("exit", full)(e) && e.OSPid == old }); i > j {
		t.Errorf("the exit came before unhealthy")
	}
	spawn := ev.waitN(10*time.Second, "a second spawn", 2, is("spawn", full))
	if spawn.OSPid == old || spawn.Slot != 1 {
		t.Errorf("respawn %v: want a new os_pid in slot 1", spawn)
	}
	waitDead(t, 10*time.Second, "the unhealthy process to end", old)
	v := waitJob(t, d, job, 10*time.Second, "the restart to be counted", func(v jobView) bool {
		s := v.slot(1)
		return s.Restarts >= 1 && s.LastExit != nil && v.Restarts >= 1
	})
	if le := v.slot(1).LastExit; le.Reason != "unhealthy" {
		t.Errorf("slot 1's last_exit %+v, want reason unhealthy", *le)
	}
	ev.checkExits(false)
	return un.Reason, spawn.OSPid
}

// TestProbeHTTP: an http readiness probe keeps the slot starting while
// the server refuses connections and while it answers 503, and makes it
// running (with a ready event) once /health answers 200; an http liveness
// probe, run only once the process is ready, catches a server that starts
// answering 503 and has it restarted.
func TestProbeHTTP(t *testing.T) {
	t.Parallel()
	srv := probeServerBin(t)
	port := freePorts(t, 1)
	d := startDaemonProc(t, "")
	ev := watchEvents(t, d, "job.default.web")
	const delay, failFor = time.Second, time.Second
	loadJob(t, d, fmt.Sprintf(`{"name": "web", "cmd": %q, "args": ["-delay", %q, "-fail-for", %q], "port": %d, "graceful_timeout": 2,
		"readiness": {"http": "http://127.0.0.1:$PORT/health", "interval": "100ms", "timeout": "500ms"},
		"liveness": {"http": "http://127.0.0.1:$PORT/health", "interval": "100ms", "timeout": "500ms", "failure_threshold": 2}}`,
		srv, delay, failFor, port))
	spawn := ev.wait(10*time.Second, "web's spawn", is("spawn", "default.web"))
	spawnedAt := procStartTime(t, spawn.OSPid)

	answers := map[string]bool{}
	v := waitStartingUntilReady(t, d, "web", 15*time.Second, func() { answers[serverAnswer(port)] = true })
	if !answers["refused"] || !answers["503"] {
		t.Errorf("while web was starting the server answered %v; want both refused and 503 seen (the test polls too slowly?)", answers)
	}
	ready := ev.wait(5*time.Second, "web's ready event", is("ready", "default.web"))
	if ready.Slot != 1 || ready.OSPid != spawn.OSPid {
		t.Errorf("ready event %v, want slot 1 and os_pid %d", ready, spawn.OSPid)
	}
	if took := ready.At.Sub(spawnedAt); took < delay+failFor-50*time.Millisecond {
		t.Errorf("ready %v after the spawn: before the server answered 200 (it listens after %v and answers 503 for %v more)", took, delay, failFor)
	}
	if s := v.slot(1); !s.Ready || v.State != "running" || v.Ready != 1 {
		t.Errorf("after ready: job %s, slot %+v", v.State, s)
	}
	if a := serverAnswer(port); a != "200" {
		t.Errorf("the server answers %s once web is ready", a)
	}
	if n := len(ev.filter(is("unhealthy", "default.web"))); n != 0 {
		t.Fatalf("%d unhealthy events before the server was made sick: liveness probed before the process was ready?", n)
	}

	// Sick: /health answers 503, the port still accepts connections.
	if err := syscall.Kill(spawn.OSPid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	reason, newPid := checkLivenessRestart(t, d, ev, "web", spawn.OSPid)
	if !strings.Contains(reason, "503") {
		t.Logf("note: the unhealthy reason %q does not give the status", reason)
	}
	// The new process goes through readiness again.
	ready2 := ev.waitN(15*time.Second, "the new process's ready event", 2, is("ready", "default.web"))
	if ready2.OSPid != newPid {
		t.Errorf("second ready %v, want os_pid %d", ready2, newPid)
	}
}

// TestProbeTCP: a tcp readiness probe keeps the slot starting until the
// server listens (and passes although /health answers 503: a connection is
// all it asks); a tcp liveness probe catches a closed listener and has the
// process restarted.
func TestProbeTCP(t *testing.T) {
	t.Parallel()
	srv := probeServerBin(t)
	port := freePorts(t, 1)
	d := startDaemonProc(t, "")
	ev := watchEvents(t, d, "job.default.db")
	const delay = 1500 * time.Millisecond // more than min_uptime's default 1s
	loadJob(t, d, fmt.Sprintf(`{"name": "db", "cmd": %q, "args": ["-delay", %q, "-fail-for", "1h"], "port": %d, "graceful_timeout": 2,
		"readiness": {"tcp": "127.0.0.1:$PORT", "interval": "100ms", "timeout": "500ms"},
		"liveness": {"tcp": "127.0.0.1:$PORT", "interval": "100ms", "timeout": "500ms", "failure_threshold": 2}}`,
		srv, delay, port))
	spawn := ev.wait(10*time.Second, "db's spawn", is("spawn", "default.db"))
	spawnedAt := procStartTime(t, spawn.OSPid)
	answers := map[string]bool{}
	waitStartingUntilReady(t, d, "db", 15*time.Second, func() { answers[serverAnswer(port)] = true })
	if !answers["refused"] {
		t.Errorf("while db was starting the server answered %v; want refused seen", answers)
	}
	ready := ev.wait(5*time.Second, "db's ready event", is("ready", "default.db"))
	if took := ready.At.Sub(spawnedAt); took < delay-50*time.Millisecond {
		t.Errorf("ready %v after the spawn, before the server listened (after %v)", took, delay)
	}
	if ready.Slot != 1 || ready.OSPid != spawn.OSPid {
		t.Errorf("ready event %v, want slot 1 and os_pid %d", ready, spawn.OSPid)
	}

	// The listener closes: connections are refused.
	if err := syscall.Kill(spawn.OSPid, syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	checkLivenessRestart(t, d, ev, "db", spawn.OSPid)
}

// TestProbeExec: an exec readiness probe (test -f FILE, in the job's cwd,
// success_threshold 3, its output not captured) keeps the slot starting
// until the test creates the file; an exec liveness probe that
// hangs is killed at its timeout (its whole group, no zombie left behind
// in the daemon), counts as a failure, and gets the process restarted.
func TestProbeExec(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, "")
	zombies := zombieWatch(t, d.Pid())
	mk, mv := markerEnv(t)
	cwd := t.TempDir()
	readyFile := filepath.Join(cwd, "ready")
	ev := watchEvents(t, d, "job.default.app")
	// The readiness probe runs in the job's cwd (its "ready" is relative),
	// must pass 3 times in a row, and its output is not the job's.
	loadJob(t, d, fmt.Sprintf(`{"name": "app", "cmd": "sleep 300", "graceful_timeout": 1, "env": {%q: %q}, "cwd": %q,
		"readiness": {"exec": "sh -c 'echo probe-says-hello; test -f ready'", "interval": "100ms", "success_threshold": 3},
		"liveness": {"exec": "sh -c 'sleep 29.5; :'", "interval": "100ms", "timeout": "300ms", "failure_threshold": 2}}`,
		mk, mv, cwd))
	spawn := ev.wait(10*time.Second, "app's spawn", is("spawn", "default.app"))

	// The hanging probes: sh and its sleep, with the job's env.
	hangs := map[int]time.Time{} // pid → when first seen
	var late []string
	probeTimeout := 300 * time.Millisecond
	checkHangs := func() {
		now := time.Now()
		for _, pid := range procsWhere(func(pid int) bool {
			args := procArgs(pid)
			hang := slices.Contains(args, "sleep 29.5; :") || slices.Equal(args, []string{"sleep", "29.5"})
			return hang && alive(pid) && procEnv(pid)[mk] == mv
		}) {
			first, ok := hangs[pid]
			if !ok {
				hangs[pid] = now
				continue
			}
			if now.Sub(first) > probeTimeout+await.Scale(time.Second) {
				late = append(late, fmt.Sprintf("%d %q alive %v after it was first seen", pid, procArgs(pid), now.Sub(first)))
				hangs[pid] = now.Add(time.Hour) // once
			}
		}
	}

	// Starting as long as the file is missing: a second of polls.
	start := time.Now()
	await.Until(t, 10*time.Second, "a second of app starting without its ready file", func() bool {
		v := jobState(t, d, "app")
		if s := v.slot(1); s.State != "starting" || s.Ready {
			t.Fatalf("app's slot 1 is %s (ready %v) although %s does not exist", s.State, s.Ready, readyFile)
		}
		return time.Since(start) > time.Second
	})
	if n := len(ev.filter(is("ready", "default.app"))); n != 0 {
		t.Fatalf("a ready event without the ready file")
	}
	if err := os.WriteFile(readyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	ready := ev.wait(10*time.Second, "app's ready event", is("ready", "default.app"))
	if ready.OSPid != spawn.OSPid || ready.Slot != 1 {
		t.Errorf("ready event %v, want os_pid %d slot 1", ready, spawn.OSPid)
	}
	if took := ready.At.Sub(created); took < 180*time.Millisecond {
		t.Errorf("ready %v after the file was created: before 3 passes 100ms apart (success_threshold 3)", took)
	}
	code, logs := httpDo(t, http.MethodGet, d.URL+"/jobs/default/app/logs", "", "")
	if code != http.StatusOK || strings.Contains(string(logs), "probe-says-hello") {
		t.Errorf("the job's logs (status %d) hold the exec probe's output:\n%s", code, logs)
	}

	// Liveness: every attempt hangs; each is killed at its timeout.
	await.Until(t, 10*time.Second, "an unhealthy event (meanwhile checking the hanging probes)", func() bool {
		checkHangs()
		return ev.index(is("unhealthy", "default.app")) >= 0
	})
	reason, _ := checkLivenessRestart(t, d, ev, "app", spawn.OSPid)
	if !strings.Contains(strings.ToLower(reason), "time") {
		t.Errorf("unhealthy reason %q does not say the probe timed out", reason)
	}
	if len(hangs) == 0 {
		t.Errorf("never saw a hanging liveness probe running (its command: sh -c 'sleep 29.5; :')")
	}
	// A few more attempts (of the new process), then stop the job.
	until := time.Now().Add(time.Second)
	await.Until(t, 5*time.Second, "a second more of hanging probes", func() bool { checkHangs(); return time.Now().After(until) })
	mustDo(t, http.MethodPost, d.URL+"/jobs/default/app/state", `{"action": "stop"}`, http.StatusAccepted)
	await.Until(t, 10*time.Second, "no hanging probe left once app is stopped", func() bool {
		checkHangs()
		for pid := range hangs {
			if alive(pid) {
				return false
			}
		}
		return true
	})
	if len(late) > 0 {
		t.Errorf("hanging exec probes not killed at their timeout (%v): %v", probeTimeout, late)
	}
	zombies()
}

// TestProbeLog: a log readiness probe makes the slot running when the
// process prints a matching line, not before.
func TestProbeLog(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, "")
	ev := watchEvents(t, d, "job.default.app")
	const delay = 1500 * time.Millisecond // more than min_uptime's default 1s
	loadJob(t, d, fmt.Sprintf(`{"name": "app", "graceful_timeout": 1,
		"cmd": "sh -c 'echo booting; echo listening soon; sleep %v; echo now listening; exec sleep 300'",
		"readiness": {"log": "^now listening$"}}`, delay.Seconds()))
	spawn := ev.wait(10*time.Second, "app's spawn", is("spawn", "default.app"))
	spawnedAt := procStartTime(t, spawn.OSPid)
	waitStartingUntilReady(t, d, "app", 15*time.Second, nil)
	ready := ev.wait(5*time.Second, "app's ready event", is("ready", "default.app"))
	if took := ready.At.Sub(spawnedAt); took < delay-50*time.Millisecond {
		t.Errorf("ready %v after the spawn, before the process printed its line (after %v)", took, delay)
	}
	if ready.OSPid != spawn.OSPid || ready.Slot != 1 {
		t.Errorf("ready event %v, want os_pid %d slot 1", ready, spawn.OSPid)
	}
}

// TestReadinessLost: a ready process whose readiness probe then fails
// failure_threshold times publishes unready and goes back to starting; it
// is not restarted.
func TestReadinessLost(t *testing.T) {
	t.Parallel()
	srv := probeServerBin(t)
	port := freePorts(t, 1)
	d := startDaemonProc(t, "")
	ev := watchEvents(t, d, "job.default.web")
	loadJob(t, d, fmt.Sprintf(`{"name": "web", "cmd": %q, "args": ["-delay", "300ms"], "port": %d, "graceful_timeout": 2,
		"readiness": {"http": "http://127.0.0.1:$PORT/health", "interval": "100ms", "timeout": "500ms", "failure_threshold": 2}}`, srv, port))
	ready := ev.wait(10*time.Second, "web's ready event", is("ready", "default.web"))
	waitJob(t, d, "web", 5*time.Second, "web running", func(v jobView) bool { return v.State == "running" })
	if err := syscall.Kill(ready.OSPid, syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	un := ev.wait(10*time.Second, "an unready event", is("unready", "default.web"))
	if un.Slot != 1 || un.OSPid != ready.OSPid {
		t.Errorf("unready event %v, want slot 1 and os_pid %d", un, ready.OSPid)
	}
	v := waitJob(t, d, "web", 5*time.Second, "web back to starting", func(v jobView) bool { return v.slot(1).State == "starting" })
	if v.State != "starting" || v.Ready != 0 || v.slot(1).Ready {
		t.Errorf("after unready: %s", jsonString(v))
	}
	// Not restarted: the same process, for a second more.
	never(t, time.Second, "the unready process was restarted", func() bool {
		v := jobState(t, d, "web")
		p := v.slotPids()
		return len(p) != 1 || p[0] != ready.OSPid || !alive(ready.OSPid) || v.slot(1).State != "starting"
	})
	for _, e := range ev.all() {
		if e.Event == "exit" || e.Event == "stop_process" || e.Event == "unhealthy" {
			t.Errorf("a readiness failure stopped the process: %v", e)
		}
	}
}

// TestLivenessWithoutReadiness: without a readiness probe, liveness is
// probed from the spawn (after its initial_delay, long before min_uptime
// makes the process ready); its restarts are crashes for backoff and
// flapping.
func TestLivenessWithoutReadiness(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, "")
	ev := watchEvents(t, d, "job.default.app")
	const initialDelay = time.Second
	loadJob(t, d, fmt.Sprintf(`{"name": "app", "cmd": "sleep 300", "graceful_timeout": 1, "min_uptime": "5s",
		"liveness": {"tcp": %q, "interval": "100ms", "failure_threshold": 2, "initial_delay": %q},
		"backoff": {"initial": "50ms"},
		"flapping": {"attempts": 2, "window": "20s", "retry_in": "20s"}}`, refusedAddr(t), initialDelay))
	spawn := ev.wait(10*time.Second, "app's spawn", is("spawn", "default.app"))
	spawnedAt := procStartTime(t, spawn.OSPid)
	un := ev.wait(10*time.Second, "an unhealthy event", is("unhealthy", "default.app"))
	if un.OSPid != spawn.OSPid || un.Slot != 1 || un.Reason == "" {
		t.Errorf("unhealthy event %v, want os_pid %d, slot 1, a reason", un, spawn.OSPid)
	}
	// initial_delay, then 2 failures 100ms apart.
	if took := un.At.Sub(spawnedAt); took < initialDelay+100*time.Millisecond-50*time.Millisecond {
		t.Errorf("unhealthy %v after the spawn: before initial_delay (%v) and 2 failures", took, initialDelay)
	}
	// The unhealthy end is a crash for backoff: the slot waits its initial delay.
	exit := ev.wait(10*time.Second, "the unhealthy process's exit", is("exit", "default.app"))
	bo := ev.wait(10*time.Second, "a backoff event", is("backoff", "default.app"))
	if math.Abs(bo.Delay-0.05) > 0.001 || bo.Slot != 1 || ev.index(is("backoff", "default.app")) < ev.index(is("exit", "default.app")) {
		t.Errorf("after the unhealthy exit %v: backoff %v, want slot 1, delay 0.05, after the exit", exit, bo)
	}
	if n := len(ev.filter(is("ready", "default.app"))); n != 0 {
		t.Errorf("app was ready before it was found unhealthy: liveness probed only from min_uptime?")
	}
	// Two unhealthy ends within the window: the slot flaps.
	flap := ev.wait(10*time.Second, "a flap event", is("flap", "default.app"))
	if flap.Slot != 1 {
		t.Errorf("flap event %v, want slot 1", flap)
	}
	exits := ev.filter(is("exit", "default.app"))
	if len(exits) != 2 || exits[0].Reason != "unhealthy" || exits[1].Reason != "unhealthy" {
		t.Errorf("exits before the flap: %v, want 2 with reason unhealthy", exits)
	}
	v := waitJob(t, d, "app", 5*time.Second, "app flapping", func(v jobView) bool { return v.State == "flapping" })
	if s := v.slot(1); s.State != "backoff" || s.Restarts != 1 || v.Flapping.State != "flapping" {
		t.Errorf("after the flap: slot %+v, flapping %+v; want backoff, 1 restart, flapping", s, v.Flapping)
	}
}
