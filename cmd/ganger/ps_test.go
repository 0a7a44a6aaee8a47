package main

import (
	"strings"
	"testing"
	"time"

	"github.com/ganger/ganger/client"
)

func TestExitText(t *testing.T) {
	now := time.Unix(1_700_000_100, 0)
	at := float64(now.Add(-75 * time.Second).Unix())
	for _, c := range []struct {
		name     string
		exit     *client.ExitInfo
		ps, with string // without and with the time
	}{
		{"none", nil, "-", "-"},
		{"success", &client.ExitInfo{Reason: "exited", Time: at}, "ok", "ok (1m15s ago)"},
		{"code", &client.ExitInfo{ExitStatus: 3, Reason: "exited", Time: at}, "code 3", "code 3 (1m15s ago)"},
		{"signal", &client.ExitInfo{TermSignal: 9, Reason: "signal", Time: at}, "SIGKILL", "SIGKILL (1m15s ago)"},
		{"stopped", &client.ExitInfo{TermSignal: 15, Reason: "stopped", Time: at}, "SIGTERM (stopped)", "SIGTERM (stopped, 1m15s ago)"},
		{"stopped cleanly", &client.ExitInfo{Reason: "stopped", Time: at}, "ok (stopped)", "ok (stopped, 1m15s ago)"},
		{"unhealthy", &client.ExitInfo{ExitStatus: 1, Reason: "unhealthy", Time: at}, "code 1 (unhealthy)", "code 1 (unhealthy, 1m15s ago)"},
		{"oom", &client.ExitInfo{TermSignal: 9, Reason: "oom", Time: at}, "SIGKILL (oom)", "SIGKILL (oom, 1m15s ago)"},
		{"realtime signal", &client.ExitInfo{TermSignal: 34, Reason: "signal", Time: at}, "signal 34", "signal 34 (1m15s ago)"},
		{"no time", &client.ExitInfo{ExitStatus: 2, Reason: "exited"}, "code 2", "code 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := exitText(c.exit, time.Time{}); got != c.ps {
				t.Errorf("without the time: %q, want %q", got, c.ps)
			}
			if got := exitText(c.exit, now); got != c.with {
				t.Errorf("with the time: %q, want %q", got, c.with)
			}
		})
	}
}

func TestWriteStatus(t *testing.T) {
	now := time.Unix(1_700_000_100, 0)
	ago := func(d time.Duration) float64 { return float64(now.Add(-d).Unix()) }
	info := &client.JobInfo{
		Name: "app.web", State: "degraded", Ready: 1, NumProcesses: 2, Restarts: 4,
		Flapping: client.FlapInfo{State: "flapping", Retries: 1},
		Slots: []client.SlotInfo{
			{Slot: 1, State: "running", Pid: 3, OSPid: 4242, Ready: true, Since: ago(3 * time.Hour)},
			{Slot: 2, State: "backoff", Restarts: 4, Since: ago(2 * time.Second),
				LastExit: &client.ExitInfo{ExitStatus: 3, Reason: "exited", Time: ago(2 * time.Second)}},
		},
	}
	var b strings.Builder
	writeStatus(&b, info, now)
	want := `app.web: degraded, 1/2 ready, 4 restarts, flapping detected (retry 1)
NAME   STATE    PID   READY  RESTARTS  LAST EXIT        SINCE
web.1  running  4242  yes    0         -                3h00m
web.2  backoff  -     no     4         code 3 (2s ago)  2s
`
	if b.String() != want {
		t.Errorf("writeStatus:\n%s\nwant:\n%s", b.String(), want)
	}

	b.Reset()
	writeStatus(&b, &client.JobInfo{Name: "default.db", State: "gave_up", NumProcesses: 0, Restarts: 1,
		Flapping: client.FlapInfo{State: "gave_up", Retries: 5}}, now)
	if want := "default.db: gave_up, 0/0 ready, 1 restart, gave up after 5 retries\n"; b.String() != want {
		t.Errorf("writeStatus without slots: %q, want %q", b.String(), want)
	}
}
