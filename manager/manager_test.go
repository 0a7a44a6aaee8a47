package manager

import (
	"context"
	"errors"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
)

var bg = context.Background()

func TestLoadPublishesLoadStartSpawnInOrder(t *testing.T) {
	m := newManager(t, Options{})
	sub := subscribe(t, m, "job.default.web")
	mustLoad(t, m, mkJob("web", "sleep 30", func(j *conf.Job) { j.NumProcesses = 2 }))
	var got []string
	for len(got) < 4 {
		got = append(got, nextEvent(t, sub, 5*time.Second, func(Event) bool { return true }).Type)
	}
	want := "load,start,spawn,spawn"
	if strings.Join(got, ",") != want {
		t.Fatalf("events = %v, want %s", got, want)
	}
}

func TestScaleKeepsExactlyNChildren(t *testing.T) {
	m := newManager(t, Options{})
	name := mustLoad(t, m, mkJob("web", "sleep 30", func(j *conf.Job) { j.Shell = false }))
	tests := []struct {
		op   ScaleOp
		want int
	}{
		{ScaleOp{'+', 3}, 4}, {ScaleOp{'-', 1}, 3}, {ScaleOp{'=', 5}, 5}, {ScaleOp{'-', 2}, 3}, {ScaleOp{'+', 2}, 5}, {ScaleOp{'=', 0}, 0}, {ScaleOp{'=', 2}, 2},
	}
	for _, tt := range tests {
		n, err := m.Scale(bg, name, tt.op)
		if err != nil || n != tt.want {
			t.Fatalf("Scale(%v) = %d, %v; want %d", tt.op, n, err, tt.want)
		}
		await.Until(t, 10*time.Second, "exactly "+strconv.Itoa(tt.want)+" live children", func() bool {
			pids := osPids(t, m, name)
			if len(pids) != tt.want {
				return false
			}
			for _, p := range pids {
				if st, ok := readStat(p); !ok || st.state == 'Z' || st.pgrp != p {
					return false
				}
			}
			info, _ := m.JobInfo(bg, name)
			return info.RunningOut == 0 && info.Running == tt.want
		})
	}
	if _, err := m.Scale(bg, name, ScaleOp{'-', 3}); ganger.ErrorCode(err) != ganger.EBADREQUEST {
		t.Fatalf("scale below 0: err = %v, want bad_request", err)
	}
}

// TestStopKillsWholeGroup proves stop, unload and shutdown end grandchildren
// too and leave no zombie.
func TestStopKillsWholeGroup(t *testing.T) {
	stops := map[string]func(m *Manager, name string) error{
		"stop_job": func(m *Manager, name string) error { return m.StopJob(bg, name) },
		"unload":   func(m *Manager, name string) error { return m.Unload(bg, name) },
		"shutdown": func(m *Manager, name string) error {
			ctx, cancel := context.WithTimeout(bg, await.Scale(20*time.Second))
			defer cancel()
			return m.Close(ctx)
		},
	}
	for how, stop := range stops {
		t.Run(how, func(t *testing.T) {
			m := newManager(t, Options{})
			name := mustLoad(t, m, mkJob("web", "sleep 30 & sleep 31 & exec sleep 32", func(j *conf.Job) { j.NumProcesses = 2 }))
			groups := osPids(t, m, name)
			await.Until(t, 5*time.Second, "grandchildren started", func() bool { return liveInGroups(groups) == 6 })
			if err := stop(m, name); err != nil {
				t.Fatal(err)
			}
			await.Until(t, 10*time.Second, "every group member gone", func() bool { return liveInGroups(groups) == 0 })
			if how != "shutdown" {
				await.Until(t, 5*time.Second, "no process left in the manager", func() bool {
					pids, _ := m.Pids(bg, "")
					return len(pids) == 0
				})
			}
			await.Until(t, 5*time.Second, "no zombie", func() bool { return len(myZombies()) == 0 })
		})
	}
}

func TestIgnoredTermIsKilledAfterGracefulTimeout(t *testing.T) {
	m := newManager(t, Options{})
	sub := subscribe(t, m, "job.default.stubborn")
	grace := 700 * time.Millisecond
	name := mustLoad(t, m, mkJob("stubborn", `trap "" TERM; echo ready; while :; do sleep 0.05; done`, func(j *conf.Job) {
		j.GracefulTimeout = grace
	}))
	nextEvent(t, sub, 5*time.Second, isType(EventSpawn))
	await.Until(t, 5*time.Second, "trap installed", func() bool {
		lines, _ := m.Logs(bg, name, 10)
		return len(lines) > 0
	})
	start := time.Now()
	if err := m.StopJob(bg, name); err != nil {
		t.Fatal(err)
	}
	kill := nextEvent(t, sub, 5*time.Second, func(e Event) bool { return e.Type == EventKill && e.Signal == int(syscall.SIGKILL) })
	if elapsed := time.Since(start); elapsed < grace {
		t.Fatalf("SIGKILL sent after %v, before the graceful timeout %v", elapsed, grace)
	}
	exit := nextEvent(t, sub, 5*time.Second, isType(EventExit))
	if exit.TermSignal != int(syscall.SIGKILL) || exit.Pid != kill.Pid {
		t.Fatalf("exit = %+v, want killed by SIGKILL", exit)
	}
}

func TestExitEventOncePerProcessWithStatus(t *testing.T) {
	tests := []struct {
		name, cmd  string
		stop       bool
		status     int
		termSignal int
	}{
		{"code", "exit 3", false, 3, 0},
		{"zero", "true", false, 0, 0},
		{"signal", "kill -USR1 $$; sleep 5", false, 0, int(syscall.SIGUSR1)},
		{"stopped", "sleep 1000", true, 0, int(syscall.SIGTERM)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(t, Options{})
			sub := subscribe(t, m, "exit")
			name := mustLoad(t, m, mkJob("j", tt.cmd, func(j *conf.Job) { j.Flapping.Enabled = false; j.NumProcesses = 1 }))
			if tt.stop {
				await.Until(t, 5*time.Second, "spawn", func() bool { p, _ := m.Pids(bg, name); return len(p) == 1 })
				m.StopJob(bg, name)
			}
			first := nextEvent(t, sub, 10*time.Second, isType(EventExit))
			if first.ExitStatus != tt.status || first.TermSignal != tt.termSignal || first.Once {
				t.Fatalf("exit = %+v, want status %d signal %d", first, tt.status, tt.termSignal)
			}
			m.StopJob(bg, name)
			await.Until(t, 10*time.Second, "all gone", func() bool { p, _ := m.Pids(bg, ""); return len(p) == 0 })
			seen := map[int]int{first.Pid: 1}
			for {
				select {
				case msg := <-sub.C():
					seen[msg.Event.Pid]++
					if seen[msg.Event.Pid] > 1 {
						t.Fatalf("two exit events for pid %d", msg.Event.Pid)
					}
					continue
				default:
				}
				break
			}
		})
	}
}

func TestLargeOutputWithoutReaderFinishes(t *testing.T) {
	m := newManager(t, Options{})
	sub := subscribe(t, m, "exit")
	mustLoad(t, m, mkJob("big", "head -c 52428800 /dev/zero | tr '\\0' 'x'; echo; echo done", func(j *conf.Job) {
		j.Flapping.Enabled = false
	}))
	ev := nextEvent(t, sub, 60*time.Second, isType(EventExit))
	if ev.ExitStatus != 0 {
		t.Fatalf("exit = %+v", ev)
	}
	lines, _ := m.Logs(bg, "big", 1)
	if len(lines) != 1 || lines[0].Data != "done" {
		t.Fatalf("last line = %+v, want done", lines)
	}
	m.StopJob(bg, "big")
}

func TestOutputLinesAndTrailingPartialLine(t *testing.T) {
	m := newManager(t, Options{})
	sub := subscribe(t, m, "exit")
	name := mustLoad(t, m, mkJob("out", `echo one; echo two >&2; printf 'bad\377utf'; printf ' tail'`, func(j *conf.Job) {
		j.Flapping.Enabled = false
		j.NumProcesses = 1
	}))
	ev := nextEvent(t, sub, 10*time.Second, isType(EventExit))
	m.StopJob(bg, name)
	lines, err := m.Logs(bg, name, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lines {
		if l.Pid == ev.Pid {
			got = append(got, l.Stream+":"+l.Data)
		}
	}
	wantSet := map[string]bool{"stdout:one": true, "stderr:two": true, "stdout:bad\uFFFDutf tail": true}
	if len(got) != 3 {
		t.Fatalf("lines = %q", got)
	}
	for _, g := range got {
		if !wantSet[g] {
			t.Fatalf("unexpected line %q in %q", g, got)
		}
	}
}

func TestOutputIsPublishedBeforeExit(t *testing.T) {
	m := newManager(t, Options{})
	out := m.SubscribeOutput(10000, JobOutputTopic("default.chatty"))
	defer out.Close()
	sub := subscribe(t, m, "exit")
	mustLoad(t, m, mkJob("chatty", `i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); done`, func(j *conf.Job) {
		j.Flapping.Enabled = false
	}))
	nextEvent(t, sub, 10*time.Second, isType(EventExit))
	var all strings.Builder
	for {
		select {
		case msg := <-out.C():
			all.Write(msg.Event.Data)
			continue
		default:
		}
		break
	}
	if !strings.HasSuffix(all.String(), "line199\n") {
		t.Fatalf("output at exit ends with %q, want all 200 lines", tail(all.String(), 30))
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func TestReloadAndUpdateReplaceProcesses(t *testing.T) {
	m := newManager(t, Options{})
	name := mustLoad(t, m, mkJob("web", "sleep 30", func(j *conf.Job) { j.NumProcesses = 2; j.Env = map[string]string{"V": "1"} }))
	before := osPids(t, m, name)
	if err := m.ReloadJob(bg, name); err != nil {
		t.Fatal(err)
	}
	await.Until(t, 10*time.Second, "two fresh processes", func() bool {
		after := osPids(t, m, name)
		return len(after) == 2 && after[0] != before[0] && after[0] != before[1] && after[1] != before[0] && after[1] != before[1]
	})
	if liveInGroups(before) != 0 {
		t.Fatalf("old processes still alive after reload")
	}
	cfg := mkJob("web", "sleep 30", func(j *conf.Job) { j.NumProcesses = 1; j.Env = map[string]string{"V": "2"} })
	if err := m.Update(bg, name, cfg); err != nil {
		t.Fatal(err)
	}
	await.Until(t, 10*time.Second, "one process of the new config", func() bool {
		pids, _ := m.Pids(bg, name)
		if len(pids) != 1 {
			return false
		}
		info, err := m.ProcessInfo(bg, pids[0])
		return err == nil && info.Env["V"] == "2"
	})
	if err := m.Update(bg, name, mkJob("other", "true")); ganger.ErrorCode(err) != ganger.EINVALID {
		t.Fatalf("update with another name: err = %v, want invalid_config", err)
	}
}

func TestSpawnErrorsPublishAndFlap(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*conf.Job)
		want string
	}{
		{"no program", func(j *conf.Job) { j.Shell = false; j.Cmd = "/nonexistent/prog" }, "/nonexistent/prog"},
		{"no cwd", func(j *conf.Job) { j.Cwd = "/nonexistent/dir" }, "/nonexistent/dir"},
		{"no user", func(j *conf.Job) { j.UID = "no-such-user-ganger" }, "no-such-user-ganger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newManager(t, Options{})
			sub := subscribe(t, m, "job.default.bad")
			name := mustLoad(t, m, mkJob("bad", "true", tt.mod, func(j *conf.Job) {
				j.Flapping = conf.Flapping{Enabled: true, Attempts: 3, Window: 10 * time.Second, RetryIn: 10 * time.Second, MaxRetry: 1}
			}))
			ev := nextEvent(t, sub, 5*time.Second, isType(EventSpawnError))
			if !strings.Contains(ev.Reason, tt.want) {
				t.Fatalf("reason %q does not name %q", ev.Reason, tt.want)
			}
			nextEvent(t, sub, 5*time.Second, isType(EventFlap))
			if info, err := m.JobInfo(bg, name); err != nil || info.State != "flapping" {
				t.Fatalf("info = %+v, %v", info, err)
			}
		})
	}
}

func TestCommitRunsOnceOutsideNumprocesses(t *testing.T) {
	m := newManager(t, Options{})
	sub := subscribe(t, m, "exit")
	name := mustLoad(t, m, mkJob("web", `sleep 30`))
	pid, err := m.Commit(bg, name, CommitOptions{Env: map[string]string{"X": "commit"}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := m.ProcessInfo(bg, pid)
	if err != nil || !info.Once || info.Env["X"] != "commit" {
		t.Fatalf("commit info = %+v, %v", info, err)
	}
	jobPids, _ := m.Pids(bg, name)
	all, _ := m.Pids(bg, "")
	if len(jobPids) != 1 || len(all) != 2 || jobPids[0] == pid {
		t.Fatalf("job pids %v, all %v, commit %d", jobPids, all, pid)
	}
	if err := m.StopProcess(bg, pid); err != nil {
		t.Fatal(err)
	}
	ev := nextEvent(t, sub, 10*time.Second, isType(EventExit))
	if ev.Pid != pid || !ev.Once {
		t.Fatalf("exit = %+v, want the commit's with once", ev)
	}
	await.Until(t, 5*time.Second, "commit not respawned", func() bool { p, _ := m.Pids(bg, ""); return len(p) == 1 })
}

func TestStopProcessIsRespawned(t *testing.T) {
	m := newManager(t, Options{})
	name := mustLoad(t, m, mkJob("web", "sleep 30", func(j *conf.Job) { j.Port = 7000; j.NumProcesses = 2 }))
	pids, _ := m.Pids(bg, name)
	first, _ := m.ProcessInfo(bg, pids[0])
	if err := m.StopProcess(bg, pids[0]); err != nil {
		t.Fatal(err)
	}
	await.Until(t, 10*time.Second, "a replacement in the same slot", func() bool {
		now, _ := m.Pids(bg, name) // by slot
		if len(now) != 2 || now[0] == pids[0] {
			return false
		}
		info, _ := m.ProcessInfo(bg, now[0])
		return info.Env["PORT"] == first.Env["PORT"] && info.Slot == 1
	})
	if first.Env["PORT"] != "7000" {
		t.Fatalf("first process PORT = %q, want 7000", first.Env["PORT"])
	}
}

func TestSendReachesStdinAndCustomStream(t *testing.T) {
	m := newManager(t, Options{})
	name := mustLoad(t, m, mkJob("echo", "cat", func(j *conf.Job) { j.Shell = false; j.RedirectInput = true }))
	pids, _ := m.Pids(bg, name)
	if err := m.Send(bg, pids[0], "", []byte("hello stdin\n")); err != nil {
		t.Fatal(err)
	}
	await.Until(t, 5*time.Second, "echoed line", func() bool {
		l, _ := m.Logs(bg, name, 1)
		return len(l) == 1 && l[0].Data == "hello stdin"
	})
	name2 := mustLoad(t, m, mkJob("stream", "cat <&3 >&3", func(j *conf.Job) { j.CustomStreams = []string{"ctl"} }))
	pids2, _ := m.Pids(bg, name2)
	if err := m.Send(bg, pids2[0], "ctl", []byte("on ctl\n")); err != nil {
		t.Fatal(err)
	}
	await.Until(t, 5*time.Second, "echoed on ctl", func() bool {
		l, _ := m.Logs(bg, name2, 1)
		return len(l) == 1 && l[0].Data == "on ctl" && l[0].Stream == "ctl"
	})
	if err := m.Send(bg, pids2[0], "nope", []byte("x")); ganger.ErrorCode(err) != ganger.EBADREQUEST {
		t.Fatalf("send to an unknown stream: %v", err)
	}
}

func TestArgsExpansionAndEnv(t *testing.T) {
	m := newManager(t, Options{})
	os.Setenv("GANGER_TEST_OSVAR", "fromos")
	defer os.Unsetenv("GANGER_TEST_OSVAR")
	name := mustLoad(t, m, mkJob("args", "/bin/echo", func(j *conf.Job) {
		j.Shell = false
		j.Args = []string{"$PORT", "${NAME}", "$$", "$1", "$UNSET", "$GANGER_TEST_OSVAR"}
		j.Env = map[string]string{"NAME": "web"}
		j.Port = 8000
		j.Flapping.Enabled = false
	}))
	await.Until(t, 5*time.Second, "output", func() bool { l, _ := m.Logs(bg, name, 1); return len(l) == 1 })
	l, _ := m.Logs(bg, name, 1)
	if want := "8000 web $$ $1 $UNSET fromos"; l[0].Data != want {
		t.Fatalf("echo printed %q, want %q", l[0].Data, want)
	}
}

func TestErrorsForUnknownAndDuplicate(t *testing.T) {
	m := newManager(t, Options{})
	mustLoad(t, m, mkJob("web", "sleep 30"))
	if _, err := m.Load(bg, "default", mkJob("web", "sleep 30")); ganger.ErrorCode(err) != ganger.ECONFLICT {
		t.Fatalf("duplicate load: %v", err)
	}
	bad := mkJob("bad name", "")
	if _, err := m.Load(bg, "default", bad); ganger.ErrorCode(err) != ganger.EINVALID {
		t.Fatalf("invalid load: %v", err)
	}
	if _, err := m.JobInfo(bg, "default.nope"); ganger.ErrorCode(err) != ganger.ENOTFOUND {
		t.Fatalf("unknown job: %v", err)
	}
	if _, err := m.Jobs(bg, "nosession"); ganger.ErrorCode(err) != ganger.ENOTFOUND {
		t.Fatalf("unknown session: %v", err)
	}
	if err := m.StopProcess(bg, 999); ganger.ErrorCode(err) != ganger.ENOTFOUND {
		t.Fatalf("unknown pid: %v", err)
	}
}

func TestJobStatsAreNumbers(t *testing.T) {
	m := newManager(t, Options{})
	name := mustLoad(t, m, mkJob("web", "sleep 30", func(j *conf.Job) { j.NumProcesses = 2 }))
	st, err := m.JobStats(bg, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Stats) != 2 || st.RSS == nil || *st.RSS == 0 || st.Stats[0].CreateTime == nil {
		t.Fatalf("stats = %+v", st)
	}
}

func TestLogDirReceivesOutput(t *testing.T) {
	dir := t.TempDir() + "/logs"
	m := newManager(t, Options{LogDir: dir})
	name := mustLoad(t, m, mkJob("web", "echo to-the-file; sleep 30"))
	await.Until(t, 5*time.Second, "log file line", func() bool {
		b, _ := os.ReadFile(dir + "/default.web.log")
		return strings.Contains(string(b), "stdout | to-the-file")
	})
	_ = name
}

func TestCloseAfterCloseAndCallsAfterClose(t *testing.T) {
	m := New(Options{ReapAll: true})
	mustLoad(t, m, mkJob("web", "sleep 30"))
	ctx, cancel := context.WithTimeout(bg, await.Scale(20*time.Second))
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Jobs(bg, ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

// Regression: unloading a job waited for its running commits to end by
// themselves; unload must stop them too.
func TestUnloadStopsCommits(t *testing.T) {
	m := newManager(t, Options{})
	name := mustLoad(t, m, mkJob("web", "sleep 30"))
	pid, err := m.Commit(bg, name, CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := m.ProcessInfo(bg, pid)
	ctx, cancel := context.WithTimeout(bg, await.Scale(10*time.Second))
	defer cancel()
	if err := m.Unload(ctx, name); err != nil {
		t.Fatalf("unload: %v", err)
	}
	if n := liveInGroups([]int{info.OSPid}); n != 0 {
		t.Fatalf("%d processes of the commit left", n)
	}
}

func TestSendBoundedByContextAndCloseInput(t *testing.T) {
	m := newManager(t, Options{})
	name := mustLoad(t, m, mkJob("deaf", "sleep 30", func(j *conf.Job) { j.RedirectInput = true }))
	pids, _ := m.Pids(bg, name)
	ctx, cancel := context.WithTimeout(bg, 300*time.Millisecond)
	defer cancel()
	big := make([]byte, 4<<20) // more than a pipe holds
	if err := m.Send(ctx, pids[0], "", big); ganger.ErrorCode(err) != ganger.ECONFLICT {
		t.Fatalf("send to a process that does not read: %v", err)
	}
	wc := mustLoad(t, m, mkJob("wc", "wc -c", func(j *conf.Job) { j.RedirectInput = true; j.Flapping.Enabled = false }))
	wpids, _ := m.Pids(bg, wc)
	if err := m.Send(bg, wpids[0], "", []byte("12345")); err != nil {
		t.Fatal(err)
	}
	if err := m.CloseInput(bg, wpids[0], ""); err != nil {
		t.Fatal(err)
	}
	await.Until(t, 5*time.Second, "wc's count", func() bool {
		l, _ := m.Logs(bg, wc, 1)
		return len(l) == 1 && strings.TrimSpace(l[0].Data) == "5"
	})
}

func TestScaleIsCapped(t *testing.T) {
	m := newManager(t, Options{})
	name := mustLoad(t, m, mkJob("web", "sleep 30"))
	if _, err := m.Scale(bg, name, ScaleOp{'=', conf.MaxNumProcesses + 1}); ganger.ErrorCode(err) != ganger.EBADREQUEST {
		t.Fatalf("scale above the cap: %v", err)
	}
}

func TestLogFileRotates(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, Options{LogDir: dir, LogFileMax: 4096, LogFileKeep: 2})
	sub := subscribe(t, m, "exit")
	mustLoad(t, m, mkJob("chatty", `i=0; while [ $i -lt 500 ]; do echo "line $i of the rotating log"; i=$((i+1)); done`, func(j *conf.Job) {
		j.Flapping.Enabled = false
		j.NumProcesses = 1
	}))
	nextEvent(t, sub, 10*time.Second, isType(EventExit))
	m.StopJob(bg, "chatty")
	base := dir + "/default.chatty.log"
	for _, f := range []string{base, base + ".1", base + ".2"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if st.Size() > 4096 {
			t.Fatalf("%s is %d bytes, over the 4096 limit", f, st.Size())
		}
	}
	if _, err := os.Stat(base + ".3"); !os.IsNotExist(err) {
		t.Fatalf("more than 2 rotated files kept: %v", err)
	}
	b, _ := os.ReadFile(base)
	if !strings.Contains(string(b), "line 499 of the rotating log") {
		t.Fatalf("newest file lacks the last line: %q", tail(string(b), 100))
	}
}

// TestJobRevisionChangesWithTheAnswer: two JobInfos of a job with the same
// revision are equal, and every change (a scale, a stop, an exit) gives a
// new revision.
func TestJobRevisionChangesWithTheAnswer(t *testing.T) {
	m := newManager(t, Options{})
	name := mustLoad(t, m, mkJob("web", "sleep 30", func(j *conf.Job) { j.NumProcesses = 2 }))
	seen := map[uint64]JobInfo{}
	check := func() JobInfo {
		t.Helper()
		info, err := m.JobInfo(bg, name)
		if err != nil {
			t.Fatal(err)
		}
		if old, ok := seen[info.Revision]; ok && !reflect.DeepEqual(old, info) {
			t.Fatalf("revision %d describes two different answers:\n%+v\n%+v", info.Revision, old, info)
		}
		seen[info.Revision] = info
		return info
	}
	await.Until(t, 10*time.Second, "2 running", func() bool { return check().Running == 2 })
	before := check()
	if again := check(); again.Revision != before.Revision {
		t.Fatalf("an unchanged job got a new revision: %d then %d", before.Revision, again.Revision)
	}
	if _, err := m.Scale(bg, name, ScaleOp{Op: '=', N: 3}); err != nil {
		t.Fatal(err)
	}
	scaled := check()
	if scaled.Revision == before.Revision {
		t.Fatal("a scale kept the revision")
	}
	sub := subscribe(t, m, "exit")
	await.Until(t, 10*time.Second, "3 running", func() bool { return check().Running == 3 })
	victim := check().Processes[0]
	if err := m.StopProcess(bg, victim); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, sub, 15*time.Second, func(e Event) bool { return e.Pid == victim })
	if after := check(); slices.Contains(after.Processes, victim) {
		t.Fatalf("pid %d still listed after its exit event: %v", victim, after.Processes)
	}
}
