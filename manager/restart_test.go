package manager

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/conf"
)

func exited(code int) syscall.WaitStatus { return syscall.WaitStatus(code << 8) }

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	base := func(mods ...func(*conf.Job)) conf.Job {
		j := conf.DefaultJob()
		for _, f := range mods {
			f(&j)
		}
		return j
	}
	noFlap := func(j *conf.Job) { j.Flapping.Enabled = false }
	tests := []struct {
		name    string
		cfg     conf.Job
		hist    history
		facts   exitFacts
		verdict verdict
		delay   time.Duration
		reason  string
		after   history // the history afterwards (crashes compared by count)
	}{
		{"never: stays exited", base(func(j *conf.Job) { j.Restart = conf.RestartNever }), history{},
			exitFacts{status: exited(1)}, stayExited, 0, "exited with code 1; restart policy never", history{}},
		{"on-failure: a success stays exited", base(func(j *conf.Job) { j.Restart = conf.RestartOnFailure }), history{},
			exitFacts{status: exited(0)}, stayExited, 0, "a success; restart policy on-failure", history{}},
		{"on-failure: another success code", base(func(j *conf.Job) { j.Restart = conf.RestartOnFailure; j.SuccessExitCodes = []int{0, 2} }), history{},
			exitFacts{status: exited(2)}, stayExited, 0, "exited with code 2, a success", history{}},
		{"on-failure: a signal is a failure", base(func(j *conf.Job) { j.Restart = conf.RestartOnFailure }), history{},
			exitFacts{status: syscall.WaitStatus(syscall.SIGSEGV)}, respawnLater, 100 * time.Millisecond, "was killed by SIGSEGV: respawning in 100ms",
			history{crashes: []time.Time{t0}, delay: 100 * time.Millisecond}},
		{"never: a liveness failure is still restarted", base(func(j *conf.Job) { j.Restart = conf.RestartNever }), history{},
			exitFacts{status: exited(0), unhealthy: true}, respawnLater, 100 * time.Millisecond, "failed its liveness probe",
			history{crashes: []time.Time{t0}, delay: 100 * time.Millisecond}},
		{"backoff grows by factor", base(noFlap), history{delay: 400 * time.Millisecond},
			exitFacts{status: exited(1), ranFor: time.Second}, respawnLater, 800 * time.Millisecond, "respawning in 800ms",
			history{delay: 800 * time.Millisecond}},
		{"backoff is capped at max", base(noFlap), history{delay: 20 * time.Second},
			exitFacts{status: exited(1)}, respawnLater, 30 * time.Second, "respawning in 30s", history{delay: 30 * time.Second}},
		{"a long run resets the backoff", base(noFlap), history{delay: 20 * time.Second},
			exitFacts{status: exited(1), ranFor: 31 * time.Second}, respawnLater, 100 * time.Millisecond, "respawning in 100ms",
			history{delay: 100 * time.Millisecond}},
		{"backoff off: at once", base(noFlap, func(j *conf.Job) { j.Backoff.Enabled = false }), history{},
			exitFacts{status: exited(1)}, respawnNow, 0, "exited with code 1: respawning", history{}},
		{"the 5th crash within the window flaps", base(), history{crashes: []time.Time{t0.Add(-9 * time.Second), t0.Add(-5 * time.Second), t0.Add(-3 * time.Second), t0.Add(-time.Second)}, delay: time.Second},
			exitFacts{status: exited(1)}, flapPause, 7 * time.Second, "5 unexpected ends within 10s: flapping, retrying in 7s",
			history{retries: 1}},
		{"crashes older than the window do not count", base(), history{crashes: []time.Time{t0.Add(-11 * time.Second), t0.Add(-5 * time.Second), t0.Add(-3 * time.Second), t0.Add(-time.Second)}},
			exitFacts{status: exited(1)}, respawnLater, 100 * time.Millisecond, "respawning in 100ms",
			history{crashes: make([]time.Time, 4), delay: 100 * time.Millisecond}},
		{"max_retry flaps give up", base(), history{crashes: make4(t0), retries: 5},
			exitFacts{status: exited(1)}, giveUp, 0, "giving up", history{retries: 5}},
		{"a run of a whole window clears the retries", base(), history{crashes: make4(t0), retries: 5},
			exitFacts{status: exited(1), ranFor: 10 * time.Second}, flapPause, 7 * time.Second, "flapping", history{retries: 1}},
		{"failed starts give up without flapping", base(noFlap), history{spawnFailures: 5},
			exitFacts{spawnFailed: true}, giveUp, 0, "could not start 6 times in a row; giving up", history{spawnFailures: 6}},
		{"a failed start under never is retried", base(noFlap, func(j *conf.Job) { j.Restart = conf.RestartNever }), history{},
			exitFacts{spawnFailed: true}, respawnLater, 100 * time.Millisecond, "could not start: respawning in 100ms",
			history{spawnFailures: 1, delay: 100 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.hist
			d := decide(tt.cfg, &h, tt.facts, t0)
			if d.verdict != tt.verdict || d.delay != tt.delay || !strings.Contains(d.reason, tt.reason) {
				t.Errorf("decide = %+v, want verdict %d, delay %v, a reason with %q", d, tt.verdict, tt.delay, tt.reason)
			}
			if len(h.crashes) != len(tt.after.crashes) || h.delay != tt.after.delay || h.retries != tt.after.retries || h.spawnFailures != tt.after.spawnFailures {
				t.Errorf("history afterwards %+v, want %+v", h, tt.after)
			}
		})
	}
}

func make4(t0 time.Time) []time.Time {
	return []time.Time{t0.Add(-4 * time.Second), t0.Add(-3 * time.Second), t0.Add(-2 * time.Second), t0.Add(-time.Second)}
}

func kinds(acts []action) []actionKind {
	var out []actionKind
	for _, a := range acts {
		out = append(out, a.kind)
	}
	return out
}

// TestSlotStopAndGone: what follows a stop and the end of a slot's
// process, for each reason it stopped.
func TestSlotStopAndGone(t *testing.T) {
	now := time.Unix(1000, 0)
	cfg := conf.DefaultJob()
	tests := []struct {
		why       stopIntent
		active    bool
		state     string // after gone
		wantKinds []actionKind
	}{
		{stopToExit, true, SlotExited, []actionKind{actDisarm}},
		{stopToRespawn, true, SlotStopping, []actionKind{actDisarm, actSpawn}},
		{stopToRespawn, false, SlotExited, []actionKind{actDisarm}},
		{stopToRemove, true, SlotStopping, []actionKind{actDisarm, actRemove}},
		{stopUnhealthy, true, SlotBackoff, []actionKind{actDisarm, actLog, actPublish, actArm}},
	}
	for _, tt := range tests {
		s := &slot{n: 1, state: SlotRunning, proc: &proc{pid: 1}}
		if got := kinds(s.stop(tt.why, now)); s.state != SlotStopping || len(got) != 2 || got[1] != actStop {
			t.Fatalf("stop(%d): state %q, actions %v", tt.why, s.state, got)
		}
		acts := s.gone(cfg, exitFacts{status: syscall.WaitStatus(syscall.SIGTERM)}, ExitInfo{}, tt.active, now)
		if got := kinds(acts); s.state != tt.state || !equalKinds(got, tt.wantKinds) || s.proc != nil {
			t.Errorf("stop(%d) then gone (active %v): state %q, actions %v; want %q, %v", tt.why, tt.active, s.state, got, tt.state, tt.wantKinds)
		}
	}
	// A scale-down's removal stands against a later stop, and keep takes
	// the slot back.
	s := &slot{n: 3, state: SlotRunning, proc: &proc{pid: 1}}
	s.stop(stopToRemove, now)
	s.stop(stopToExit, now)
	if s.intent != stopToRemove {
		t.Fatalf("intent %d after remove then exit, want remove", s.intent)
	}
	s.keep(true)
	if s.intent != stopToRespawn {
		t.Fatalf("intent %d after keep, want respawn", s.intent)
	}
}

func equalKinds(a, b []actionKind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestJobStateSumsUpSlots(t *testing.T) {
	ok := &ExitInfo{success: true}
	bad := &ExitInfo{}
	tests := []struct {
		active bool
		slots  []*slot
		want   string
	}{
		{false, []*slot{{state: SlotRunning}}, JobStopped},
		{true, nil, JobRunning},
		{true, []*slot{{state: SlotRunning}, {state: SlotRunning}}, JobRunning},
		{true, []*slot{{state: SlotRunning}, {state: SlotStarting}}, JobStarting},
		{true, []*slot{{state: SlotRunning}, {state: SlotStopping}}, JobStarting}, // a replacement in progress
		{true, []*slot{{state: SlotWaiting}, {state: SlotWaiting}}, JobWaiting},
		{true, []*slot{{state: SlotRunning}, {state: SlotBackoff}}, JobDegraded},
		{true, []*slot{{state: SlotStarting}, {state: SlotFatal}}, JobDegraded},
		{true, []*slot{{state: SlotBackoff}, {state: SlotBackoff}}, JobFlapping},
		{true, []*slot{{state: SlotFatal}, {state: SlotFatal}}, JobGaveUp},
		{true, []*slot{{state: SlotExited, lastExit: ok}, {state: SlotExited, lastExit: ok}}, JobCompleted},
		{true, []*slot{{state: SlotExited, lastExit: ok}, {state: SlotExited, lastExit: bad}}, JobStopped},
		{true, []*slot{{state: SlotExited, lastExit: ok}, {state: SlotFatal}}, JobStopped},
		{true, []*slot{{state: SlotRunning}, {state: SlotExited, lastExit: ok}}, JobRunning},
		{true, []*slot{{state: SlotRunning}, {state: SlotExited, lastExit: bad}}, JobDegraded},
	}
	for i, tt := range tests {
		j := &job{active: tt.active, slots: tt.slots}
		j.cfg.NumProcesses = len(tt.slots)
		for k, s := range tt.slots {
			s.n = k + 1
		}
		if got := j.state(); got != tt.want {
			t.Errorf("case %d: state %q, want %q", i, got, tt.want)
		}
	}
}
