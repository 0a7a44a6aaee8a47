package tests

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"
)

// Tests of the job lifecycle (API.md "Job config", "Flapping", "Lifecycle
// and health"): restart policies, backoff, per-slot flapping, scale-down,
// depends_on and rolling replacement, through the real daemon.

// TestRestartPolicy: restart "never" and "on-failure", with and without
// success_exit_codes, against the default "always".
func TestRestartPolicy(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, "")
	ev := watchEvents(t, d, "")
	jobs := []struct {
		name, restart, codes string
		exit                 int
		respawned            bool
		state                string // the job's state once its slot exited for good
	}{
		{"never-fails", "never", "", 1, false, "stopped"},
		{"onfail-ok", "on-failure", "", 0, false, "completed"},
		{"onfail-fails", "on-failure", "", 1, true, ""},
		{"onfail-code3", "on-failure", "[0, 3]", 3, false, "completed"},
		{"onfail-zero-fails", "on-failure", "[3]", 0, true, ""},
		{"always-ok", "", "", 0, true, ""},
		// Killed by SIGKILL (exit -9 below): a failure, whatever the codes.
		{"onfail-killed", "on-failure", "[0]", -9, true, ""},
		{"never-killed", "never", "", -9, false, "stopped"},
		// Flapping at its second crash, no retry: it gives up.
		{"gives-up", "", "", 1, false, "gave_up"},
	}
	for _, j := range jobs {
		cmd := fmt.Sprintf("sh -c 'exit %d'", j.exit)
		if j.exit < 0 {
			cmd = "sleep 300"
		}
		cfg := fmt.Sprintf(`{"name": %q, "cmd": %q, "graceful_timeout": 1, "backoff": {"initial": "50ms", "max": "100ms"}, "flapping": false`, j.name, cmd)
		if j.restart != "" {
			cfg += fmt.Sprintf(`, "restart": %q`, j.restart)
		}
		if j.codes != "" {
			cfg += `, "success_exit_codes": ` + j.codes
		}
		if j.state == "gave_up" {
			cfg = strings.Replace(cfg, `"flapping": false`, `"flapping": {"attempts": 2, "window": "10s", "retry_in": 0, "max_retry": 0}`, 1)
		}
		loadJob(t, d, cfg+"}")
	}
	for _, j := range jobs {
		full := "default." + j.name
		if j.exit < 0 {
			spawn := ev.wait(10*time.Second, j.name+"'s spawn", is("spawn", full))
			if err := syscall.Kill(spawn.OSPid, syscall.Signal(-j.exit)); err != nil {
				t.Fatal(err)
			}
		}
		exit := ev.wait(10*time.Second, j.name+"'s first exit", is("exit", full))
		switch {
		case j.exit >= 0 && (exit.ExitStatus != j.exit || exit.Reason != "exited"):
			t.Errorf("%s: exit %v, want status %d, reason exited", j.name, exit, j.exit)
		case j.exit < 0 && (exit.TermSignal != -j.exit || exit.Reason != "signal"):
			t.Errorf("%s: exit %v, want signal %d, reason signal", j.name, exit, -j.exit)
		}
		if j.respawned {
			n := 3 // respawned twice
			if j.exit < 0 {
				n = 2 // killed once: respawned once
			}
			ev.waitN(10*time.Second, j.name+" respawned", n, is("spawn", full))
		}
	}
	// Those not respawned: exited, in the state they ended in, for a
	// second more (their backoff would have respawned them 20 times).
	ev.wait(10*time.Second, "gives-up to give up", is("giveup", "default.gives-up"))
	never(t, time.Second, "a job whose restart policy says no was respawned", func() bool {
		for _, j := range jobs {
			if spawns := len(ev.filter(is("spawn", "default."+j.name))); !j.respawned && spawns > 1 && (j.state != "gave_up" || spawns > 2) {
				t.Logf("%s respawned", j.name)
				return true
			}
		}
		return false
	})
	for _, j := range jobs {
		if j.respawned {
			continue
		}
		var v struct {
			jobView
			Slots []struct {
				slotInfo
				Since    float64 `json:"since"`
				LastExit *struct {
					ExitStatus int     `json:"exit_status"`
					TermSignal int     `json:"term_signal"`
					Reason     string  `json:"reason"`
					Time       float64 `json:"time"`
				} `json:"last_exit"`
			} `json:"slots"`
		}
		getJSON(t, d.URL+"/jobs/default/"+j.name, "", &v)
		wantSlot, restarts := "exited", 0
		if j.state == "gave_up" {
			wantSlot, restarts = "fatal", 1
		}
		if len(v.Slots) != 1 {
			t.Errorf("%s: slots %s", j.name, jsonString(v.Slots))
			continue
		}
		s := v.Slots[0]
		if s.State != wantSlot || s.Pid != nil || v.State != j.state || s.LastExit == nil || s.LastExit.ExitStatus != max(j.exit, 0) {
			t.Errorf("%s: job %s, slot %s (last exit %s), want job %s, slot %s with status %d", j.name, v.State, s.State, jsonString(s.LastExit), j.state, wantSlot, max(j.exit, 0))
			continue
		}
		if v.Restarts != restarts || s.Restarts != restarts {
			t.Errorf("%s: %d restarts (slot: %d), want %d", j.name, v.Restarts, s.Restarts, restarts)
		}
		// since and last_exit.time: when it ended, in Unix seconds.
		exitAt := ev.filter(is("exit", "default."+j.name))[0].At
		for what, ts := range map[string]float64{"since": s.Since, "last_exit.time": s.LastExit.Time} {
			if at := time.Unix(0, int64(ts*1e9)); at.Sub(exitAt).Abs() > await.Scale(2*time.Second) {
				t.Errorf("%s: slot %s %v, but its exit came at %v", j.name, what, at, exitAt)
			}
		}
	}
	if f := jobState(t, d, "gives-up").Flapping; f.State != "gave_up" {
		t.Errorf("gives-up: flapping %+v, want state gave_up", f)
	}
	ev.checkExits(false)
}

// respawnGaps returns, for each respawn of job full's slot 1, the time
// from the exit to the next spawn, as the test received the events.
func respawnGaps(evs []event, full string) []time.Duration {
	var gaps []time.Duration
	var exitAt time.Time
	for _, e := range evs {
		switch {
		case is("exit", full)(e):
			exitAt = e.At
		case is("spawn", full)(e) && !exitAt.IsZero():
			gaps = append(gaps, e.At.Sub(exitAt))
			exitAt = time.Time{}
		}
	}
	return gaps
}

// TestBackoffDelaysGrow: a crashing slot is respawned after initial, then
// factor times longer each time, up to max; the backoff events say so.
func TestBackoffDelaysGrow(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, "")
	ev := watchEvents(t, d, "job.default.crash")
	loadJob(t, d, `{"name": "crash", "cmd": "sh -c 'exit 1'", "flapping": false,
		"backoff": {"initial": "100ms", "factor": 2, "max": "800ms", "reset_after": "30s"}}`)
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 800 * time.Millisecond}
	ev.waitN(15*time.Second, "6 spawns", len(want)+1, is("spawn", "default.crash"))
	evs := ev.all()
	var delays []float64
	for _, e := range evs {
		if is("backoff", "default.crash")(e) {
			if e.Slot != 1 {
				t.Errorf("backoff event %v: want slot 1", e)
			}
			delays = append(delays, e.Delay)
		}
	}
	for i, w := range want {
		if i >= len(delays) || math.Abs(delays[i]-w.Seconds()) > 0.001 {
			t.Errorf("backoff delays %v, want %v", delays, want)
			break
		}
	}
	// Every respawn is a restart.
	mustDo(t, http.MethodPost, d.URL+"/jobs/default/crash/state", `{"action": "stop"}`, http.StatusAccepted)
	v := waitJob(t, d, "crash", 10*time.Second, "crash stopped", func(v jobView) bool { return v.State == "stopped" && v.slot(1).State == "exited" })
	if spawns := len(ev.filter(is("spawn", "default.crash"))); v.Restarts != spawns-1 || v.slot(1).Restarts != spawns-1 {
		t.Errorf("%d restarts (slot 1: %d) for %d spawns", v.Restarts, v.slot(1).Restarts, spawns)
	}
	ev.checkExits(true)
	gaps := respawnGaps(evs, "default.crash")
	if len(gaps) < len(want) {
		t.Fatalf("respawn gaps %v", gaps)
	}
	for i, w := range want {
		// Not sooner than the delay (give or take the events' latency, as
		// the test receives them); not much later either.
		if gaps[i] < w*3/4 || gaps[i] > w+await.Scale(time.Second) {
			t.Errorf("respawn %d came %v after the exit, want about %v (all gaps: %v)", i+1, gaps[i], w, gaps)
		}
	}
}

// TestDefaultBackoffPaces: a program that exits at once, with default
// settings, is not respawned in a storm: the default backoff spaces the
// respawns (100ms, 200ms, 400ms…), so a handful of spawns in 2s, 3 in
// the first half second (the test allows 4). Without backoff, flapping
// alone would let its 5 attempts through in a few milliseconds.
func TestDefaultBackoffPaces(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, "")
	ev := watchEvents(t, d, "job.default.storm")
	loadJob(t, d, `{"name": "storm", "cmd": "true"}`)
	first := ev.wait(10*time.Second, "the first spawn", is("spawn", "default.storm"))
	until := first.At.Add(2 * time.Second)
	await.Until(t, 10*time.Second, "2s of spawns", func() bool { return time.Now().After(until) })
	var inHalf, inTwo int
	for _, e := range ev.filter(is("spawn", "default.storm")) {
		if e.At.Sub(first.At) < 500*time.Millisecond {
			inHalf++
		}
		if e.At.Before(until) {
			inTwo++
		}
	}
	if inTwo < 2 || inTwo > 8 || inHalf > 4 {
		t.Errorf("%d spawns in 2s, %d in the first 500ms; want 2 to 8, and at most 4 (0, 100ms, 300ms; 700ms)", inTwo, inHalf)
	}
}

// TestFlappingPerSlot: in a 3-slot job whose slot 2 crashes at once,
// only slot 2 flaps, is retried and gives up (flap and giveup events
// carrying slot 2); slots 1 and 3 keep their processes all along, and the
// job is degraded.
func TestFlappingPerSlot(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, "")
	ev := watchEvents(t, d, "job.default.web")
	loadJob(t, d, `{"name": "web", "numprocesses": 3, "port": 6000, "graceful_timeout": 1,
		"cmd": "sh -c 'if [ \"$PORT\" = 6001 ]; then exit 1; fi; exec sleep 300'",
		"backoff": {"initial": "50ms", "max": "100ms"},
		"flapping": {"attempts": 3, "window": "10s", "retry_in": "1s", "max_retry": 1}}`)
	v := waitJob(t, d, "web", 10*time.Second, "slots 1 and 3 running", func(v jobView) bool {
		return v.slot(1).State == "running" && v.slot(3).State == "running"
	})
	pid1, pid3 := *v.slot(1).OSPid, *v.slot(3).OSPid
	if env := procEnv(pid1); env["PORT"] != "6000" {
		t.Errorf("slot 1's PORT %q, want 6000", env["PORT"])
	}
	keep := func() {
		t.Helper()
		v := jobState(t, d, "web")
		if p := v.slot(1).OSPid; p == nil || *p != pid1 || !alive(pid1) {
			t.Fatalf("slot 1's process %d was replaced: %s", pid1, jsonString(v.Slots))
		}
		if p := v.slot(3).OSPid; p == nil || *p != pid3 || !alive(pid3) {
			t.Fatalf("slot 3's process %d was replaced: %s", pid3, jsonString(v.Slots))
		}
	}

	flap := ev.wait(10*time.Second, "a flap event", is("flap", "default.web"))
	if flap.Slot != 2 || math.Abs(flap.RetryIn-1) > 0.001 {
		t.Errorf("flap event %v (retry_in %v): want slot 2, retry_in 1", flap, flap.RetryIn)
	}
	// While slot 2 waits for its retry: backoff, and the job degraded.
	sawPause := false
	await.Until(t, 10*time.Second, "slot 2 retried (a spawn after the flap)", func() bool {
		keep()
		v := jobState(t, d, "web")
		if v.slot(2).State == "backoff" {
			if v.State != "degraded" {
				t.Errorf("while slot 2 is in backoff: job %s, want degraded", v.State)
			}
			if v.Flapping.State == "flapping" {
				sawPause = true // (the other backoffs are the short ones before and after the flap)
			}
		}
		fi := ev.index(is("flap", "default.web"))
		return slices.ContainsFunc(ev.all()[fi:], isSlot("spawn", "default.web", 2))
	})
	if !sawPause {
		t.Errorf("slot 2 was never seen in state backoff with the job's flapping state \"flapping\" during its 1s flapping pause")
	}
	giveup := ev.wait(10*time.Second, "a giveup event", is("giveup", "default.web"))
	if giveup.Slot != 2 {
		t.Errorf("giveup event %v: want slot 2", giveup)
	}
	v = waitJob(t, d, "web", 5*time.Second, "slot 2 fatal", func(v jobView) bool { return v.slot(2).State == "fatal" })
	if v.State != "degraded" || v.Flapping.State != "gave_up" || v.slot(1).State != "running" || v.slot(3).State != "running" {
		t.Errorf("after giving up: job %s, flapping %+v, slots %s; want degraded, gave_up, slots 1 and 3 running", v.State, v.Flapping, jsonString(v.Slots))
	}
	// Slot 2 stays given up; the others keep running, untouched.
	spawns := len(ev.filter(isSlot("spawn", "default.web", 2)))
	never(t, time.Second, "slot 2 respawned after giving up", func() bool {
		keep()
		return len(ev.filter(isSlot("spawn", "default.web", 2))) > spawns
	})
	// A start of the job resets every slot's history: slot 2 is tried
	// again (and flaps again, after attempts crashes); the running slots
	// are left alone.
	mustDo(t, http.MethodPost, d.URL+"/jobs/default/web/state", `{"action": "start"}`, http.StatusAccepted)
	ev.waitN(10*time.Second, "slot 2 respawned after a start", spawns+1, isSlot("spawn", "default.web", 2))
	ev.waitN(10*time.Second, "slot 2 flapping again after a start", 2, is("flap", "default.web"))
	keep()
	for _, slot := range []int{1, 3} {
		for _, e := range ev.all() {
			if e.Slot == slot && e.Event != "spawn" && e.Event != "ready" {
				t.Errorf("slot %d was touched: %v", slot, e)
			}
		}
		if n := len(ev.filter(isSlot("spawn", "default.web", slot))); n != 1 {
			t.Errorf("slot %d spawned %d times, want once", slot, n)
		}
	}
	ev.checkExits(false)
}

// TestStopCancelsFlapRetry: a user's stop cancels a flapping slot's
// pending retry; a start then tries it again, its history reset.
func TestStopCancelsFlapRetry(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, "")
	ev := watchEvents(t, d, "job.default.crash")
	loadJob(t, d, `{"name": "crash", "cmd": "sh -c 'exit 1'", "backoff": false,
		"flapping": {"attempts": 2, "window": "10s", "retry_in": "1s", "max_retry": 5}}`)
	ev.wait(10*time.Second, "a flap event", is("flap", "default.crash"))
	mustDo(t, http.MethodPost, d.URL+"/jobs/default/crash/state", `{"action": "stop"}`, http.StatusAccepted)
	spawns := len(ev.filter(is("spawn", "default.crash")))
	never(t, 1500*time.Millisecond, "the flapping slot was retried after the job was stopped", func() bool {
		return len(ev.filter(is("spawn", "default.crash"))) > spawns
	})
	if v := jobState(t, d, "crash"); v.State != "stopped" || v.Active || v.slot(1).State != "exited" {
		t.Errorf("after a stop during a flapping pause: job %s (active %v), slot %s; want stopped, exited", v.State, v.Active, v.slot(1).State)
	}
	mustDo(t, http.MethodPost, d.URL+"/jobs/default/crash/state", `{"action": "start"}`, http.StatusAccepted)
	// Two crashes (attempts) before it flaps again: the old ones are forgotten.
	ev.waitN(10*time.Second, "a second flap", 2, is("flap", "default.crash"))
	all := ev.all()
	start := slices.IndexFunc(all, func(e event) bool { return e.Event == "start" && e.Name == "default.crash" })
	for i, n := start, 0; i >= 0 && i < len(all); i++ {
		if all[i].Event == "start" && i > start {
			break
		}
		switch all[i].Event {
		case "spawn":
			n++
		case "flap":
			if n != 2 {
				t.Errorf("after the start, a flap after %d spawns, want 2 (its history reset)", n)
			}
			i = len(all)
		}
	}
}

// TestScaleDownHighestSlotsFirst: scaling down removes web.3, then web.2;
// web.1 keeps its process and its PORT.
func TestScaleDownHighestSlotsFirst(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, "")
	ev := watchEvents(t, d, "job.default.web")
	loadJob(t, d, `{"name": "web", "cmd": "sleep 300", "numprocesses": 3, "port": 7000, "graceful_timeout": 1}`)
	waitRunning(t, d.URL, "", "default", "web", 3)
	pids := jobState(t, d, "web").slotPids()
	for i, pid := range pids {
		if got, want := procEnv(pid)["PORT"], strconv.Itoa(7000+i); got != want {
			t.Errorf("slot %d: PORT %q, want %s", i+1, got, want)
		}
	}
	for _, step := range []struct {
		scale string
		gone  int // the slot removed
	}{{"=2", 3}, {"-1", 2}} {
		mustDo(t, http.MethodPost, d.URL+"/jobs/default/web/numprocesses", fmt.Sprintf(`{"scale": %q}`, step.scale), http.StatusOK)
		reap := ev.wait(10*time.Second, fmt.Sprintf("a reap after scale %s", step.scale), func(e event) bool {
			return is("reap", "default.web")(e) && e.OSPid == pids[step.gone-1]
		})
		if reap.Slot != step.gone {
			t.Errorf("scale %s: reap %v, want slot %d", step.scale, reap, step.gone)
		}
		if n := len(ev.filter(is("reap", "default.web"))); n != 4-step.gone {
			t.Errorf("scale %s: %d reap events in all, want %d:\n%s", step.scale, n, 4-step.gone, ev)
		}
		waitDead(t, 10*time.Second, fmt.Sprintf("slot %d's process to end", step.gone), pids[step.gone-1])
		v := waitJob(t, d, "web", 10*time.Second, fmt.Sprintf("%d slots", step.gone-1), func(v jobView) bool { return len(v.Slots) == step.gone-1 })
		if got := v.slotPids(); !slices.Equal(got, pids[:step.gone-1]) {
			t.Errorf("after scale %s: slots' os_pids %v, want %v", step.scale, got, pids[:step.gone-1])
		}
		exit := ev.wait(10*time.Second, "the reaped process's exit", func(e event) bool {
			return is("exit", "default.web")(e) && e.OSPid == pids[step.gone-1]
		})
		if exit.Reason != "stopped" {
			t.Errorf("exit of a scaled-down process %v: want reason stopped", exit)
		}
	}
	if !alive(pids[0]) || procEnv(pids[0])["PORT"] != "7000" {
		t.Errorf("web.1 (os pid %d) gone or its PORT changed", pids[0])
	}
	if n := len(ev.filter(is("spawn", "default.web"))); n != 3 {
		t.Errorf("%d spawns, want 3 (nothing respawned)", n)
	}
	ev.checkExits(false)
}

// TestDependsOn: web depends_on {db = "ready", migrate = "completed"},
// loaded before both: it waits (state and event, with waiting_for), and
// spawns only once db is ready and migrate exited 0. At the daemon's
// shutdown, web is stopped before db.
func TestDependsOn(t *testing.T) {
	t.Parallel()
	srv := probeServerBin(t)
	port := freePorts(t, 1)
	d := startDaemonProc(t, "")
	ev := watchEvents(t, d, "")
	// web takes half a second to stop: if db were stopped at the same
	// time, it would be gone first.
	loadJob(t, d, `{"name": "web", "numprocesses": 2, "graceful_timeout": 5,
		"cmd": "sh -c 'trap \"sleep 0.5; exit 0\" TERM; while :; do sleep 0.1; done'",
		"depends_on": {"db": "ready", "migrate": "completed"}}`)
	w := ev.wait(10*time.Second, "web's waiting event", is("waiting", "default.web"))
	conds := map[string]string{}
	for _, c := range w.WaitingFor {
		conds[c.Name] = c.Condition
	}
	if conds["default.db"] != "ready" || conds["default.migrate"] != "completed" {
		t.Errorf("waiting event's waiting_for %+v, want default.db ready and default.migrate completed", w.WaitingFor)
	}
	v := jobState(t, d, "web")
	if v.State != "waiting" || len(v.Slots) != 2 || v.slot(1).State != "waiting" || v.slot(2).State != "waiting" || len(v.WaitingFor) != 2 || v.Running != 0 {
		t.Errorf("web before its dependencies are loaded: %s", jsonString(v))
	}

	loadJob(t, d, fmt.Sprintf(`{"name": "db", "cmd": %q, "args": ["-delay", "1s"], "port": %d, "graceful_timeout": 5,
		"readiness": {"tcp": "127.0.0.1:$PORT", "interval": "100ms"}}`, srv, port))
	loadJob(t, d, `{"name": "migrate", "cmd": "sh -c 'sleep 2; exit 0'", "restart": "on-failure"}`)
	// cache only needs db started: it spawns before db is ready.
	loadJob(t, d, `{"name": "cache", "cmd": "sleep 300", "graceful_timeout": 1, "depends_on": {"db": "started"}}`)
	cacheSpawn := ev.wait(10*time.Second, "cache's spawn", is("spawn", "default.cache"))
	dbReady := ev.wait(10*time.Second, "db ready", is("ready", "default.db"))
	if i, j := ev.index(is("spawn", "default.db")), ev.index(is("spawn", "default.cache")); i > j {
		t.Errorf("cache spawned before db was started")
	}
	if !cacheSpawn.At.Before(dbReady.At) {
		t.Errorf("cache (depends_on db started) spawned only after db was ready")
	}
	// db is ready, migrate still runs: web still waits.
	if v := jobState(t, d, "web"); v.State != "waiting" || v.Running != 0 {
		t.Errorf("web once db is ready, migrate not completed: %s", jsonString(v))
	} else if !slices.ContainsFunc(v.WaitingFor, func(c struct {
		Name      string `json:"name"`
		Condition string `json:"condition"`
	}) bool {
		return c.Name == "default.migrate"
	}) {
		t.Errorf("web's waiting_for %+v does not name default.migrate", v.WaitingFor)
	}
	migrated := ev.wait(10*time.Second, "migrate's exit", is("exit", "default.migrate"))
	if migrated.ExitStatus != 0 {
		t.Fatalf("migrate: %v", migrated)
	}
	ev.waitN(10*time.Second, "web's two spawns", 2, is("spawn", "default.web"))
	webPids := waitRunning(t, d.URL, "", "default", "web", 2)
	all := ev.all()
	firstWeb := slices.IndexFunc(all, is("spawn", "default.web"))
	if i := slices.IndexFunc(all, is("ready", "default.db")); i < 0 || i > firstWeb {
		t.Errorf("web spawned before db was ready")
	}
	if i := slices.IndexFunc(all, is("exit", "default.migrate")); i < 0 || i > firstWeb {
		t.Errorf("web spawned before migrate completed")
	}
	if spawnAt := all[firstWeb].At; spawnAt.Before(dbReady.At) || spawnAt.Before(migrated.At) {
		t.Errorf("web spawned at %v, db ready at %v, migrate exited at %v", spawnAt, dbReady.At, migrated.At)
	}
	if v := jobState(t, d, "migrate"); v.State != "completed" {
		t.Errorf("migrate's state %s, want completed", v.State)
	}

	// A job is never stopped because a dependency stopped.
	mustDo(t, http.MethodPost, d.URL+"/jobs/default/db/state", `{"action": "stop"}`, http.StatusAccepted)
	waitDead(t, 10*time.Second, "db to stop", dbReady.OSPid)
	never(t, time.Second, "web lost its processes when db stopped", func() bool {
		return !slices.Equal(osPids(t, d.URL, "", "default", "web"), webPids) || !alive(webPids[0]) || !alive(webPids[1])
	})
	mustDo(t, http.MethodPost, d.URL+"/jobs/default/db/state", `{"action": "start"}`, http.StatusAccepted)
	dbReady = ev.waitN(10*time.Second, "db ready again", 2, is("ready", "default.db"))

	// Shutdown: dependents first. Watch /proc for when each dies.
	dbPid := dbReady.OSPid
	deaths := map[int]time.Time{}
	d.Signal(syscall.SIGTERM)
	await.Until(t, 20*time.Second, "web and db to end", func() bool {
		now := time.Now() // one time per poll: deaths seen in one poll are simultaneous
		for _, pid := range append([]int{dbPid}, webPids...) {
			if _, ok := deaths[pid]; !ok && !alive(pid) {
				deaths[pid] = now
			}
		}
		return len(deaths) == 3
	})
	if code := d.Wait(20 * time.Second); code != 0 {
		t.Errorf("the daemon exited %d after SIGTERM", code)
	}
	d.stopOnce.Do(func() {})
	for _, pid := range webPids {
		if deaths[pid].After(deaths[dbPid]) {
			t.Errorf("db (os pid %d) ended before web (os pid %d): %v", dbPid, pid, deaths)
		}
	}
	// The events say so too, if the daemon published them before closing.
	ev.waitClosed(10 * time.Second)
	all = ev.all()
	dbStop := slices.IndexFunc(all, func(e event) bool { return is("stop_process", "default.db")(e) && e.OSPid == dbPid })
	for _, pid := range append([]int{cacheSpawn.OSPid}, webPids...) {
		i := slices.IndexFunc(all, func(e event) bool { return e.Event == "exit" && e.OSPid == pid })
		if dbStop >= 0 && i >= 0 && i > dbStop {
			t.Errorf("db was asked to stop before its dependent's process %d exited", pid)
		}
	}
	ev.checkExits(true)
}

// rollingJob is the 3-slot job of TestRollingReplacement: a process
// that is ready after min_uptime, or, with a probe server, one whose
// http readiness probe passes once it listens on its $PORT.
type rollingJob struct {
	server string // the probe server's path, "" for sleep 300 and min_uptime
	port   int
}

// toml returns the job's config file, its env holding mk=mv and V=v.
func (r rollingJob) toml(mk, mv, v string) string {
	cfg := fmt.Sprintf("[[job]]\nname = \"web\"\nnumprocesses = 3\ngraceful_timeout = 2\nenv = { %s = %q, V = %q }\n", mk, mv, v)
	if r.server == "" {
		return cfg + "cmd = \"sleep 300\"\nmin_uptime = \"500ms\"\n"
	}
	return cfg + fmt.Sprintf("cmd = %q\nargs = [\"-delay\", \"200ms\"]\nport = %d\n", r.server, r.port) +
		"readiness = { http = \"http://127.0.0.1:$PORT/health\", interval = \"100ms\" }\n"
}

// json returns the job's config as a request body, its env holding mk=mv
// and V=v.
func (r rollingJob) json(mk, mv, v string) string {
	cfg := map[string]any{"name": "web", "numprocesses": 3, "graceful_timeout": 2, "env": map[string]string{mk: mv, "V": v}}
	if r.server == "" {
		cfg["cmd"], cfg["min_uptime"] = "sleep 300", "500ms"
	} else {
		cfg["cmd"], cfg["args"], cfg["port"] = r.server, []string{"-delay", "200ms"}, r.port
		cfg["readiness"] = map[string]string{"http": "http://127.0.0.1:$PORT/health", "interval": "100ms"}
	}
	return jsonString(cfg)
}

// TestRollingReplacement: a reload, a PUT with a changed env, the restart
// action and a SIGHUP with a changed config file each replace every
// process of a 3-slot job one slot at a time, in slot order, each old
// process stopped once the new one before it is ready: /proc never shows
// fewer than 2 of its processes. The job's processes are ready after
// min_uptime, or when their http readiness probe passes.
func TestRollingReplacement(t *testing.T) {
	t.Parallel()
	t.Run("min_uptime", func(t *testing.T) {
		t.Parallel()
		testRollingReplacement(t, rollingJob{})
	})
	t.Run("http readiness", func(t *testing.T) {
		t.Parallel()
		testRollingReplacement(t, rollingJob{server: probeServerBin(t), port: freePorts(t, 3)})
	})
}

func testRollingReplacement(t *testing.T, job rollingJob) {
	mk, mv := markerEnv(t)
	d := startDaemonProc(t, job.toml(mk, mv, "1"))
	ev := watchEvents(t, d, "job.default.web")
	pids := waitRunning(t, d.URL, "", "default", "web", 3)
	procs := watchProcs(t, hasEnv(mk, mv))
	steps := []struct {
		name string
		v    string // V in the new processes' env
		do   func()
	}{
		{"reload", "1", func() {
			mustDo(t, http.MethodPost, d.URL+"/jobs/default/web/state", `{"action": "reload"}`, http.StatusAccepted)
		}},
		{"PUT", "2", func() {
			mustDo(t, http.MethodPut, d.URL+"/jobs/default/web", job.json(mk, mv, "2"), http.StatusOK)
		}},
		{"restart", "2", func() {
			mustDo(t, http.MethodPost, d.URL+"/jobs/default/web/state", `{"action": "restart"}`, http.StatusAccepted)
		}},
		{"SIGHUP", "3", func() {
			d.WriteConfig(job.toml(mk, mv, "3"))
			d.Signal(syscall.SIGHUP)
		}},
	}
	for _, step := range steps {
		procs.reset()
		before := len(ev.all())
		step.do()
		var now []int
		await.Until(t, 20*time.Second, step.name+": every process replaced", func() bool {
			v := jobState(t, d, "web")
			now = v.slotPids()
			return v.Ready == 3 && len(now) == 3 && !slices.ContainsFunc(now, func(p int) bool { return p == 0 || slices.Contains(pids, p) })
		})
		waitDead(t, 10*time.Second, step.name+": the old processes to end", pids...)
		if n, polls, at := procs.fewest(); n < 2 {
			t.Errorf("%s: only %d of web's processes alive at %s (%d polls of /proc): not a rolling replacement", step.name, n, at.Format("15:04:05.000"), polls)
		}
		for _, p := range now {
			if got := procEnv(p)["V"]; got != step.v {
				t.Errorf("%s: a new process has V=%q, want %q", step.name, got, step.v)
			}
		}
		var slots []int
		for _, e := range ev.all()[before:] {
			if e.Event == "spawn" {
				slots = append(slots, e.Slot)
			}
		}
		if !slices.Equal(slots, []int{1, 2, 3}) {
			t.Errorf("%s: spawns in slots %v, want 1, 2, 3 in order", step.name, slots)
		}
		// Each slot's old process is stopped only once the new process of
		// the slot before is ready.
		evs := ev.all()[before:]
		for n := 2; n <= 3; n++ {
			ready := slices.IndexFunc(evs, isSlot("ready", "default.web", n-1))
			stop := slices.IndexFunc(evs, isSlot("stop_process", "default.web", n))
			if ready < 0 || stop < 0 || stop < ready {
				t.Errorf("%s: slot %d's old process was stopped (event %d) before slot %d's new one was ready (event %d)", step.name, n, stop, n-1, ready)
			}
		}
		if n := len(ev.filter(is("flap", "default.web"))); n != 0 {
			t.Errorf("%s: a replacement counted as a crash: %d flap events", step.name, n)
		}
		pids = now
	}
	if v := jobState(t, d, "web"); v.Restarts != 0 {
		t.Errorf("%d restarts counted for replacements", v.Restarts)
	}
	ev.checkExits(false)
}

// TestRollingReplacementUpdateFailed: a PUT whose new process never
// becomes ready (it exits at once, or its readiness probe never passes)
// stops the replacement at slot 1 with update_failed; slots 2 and 3 keep
// their old processes.
func TestRollingReplacementUpdateFailed(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, update string }{
		{"exits at once", `"cmd": "sh -c 'exit 1'"`},
		{"never ready", `"cmd": "sleep 300", "readiness": {"exec": "false", "interval": "100ms", "timeout": "100ms"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mk, mv := markerEnv(t)
			d := startDaemonProc(t, "")
			ev := watchEvents(t, d, "job.default.web")
			loadJob(t, d, fmt.Sprintf(`{"name": "web", "cmd": "sleep 300", "numprocesses": 3, "min_uptime": "500ms", "graceful_timeout": 1, "env": {%q: %q}}`, mk, mv))
			waitRunning(t, d.URL, "", "default", "web", 3)
			old := jobState(t, d, "web").slotPids()
			procs := watchProcs(t, hasEnv(mk, mv))
			mustDo(t, http.MethodPut, d.URL+"/jobs/default/web", fmt.Sprintf(`{"name": "web", %s, "numprocesses": 3,
				"min_uptime": "500ms", "graceful_timeout": 1, "env": {%q: %q}}`, tt.update, mk, mv), http.StatusOK)
			uf := ev.wait(15*time.Second, "update_failed", is("update_failed", "default.web"))
			if uf.Slot != 1 || uf.Reason == "" {
				t.Errorf("update_failed %v: want slot 1 and a reason", uf)
			}
			if tt.name == "never ready" {
				// Not at the first failed probe: its budget allows 3 failures
				// (failure_threshold) and more.
				spawn := ev.waitN(5*time.Second, "slot 1's new process", 4, is("spawn", "default.web"))
				if took := uf.At.Sub(spawn.At); took < 300*time.Millisecond {
					t.Errorf("update_failed %v after the new process spawned: its readiness probe had no time to pass", took)
				}
			}
			waitDead(t, 10*time.Second, "slot 1's old process to end", old[0])
			// Slots 2 and 3 keep their old processes, for good.
			never(t, time.Second, "slot 2 or 3 lost its old process after update_failed", func() bool {
				p := jobState(t, d, "web").slotPids()
				return len(p) != 3 || p[1] != old[1] || p[2] != old[2] || !alive(old[1]) || !alive(old[2])
			})
			for _, e := range ev.all() {
				if (e.Event == "stop_process" || e.Event == "exit") && e.Slot != 1 {
					t.Errorf("after the PUT: %v", e)
				}
			}
			if n, polls, _ := procs.fewest(); n < 2 {
				t.Errorf("only %d of web's processes alive at some point (%d polls of /proc)", n, polls)
			}
		})
	}
}

// TestStartEndsWhenTasksComplete: "ganger start" with a ganger.toml
// making its entries one-shot tasks (restart = "on-failure"), the second
// waiting for the first to complete, exits 0 by itself once they
// completed.
func TestStartEndsWhenTasksComplete(t *testing.T) {
	t.Parallel()
	dir := procfileApp(t, "one: echo one-done\ntwo: sleep 0.3; echo two-done\n", "")
	writeTestFile(t, dir, "ganger.toml", "[[job]]\nname = \"one\"\nrestart = \"on-failure\"\n\n"+
		"[[job]]\nname = \"two\"\nrestart = \"on-failure\"\ndepends_on = { one = \"completed\" }\n")
	out, errOut, code := runWith(t, runOptions{Dir: dir, Limit: 20 * time.Second}, "start", "--api", "off", "-p", "6500")
	if code != 0 {
		t.Errorf("ganger start: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, re := range []string{`one\.1 +\| one-done`, `two\.1 +\| two-done`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("ganger start's output does not match %s:\n%s", re, out)
		}
	}
	for _, job := range []string{"one", "two"} {
		if n := strings.Count(out, job+".1 started"); n != 1 {
			t.Errorf("%s started %d times, want once:\n%s", job, n, out)
		}
	}
	// two waited for one to complete.
	if i, j := strings.Index(out, "one.1 exited with code 0"), strings.Index(out, "two.1 started"); i < 0 || j < i {
		t.Errorf("two (depends_on one completed) started before one completed:\n%s", out)
	}
}

// TestStartEndsWhenOneGivesUp: "ganger start" exits 1 by itself when a
// task gave up (flapping with no retry, no backoff) and the others
// completed.
func TestStartEndsWhenOneGivesUp(t *testing.T) {
	t.Parallel()
	dir := procfileApp(t, "ok: echo fine\nbad: echo failing; exit 1\n", "")
	writeTestFile(t, dir, "ganger.toml", `
[[job]]
name = "ok"
restart = "on-failure"

[[job]]
name = "bad"
restart = "on-failure"
backoff = false
flapping = { attempts = 2, window = "10s", retry_in = 0, max_retry = 0 }
`)
	out, errOut, code := runWith(t, runOptions{Dir: dir, Limit: 20 * time.Second}, "start", "--api", "off", "-p", "6600")
	if code != 1 {
		t.Errorf("ganger start: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, re := range []string{`ok\.1 +\| fine`, `bad\.1 +\| failing`, `bad\.1 kept failing, giving up`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("ganger start's output does not match %s:\n%s", re, out)
		}
	}
	if n := strings.Count(out, "bad.1 started"); n != 2 {
		t.Errorf("bad started %d times, want 2 (attempts = 2, no retry):\n%s", n, out)
	}
}

// TestStartReadinessAndDependsOn: the ganger.toml's probes and
// depends_on apply to the Procfile's entries: web is reported ready only
// once its http probe passes (after its server listens), and worker,
// which depends on web being ready, starts only then.
func TestStartReadinessAndDependsOn(t *testing.T) {
	t.Parallel()
	srv := probeServerBin(t)
	port := freePorts(t, 1)
	dir := procfileApp(t, fmt.Sprintf("web: exec %s -delay 1s\nworker: echo worker-up; exec sleep 30\n", srv), "")
	writeTestFile(t, dir, "ganger.toml", `
[[job]]
name = "web"
readiness = { http = "http://127.0.0.1:$PORT/health", interval = "100ms" }

[[job]]
name = "worker"
depends_on = { web = "ready" }
`)
	g := startCmd(t, runOptions{Dir: dir}, "start", "--api", "off", "-p", strconv.Itoa(port))
	waitOutputMatch(t, g, `worker\.1 +\| worker-up`)
	out := g.Stdout()
	listening := regexp.MustCompile(`web\.1 +\| listening on`).FindStringIndex(out)
	ready := regexp.MustCompile(`system +\| web\.1 is ready \(its http probe passed\)`).FindStringIndex(out)
	worker := regexp.MustCompile(`system +\| worker\.1 started`).FindStringIndex(out)
	switch {
	case listening == nil || ready == nil || worker == nil:
		t.Errorf("want web's listening line, its ready line and worker's start in the output:\n%s", out)
	case !(listening[0] < ready[0] && ready[0] < worker[0]):
		t.Errorf("want web listening, then web ready, then worker started, in that order:\n%s", out)
	}
	mustContain(t, "ganger start's output", out, "worker waits for web ready")
	g.Signal(syscall.SIGINT)
	if code := g.Wait(30 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGINT, want 0\n%s", code, g.Stdout())
	}
}

// slowStop is a shell command that takes half a second to stop on
// SIGTERM: a job stopped at the same time as a quick one would end last.
const slowStop = `trap "sleep 0.5; exit 0" TERM; while :; do sleep 0.1; done`

// TestStopAllStopsDependentsFirst: the stopall command (over /channel)
// stops web, which depends on db, before db.
func TestStopAllStopsDependentsFirst(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, "")
	ev := watchEvents(t, d, "")
	loadJob(t, d, `{"name": "db", "cmd": "sleep 300", "graceful_timeout": 5}`)
	loadJob(t, d, fmt.Sprintf(`{"name": "web", "cmd": "sh", "args": ["-c", %q], "graceful_timeout": 5, "depends_on": {"db": "started"}}`, slowStop))
	web := ev.wait(10*time.Second, "web's spawn", is("spawn", "default.web"))
	db := ev.wait(10*time.Second, "db's spawn", is("spawn", "default.db"))
	channelCommand(t, d, "stopall")
	var webDied, dbDied time.Time
	await.Until(t, 15*time.Second, "web and db to end", func() bool {
		now := time.Now() // one time per poll: deaths seen in one poll are simultaneous
		if webDied.IsZero() && !alive(web.OSPid) {
			webDied = now
		}
		if dbDied.IsZero() && !alive(db.OSPid) {
			dbDied = now
		}
		return !webDied.IsZero() && !dbDied.IsZero()
	})
	if dbDied.Before(webDied) {
		t.Errorf("db ended %v before web, which depends on it", webDied.Sub(dbDied))
	}
	ev.wait(10*time.Second, "db's exit", is("exit", "default.db"))
	if i, j := ev.index(is("exit", "default.web")), ev.index(is("stop_process", "default.db")); i < 0 || j < i {
		t.Errorf("db was asked to stop (event %d) before web exited (event %d)", j, i)
	}
}

// TestStartCtrlCStopsDependentsFirst: "ganger start"'s Ctrl-C stops web,
// which depends on db (ganger.toml), before db.
func TestStartCtrlCStopsDependentsFirst(t *testing.T) {
	t.Parallel()
	dir := procfileApp(t, "db: exec sleep 30\nweb: "+slowStop+"\n", "")
	writeTestFile(t, dir, "ganger.toml", "[[job]]\nname = \"web\"\ndepends_on = { db = \"started\" }\n")
	g := startCmd(t, runOptions{Dir: dir}, "start", "--api", "off", "-p", "6700", "-t", "5")
	waitOutputMatch(t, g, `system +\| web\.1 started`)
	g.Signal(syscall.SIGINT)
	if code := g.Wait(20 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGINT, want 0\n%s", code, g.Stdout())
	}
	out := g.Stdout()
	web := regexp.MustCompile(`system +\| web\.1 stopped`).FindStringIndex(out)
	db := regexp.MustCompile(`system +\| db\.1 stopped`).FindStringIndex(out)
	if web == nil || db == nil || db[0] < web[0] {
		t.Errorf("want web.1 stopped, then db.1 stopped:\n%s", out)
	}
}

// TestStartFormationFlags: "ganger start -m job=N" (API.md; -c is its
// alias) runs N processes of the entry, numbered and ported by slot.
func TestStartFormationFlags(t *testing.T) {
	t.Parallel()
	for _, flag := range []string{"-m", "-c"} {
		t.Run(flag, func(t *testing.T) {
			t.Parallel()
			dir := procfileApp(t, "one: echo \"one port=$PORT\"\n", "")
			writeTestFile(t, dir, "ganger.toml", "[[job]]\nname = \"one\"\nrestart = \"on-failure\"\n")
			out, errOut, code := runWith(t, runOptions{Dir: dir, Limit: 20 * time.Second}, "start", "--api", "off", "-p", "6900", flag, "one=2")
			if code != 0 {
				t.Fatalf("ganger start %s one=2: exit %d, want 0\nstdout:\n%s\nstderr:\n%s", flag, code, out, errOut)
			}
			for _, re := range []string{`one\.1 +\| one port=6900`, `one\.2 +\| one port=6901`} {
				if !regexp.MustCompile(re).MatchString(out) {
					t.Errorf("ganger start %s one=2: no line matching %s:\n%s", flag, re, out)
				}
			}
		})
	}
}

// TestReplacingWaitingJobKeepsItWaiting: a reload, the restart action, a
// PUT or a SIGHUP-changed config of a job that waits for its
// dependencies (db, not loaded) leaves it waiting, without a process; it
// starts once db is ready.
func TestReplacingWaitingJobKeepsItWaiting(t *testing.T) {
	t.Parallel()
	const web = `
[[job]]
name = "web"
cmd = "sleep 300"
numprocesses = 2
min_uptime = "200ms"
graceful_timeout = 1
depends_on = { db = "ready" }
`
	for _, tt := range []struct {
		name string
		do   func(t *testing.T, d *daemonProc)
	}{
		{"reload", func(t *testing.T, d *daemonProc) {
			mustDo(t, http.MethodPost, d.URL+"/jobs/default/web/state", `{"action": "reload"}`, http.StatusAccepted)
		}},
		{"restart", func(t *testing.T, d *daemonProc) {
			mustDo(t, http.MethodPost, d.URL+"/jobs/default/web/state", `{"action": "restart"}`, http.StatusAccepted)
		}},
		{"PUT", func(t *testing.T, d *daemonProc) {
			mustDo(t, http.MethodPut, d.URL+"/jobs/default/web", `{"name": "web", "cmd": "sleep 301", "numprocesses": 2,
				"min_uptime": "200ms", "graceful_timeout": 1, "depends_on": {"db": "ready"}}`, http.StatusOK)
		}},
		{"SIGHUP", func(t *testing.T, d *daemonProc) {
			d.WriteConfig(strings.Replace(web, "sleep 300", "sleep 301", 1))
			d.Signal(syscall.SIGHUP)
			waitJob(t, d, "web", 10*time.Second, "the new config", func(v jobView) bool { return strings.Contains(string(v.Config), "sleep 301") })
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := startDaemonProc(t, web)
			ev := watchEvents(t, d, "job.default.web")
			waitJob(t, d, "web", 10*time.Second, "web waiting", func(v jobView) bool { return v.State == "waiting" })
			tt.do(t, d)
			never(t, 1500*time.Millisecond, "web spawned a process although db is not even loaded", func() bool {
				return ev.index(is("spawn", "default.web")) >= 0
			})
			v := jobState(t, d, "web")
			if v.State != "waiting" || v.slot(1).State != "waiting" || v.slot(2).State != "waiting" || len(v.WaitingFor) != 1 {
				t.Errorf("web after %s: %s", tt.name, jsonString(v))
			}
			loadJob(t, d, `{"name": "db", "cmd": "sleep 300", "min_uptime": "200ms", "graceful_timeout": 1}`)
			waitRunning(t, d.URL, "", "default", "web", 2)
		})
	}
}
