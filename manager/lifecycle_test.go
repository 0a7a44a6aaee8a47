package manager

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/process"
)

// The tests of this file run the loop on the fake system, under
// testing/synctest's fake clock (fake_test.go): every time they assert is
// exact.

// fakeJob is a job for the fake system: its processes carry
// GANGER_TEST_JOB=name, which the fake's scripts and counts go by.
func fakeJob(name string, mods ...func(*conf.Job)) conf.Job {
	j := conf.DefaultJob()
	j.Name = name
	j.Cmd = "prog"
	j.Env = map[string]string{"GANGER_TEST_JOB": name}
	j.GracefulTimeout = 2 * time.Second
	for _, f := range mods {
		f(&j)
	}
	return j
}

func load(t *testing.T, m *Manager, cfg conf.Job) string {
	t.Helper()
	name, err := m.Load(context.Background(), "default", cfg)
	if err != nil {
		t.Fatalf("loading %s: %v", cfg.Name, err)
	}
	return name
}

func info(t *testing.T, m *Manager, name string) JobInfo {
	t.Helper()
	synctest.Wait()
	ji, err := m.JobInfo(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ji
}

func slotStates(ji JobInfo) []string {
	var out []string
	for _, s := range ji.Slots {
		out = append(out, s.State)
	}
	return out
}

// gaps returns the times between each event of one type and the next event
// of another: exit → spawn gives the respawn delays.
func gaps(evs []timedEvent, from, to string) []time.Duration {
	var out []time.Duration
	var last time.Duration = -1
	for _, e := range evs {
		switch {
		case e.Type == from:
			last = e.at
		case e.Type == to && last >= 0:
			out = append(out, e.at-last)
			last = -1
		}
	}
	return out
}

func seconds(ds ...float64) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = time.Duration(d * float64(time.Second))
	}
	return out
}

func TestBackoffDelays(t *testing.T) {
	tests := []struct {
		name    string
		backoff conf.Backoff
		runFor  func(n int) time.Duration // how long the n-th process runs
		want    []time.Duration           // exit → next spawn
	}{
		{"doubling up to max", conf.Backoff{Enabled: true, Initial: 100 * time.Millisecond, Max: time.Second, Factor: 2, ResetAfter: 30 * time.Second},
			func(int) time.Duration { return 10 * time.Millisecond }, seconds(0.1, 0.2, 0.4, 0.8, 1, 1, 1)},
		{"factor 3", conf.Backoff{Enabled: true, Initial: 50 * time.Millisecond, Max: time.Second, Factor: 3, ResetAfter: 30 * time.Second},
			func(int) time.Duration { return 10 * time.Millisecond }, seconds(0.05, 0.15, 0.45, 1, 1)},
		{"a long run starts over", conf.Backoff{Enabled: true, Initial: 100 * time.Millisecond, Max: 10 * time.Second, Factor: 2, ResetAfter: 30 * time.Second},
			func(n int) time.Duration {
				if n == 3 {
					return 40 * time.Second
				}
				return 10 * time.Millisecond
			}, seconds(0.1, 0.2, 0.4, 0.1, 0.2, 0.4)},
		{"off: at once", conf.Backoff{},
			func(int) time.Duration { return 10 * time.Millisecond }, seconds(0, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakeBubble(t, func(f *fakeSystem) {
				f.script = func(_ process.Spec, n int) fakeScript { return fakeScript{runFor: tt.runFor(n), code: 1} }
			}, func(t *testing.T, f *fakeSystem, m *Manager) {
				rec := record(t, m)
				name := load(t, m, fakeJob("crash", func(j *conf.Job) {
					j.Flapping.Enabled = false
					j.Backoff = tt.backoff
				}))
				for len(gaps(rec.events(EventExit, EventSpawn), EventExit, EventSpawn)) < len(tt.want) {
					time.Sleep(10 * time.Millisecond)
				}
				if err := m.StopJob(context.Background(), name); err != nil {
					t.Fatal(err)
				}
				got := gaps(rec.events(EventExit, EventSpawn), EventExit, EventSpawn)[:len(tt.want)]
				if !slices.Equal(got, tt.want) {
					t.Errorf("respawn delays %v, want %v", got, tt.want)
				}
				if tt.backoff.Enabled {
					var delays []time.Duration
					for _, e := range rec.events(EventBackoff)[:len(tt.want)] {
						delays = append(delays, e.Delay)
					}
					if !slices.Equal(delays, tt.want) {
						t.Errorf("backoff events' delays %v, want %v", delays, tt.want)
					}
				} else if n := len(rec.events(EventBackoff)); n != 0 {
					t.Errorf("%d backoff events with backoff off", n)
				}
			})
		})
	}
}

func TestRestartPolicy(t *testing.T) {
	tests := []struct {
		policy    string
		success   []int
		code      int
		signal    syscall.Signal
		respawned bool
		state     string // the job's, once its process ended
	}{
		{conf.RestartAlways, nil, 0, 0, true, JobFlapping}, // its one slot is in backoff
		{conf.RestartAlways, nil, 1, 0, true, JobFlapping},
		{conf.RestartOnFailure, nil, 0, 0, false, JobCompleted},
		{conf.RestartOnFailure, nil, 1, 0, true, JobFlapping},
		{conf.RestartOnFailure, []int{0, 3}, 3, 0, false, JobCompleted},
		{conf.RestartOnFailure, nil, 0, syscall.SIGSEGV, true, JobFlapping},
		{conf.RestartNever, nil, 1, 0, false, JobStopped},
		{conf.RestartNever, nil, 0, 0, false, JobCompleted},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/code%d/sig%d/success%v", tt.policy, tt.code, tt.signal, tt.success), func(t *testing.T) {
			fakeBubble(t, func(f *fakeSystem) {
				f.script = func(process.Spec, int) fakeScript {
					return fakeScript{runFor: 5 * time.Second, code: tt.code, signal: tt.signal}
				}
			}, func(t *testing.T, f *fakeSystem, m *Manager) {
				name := load(t, m, fakeJob("task", func(j *conf.Job) {
					j.Restart = tt.policy
					if tt.success != nil {
						j.SuccessExitCodes = tt.success
					}
				}))
				time.Sleep(5*time.Second + 50*time.Millisecond) // the exit, and a respawn's backoff
				ji := info(t, m, name)
				if ji.State != tt.state {
					t.Errorf("job state %q, want %q (slots %v)", ji.State, tt.state, slotStates(ji))
				}
				time.Sleep(time.Second)
				if n := len(f.spawned("task")); (n > 1) != tt.respawned {
					t.Errorf("%d processes spawned, respawned = %v; want %v", n, n > 1, tt.respawned)
				}
				ji = info(t, m, name)
				if le := ji.Slots[0].LastExit; le == nil || le.ExitStatus != tt.code || le.TermSignal != int(tt.signal) {
					t.Errorf("last exit %+v, want code %d signal %d", le, tt.code, tt.signal)
				}
			})
		})
	}
}

// TestFlappingIsPerSlot: a slot whose process keeps crashing flaps, is
// retried after retry_in, and gives up after max_retry; its siblings keep
// their processes, never signalled.
func TestFlappingIsPerSlot(t *testing.T) {
	fakeBubble(t, func(f *fakeSystem) {
		f.script = func(spec process.Spec, _ int) fakeScript {
			if envOf(spec, "PORT") == "5001" { // slot 2
				return fakeScript{runFor: 100 * time.Millisecond, code: 1}
			}
			return fakeScript{}
		}
	}, func(t *testing.T, f *fakeSystem, m *Manager) {
		rec := record(t, m)
		name := load(t, m, fakeJob("web", func(j *conf.Job) {
			j.NumProcesses = 3
			j.Port = 5000
			j.Backoff.Enabled = false
			j.Flapping = conf.Flapping{Enabled: true, Attempts: 3, Window: 10 * time.Second, RetryIn: 5 * time.Second, MaxRetry: 2}
		}))
		time.Sleep(time.Minute)
		ji := info(t, m, name)
		if got, want := slotStates(ji), []string{SlotRunning, SlotFatal, SlotRunning}; !slices.Equal(got, want) {
			t.Fatalf("slot states %v, want %v", got, want)
		}
		if ji.State != JobDegraded || ji.Flapping.State != "gave_up" || ji.Ready != 2 {
			t.Errorf("job state %q, flapping %+v, ready %d; want degraded, gave_up, 2", ji.State, ji.Flapping, ji.Ready)
		}
		flaps, giveups := rec.events(EventFlap), rec.events(EventGiveUp)
		if len(flaps) != 2 || len(giveups) != 1 {
			t.Fatalf("%d flap and %d giveup events, want 2 and 1", len(flaps), len(giveups))
		}
		for _, e := range append(flaps, giveups...) {
			if e.Slot != 2 {
				t.Errorf("%s event for slot %d, want 2", e.Type, e.Slot)
			}
		}
		// 3 crashes flap; the retry comes retry_in after the flap.
		spawns := rec.events(EventSpawn)
		var slot2 []time.Duration
		for _, e := range spawns {
			if e.Slot == 2 {
				slot2 = append(slot2, e.at)
			}
		}
		if len(slot2) != 9 {
			t.Fatalf("slot 2 spawned %d times, want 9 (3 per try, 3 tries)", len(slot2))
		}
		if gap := slot2[3] - flaps[0].at; gap != 5*time.Second {
			t.Errorf("retry %v after the flap, want retry_in 5s", gap)
		}
		for _, p := range f.spawned("web") {
			if port := envOf(p.spec, "PORT"); port != "5001" && len(p.signalled()) > 0 {
				t.Errorf("healthy sibling on %s was signalled: %v", port, p.signalled())
			}
		}
		if n := len(f.spawned("web")); n != 11 {
			t.Errorf("%d processes spawned, want 11 (one per healthy slot)", n)
		}
	})
}

// TestStopCancelsPendingRetry: a user's stop during a flapping pause
// cancels the retry; a start then resets the slot's history.
func TestStopCancelsPendingRetry(t *testing.T) {
	fakeBubble(t, func(f *fakeSystem) {
		f.script = func(process.Spec, int) fakeScript { return fakeScript{runFor: 10 * time.Millisecond, code: 1} }
	}, func(t *testing.T, f *fakeSystem, m *Manager) {
		rec := record(t, m)
		name := load(t, m, fakeJob("crash", func(j *conf.Job) {
			j.Backoff.Enabled = false
			j.Flapping = conf.Flapping{Enabled: true, Attempts: 2, Window: 10 * time.Second, RetryIn: 5 * time.Second, MaxRetry: 5}
		}))
		time.Sleep(time.Second)
		if len(rec.events(EventFlap)) != 1 {
			t.Fatalf("want one flap, got %v", rec.events(EventFlap))
		}
		if err := m.StopJob(context.Background(), name); err != nil {
			t.Fatal(err)
		}
		before := len(f.spawned("crash"))
		time.Sleep(time.Minute)
		if n := len(f.spawned("crash")); n != before {
			t.Fatalf("%d spawns after a stop during the pause", n-before)
		}
		if got := slotStates(info(t, m, name)); !slices.Equal(got, []string{SlotExited}) {
			t.Fatalf("slot states %v after the stop, want [exited]", got)
		}
		if err := m.StartJob(context.Background(), name); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if ji := info(t, m, name); ji.Flapping.State != "ok" || len(f.spawned("crash")) != before+1 {
			t.Fatalf("after a start: flapping %+v, %d new spawns; want ok, 1", ji.Flapping, len(f.spawned("crash"))-before)
		}
	})
}

func TestSpawnFailuresGiveUp(t *testing.T) {
	errNoProgram := fmt.Errorf("starting prog: %w", process.ErrNotFound)
	tests := []struct {
		name     string
		flapping bool
		errors   int // spawn_error events before giveup
	}{
		{"flapping off: max_retry failed starts", false, 6},
		{"flapping on: like crashes", true, 5 * 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakeBubble(t, func(f *fakeSystem) {
				f.script = func(process.Spec, int) fakeScript { return fakeScript{spawnErr: errNoProgram} }
			}, func(t *testing.T, f *fakeSystem, m *Manager) {
				rec := record(t, m)
				name := load(t, m, fakeJob("bad", func(j *conf.Job) { j.Flapping.Enabled = tt.flapping }))
				time.Sleep(10 * time.Minute)
				if n := len(rec.events(EventSpawnError)); n != tt.errors {
					t.Errorf("%d spawn_error events, want %d", n, tt.errors)
				}
				if g := rec.events(EventGiveUp); len(g) != 1 {
					t.Fatalf("giveup events %v, want one", g)
				}
				if ji := info(t, m, name); ji.State != JobGaveUp || ji.Slots[0].State != SlotFatal || !strings.Contains(ji.Slots[0].SpawnError, "no such program") {
					t.Errorf("state %q %v, spawn error %q; want gave_up [fatal] and why", ji.State, slotStates(ji), ji.Slots[0].SpawnError)
				}
				if !strings.Contains(rec.events(EventSpawnError)[0].Reason, "no such program") {
					t.Errorf("spawn_error reason %q", rec.events(EventSpawnError)[0].Reason)
				}
			})
		})
	}
}

func TestGracefulStopDeadline(t *testing.T) {
	tests := []struct {
		name     string
		script   fakeScript
		grace    time.Duration
		killAt   time.Duration // -1: no SIGKILL
		exitedAt time.Duration
	}{
		{"obeys at once", fakeScript{}, 3 * time.Second, -1, 0},
		{"takes a second", fakeScript{termDelay: time.Second}, 3 * time.Second, -1, time.Second},
		{"ignores the stop signal", fakeScript{ignoreTerm: true}, 3 * time.Second, 3 * time.Second, 3 * time.Second},
		{"graceful_timeout 0 kills at once", fakeScript{ignoreTerm: true}, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fakeBubble(t, func(f *fakeSystem) {
				f.script = func(process.Spec, int) fakeScript { return tt.script }
			}, func(t *testing.T, f *fakeSystem, m *Manager) {
				name := load(t, m, fakeJob("svc", func(j *conf.Job) { j.GracefulTimeout = tt.grace }))
				synctest.Wait()
				rec := record(t, m)
				if err := m.StopJob(context.Background(), name); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Minute)
				var kill time.Duration = -1
				for _, e := range rec.events(EventKill) {
					if e.Signal == int(syscall.SIGKILL) {
						kill = e.at
					}
				}
				if kill != tt.killAt {
					t.Errorf("SIGKILL at %v, want %v", kill, tt.killAt)
				}
				exits := rec.events(EventExit)
				if len(exits) != 1 || exits[0].at != tt.exitedAt || exits[0].Reason != ReasonStopped {
					t.Fatalf("exit events %+v, want one at %v with reason stopped", exits, tt.exitedAt)
				}
			})
		})
	}
}

func TestMinUptime(t *testing.T) {
	fakeBubble(t, func(f *fakeSystem) {
		f.script = func(_ process.Spec, n int) fakeScript {
			if n == 0 {
				return fakeScript{runFor: 500 * time.Millisecond, code: 0} // ends before min_uptime
			}
			return fakeScript{}
		}
	}, func(t *testing.T, f *fakeSystem, m *Manager) {
		rec := record(t, m)
		name := load(t, m, fakeJob("svc", func(j *conf.Job) { j.MinUptime = 2 * time.Second }))
		time.Sleep(10 * time.Second)
		spawns, ready := rec.events(EventSpawn), rec.events(EventReady)
		if len(spawns) != 2 || len(ready) != 1 {
			t.Fatalf("%d spawns and %d ready events, want 2 and 1", len(spawns), len(ready))
		}
		if d := ready[0].at - spawns[1].at; d != 2*time.Second {
			t.Errorf("ready %v after the spawn, want min_uptime 2s", d)
		}
		if ji := info(t, m, name); ji.State != JobRunning || ji.Restarts != 1 || ji.Slots[0].Restarts != 1 {
			t.Errorf("state %q, restarts %d/%d; want running, 1", ji.State, ji.Restarts, ji.Slots[0].Restarts)
		}
	})
}

// probeScript answers probe attempts in order: true passes; after the
// list, the last answer repeats. It also records when each attempt came.
type probeScript struct {
	answers  []bool
	n        atomic.Int64
	targets  chan string
	attempts []time.Duration
	start    time.Time
}

func (p *probeScript) answer(target string) error {
	i := int(p.n.Add(1)) - 1
	select {
	case p.targets <- target:
	default:
	}
	ok := p.answers[min(i, len(p.answers)-1)]
	if !ok {
		return errors.New("connection refused")
	}
	return nil
}

func TestReadinessProbe(t *testing.T) {
	ps := &probeScript{answers: []bool{false, true, true, false, false, true, true}, targets: make(chan string, 1)}
	fakeBubble(t, func(f *fakeSystem) { f.probe = ps.answer }, func(t *testing.T, f *fakeSystem, m *Manager) {
		rec := record(t, m)
		name := load(t, m, fakeJob("web", func(j *conf.Job) {
			j.Port = 8000
			j.Readiness = &conf.Probe{HTTP: "http://127.0.0.1:$PORT/health", Interval: time.Second, Timeout: time.Second,
				InitialDelay: 3 * time.Second, SuccessThreshold: 2, FailureThreshold: 2}
		}))
		time.Sleep(2 * time.Second)
		if ji := info(t, m, name); ji.State != JobStarting || ji.Ready != 0 {
			t.Fatalf("before the probe passed: state %q ready %d", ji.State, ji.Ready)
		}
		time.Sleep(20 * time.Second)
		if got := <-ps.targets; got != "http://127.0.0.1:8000/health" {
			t.Errorf("probe target %q, want $PORT expanded", got)
		}
		// Attempts at 3 (fail), 4, 5 (ready), 6, 7 (unready), 8, 9 (ready).
		var got []string
		for _, e := range rec.events(EventReady, EventUnready) {
			got = append(got, fmt.Sprintf("%s@%v", e.Type, e.at))
		}
		if want := []string{"ready@5s", "unready@7s", "ready@9s"}; !slices.Equal(got, want) {
			t.Errorf("readiness events %v, want %v", got, want)
		}
		if ji := info(t, m, name); ji.State != JobRunning || !ji.Slots[0].Ready || len(f.spawned("web")) != 1 {
			t.Errorf("state %q ready %v spawns %d; want running, ready, 1 (unready never restarts)", ji.State, ji.Slots[0].Ready, len(f.spawned("web")))
		}
	})
}

func TestLivenessProbeRestarts(t *testing.T) {
	ps := &probeScript{answers: []bool{true, true, false, false, false, true}, targets: make(chan string, 1)}
	fakeBubble(t, func(f *fakeSystem) { f.probe = ps.answer }, func(t *testing.T, f *fakeSystem, m *Manager) {
		rec := record(t, m)
		name := load(t, m, fakeJob("web", func(j *conf.Job) {
			j.MinUptime = 0
			j.Liveness = &conf.Probe{TCP: "127.0.0.1:9", Interval: time.Second, Timeout: time.Second, SuccessThreshold: 1, FailureThreshold: 3}
		}))
		time.Sleep(30 * time.Second)
		unhealthy := rec.events(EventUnhealthy)
		if len(unhealthy) != 1 || unhealthy[0].at != 4*time.Second || !strings.Contains(unhealthy[0].Reason, "connection refused") {
			t.Fatalf("unhealthy events %+v, want one at 4s (attempts at 0,1 pass; 2,3,4 fail) saying why", unhealthy)
		}
		exits := rec.events(EventExit)
		if len(exits) != 1 || exits[0].Reason != ReasonUnhealthy {
			t.Fatalf("exits %+v, want one with reason unhealthy", exits)
		}
		if len(rec.events(EventBackoff)) != 1 || len(f.spawned("web")) != 2 {
			t.Errorf("want a backoff then a respawn, got %d backoffs, %d spawns", len(rec.events(EventBackoff)), len(f.spawned("web")))
		}
		if ji := info(t, m, name); ji.Restarts != 1 || ji.Slots[0].LastExit.Reason != ReasonUnhealthy {
			t.Errorf("restarts %d, last exit %+v", ji.Restarts, ji.Slots[0].LastExit)
		}
	})
}

func TestDependsOn(t *testing.T) {
	fakeBubble(t, func(f *fakeSystem) {
		f.script = func(spec process.Spec, _ int) fakeScript {
			if envOf(spec, "GANGER_TEST_JOB") == "migrate" {
				return fakeScript{runFor: 3 * time.Second}
			}
			return fakeScript{termDelay: 500 * time.Millisecond}
		}
	}, func(t *testing.T, f *fakeSystem, m *Manager) {
		rec := record(t, m)
		web := load(t, m, fakeJob("web", func(j *conf.Job) {
			j.DependsOn = map[string]string{"db": conf.DependReady, "migrate": conf.DependCompleted}
		}))
		ji := info(t, m, web)
		want := []Dependency{{"default.db", conf.DependReady}, {"default.migrate", conf.DependCompleted}}
		if ji.State != JobWaiting || !reflect.DeepEqual(ji.WaitingFor, want) {
			t.Fatalf("web: state %q waiting for %v, want waiting for %v", ji.State, ji.WaitingFor, want)
		}
		if w := rec.events(EventWaiting); len(w) != 1 || !reflect.DeepEqual(w[0].WaitingFor, want) {
			t.Fatalf("waiting events %+v", w)
		}
		time.Sleep(time.Second)
		load(t, m, fakeJob("db", func(j *conf.Job) { j.MinUptime = 2 * time.Second }))
		load(t, m, fakeJob("migrate", func(j *conf.Job) { j.Restart = conf.RestartOnFailure }))
		time.Sleep(10 * time.Second)
		at := func(job string) time.Duration {
			for _, e := range rec.events(EventSpawn) {
				if e.Name == "default."+job {
					return e.at
				}
			}
			t.Fatalf("%s never spawned", job)
			return 0
		}
		// db ready at 1+2s, migrate completed at 1+3s: web starts at 4s.
		if got := at("web"); got != 4*time.Second {
			t.Errorf("web spawned at %v, want 4s (db ready at 3s, migrate completed at 4s)", got)
		}
		if len(info(t, m, web).WaitingFor) != 0 {
			t.Error("web still lists conditions")
		}

		// Stopping everything stops web before db.
		if err := m.StopAll(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		var order []string
		for _, e := range rec.events(EventStopProcess, EventExit) {
			if e.Name != "default.migrate" {
				order = append(order, e.Type+" "+strings.TrimPrefix(e.Name, "default."))
			}
		}
		if want := []string{"stop_process web", "exit web", "stop_process db", "exit db"}; !slices.Equal(order, want) {
			t.Errorf("stop order %v, want %v", order, want)
		}
	})
}

func TestDependsOnCycleRefused(t *testing.T) {
	fakeBubble(t, nil, func(t *testing.T, f *fakeSystem, m *Manager) {
		load(t, m, fakeJob("a", func(j *conf.Job) { j.DependsOn = map[string]string{"b": conf.DependStarted} }))
		_, err := m.Load(context.Background(), "default", fakeJob("b", func(j *conf.Job) { j.DependsOn = map[string]string{"a": conf.DependReady} }))
		if err == nil || !strings.Contains(err.Error(), "default.a") || !strings.Contains(err.Error(), "default.b") {
			t.Fatalf("loading the closing job of a cycle: %v, want an error naming the cycle", err)
		}
		if names, _ := m.Jobs(context.Background(), ""); len(names) != 1 {
			t.Fatalf("jobs %v after a refused load", names)
		}
	})
}

// TestRollingReload: a reload replaces slot by slot, each new process
// ready before the next slot stops, so 2 of 3 always run.
func TestRollingReload(t *testing.T) {
	fakeBubble(t, func(f *fakeSystem) {
		f.script = func(process.Spec, int) fakeScript { return fakeScript{termDelay: 500 * time.Millisecond} }
	}, func(t *testing.T, f *fakeSystem, m *Manager) {
		name := load(t, m, fakeJob("web", func(j *conf.Job) { j.NumProcesses = 3 }))
		time.Sleep(2 * time.Second)
		old := info(t, m, name).Processes
		rec := record(t, m)
		if err := m.ReloadJob(context.Background(), name); err != nil {
			t.Fatal(err)
		}
		minLive := 3
		for range 100 {
			time.Sleep(50 * time.Millisecond)
			minLive = min(minLive, f.liveCount("web"))
		}
		if minLive < 2 {
			t.Errorf("only %d processes alive during the reload, want 2 or more", minLive)
		}
		var seq []string
		for _, e := range rec.events(EventStopProcess, EventSpawn, EventReady) {
			seq = append(seq, fmt.Sprintf("%s%d@%v", e.Type, e.Slot, e.at))
		}
		want := []string{
			"stop_process1@0s", "spawn1@500ms", "ready1@1.5s",
			"stop_process2@1.5s", "spawn2@2s", "ready2@3s",
			"stop_process3@3s", "spawn3@3.5s", "ready3@4.5s",
		}
		if !slices.Equal(seq, want) {
			t.Errorf("sequence %v\nwant %v", seq, want)
		}
		ji := info(t, m, name)
		if ji.State != JobRunning || len(ji.Processes) != 3 || slices.ContainsFunc(ji.Processes, func(p int) bool { return slices.Contains(old, p) }) {
			t.Errorf("after the reload: state %q processes %v (old %v)", ji.State, ji.Processes, old)
		}
		if ji.Restarts != 0 {
			t.Errorf("a reload counted %d restarts", ji.Restarts)
		}
	})
}

// TestUpdateFailedStopsTheRollout: a new config whose process crashes
// stops the replacement at its first slot; the other old processes stay.
func TestUpdateFailedStopsTheRollout(t *testing.T) {
	fakeBubble(t, func(f *fakeSystem) {
		f.script = func(spec process.Spec, _ int) fakeScript {
			if envOf(spec, "VERSION") == "2" {
				return fakeScript{runFor: 200 * time.Millisecond, code: 1}
			}
			return fakeScript{}
		}
	}, func(t *testing.T, f *fakeSystem, m *Manager) {
		rec := record(t, m)
		name := load(t, m, fakeJob("web", func(j *conf.Job) { j.NumProcesses = 3 }))
		time.Sleep(2 * time.Second)
		old := info(t, m, name).Processes
		err := m.Update(context.Background(), name, fakeJob("web", func(j *conf.Job) {
			j.NumProcesses = 3
			j.Env["VERSION"] = "2"
		}))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		fails := rec.events(EventUpdateFail)
		if len(fails) != 1 || fails[0].Slot != 1 || fails[0].Reason == "" {
			t.Fatalf("update_failed events %+v, want one for slot 1 with a reason", fails)
		}
		ji := info(t, m, name)
		if ji.Slots[1].Pid != old[1] || ji.Slots[2].Pid != old[2] {
			t.Errorf("slots 2 and 3 have pids %d, %d; want the old %d, %d", ji.Slots[1].Pid, ji.Slots[2].Pid, old[1], old[2])
		}
	})
}

func TestScaleDownRemovesHighestSlots(t *testing.T) {
	fakeBubble(t, nil, func(t *testing.T, f *fakeSystem, m *Manager) {
		rec := record(t, m)
		name := load(t, m, fakeJob("web", func(j *conf.Job) { j.NumProcesses = 3 }))
		synctest.Wait()
		first := info(t, m, name).Slots[0].Pid
		if _, err := m.Scale(context.Background(), name, ScaleOp{'=', 1}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		var reaped []int
		for _, e := range rec.events(EventReap) {
			reaped = append(reaped, e.Slot)
		}
		if !slices.Equal(reaped, []int{3, 2}) {
			t.Errorf("reaped slots %v, want [3 2]", reaped)
		}
		ji := info(t, m, name)
		if len(ji.Slots) != 1 || ji.Slots[0].Pid != first {
			t.Errorf("slots %+v, want slot 1 with pid %d", ji.Slots, first)
		}
		for _, e := range rec.events(EventExit) {
			if e.Reason != ReasonStopped {
				t.Errorf("exit of a scaled-away process with reason %q, want stopped", e.Reason)
			}
		}
	})
}

// TestUserActionsAreNotCrashes: reloads, stops of a process, scale-downs
// and updates never count toward flapping or backoff.
func TestUserActionsAreNotCrashes(t *testing.T) {
	fakeBubble(t, nil, func(t *testing.T, f *fakeSystem, m *Manager) {
		rec := record(t, m)
		name := load(t, m, fakeJob("web", func(j *conf.Job) {
			j.Flapping = conf.Flapping{Enabled: true, Attempts: 2, Window: time.Minute, RetryIn: time.Second, MaxRetry: 1}
		}))
		ctx := context.Background()
		for range 3 {
			if err := m.ReloadJob(ctx, name); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
			if err := m.StopProcess(ctx, info(t, m, name).Processes[0]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
			m.Scale(ctx, name, ScaleOp{'=', 0})
			m.Scale(ctx, name, ScaleOp{'=', 1})
			time.Sleep(2 * time.Second)
			if err := m.Update(ctx, name, fakeJob("web", func(j *conf.Job) { j.Env["V"] = "2" })); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
		}
		if bad := rec.events(EventFlap, EventGiveUp, EventBackoff); len(bad) > 0 {
			t.Fatalf("user actions counted as crashes: %+v", bad)
		}
		if ji := info(t, m, name); ji.State != JobRunning || ji.Restarts != 0 {
			t.Fatalf("state %q restarts %d, want running and 0", ji.State, ji.Restarts)
		}
		for _, e := range rec.events(EventExit) {
			if e.Reason != ReasonStopped {
				t.Errorf("exit after a user's action with reason %q", e.Reason)
			}
		}
	})
}

// TestScaleDownDuringRollout: slots a scale-down removes end the rollout
// there, without update_failed.
func TestScaleDownDuringRollout(t *testing.T) {
	fakeBubble(t, func(f *fakeSystem) {
		f.script = func(process.Spec, int) fakeScript { return fakeScript{termDelay: time.Second} }
	}, func(t *testing.T, f *fakeSystem, m *Manager) {
		rec := record(t, m)
		name := load(t, m, fakeJob("web", func(j *conf.Job) { j.NumProcesses = 3 }))
		time.Sleep(2 * time.Second)
		if err := m.ReloadJob(context.Background(), name); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2500 * time.Millisecond) // slot 1 replaced, slot 2 stopping
		if _, err := m.Scale(context.Background(), name, ScaleOp{'=', 1}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		if fails := rec.events(EventUpdateFail); len(fails) != 0 {
			t.Fatalf("update_failed after a scale-down ended the rollout: %+v", fails)
		}
		if ji := info(t, m, name); ji.State != JobRunning || len(ji.Slots) != 1 || f.liveCount("web") != 1 {
			t.Fatalf("state %q slots %v live %d", ji.State, slotStates(ji), f.liveCount("web"))
		}
	})
}

func TestStopBoundAddsUpAlongDependencies(t *testing.T) {
	fakeBubble(t, nil, func(t *testing.T, f *fakeSystem, m *Manager) {
		grace := func(d time.Duration) func(*conf.Job) { return func(j *conf.Job) { j.GracefulTimeout = d } }
		load(t, m, fakeJob("db", grace(10*time.Second)))
		load(t, m, fakeJob("api", grace(3*time.Second), func(j *conf.Job) { j.DependsOn = map[string]string{"db": conf.DependStarted} }))
		load(t, m, fakeJob("web", grace(5*time.Second), func(j *conf.Job) { j.DependsOn = map[string]string{"api": conf.DependStarted} }))
		load(t, m, fakeJob("cron", grace(20*time.Second)))
		if d, err := m.StopBound(context.Background()); err != nil || d != 20*time.Second {
			t.Fatalf("StopBound = %v, %v; want 20s (cron alone beats web+api+db's 18s)", d, err)
		}
		load(t, m, fakeJob("edge", grace(5*time.Second), func(j *conf.Job) { j.DependsOn = map[string]string{"web": conf.DependStarted} }))
		if d, _ := m.StopBound(context.Background()); d != 23*time.Second {
			t.Fatalf("StopBound = %v, want 23s (edge, web, api, db)", d)
		}
	})
}

// TestReloadOfAWaitingJobKeepsItWaiting: a rolling replacement replaces
// processes; it starts no slot whose dependencies do not hold.
func TestReloadOfAWaitingJobKeepsItWaiting(t *testing.T) {
	fakeBubble(t, nil, func(t *testing.T, f *fakeSystem, m *Manager) {
		rec := record(t, m)
		name := load(t, m, fakeJob("web", func(j *conf.Job) {
			j.NumProcesses = 2
			j.DependsOn = map[string]string{"db": conf.DependReady}
		}))
		if err := m.ReloadJob(context.Background(), name); err != nil {
			t.Fatal(err)
		}
		err := m.Update(context.Background(), name, fakeJob("web", func(j *conf.Job) {
			j.NumProcesses = 2
			j.DependsOn = map[string]string{"db": conf.DependReady}
			j.Env["V"] = "2"
		}))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		if ji := info(t, m, name); ji.State != JobWaiting || len(f.spawned("web")) != 0 || len(rec.events(EventUpdateFail)) != 0 {
			t.Fatalf("state %q, %d spawned, %d update_failed; want waiting, 0, 0", ji.State, len(f.spawned("web")), len(rec.events(EventUpdateFail)))
		}
	})
}
