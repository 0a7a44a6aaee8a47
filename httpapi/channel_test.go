package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"

	"github.com/coder/websocket"

	"github.com/ganger/ganger/httpapi"
	"github.com/ganger/ganger/manager"
)

func isEvent(typ, name string) func(msg) bool {
	return func(m msg) bool {
		return m.Event == "gaffer:event" && m.Data["event"] == typ && m.Data["name"] == name
	}
}

func TestChannelEvents(t *testing.T) {
	e := newEnv(t)
	w := e.channel(t)
	w.sub("EVENTS")
	w.sub("EVENTS:job.default.web")
	w.sub("EVENTS:job.default.web") // twice: still once

	e.load(t, `{"name":"web","cmd":"sleep 30","start":false}`)
	e.load(t, `{"name":"other","cmd":"sleep 30","start":false}`)
	// Events reach a subscriber in order: by the load of "other", any
	// second copy of web's load would have arrived.
	_, before := w.until(5*time.Second, isEvent("load", "default.other"))
	var loads []msg
	for _, m := range before {
		if isEvent("load", "default.web")(m) {
			loads = append(loads, m)
		}
	}
	if len(loads) != 1 {
		t.Fatalf("web's load arrived %d times: %v", len(loads), before)
	}
	if got := loads[0].Data["topic"]; got != "job.default.web.load" {
		t.Errorf("topic %v, want the most specific match job.default.web.load", got)
	}

	t.Run("unsub", func(t *testing.T) {
		w := w.as(t)
		w.send(map[string]any{"event": "UNSUB", "data": map[string]any{"topic": "EVENTS"}})
		m, _ := w.until(5*time.Second, func(m msg) bool { return strings.HasPrefix(m.Event, "gaffer:subscription") })
		if m.Event != "gaffer:subscription_success" || m.Topic != "EVENTS" {
			t.Fatalf("UNSUB: %v", m)
		}
		e.call(t, "POST", "/jobs/default/other/numprocesses", `{"scale":"=0"}`, 200) // no longer seen
		e.call(t, "POST", "/jobs/default/web/numprocesses", `{"scale":"=3"}`, 200)   // still seen
		m, skipped := w.until(5*time.Second, isEvent("scale", "default.web"))
		if m.Data["numprocesses"] != 3.0 || len(skipped) != 0 {
			t.Errorf("got %v after %v", m, skipped)
		}
		w.send(map[string]any{"event": "UNSUB", "data": map[string]any{"topic": "EVENTS"}})
		if m := w.read(5 * time.Second); m.Event != "gaffer:subscription_error" || m.Topic != "EVENTS" {
			t.Errorf("UNSUB of a topic not subscribed: %v", m)
		}
	})

	t.Run("star pattern", func(t *testing.T) {
		w := w.as(t)
		w.sub("EVENTS:job.*.other.scale")
		e.call(t, "POST", "/jobs/default/other/numprocesses", `{"scale":"=2"}`, 200)
		m, skipped := w.until(5*time.Second, isEvent("scale", "default.other"))
		if m.Data["topic"] != "job.default.other.scale" || len(skipped) != 0 {
			t.Errorf("got %v after %v", m, skipped)
		}
	})
}

func TestChannelCommands(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"web","cmd":"sleep 30","graceful_timeout":1}`)
	e.load(t, `{"name":"cat","cmd":"cat","redirect_input":true,"custom_streams":["extra"]}`)
	web := e.waitRunning(t, "default.web", 1)[0]
	cat := e.waitRunning(t, "default.cat", 1)[0]
	w := e.channel(t)
	newJob := map[string]any{"name": "new", "cmd": "sleep 30", "start": false}
	var commit float64

	cases := []struct {
		name  string
		cmd   string
		args  []any
		errno int // 0: success
		check func(t *testing.T, res map[string]any)
	}{
		{"sessions", "sessions", nil, 0, func(t *testing.T, res map[string]any) { wantValue(t, res, `{"sessions":["default"]}`) }},
		{"jobs", "jobs", nil, 0, func(t *testing.T, res map[string]any) { wantValue(t, res, `{"jobs":["default.web","default.cat"]}`) }},
		{"jobs of a session", "jobs", []any{"default"}, 0, func(t *testing.T, res map[string]any) {
			wantValue(t, res, `{"jobs":["default.web","default.cat"]}`)
		}},
		{"jobs of no session", "jobs", []any{"nosuch"}, 404, nil},
		{"pids", "pids", nil, 0, func(t *testing.T, res map[string]any) {
			wantValue(t, res, fmt.Sprintf(`{"pids":[%d,%d]}`, web, cat))
		}},
		{"pids of a job", "pids", []any{"default.web"}, 0, func(t *testing.T, res map[string]any) {
			wantValue(t, res, fmt.Sprintf(`{"pids":[%d]}`, web))
		}},
		{"info", "info", []any{"default.web"}, 0, func(t *testing.T, res map[string]any) {
			if state := res["state"]; res["name"] != "default.web" || (state != "starting" && state != "running") {
				t.Errorf("info %v", res)
			}
		}},
		{"info of a bare name", "info", []any{"web"}, 0, func(t *testing.T, res map[string]any) {
			if res["name"] != "default.web" {
				t.Errorf("info %v", res)
			}
		}},
		{"info of no job", "info", []any{"default.nosuch"}, 404, nil},
		{"info without args", "info", nil, 400, nil},
		{"info with a number", "info", []any{3}, 400, nil},
		{"stats", "stats", []any{"default.web"}, 0, func(t *testing.T, res map[string]any) {
			if st := res["stats"].([]any); len(st) != 1 {
				t.Errorf("stats %v", res)
			}
		}},
		{"load", "load", []any{newJob}, 0, func(t *testing.T, res map[string]any) { wantValue(t, res, `{"name":"default.new","ok":true}`) }},
		{"load again", "load", []any{newJob}, 409, nil},
		{"load in a session", "load", []any{newJob, map[string]any{"session": "s2"}}, 0, func(t *testing.T, res map[string]any) {
			wantValue(t, res, `{"name":"s2.new","ok":true}`)
		}},
		{"load session mismatch", "load", []any{map[string]any{"session": "a", "name": "x", "cmd": "true"}, map[string]any{"session": "b"}}, 400, nil},
		{"load invalid", "load", []any{map[string]any{"name": "x", "cmd": "true", "bogus": 1}}, 400, nil},
		{"load bad options", "load", []any{newJob, map[string]any{"sesion": "x"}}, 400, nil},
		{"update", "update", []any{"default.new", map[string]any{"name": "new", "cmd": "sleep 31", "start": false}}, 0, nil},
		{"update invalid", "update", []any{"default.new", map[string]any{"name": "new"}}, 400, nil},
		{"start_job", "start_job", []any{"default.new"}, 0, func(t *testing.T, res map[string]any) { wantValue(t, res, `{"ok":true}`) }},
		{"stop_job", "stop_job", []any{"default.new"}, 0, nil},
		{"reload", "reload", []any{"default.new"}, 0, nil},
		{"restart", "restart", []any{"default.new"}, 0, nil},
		{"restart of no job", "restart", []any{"default.nosuch"}, 404, nil},
		{"commit", "commit", []any{"default.web"}, 0, func(t *testing.T, res map[string]any) {
			commit = res["pid"].(float64)
		}},
		{"commit with options", "commit", []any{"default.web", map[string]any{"graceful_timeout": 1, "env": map[string]any{"A": "b"}}}, 0, nil},
		{"commit bad options", "commit", []any{"default.web", map[string]any{"graceful_timeout": "soon"}}, 400, nil},
		{"process_info", "process_info", []any{web}, 0, func(t *testing.T, res map[string]any) {
			if res["pid"] != float64(web) || res["name"] != "default.web" {
				t.Errorf("process_info %v", res)
			}
		}},
		{"process_info of no process", "process_info", []any{999999}, 404, nil},
		{"process_info bad pid", "process_info", []any{"abc"}, 400, nil},
		{"process_stats", "process_stats", []any{web}, 0, func(t *testing.T, res map[string]any) {
			if _, ok := res["stats"].(map[string]any)["rss"].(float64); !ok {
				t.Errorf("process_stats %v", res)
			}
		}},
		{"kill a pid", "kill", []any{web, "CONT"}, 0, nil},
		{"kill a job", "kill", []any{"default.web", 18}, 0, nil},
		{"kill bad signal", "kill", []any{web, "FOO"}, 400, nil},
		{"kill signal 999", "kill", []any{web, 999}, 400, nil},
		{"kill no signal", "kill", []any{web}, 400, nil},
		{"send", "send", []any{cat, "hello from send\n"}, 0, func(t *testing.T, res map[string]any) {
			await.Until(t, 5*time.Second, "the echo in the logs", func() bool {
				return strings.Contains(mustJSON(e.get(t, "/jobs/default/cat/logs")), "hello from send")
			})
		}},
		{"send to a custom stream", "send", []any{cat, "x", "extra"}, 0, nil},
		{"send to no such stream", "send", []any{cat, "x", "nosuch"}, 400, nil},
		{"send without stdin", "send", []any{web, "x"}, 400, nil},
		{"stop_process", "stop_process", []any{"{commit}"}, 0, nil},
		{"unload", "unload", []any{"default.new"}, 0, nil},
		{"unload again", "unload", []any{"default.new"}, 404, nil},
		{"unknown command", "explode", nil, 400, nil},
		{"too many args", "sessions", []any{1}, 400, nil},
		{"scale =2", "scale", []any{"default.web", "=2"}, 0, func(t *testing.T, res map[string]any) { wantValue(t, res, `{"numprocesses":2}`) }},
		{"scale -1", "scale", []any{"default.web", -1}, 0, func(t *testing.T, res map[string]any) { wantValue(t, res, `{"numprocesses":1}`) }},
		{"scale below 0", "scale", []any{"default.web", "-5"}, 400, nil},
		{"scale word", "scale", []any{"default.web", "many"}, 400, nil},
		{"killall", "killall", []any{"CONT"}, 0, nil},
		{"killall bad signal", "killall", []any{"FOO"}, 400, nil},
		{"stopall", "stopall", nil, 0, func(t *testing.T, res map[string]any) {
			// Commits are not kept alive, so stopall leaves them be.
			await.Until(t, 10*time.Second, "every job to stop", func() bool {
				return len(e.pids(t, "/jobs/default/web/pids")) == 0 && len(e.pids(t, "/jobs/default/cat/pids")) == 0
			})
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := w.as(t)
			for i, a := range c.args {
				if a == "{commit}" {
					c.args[i] = commit
				}
			}
			m := w.cmd(c.cmd, c.args...)
			if c.errno == 0 {
				if m.Event != "gaffer:command_success" {
					t.Fatalf("%s %v: %v", c.cmd, c.args, m)
				}
				if c.check != nil {
					c.check(t, m.Data["result"].(map[string]any))
				}
				return
			}
			if m.Event != "gaffer:command_error" {
				t.Fatalf("%s %v: %v, want an error", c.cmd, c.args, m)
			}
			errObj := m.Data["error"].(map[string]any)
			if errObj["errno"] != float64(c.errno) || errObj["reason"] == "" {
				t.Errorf("%s %v: error %v, want errno %d", c.cmd, c.args, errObj, c.errno)
			}
		})
	}
}

// wantValue compares a decoded JSON value with want (keys sorted).
func wantValue(t *testing.T, v any, want string) {
	t.Helper()
	if got := mustJSON(v); got != compact(want) {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestChannelMalformed(t *testing.T) {
	e := newEnv(t)
	w := e.channel(t)
	cases := []struct {
		name, raw string
		want      string // the reply's event
	}{
		{"not JSON", `hello`, "gaffer:error"},
		{"truncated", `{"event":"SUB"`, "gaffer:error"},
		{"unknown event", `{"event":"BOGUS"}`, "gaffer:error"},
		{"unknown field", `{"event":"NOP","extra":1}`, "gaffer:error"},
		{"SUB without topic", `{"event":"SUB","data":{}}`, "gaffer:error"},
		{"SUB with a number", `{"event":"SUB","data":{"topic":3}}`, "gaffer:error"},
		{"SUB unknown topic", `{"event":"SUB","data":{"topic":"WEATHER"}}`, "gaffer:subscription_error"},
		{"SUB stream of no process", `{"event":"SUB","data":{"topic":"STREAM:4242"}}`, "gaffer:subscription_error"},
		{"SUB stream bad pid", `{"event":"SUB","data":{"topic":"STREAM:abc"}}`, "gaffer:subscription_error"},
		{"SUB stats of no job", `{"event":"SUB","data":{"topic":"STATS:default.nosuch"}}`, "gaffer:subscription_error"},
		{"CMD with a bad name", `{"event":"CMD","data":{"identity":"x","name":1}}`, "gaffer:error"},
		{"CMD args not a list", `{"event":"CMD","data":{"identity":"x","name":"sessions","args":{}}}`, "gaffer:error"},
		{"CMD with unknown kwargs", `{"event":"CMD","data":{"identity":"x","name":"sessions","kwargs":{"a":1}}}`, "gaffer:command_error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := w.as(t)
			w.sendRaw(`{"event":"NOP"}`) // ignored: no reply
			w.sendRaw(c.raw)
			m := w.read(5 * time.Second)
			if m.Event != c.want {
				t.Fatalf("reply %v, want %s", m, c.want)
			}
			if m.Event == "gaffer:error" && (m.Data["error"] == "" || m.Data["reason"] == "") {
				t.Errorf("error without code or reason: %v", m)
			}
			// The connection still works.
			if res := w.result("sessions"); res == nil {
				t.Errorf("no result")
			}
		})
	}
	t.Run("identity echoed as sent", func(t *testing.T) {
		w := w.as(t)
		w.sendRaw(`{"event":"CMD","data":{"identity":42,"name":"sessions"}}`)
		if m := w.read(5 * time.Second); m.Event != "gaffer:command_success" || m.Data["id"] != 42.0 {
			t.Errorf("reply %v", m)
		}
	})
	t.Run("message over the read limit", func(t *testing.T) {
		w2 := e.channel(t)
		w2.sendRaw(`{"event":"NOP","pad":"` + strings.Repeat("x", 70<<10) + `"}`)
		ctx, cancel := context.WithTimeout(context.Background(), await.Scale(5*time.Second))
		defer cancel()
		if _, _, err := w2.c.Read(ctx); websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
			t.Errorf("read after an oversized message: %v", err)
		}
	})
}

func TestChannelStream(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"hi","cmd":"sh","args":["-c","read x; echo hi; printf '\\377ok\\n' >&2; sleep 30"],"redirect_input":true,"graceful_timeout":1}`)
	pid := e.waitRunning(t, "default.hi", 1)[0]
	w := e.channel(t)
	p := strconv.Itoa(pid)
	w.sub("STREAM:" + p)
	w.sub("STREAM:" + p + ".stderr")
	// The output may arrive before the command's reply: w.cmd would skip
	// it, so the replies are read here with the output.
	w.send(map[string]any{"event": "CMD", "data": map[string]any{"identity": "send", "name": "send", "args": []any{pid, "go\n"}}})

	var got []string
	for len(got) < 2 {
		m := w.read(5 * time.Second)
		if strings.HasPrefix(m.Event, "gaffer:command") {
			if m.Event != "gaffer:command_success" {
				t.Fatalf("send: %v", m)
			}
			continue
		}
		if m.Event != "gaffer:event" || m.Data["event"] != "output" {
			t.Logf("skipping %v", m)
			continue
		}
		if m.Data["name"] != "default.hi" || m.Data["pid"] != float64(pid) {
			t.Errorf("output event %v", m)
		}
		got = append(got, fmt.Sprintf("%v|%v|%v", m.Data["topic"], m.Data["stream"], m.Data["data"]))
	}
	slices.Sort(got)
	want := []string{"STREAM:" + p + ".stderr|stderr|\uFFFDok\n", "STREAM:" + p + "|stdout|hi\n"}
	if !slices.Equal(got, want) {
		t.Errorf("output %q, want %q", got, want)
	}

	t.Run("unknown label", func(t *testing.T) {
		w := w.as(t)
		w.send(map[string]any{"event": "SUB", "data": map[string]any{"topic": "STREAM:" + p + ".nosuch"}})
		if m := w.read(5 * time.Second); m.Event != "gaffer:subscription_error" {
			t.Errorf("reply %v", m)
		}
	})
}

func TestChannelStats(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"web","cmd":"sleep 30","graceful_timeout":1}`)
	first := e.waitRunning(t, "default.web", 1)[0]
	w := e.channel(t)
	w.sub("STATS:default.web")
	isStats := func(m msg) bool { return m.Event == "gaffer:event" && m.Data["event"] == "stats" }
	m, _ := w.until(5*time.Second, isStats)
	if m.Data["topic"] != "STATS:default.web" || m.Data["name"] != "default.web" || m.Data["pid"] != float64(first) {
		t.Errorf("stats event %v", m)
	}
	for _, k := range []string{"os_pid", "cpu", "mem", "rss", "vms", "ctime", "create_time"} {
		if _, ok := m.Data[k].(float64); !ok {
			t.Errorf("%s is not a number: %v", k, m.Data)
		}
	}

	// A process spawned later is included.
	e.call(t, "POST", "/jobs/default/web/numprocesses", `{"scale":1}`, 200)
	second := e.waitRunning(t, "default.web", 2)[1]
	w.until(10*time.Second, func(m msg) bool { return isStats(m) && m.Data["pid"] == float64(second) })

	t.Run("one process", func(t *testing.T) {
		w := w.as(t)
		topic := "STATS:" + strconv.Itoa(first)
		w.sub(topic)
		w.until(5*time.Second, func(m msg) bool { return isStats(m) && m.Data["topic"] == topic })
	})
}

// TestChannelSlowClient: a client that never reads does not slow the
// manager or another client, and is disconnected once a write times out.
func TestChannelSlowClient(t *testing.T) {
	const burst = 2000
	e := newEnv(t, withSmallBuffers(), withOptions(func(o *httpapi.Options) {
		o.ClientBuffer = 2 * burst // the fast client never overflows
		o.WriteTimeout = time.Second
	}))
	e.load(t, `{"name":"burst","cmd":"sleep 30","start":false,"numprocesses":0}`)

	stuck := e.channel(t)
	stuck.sub("EVENTS")
	fast := e.channel(t)
	fast.sub("EVENTS")

	var seen []float64
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), await.Scale(60*time.Second))
		defer cancel()
		for len(seen) < burst {
			_, b, err := fast.c.Read(ctx)
			if err != nil {
				done <- err
				return
			}
			var m msg
			json.Unmarshal(b, &m)
			if m.Event == "gaffer:error" {
				done <- fmt.Errorf("fast client got %s", b)
				return
			}
			if m.Data["event"] == "scale" {
				seen = append(seen, m.Data["numprocesses"].(float64))
			}
		}
		done <- nil
	}()

	var slowest time.Duration
	for i := range burst {
		op := manager.ScaleOp{Op: '+', N: 1}
		if i%2 == 1 {
			op.Op = '-'
		}
		start := time.Now()
		if _, err := e.m.Scale(context.Background(), "default.burst", op); err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(start))
	}
	if slowest > await.Scale(500*time.Millisecond) {
		t.Errorf("a Scale call took %v during the burst", slowest)
	}
	if err := <-done; err != nil {
		t.Fatalf("fast client: %v", err)
	}
	for i, n := range seen {
		if want := float64((i + 1) % 2); n != want {
			t.Fatalf("event %d: numprocesses %v, want %v (events lost or reordered)", i, n, want)
		}
	}

	// The stuck client is disconnected once a write times out: the server
	// counts one client left, and reading the stuck one gives what was
	// buffered, then an error, long before the whole burst.
	await.Until(t, 10*time.Second, "the stuck client to be disconnected", func() bool {
		return strings.Contains(string(e.do(t, request{method: "GET", path: "/metrics"}).body), "ganger_channel_clients 1\n")
	})
	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(20*time.Second))
	defer cancel()
	n := 0
	for {
		_, _, err := stuck.c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("the stuck client is still connected after reading %d messages", n)
			}
			break
		}
		n++
	}
	if n >= burst {
		t.Errorf("the stuck client got all %d messages", n)
	}
	e.get(t, "/jobs") // the API still answers
}

// TestChannelOverflow: a client that reads too slowly gets the overflow
// error once, then the stream resumes.
func TestChannelOverflow(t *testing.T) {
	e := newEnv(t, withSmallBuffers(), withOptions(func(o *httpapi.Options) {
		o.ClientBuffer = 16
	}))
	e.load(t, `{"name":"burst","cmd":"sleep 30","start":false,"numprocesses":0}`)
	w := e.channel(t)
	w.sub("EVENTS:job.default.burst")
	for i := range 1000 {
		if _, err := e.m.Scale(context.Background(), "default.burst", manager.ScaleOp{Op: '=', N: i % 5}); err != nil {
			t.Fatal(err)
		}
	}
	// Read everything now; an event published while the buffer was full
	// is dropped, so keep publishing a last one until it gets through.
	type result struct {
		overflows []msg
		err       error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		ctx, cancel := context.WithTimeout(context.Background(), await.Scale(20*time.Second))
		defer cancel()
		for {
			_, b, err := w.c.Read(ctx)
			if err != nil {
				r.err = err
				done <- r
				return
			}
			var m msg
			json.Unmarshal(b, &m)
			if m.Event == "gaffer:error" {
				r.overflows = append(r.overflows, m)
			}
			if m.Data["event"] == "scale" && m.Data["numprocesses"] == 7.0 {
				done <- r
				return
			}
		}
	}()
	var r result
	for waiting := true; waiting; {
		e.call(t, "POST", "/jobs/default/burst/numprocesses", `{"scale":"=7"}`, 200)
		select {
		case r = <-done:
			waiting = false
		case <-time.After(100 * time.Millisecond):
		}
	}
	if r.err != nil {
		t.Fatalf("reading: %v", r.err)
	}
	overflows := r.overflows
	// Each overflow episode is reported once, by one marker carrying the
	// count of that episode; together they count every drop.
	if len(overflows) == 0 {
		t.Fatal("no overflow error")
	}
	var total uint64
	re := regexp.MustCompile(`^([1-9][0-9]*) events dropped$`)
	for _, m := range overflows {
		sm := re.FindStringSubmatch(fmt.Sprint(m.Data["reason"]))
		if m.Data["error"] != "overflow" || sm == nil {
			t.Fatalf("overflow error %v", m.Data)
		}
		n, _ := strconv.ParseUint(sm[1], 10, 64)
		total += n
	}
	if dropped, _ := e.m.DroppedEvents(); total != dropped {
		t.Errorf("overflow errors count %d drops, the manager counted %d", total, dropped)
	}
	t.Logf("%d overflow episodes, %d events dropped", len(overflows), total)
}

// TestChannelShutdown: Server.Shutdown closes open sockets with
// StatusGoingAway.
func TestChannelShutdown(t *testing.T) {
	e := newEnv(t)
	w := e.channel(t)
	w.sub("EVENTS")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), await.Scale(5*time.Second))
		defer cancel()
		e.srv.Config.Shutdown(ctx)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(10*time.Second))
	defer cancel()
	_, _, err := w.c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("read during shutdown: %v, want StatusGoingAway", err)
	}
	wg.Wait()
}

// TestChannelSubscribeThenAct is the regression test of a race: the
// success reply of a SUB was queued before the pattern was added, so a
// client acting on the reply could miss the first events.
func TestChannelSubscribeThenAct(t *testing.T) {
	e := newEnv(t)
	w := e.channel(t)
	for i := range 100 {
		name := "w" + strconv.Itoa(i)
		w.sub("EVENTS:job.default." + name)
		e.load(t, `{"name":"`+name+`","cmd":"sleep 30","start":false}`)
		w.until(5*time.Second, isEvent("load", "default."+name))
	}
}

// TestChannelStreamJob subscribes to a job's output before its process
// exists: the first line a new process prints is not missed.
func TestChannelStreamJob(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"later","cmd":"sh","args":["-c","echo first-line; sleep 30"],"start":false,"graceful_timeout":1}`)
	w := e.channel(t)
	w.sub("STREAM:default.later")
	e.call(t, "POST", "/jobs/default/later/state", `{"action":"start"}`, 202)
	m, _ := w.until(5*time.Second, func(m msg) bool { return m.Event == "gaffer:event" && m.Data["event"] == "output" })
	if m.Data["topic"] != "STREAM:default.later" || m.Data["data"] != "first-line\n" || m.Data["name"] != "default.later" {
		t.Errorf("output event %v", m)
	}
	t.Run("unknown job", func(t *testing.T) {
		w := w.as(t)
		w.send(map[string]any{"event": "SUB", "data": map[string]any{"topic": "STREAM:default.nosuch"}})
		if m := w.read(5 * time.Second); m.Event != "gaffer:subscription_error" {
			t.Errorf("reply %v", m)
		}
	})
}

// TestChannelSubscriptionCap: one connection holds at most
// MaxSubscriptions topics; past it a SUB is refused and the connection
// stays usable (an UNSUB makes room).
func TestChannelSubscriptionCap(t *testing.T) {
	e := newEnv(t)
	w := e.channel(t)
	for i := range httpapi.MaxSubscriptions {
		w.sub("EVENTS:job.default.j" + strconv.Itoa(i))
	}
	w.send(map[string]any{"event": "SUB", "data": map[string]any{"topic": "EVENTS:job.default.one-more"}})
	m := w.read(5 * time.Second)
	if m.Event != "gaffer:subscription_error" || !strings.Contains(fmt.Sprint(m.Data["reason"]), "too many subscriptions") {
		t.Fatalf("SUB past the cap: %v", m)
	}
	w.send(map[string]any{"event": "UNSUB", "data": map[string]any{"topic": "EVENTS:job.default.j0"}})
	if m := w.read(5 * time.Second); m.Event != "gaffer:subscription_success" {
		t.Fatalf("UNSUB: %v", m)
	}
	w.sub("EVENTS:job.default.one-more")
}
