package client_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ganger/ganger/client"
	"github.com/ganger/ganger/internal/await"
)

// TestJobInfoDecoding: the answer of GET /jobs/{s}/{j} as API.md has it,
// slots without a process (pid null) and with a last exit included.
func TestJobInfoDecoding(t *testing.T) {
	const answer = `{"name":"default.web","state":"degraded","active":true,"running":1,"running_out":0,
	"ready":1,"numprocesses":2,"restarts":3,"processes":[7],
	"slots":[
	  {"slot":1,"state":"running","pid":7,"os_pid":4242,"ready":true,"restarts":0,"since":1700000000.5,"last_exit":null},
	  {"slot":2,"state":"backoff","pid":null,"os_pid":null,"ready":false,"restarts":3,"since":1700000010,
	   "last_exit":{"exit_status":3,"term_signal":0,"reason":"exited","time":1700000010}}],
	"waiting_for":[{"name":"default.db","condition":"ready"}],
	"config":{"name":"web"},"flapping":{"state":"ok","retries":0}}`
	var j client.JobInfo
	if err := json.Unmarshal([]byte(answer), &j); err != nil {
		t.Fatal(err)
	}
	if j.State != "degraded" || j.Ready != 1 || j.Restarts != 3 || len(j.Slots) != 2 || len(j.WaitingFor) != 1 {
		t.Fatalf("JobInfo: %+v", j)
	}
	if s := j.Slots[0]; s.Slot != 1 || s.State != "running" || s.Pid != 7 || s.OSPid != 4242 || !s.Ready || s.LastExit != nil ||
		!client.UnixTime(s.Since).Equal(time.Unix(1700000000, 5e8)) {
		t.Errorf("slot 1: %+v", s)
	}
	s := j.Slots[1]
	if s.Pid != 0 || s.OSPid != 0 || s.Ready || s.Restarts != 3 || s.LastExit == nil ||
		*s.LastExit != (client.ExitInfo{ExitStatus: 3, Reason: "exited", Time: 1700000010}) {
		t.Errorf("slot 2: %+v", s)
	}
	if d := j.WaitingFor[0]; d != (client.Dependency{Name: "default.db", Condition: "ready"}) {
		t.Errorf("waiting_for: %+v", d)
	}
	if last := j.LastExit(); last != s.LastExit {
		t.Errorf("LastExit: %+v", last)
	}
	if last := (&client.JobInfo{Slots: j.Slots[:1]}).LastExit(); last != nil {
		t.Errorf("LastExit without an exit: %+v", last)
	}
}

// TestSlotsAndRestart: a live job's slots, a process's slot fields, the
// restart action, and a crash-looping job's restarts and last exit.
func TestSlotsAndRestart(t *testing.T) {
	ctx := ctx(t)
	c := client.New(newServer(t), "")
	if _, err := c.Load(ctx, "", map[string]any{"name": "web", "cmd": "sleep 300", "numprocesses": 2,
		"graceful_timeout": 1, "min_uptime": 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(ctx, "", map[string]any{"name": "crash", "cmd": "sh -c 'exit 3'",
		"backoff": map[string]any{"initial": "200ms"}, "flapping": false}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Load(ctx, "", map[string]any{"name": "after", "cmd": "sleep 300", "depends_on": []string{"db"}}); err != nil {
		t.Fatal(err)
	}

	var web *client.JobInfo
	await.Until(t, 10*time.Second, "2 ready slots of web", func() bool {
		var err error
		web, err = c.Job(ctx, "web")
		return err == nil && web.Ready == 2 && web.State == "running"
	})
	if len(web.Slots) != 2 {
		t.Fatalf("web's slots: %+v", web.Slots)
	}
	before := map[int]int{}
	for i, s := range web.Slots {
		if s.Slot != i+1 || s.State != "running" || !s.Ready || s.Pid == 0 || s.OSPid == 0 || s.Since == 0 || s.LastExit != nil {
			t.Errorf("web's slot %d: %+v", i+1, s)
		}
		before[s.Slot] = s.OSPid
	}
	p, err := c.Process(ctx, web.Slots[1].Pid)
	if err != nil || p.Slot != 2 || p.State != "running" || !p.Ready || p.Restarts != 0 || p.OSPid != web.Slots[1].OSPid {
		t.Errorf("Process of slot 2: %+v, %v", p, err)
	}

	if err := c.RestartJob(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	await.Until(t, 15*time.Second, "both of web's processes replaced and ready", func() bool {
		var err error
		if web, err = c.Job(ctx, "web"); err != nil || web.Ready != 2 || len(web.Slots) != 2 {
			return false
		}
		for _, s := range web.Slots {
			if s.OSPid == before[s.Slot] || s.LastExit == nil {
				return false
			}
		}
		return true
	})
	for _, s := range web.Slots {
		// A restart is the user's doing: no crash counted.
		if s.Restarts != 0 || s.LastExit.Reason != "stopped" || s.LastExit.TermSignal != 15 {
			t.Errorf("web's slot %d after the restart: %+v, last exit %+v", s.Slot, s, *s.LastExit)
		}
	}
	if web.LastExit() == nil {
		t.Errorf("web: no last exit after the restart")
	}

	await.Until(t, 15*time.Second, "crash restarted twice", func() bool {
		info, err := c.Job(ctx, "crash")
		return err == nil && info.Restarts >= 2 && info.Slots[0].Restarts >= 2
	})
	crash, err := c.Job(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	if e := crash.LastExit(); e == nil || e.ExitStatus != 3 || e.TermSignal != 0 || e.Reason != "exited" || e.Time == 0 {
		t.Errorf("crash's last exit: %+v", e)
	}

	after, err := c.Job(ctx, "after")
	if err != nil {
		t.Fatal(err)
	}
	if after.State != "waiting" || len(after.WaitingFor) != 1 || after.WaitingFor[0] != (client.Dependency{Name: "default.db", Condition: "ready"}) {
		t.Errorf("after: state %q, waiting for %+v", after.State, after.WaitingFor)
	}
	if s := after.Slots[0]; s.State != "waiting" || s.Pid != 0 || s.OSPid != 0 {
		t.Errorf("after's slot: %+v", s)
	}

	if err := c.RestartJob(ctx, "nope"); !client.IsNotFound(err) {
		t.Errorf("RestartJob of an unknown job: %v", err)
	}
}
