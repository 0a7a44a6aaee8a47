package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"

	"github.com/ganger/ganger/conf"
)

// TestREST walks every route of API.md's REST table in order, each step
// checking the status and the shape of the answer.
func TestREST(t *testing.T) {
	e := newEnv(t)
	var (
		pids   []int // the job's kept-alive processes
		commit int   // a commit's pid
	)
	steps := []struct {
		name   string
		method string
		path   string
		body   string
		status int
		check  func(t *testing.T, res response)
	}{
		{"root", "GET", "/", "", 200, func(t *testing.T, res response) {
			wantJSON(t, res, `{"name":"ganger","version":"test"}`)
		}},
		{"version", "GET", "/version", "", 200, func(t *testing.T, res response) {
			wantJSON(t, res, `{"name":"ganger","version":"test"}`)
		}},
		{"ping", "GET", "/ping", "", 200, func(t *testing.T, res response) {
			if string(res.body) != "OK" || !strings.HasPrefix(res.header.Get("Content-Type"), "text/plain") {
				t.Errorf("ping: %q %q", res.body, res.header.Get("Content-Type"))
			}
		}},
		{"no sessions", "GET", "/sessions", "", 200, func(t *testing.T, res response) { wantJSON(t, res, `{"sessions":[]}`) }},
		{"no jobs", "GET", "/jobs", "", 200, func(t *testing.T, res response) { wantJSON(t, res, `{"jobs":[]}`) }},
		{"no pids", "GET", "/pids", "", 200, func(t *testing.T, res response) { wantJSON(t, res, `{"pids":[]}`) }},
		{"create", "POST", "/jobs/default",
			`{"name":"web","cmd":"sleep","args":["30"],"numprocesses":2,"graceful_timeout":2,"env":{"SECRET":"s3"}}`, 201,
			func(t *testing.T, res response) {
				wantJSON(t, res, `{"ok":true,"name":"default.web"}`)
				if loc := res.header.Get("Location"); loc != "/jobs/default/web" {
					t.Errorf("Location %q", loc)
				}
			}},
		{"create again", "POST", "/jobs/default", `{"name":"web","cmd":"sleep 30"}`, 409, wantError("conflict")},
		{"create in another session", "POST", "/jobs/other", `{"name":"worker","cmd":"sleep 30","start":false}`, 201, func(t *testing.T, res response) {
			wantJSON(t, res, `{"ok":true,"name":"other.worker"}`)
		}},
		{"sessions", "GET", "/sessions", "", 200, func(t *testing.T, res response) { wantJSON(t, res, `{"sessions":["default","other"]}`) }},
		{"jobs", "GET", "/jobs", "", 200, func(t *testing.T, res response) { wantJSON(t, res, `{"jobs":["default.web","other.worker"]}`) }},
		{"session jobs", "GET", "/jobs/default", "", 200, func(t *testing.T, res response) {
			wantJSON(t, res, `{"sessionid":"default","jobs":["default.web"]}`)
		}},
		{"unknown session", "GET", "/jobs/nosuch", "", 404, wantError("not_found")},
		{"head", "HEAD", "/jobs/default/web", "", 200, nil},
		{"head unknown", "HEAD", "/jobs/default/nosuch", "", 404, nil},
		{"get", "GET", "/jobs/default/web", "", 200, func(t *testing.T, res response) {
			pids = e.waitRunning(t, "default.web", 2)
			v := res.json(t)
			for _, k := range []string{"name", "state", "active", "running", "running_out", "ready", "numprocesses", "restarts", "processes", "slots", "waiting_for", "config", "flapping"} {
				if _, ok := v[k]; !ok {
					t.Errorf("no %q in %s", k, res.body)
				}
			}
			if state := v["state"]; v["name"] != "default.web" || (state != "starting" && state != "running") || v["active"] != true || v["numprocesses"] != 2.0 {
				t.Errorf("job: %s", res.body)
			}
			if f := v["flapping"].(map[string]any); f["state"] != "ok" {
				t.Errorf("flapping: %v", f)
			}
			if env := v["config"].(map[string]any)["env"].(map[string]any); env["SECRET"] != "s3" {
				t.Errorf("admin sees env %v", env)
			}
		}},
		{"get unknown", "GET", "/jobs/default/nosuch", "", 404, wantError("not_found")},
		{"numprocesses", "GET", "/jobs/default/web/numprocesses", "", 200, func(t *testing.T, res response) {
			wantJSON(t, res, `{"numprocesses":2}`)
		}},
		{"pids", "GET", "/jobs/default/web/pids", "", 200, func(t *testing.T, res response) {
			if got := ints(t, res.json(t)["pids"]); !slices.Equal(got, pids) {
				t.Errorf("pids %v, want %v", got, pids)
			}
		}},
		{"stats", "GET", "/jobs/default/web/stats", "", 200, func(t *testing.T, res response) {
			v := res.json(t)
			for _, k := range []string{"cpu", "mem", "rss", "max_cpu", "min_cpu", "max_rss", "min_rss"} {
				if _, ok := v[k].(float64); !ok {
					t.Errorf("%s is %T, want a number: %s", k, v[k], res.body)
				}
			}
			stats := v["stats"].([]any)
			if len(stats) != 2 {
				t.Fatalf("stats of %d processes: %s", len(stats), res.body)
			}
			for _, k := range []string{"pid", "os_pid", "cpu", "mem", "rss", "vms", "ctime", "create_time"} {
				if _, ok := stats[0].(map[string]any)[k].(float64); !ok {
					t.Errorf("stats[0].%s is not a number: %s", k, res.body)
				}
			}
		}},
		{"state", "GET", "/jobs/default/web/state", "", 200, func(t *testing.T, res response) { wantJSON(t, res, `{"active":true}`) }},
		{"signal by name", "POST", "/jobs/default/web/signal", `{"signal":"SIGCONT"}`, 202, func(t *testing.T, res response) { wantJSON(t, res, `{"ok":true}`) }},
		{"signal by number", "POST", "/jobs/default/web/signal", `{"signal":18}`, 202, nil},
		{"commit", "POST", "/jobs/default/web/commit", `{"graceful_timeout":"1s","env":{"X":"1"}}`, 200, func(t *testing.T, res response) {
			commit = int(res.json(t)["pid"].(float64))
			if slices.Contains(pids, commit) {
				t.Errorf("commit pid %d reuses a pid of %v", commit, pids)
			}
			if got := e.pids(t, "/jobs/default/web/pids"); slices.Contains(got, commit) {
				t.Errorf("commit %d in the job's pids %v", commit, got)
			}
			if got := e.pids(t, "/pids"); !slices.Contains(got, commit) {
				t.Errorf("commit %d not in /pids %v", commit, got)
			}
			if info := e.get(t, "/"+strconv.Itoa(commit)); info["once"] != true || info["env"].(map[string]any)["X"] != "1" {
				t.Errorf("commit info %v", info)
			}
			if n := e.get(t, "/jobs/default/web/numprocesses")["numprocesses"]; n != 2.0 {
				t.Errorf("numprocesses %v after a commit", n)
			}
		}},
		{"commit without body", "POST", "/jobs/default/web/commit", "", 200, nil},
		{"process", "GET", "/{pid}", "", 200, func(t *testing.T, res response) {
			v := res.json(t)
			for _, k := range []string{"pid", "name", "os_pid", "cmd", "args", "env", "cwd", "create_time", "once", "active", "redirect_output", "redirect_input", "custom_streams"} {
				if _, ok := v[k]; !ok {
					t.Errorf("no %q in %s", k, res.body)
				}
			}
			if v["name"] != "default.web" || v["cmd"] != "sleep" || v["once"] != false {
				t.Errorf("process: %s", res.body)
			}
			if cs, ok := v["custom_streams"].([]any); !ok || len(cs) != 0 {
				t.Errorf("custom_streams %v, want []", v["custom_streams"])
			}
		}},
		{"process head", "HEAD", "/{pid}", "", 200, nil},
		{"process stats", "GET", "/{pid}/stats", "", 200, func(t *testing.T, res response) {
			st := res.json(t)["stats"].(map[string]any)
			for _, k := range []string{"pid", "os_pid", "cpu", "mem", "rss", "vms", "ctime", "create_time"} {
				if _, ok := st[k].(float64); !ok {
					t.Errorf("stats.%s is not a number: %s", k, res.body)
				}
			}
		}},
		{"process signal", "POST", "/{pid}/signal", `{"signal":"CONT"}`, 202, nil},
		{"unknown process", "GET", "/999999", "", 404, wantError("not_found")},
		{"huge pid", "GET", "/99999999999999999999999", "", 404, wantError("not_found")},
		{"non-numeric pid", "GET", "/foo", "", 404, wantError("not_found")},
		{"stop commit", "DELETE", "/{commit}", "", 202, func(t *testing.T, res response) {
			wantJSON(t, res, `{"ok":true}`)
			await.Until(t, 10*time.Second, "the commit to end", func() bool {
				return !slices.Contains(e.pids(t, "/pids"), commit)
			})
		}},
		{"scale +1", "POST", "/jobs/default/web/numprocesses", `{"scale":1}`, 200, func(t *testing.T, res response) { wantJSON(t, res, `{"numprocesses":3}`) }},
		{"scale -1", "POST", "/jobs/default/web/numprocesses", `{"scale":-1}`, 200, func(t *testing.T, res response) { wantJSON(t, res, `{"numprocesses":2}`) }},
		{"scale \"+2\"", "POST", "/jobs/default/web/numprocesses", `{"scale":"+2"}`, 200, func(t *testing.T, res response) { wantJSON(t, res, `{"numprocesses":4}`) }},
		{"scale \"-1\"", "POST", "/jobs/default/web/numprocesses", `{"scale":"-1"}`, 200, func(t *testing.T, res response) { wantJSON(t, res, `{"numprocesses":3}`) }},
		{"scale \"=1\"", "POST", "/jobs/default/web/numprocesses", `{"scale":"=1"}`, 200, func(t *testing.T, res response) {
			wantJSON(t, res, `{"numprocesses":1}`)
			pids = e.waitRunning(t, "default.web", 1)
		}},
		{"scale below 0", "POST", "/jobs/default/web/numprocesses", `{"scale":-5}`, 400, wantError("bad_request")},
		{"stop", "POST", "/jobs/default/web/state", `{"action":"stop"}`, 202, func(t *testing.T, res response) {
			wantJSON(t, res, `{"ok":true}`)
			if v := e.get(t, "/jobs/default/web/state"); v["active"] != false {
				t.Errorf("state after stop: %v", v)
			}
			await.Until(t, 10*time.Second, "the job's processes to stop", func() bool { return len(e.pids(t, "/jobs/default/web/pids")) == 0 })
		}},
		{"start (gaffer's 1)", "POST", "/jobs/default/web/state", `1`, 202, func(t *testing.T, res response) {
			pids = e.waitRunning(t, "default.web", 1)
		}},
		{"reload (gaffer's 2)", "POST", "/jobs/default/web/state", `2`, 202, func(t *testing.T, res response) {
			pids = waitReplaced(t, e, pids[0])
		}},
		{"reload", "POST", "/jobs/default/web/state", `{"action":"reload"}`, 202, func(t *testing.T, res response) {
			pids = waitReplaced(t, e, pids[0])
		}},
		{"restart", "POST", "/jobs/default/web/state", `{"action":"restart"}`, 202, func(t *testing.T, res response) {
			pids = waitReplaced(t, e, pids[0])
		}},
		{"delete process", "DELETE", "/{pid}", "", 202, func(t *testing.T, res response) {
			pids = waitReplaced(t, e, pids[0])
		}},
		{"method not allowed", "DELETE", "/sessions", "", 405, func(t *testing.T, res response) {
			wantError("bad_request")(t, res)
			if res.json(t)["errno"] != 405.0 {
				t.Errorf("errno: %s", res.body)
			}
			if allow := res.header.Get("Allow"); allow != "GET, HEAD" {
				t.Errorf("Allow %q", allow)
			}
		}},
		{"method not allowed on a job", "PATCH", "/jobs/default/web", `{}`, 405, func(t *testing.T, res response) {
			wantError("bad_request")(t, res)
			if allow := res.header.Get("Allow"); allow != "GET, HEAD, PUT, DELETE" {
				t.Errorf("Allow %q", allow)
			}
		}},
		{"unknown route", "GET", "/nosuch/route", "", 404, wantError("not_found")},
		{"unknown job route", "GET", "/jobs/default/web/nosuch", "", 404, wantError("not_found")},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			path := st.path
			if len(pids) > 0 {
				path = strings.ReplaceAll(path, "{pid}", strconv.Itoa(pids[0]))
			}
			path = strings.ReplaceAll(path, "{commit}", strconv.Itoa(commit))
			res := e.do(t, request{method: st.method, path: path, body: st.body})
			if res.status != st.status {
				t.Fatalf("%s %s: status %d, want %d: %s", st.method, path, res.status, st.status, res.body)
			}
			if st.method != "HEAD" && path != "/ping" {
				if ct := res.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
			}
			if st.check != nil {
				st.check(t, res)
			}
		})
	}
}

// waitReplaced waits until default.web runs one process other than old.
func waitReplaced(t *testing.T, e *env, old int) []int {
	t.Helper()
	await.Until(t, 10*time.Second, "a replacement process", func() bool {
		p := e.pids(t, "/jobs/default/web/pids")
		return len(p) == 1 && p[0] != old
	})
	return e.waitRunning(t, "default.web", 1)
}

func wantJSON(t *testing.T, res response, want string) {
	t.Helper()
	if got := strings.TrimSpace(string(res.body)); got != compact(want) {
		t.Errorf("answer %s, want %s", got, want)
	}
}

// wantError checks the error body: code, reason and errno.
func wantError(code string) func(t *testing.T, res response) {
	return func(t *testing.T, res response) {
		t.Helper()
		v := res.json(t)
		if v["error"] != code || v["errno"] != float64(res.status) {
			t.Errorf("error body %s, want error %q, errno %d", res.body, code, res.status)
		}
		if r, _ := v["reason"].(string); r == "" {
			t.Errorf("no reason in %s", res.body)
		}
		if len(v) != 3 {
			t.Errorf("error body has extra fields: %s", res.body)
		}
	}
}

func TestPutReplacesProcesses(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"web","cmd":"sleep 30","numprocesses":2,"graceful_timeout":2}`)
	old := e.waitRunning(t, "default.web", 2)
	oldOS := []int{e.osPid(t, old[0]), e.osPid(t, old[1])}

	e.call(t, "PUT", "/jobs/default/web", `{"name":"web","cmd":"sleep 31","numprocesses":2,"graceful_timeout":2}`, 200)
	var now []int
	await.Until(t, 10*time.Second, "new processes", func() bool {
		now = e.waitRunning(t, "default.web", 2)
		return !slices.Contains(now, old[0]) && !slices.Contains(now, old[1])
	})
	for _, p := range now {
		info := e.get(t, "/"+strconv.Itoa(p))
		if slices.Contains(oldOS, int(info["os_pid"].(float64))) {
			t.Errorf("process %d kept an old os_pid", p)
		}
		if args := info["args"].([]any); len(args) != 1 || args[0] != "31" {
			t.Errorf("process %d runs the old config: %v", p, info["args"])
		}
	}
	if cmd := e.get(t, "/jobs/default/web")["config"].(map[string]any)["cmd"]; cmd != "sleep 31" {
		t.Errorf("config cmd %v", cmd)
	}
	await.Until(t, 10*time.Second, "the old processes to be gone", func() bool {
		return !procExists(oldOS[0]) && !procExists(oldOS[1])
	})

	t.Run("name mismatch", func(t *testing.T) {
		res := e.do(t, request{method: "PUT", path: "/jobs/default/web", body: `{"name":"other","cmd":"sleep 1"}`})
		if res.status != 400 {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
		wantError("invalid_config")(t, res)
	})
	t.Run("unknown job", func(t *testing.T) {
		res := e.do(t, request{method: "PUT", path: "/jobs/default/nosuch", body: `{"name":"nosuch","cmd":"sleep 1"}`})
		if res.status != 404 {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
	})
}

func TestDeleteJobLeavesNoProcess(t *testing.T) {
	e := newEnv(t)
	// A grandchild in the group proves the whole group goes.
	e.load(t, `{"name":"web","cmd":"sh","args":["-c","sleep 30 & exec sleep 30"],"numprocesses":2,"graceful_timeout":2}`)
	pids := e.waitRunning(t, "default.web", 2)
	osPids := []int{e.osPid(t, pids[0]), e.osPid(t, pids[1])}
	var members []int
	await.Until(t, 5*time.Second, "the background sleeps", func() bool {
		members = append(groupMembers(osPids[0]), groupMembers(osPids[1])...)
		return len(members) == 4
	})

	e.call(t, "DELETE", "/jobs/default/web", "", 200)
	for _, p := range members {
		if procExists(p) {
			t.Errorf("process %d still exists after DELETE", p)
		}
	}
	e.call(t, "HEAD", "/jobs/default/web", "", 404)
	if got := e.pids(t, "/pids"); len(got) != 0 {
		t.Errorf("pids left: %v", got)
	}
	e.call(t, "DELETE", "/jobs/default/web", "", 404)
}

// TestDeleteJobStopsCommits is the regression test of DELETE hanging
// until a running commit of the job ended by itself.
func TestDeleteJobStopsCommits(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"web","cmd":"sleep 30","graceful_timeout":1}`)
	e.waitRunning(t, "default.web", 1)
	commit := int(e.call(t, "POST", "/jobs/default/web/commit", "", 200)["pid"].(float64))
	osPid := e.osPid(t, commit)
	start := time.Now()
	e.call(t, "DELETE", "/jobs/default/web", "", 200)
	if d := time.Since(start); d > await.Scale(5*time.Second) {
		t.Errorf("DELETE took %v", d)
	}
	if procExists(osPid) {
		t.Errorf("the commit's process %d survived the DELETE", osPid)
	}
	if got := e.pids(t, "/pids"); len(got) != 0 {
		t.Errorf("pids left: %v", got)
	}
}

// groupMembers returns the processes of process group pgid, from /proc.
func groupMembers(pgid int) []int {
	dirs, _ := os.ReadDir("/proc")
	var out []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces and parens.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}

func TestLogs(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"hello","cmd":"sh","args":["-c","echo hello; echo world >&2; echo bye"],"numprocesses":0}`)
	pid := int(e.call(t, "POST", "/jobs/default/hello/commit", "", 200)["pid"].(float64))

	var lines []any
	await.Until(t, 10*time.Second, "three log lines", func() bool {
		lines = e.get(t, "/jobs/default/hello/logs")["lines"].([]any)
		return len(lines) == 3
	})
	var got []string
	for _, l := range lines {
		l := l.(map[string]any)
		if l["pid"] != float64(pid) {
			t.Errorf("line of pid %v, want %d", l["pid"], pid)
		}
		if _, err := time.Parse(time.RFC3339Nano, l["time"].(string)); err != nil {
			t.Errorf("time: %v", err)
		}
		got = append(got, l["stream"].(string)+":"+l["data"].(string))
	}
	slices.Sort(got) // stdout and stderr are read concurrently
	if want := []string{"stderr:world", "stdout:bye", "stdout:hello"}; !slices.Equal(got, want) {
		t.Errorf("lines %v, want %v", got, want)
	}
	if l := e.get(t, "/jobs/default/hello/logs?lines=1")["lines"].([]any); len(l) != 1 {
		t.Errorf("lines=1 gave %d lines", len(l))
	}
	if l := e.get(t, "/jobs/default/hello/logs?lines=0")["lines"].([]any); len(l) != 3 {
		t.Errorf("lines=0 gave %d lines, want all 3", len(l))
	}
	for _, bad := range []string{"x", "-1", "1.5"} {
		res := e.do(t, request{method: "GET", path: "/jobs/default/hello/logs?lines=" + bad})
		if res.status != http.StatusBadRequest {
			t.Errorf("lines=%s: status %d", bad, res.status)
		}
	}
	e.call(t, "GET", "/jobs/default/nosuch/logs", "", 404)
}

// TestSpawnErrorStillLoads: a job whose program does not exist loads (201)
// and the API stays healthy.
func TestSpawnErrorStillLoads(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"bad","cmd":"/nonexistent/program","flapping":false}`)
	e.get(t, "/jobs/default/bad")
	e.get(t, "/jobs")
}

// TestJobAnswerKeys: GET /jobs/{s}/{j} answers API.md's keys in its
// order, with the config in the same form as MarshalJSON writes it.
func TestJobAnswerKeys(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"web","cmd":"sleep 30","graceful_timeout":1,"env":{"A":"1"}}`)
	e.waitRunning(t, "default.web", 1)
	r := e.do(t, request{method: "GET", path: "/jobs/default/web"})
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	var keys []string
	var cfg json.RawMessage
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		key := tok.(string)
		keys = append(keys, key)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if key == "config" {
			cfg = v
		}
	}
	want := []string{"name", "state", "active", "running", "running_out", "ready", "numprocesses", "restarts", "processes", "slots", "waiting_for", "config", "flapping"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	job, err := conf.ParseJob(cfg)
	if err != nil {
		t.Fatalf("config %s: %v", cfg, err)
	}
	if marshalled, _ := json.Marshal(job); !bytes.Equal(marshalled, cfg) {
		t.Errorf("config\n%s\nis not MarshalJSON's\n%s", cfg, marshalled)
	}
}

// TestUnavailableAfterShutdown: once the manager has shut down, the API
// answers 503 unavailable (from the one status table) with the manager's
// reason, on REST and /channel commands alike.
func TestUnavailableAfterShutdown(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"web","cmd":"sleep 30","graceful_timeout":1}`)
	e.waitRunning(t, "default.web", 1)
	w := e.channel(t)
	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(10*time.Second))
	defer cancel()
	if err := e.m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/jobs", "/jobs/default/web", "/sessions"} {
		res := e.do(t, request{method: "GET", path: path})
		wantJSON(t, res, `{"error":"unavailable","reason":"the manager is shut down","errno":503}`)
		if res.status != http.StatusServiceUnavailable {
			t.Errorf("GET %s: status %d, want 503", path, res.status)
		}
	}
	m := w.cmd("info", "default.web")
	if errObj, _ := m.Data["error"].(map[string]any); m.Event != "gaffer:command_error" || errObj["errno"] != 503.0 {
		t.Errorf("info after shutdown: %v", m)
	}
}

// TestSlotAnswers: a job's answer lists its slots; a slot with a process
// has its pid and os_pid, one without has them null.
func TestSlotAnswers(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"web","cmd":"sleep 30","numprocesses":2,"graceful_timeout":1,"min_uptime":0}`)
	pids := e.waitRunning(t, "default.web", 2)
	res := e.do(t, request{method: "GET", path: "/jobs/default/web"})
	var job struct {
		Slots []map[string]any `json:"slots"`
	}
	if err := json.Unmarshal(res.body, &job); err != nil || len(job.Slots) != 2 {
		t.Fatalf("slots %s: %v", res.body, err)
	}
	for i, s := range job.Slots {
		if s["slot"] != float64(i+1) || s["pid"] != float64(pids[i]) || s["os_pid"] == nil || s["state"] != "running" || s["ready"] != true {
			t.Errorf("slot %d: %v", i+1, s)
		}
	}
	e.call(t, "POST", "/jobs/default/web/state", `{"action":"stop"}`, 202)
	await.Until(t, 10*time.Second, "both slots exited, without a pid", func() bool {
		res := e.do(t, request{method: "GET", path: "/jobs/default/web"})
		return strings.Count(string(res.body), `"pid":null,"os_pid":null`) == 2 && strings.Count(string(res.body), `"state":"exited"`) == 2
	})
}
