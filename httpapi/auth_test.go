package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/ganger/ganger/internal/await"

	"github.com/coder/websocket"

	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/httpapi"
)

var testTokens = []conf.Token{
	{Name: "admin", Token: "adm-secret", Role: conf.RoleAdmin},
	{Name: "reader", Token: "read-secret", Role: conf.RoleRead},
	{Name: "limited", Token: "lim-secret", Role: conf.RoleAdmin, Sessions: []string{"default"}},
	{Name: "limited-reader", Token: "limread-secret", Role: conf.RoleRead, Sessions: []string{"default"}},
}

func newAuthEnv(t *testing.T, opts ...envOption) *env {
	return newEnv(t, append([]envOption{withOptions(func(o *httpapi.Options) { o.Tokens = testTokens })}, opts...)...)
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAuthREST(t *testing.T) {
	logs := &syncBuffer{}
	e := newAuthEnv(t, withOptions(func(o *httpapi.Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}))
	e.token = "adm-secret"
	e.load(t, `{"name":"web","cmd":"sh -c 'exec sleep 30' sh --key=$SECRET","env":{"SECRET":"s3"},"graceful_timeout":1}`)
	e.call(t, "POST", "/jobs/other", `{"name":"worker","cmd":"sleep 30","graceful_timeout":1}`, 201)
	web := e.waitRunning(t, "default.web", 1)[0]
	worker := e.waitRunning(t, "other.worker", 1)[0]
	e.token = ""

	type hdr = map[string]string
	bearer := func(t string) hdr { return hdr{"Authorization": "Bearer " + t} }
	cases := []struct {
		name   string
		method string
		path   string
		body   string
		header hdr
		status int
		check  func(t *testing.T, res response)
	}{
		{"ping needs no token", "GET", "/ping", "", nil, 200, nil},
		{"no token", "GET", "/jobs", "", nil, 401, wantError("unauthorized")},
		{"no token on /", "GET", "/", "", nil, 401, wantError("unauthorized")},
		{"no token on /metrics", "GET", "/metrics", "", nil, 401, nil},
		{"no token on an unknown route", "GET", "/nope", "", nil, 401, wantError("unauthorized")},
		{"no token on a deep unknown route", "GET", "/jobs/default/web/nope", "", nil, 401, wantError("unauthorized")},
		{"no token with a wrong method", "PATCH", "/jobs/default/web", "", nil, 401, wantError("unauthorized")},
		{"unknown route", "GET", "/nope", "", bearer("read-secret"), 404, wantError("not_found")},
		{"wrong method", "PATCH", "/jobs/default/web", "", bearer("read-secret"), 405, func(t *testing.T, res response) {
			if got := res.header.Get("Allow"); got != "GET, HEAD, PUT, DELETE" {
				t.Errorf("Allow %q", got)
			}
		}},
		{"unknown token", "GET", "/jobs", "", bearer("nope"), 401, wantError("unauthorized")},
		{"wrong scheme", "GET", "/jobs", "", hdr{"Authorization": "Basic adm-secret"}, 401, nil},
		{"query token on REST", "GET", "/jobs?token=adm-secret", "", nil, 401, nil},
		// ?token= is for WebSocket handshakes only: an Upgrade header does
		// not make a plain request one.
		{"query token on a DELETE that claims an upgrade", "DELETE", "/jobs/default/web?token=adm-secret", "",
			hdr{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}, 401, nil},
		{"query token on a GET of a job that claims an upgrade", "GET", "/jobs/default/web?token=adm-secret", "",
			hdr{"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}, 401, nil},
		{"query token on /channel with only an Upgrade header", "GET", "/channel?token=adm-secret", "", hdr{"Upgrade": "websocket"}, 401, nil},
		{"bearer", "GET", "/jobs", "", bearer("adm-secret"), 200, func(t *testing.T, res response) {
			wantJSON(t, res, `{"jobs":["default.web","other.worker"]}`)
		}},
		{"X-Api-Key", "GET", "/jobs", "", hdr{"X-Api-Key": "adm-secret"}, 200, nil},
		{"admin sees env", "GET", "/jobs/default/web", "", bearer("adm-secret"), 200, func(t *testing.T, res response) {
			if env := res.json(t)["config"].(map[string]any)["env"]; mustJSON(env) != `{"SECRET":"s3"}` {
				t.Errorf("env %v", env)
			}
		}},
		{"read may read", "GET", "/jobs/default/web", "", bearer("read-secret"), 200, func(t *testing.T, res response) {
			if env := res.json(t)["config"].(map[string]any)["env"]; mustJSON(env) != `{"SECRET":""}` {
				t.Errorf("env %v shown to a read token", env)
			}
		}},
		{"admin: process args expanded", "GET", fmt.Sprintf("/%d", web), "", bearer("adm-secret"), 200, func(t *testing.T, res response) {
			if args := mustJSON(res.json(t)["args"]); args != `["-c","exec sleep 30","sh","--key=s3"]` {
				t.Errorf("args %s, want the expanded value", args)
			}
		}},
		{"read: process args not expanded", "GET", fmt.Sprintf("/%d", web), "", bearer("read-secret"), 200, func(t *testing.T, res response) {
			if strings.Contains(string(res.body), "s3") {
				t.Errorf("a secret in the answer to a read token: %s", res.body)
			}
			if args := mustJSON(res.json(t)["args"]); args != `["-c","exec sleep 30","sh","--key=$SECRET"]` {
				t.Errorf("args %s, want the template", args)
			}
		}},
		{"read: process env hidden", "GET", fmt.Sprintf("/%d", web), "", bearer("read-secret"), 200, func(t *testing.T, res response) {
			env := res.json(t)["env"].(map[string]any)
			if v, ok := env["SECRET"]; !ok || v != "" {
				t.Errorf("SECRET %q shown to a read token", v)
			}
			for k, v := range env {
				if v != "" {
					t.Errorf("%s=%v shown to a read token", k, v)
				}
			}
		}},
		{"read may scrape", "GET", "/metrics", "", bearer("read-secret"), 200, func(t *testing.T, res response) {
			for _, want := range []string{`job="default.web"`, `job="other.worker"`, "ganger_spawns_total"} {
				if !strings.Contains(string(res.body), want) {
					t.Errorf("no %s in the metrics of a token of every session", want)
				}
			}
		}},
		{"limited metrics", "GET", "/metrics", "", bearer("lim-secret"), 200, func(t *testing.T, res response) {
			body := string(res.body)
			if !strings.Contains(body, `ganger_processes_running{job="default.web"} 1`) || !strings.Contains(body, "ganger_jobs 1\n") {
				t.Errorf("a limited token does not see its own session's job:\n%s", body)
			}
			for _, hidden := range []string{"other.worker", "ganger_spawns_total", "ganger_channel_clients"} {
				if strings.Contains(body, hidden) {
					t.Errorf("%s shown to a token limited to session default:\n%s", hidden, body)
				}
			}
		}},
		{"read may not create", "POST", "/jobs/default", `{"name":"x","cmd":"true"}`, bearer("read-secret"), 403, wantError("forbidden")},
		{"read may not scale", "POST", "/jobs/default/web/numprocesses", `{"scale":1}`, bearer("read-secret"), 403, wantError("forbidden")},
		{"read may not stop a process", "DELETE", fmt.Sprintf("/%d", web), "", bearer("read-secret"), 403, wantError("forbidden")},
		{"limited sessions", "GET", "/sessions", "", bearer("lim-secret"), 200, func(t *testing.T, res response) {
			wantJSON(t, res, `{"sessions":["default"]}`)
		}},
		{"limited jobs", "GET", "/jobs", "", bearer("lim-secret"), 200, func(t *testing.T, res response) {
			wantJSON(t, res, `{"jobs":["default.web"]}`)
		}},
		{"limited pids", "GET", "/pids", "", bearer("limread-secret"), 200, func(t *testing.T, res response) {
			wantJSON(t, res, fmt.Sprintf(`{"pids":[%d]}`, web))
		}},
		{"limited: other session", "GET", "/jobs/other", "", bearer("lim-secret"), 403, wantError("forbidden")},
		{"limited: other job", "GET", "/jobs/other/worker", "", bearer("lim-secret"), 403, wantError("forbidden")},
		{"limited: other process", "GET", fmt.Sprintf("/%d", worker), "", bearer("lim-secret"), 403, wantError("forbidden")},
		{"limited: create elsewhere", "POST", "/jobs/other", `{"name":"x","cmd":"true"}`, bearer("lim-secret"), 403, wantError("forbidden")},
		{"limited: own job", "POST", "/jobs/default/web/numprocesses", `{"scale":"=1"}`, bearer("lim-secret"), 200, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := e.do(t, request{method: c.method, path: c.path, body: c.body, header: c.header})
			if res.status != c.status {
				t.Fatalf("status %d, want %d: %s", res.status, c.status, res.body)
			}
			if c.check != nil {
				c.check(t, res)
			}
		})
	}

	t.Run("mutations are logged by token name", func(t *testing.T) {
		out := logs.String()
		if !strings.Contains(out, "token=limited") || !strings.Contains(out, "status=200") || !strings.Contains(out, "path=/jobs/default/web/numprocesses") {
			t.Errorf("no log line of the scale:\n%s", out)
		}
		if !strings.Contains(out, "token=reader") || !strings.Contains(out, "status=403") {
			t.Errorf("no log line of the refused call:\n%s", out)
		}
		for _, tok := range testTokens {
			if strings.Contains(out, tok.Token) {
				t.Errorf("the log shows the token of %s", tok.Name)
			}
		}
	})
}

func TestAuthChannel(t *testing.T) {
	e := newAuthEnv(t)
	e.token = "adm-secret"
	e.load(t, `{"name":"web","cmd":"sleep 30","graceful_timeout":1}`)
	e.call(t, "POST", "/jobs/other", `{"name":"worker","cmd":"sleep 30","start":false}`, 201)
	e.token = ""

	t.Run("no token", func(t *testing.T) {
		_, res, err := e.dial(t, "/channel", nil)
		if err == nil || res == nil || res.StatusCode != 401 {
			t.Fatalf("%v %v", err, res)
		}
	})
	t.Run("unknown query token", func(t *testing.T) {
		_, res, err := e.dial(t, "/channel?token=nope", nil)
		if err == nil || res == nil || res.StatusCode != 401 {
			t.Fatalf("%v %v", err, res)
		}
	})
	open := func(t *testing.T, path string, h http.Header) *ws {
		c, _, err := e.dial(t, path, h)
		if err != nil {
			t.Fatalf("dialing: %v", err)
		}
		t.Cleanup(func() { c.CloseNow() })
		return &ws{t: t, c: c}
	}
	t.Run("X-Api-Key", func(t *testing.T) {
		w := open(t, "/channel", http.Header{"X-Api-Key": {"adm-secret"}})
		w.result("sessions")
	})
	t.Run("read token by query", func(t *testing.T) {
		w := open(t, "/channel?token=read-secret", nil)
		w.sub("EVENTS")
		w.result("info", "default.web")
		for _, c := range []struct {
			name string
			args []any
		}{{"scale", []any{"default.web", 2}}, {"restart", []any{"default.web"}}, {"stopall", nil}, {"load", []any{map[string]any{"name": "x", "cmd": "true"}}}} {
			m := w.cmd(c.name, c.args...)
			if m.Event != "gaffer:command_error" || m.Data["error"].(map[string]any)["errno"] != 403.0 {
				t.Errorf("%s with a read token: %v", c.name, m)
			}
		}
	})
	t.Run("limited token", func(t *testing.T) {
		w := open(t, "/channel?token=lim-secret", nil)
		w.sub("EVENTS")
		wantValue(t, w.result("jobs"), `{"jobs":["default.web"]}`)
		wantValue(t, w.result("sessions"), `{"sessions":["default"]}`)
		for _, c := range []struct {
			name string
			args []any
		}{{"info", []any{"other.worker"}}, {"start_job", []any{"other.worker"}}, {"stopall", nil}, {"jobs", []any{"other"}}} {
			m := w.cmd(c.name, c.args...)
			if m.Event != "gaffer:command_error" || m.Data["error"].(map[string]any)["errno"] != 403.0 {
				t.Errorf("%s %v with a limited token: %v", c.name, c.args, m)
			}
		}
		w.send(map[string]any{"event": "SUB", "data": map[string]any{"topic": "STATS:other.worker"}})
		if m := w.read(5 * time.Second); m.Event != "gaffer:subscription_error" {
			t.Errorf("STATS of another session: %v", m)
		}
		// Events of other sessions are filtered out.
		e.token = "adm-secret"
		e.call(t, "POST", "/jobs/other/worker/numprocesses", `{"scale":"=3"}`, 200)
		e.call(t, "POST", "/jobs/default/web/numprocesses", `{"scale":"=1"}`, 200)
		e.token = ""
		m, skipped := w.until(5*time.Second, isEvent("scale", "default.web"))
		for _, s := range append(skipped, m) {
			if s.Data["name"] == "other.worker" {
				t.Errorf("limited token saw %v", s)
			}
		}
	})
}

func TestHostCheck(t *testing.T) {
	e := newEnv(t, withOptions(func(o *httpapi.Options) {
		o.LoopbackOnly = true
		o.AllowedHosts = []string{"ganger.lan"}
	}))
	port := e.srv.Listener.Addr().(interface{ String() string }).String()
	port = port[strings.LastIndex(port, ":"):]
	for _, c := range []struct {
		host   string
		status int
	}{
		{"localhost" + port, 200},
		{"LOCALHOST", 200},
		{"127.0.0.1" + port, 200},
		{"127.1.2.3" + port, 200},
		{"[::1]" + port, 200},
		{"ganger.lan" + port, 200},
		{"evil.example", 421},
		{"evil.example" + port, 421},
		{"localhost.evil.example", 421},
		{"10.0.0.1" + port, 421},
	} {
		t.Run(c.host, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.url+"/jobs", nil)
			req.Host = c.host
			res, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, c.status, b)
			}
			if c.status == 421 {
				wantError("forbidden")(t, response{status: res.StatusCode, body: b})
			}
		})
	}
}

func TestOriginCheck(t *testing.T) {
	e := newEnv(t, withOptions(func(o *httpapi.Options) { o.AllowedOrigins = []string{"dash.example"} }))
	host := strings.TrimPrefix(e.url, "http://")
	for _, c := range []struct {
		origin string
		status int // 0: accepted
	}{
		{"", 0}, // not a browser
		{"http://" + host, 0},
		{"http://dash.example", 0},
		{"http://evil.example", 403},
		{"null", 403},
	} {
		t.Run("ws "+c.origin, func(t *testing.T) {
			h := http.Header{}
			if c.origin != "" {
				h.Set("Origin", c.origin)
			}
			conn, res, err := e.dial(t, "/channel", h)
			if c.status == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				conn.CloseNow()
				return
			}
			if err == nil || res == nil || res.StatusCode != c.status {
				t.Fatalf("%v %v, want %d", err, res, c.status)
			}
			b, _ := io.ReadAll(res.Body)
			wantError("forbidden")(t, response{status: res.StatusCode, body: b})
		})
	}
	for _, c := range []struct {
		name   string
		header map[string]string
		status int
	}{
		{"cross-site POST", map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
		{"cross-origin POST without Sec-Fetch-Site", map[string]string{"Origin": "http://evil.example"}, 403},
		{"allowed origin", map[string]string{"Origin": "http://dash.example", "Sec-Fetch-Site": "cross-site"}, 404},
		{"same origin", map[string]string{"Origin": "http://" + host, "Sec-Fetch-Site": "same-origin"}, 404},
		{"no browser headers", nil, 404},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A body-less commit of a job that does not exist: 404 once
			// past the origin check.
			res := e.do(t, request{method: "POST", path: "/jobs/default/nosuch/commit", header: c.header})
			if res.status != c.status {
				t.Fatalf("status %d, want %d: %s", res.status, c.status, res.body)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"web","cmd":"sleep 30","numprocesses":2,"graceful_timeout":1,"min_uptime":0}`)
	e.load(t, `{"name":"crash","cmd":"false","backoff":{"initial":"10ms","max":"20ms"},"flapping":false}`)
	e.waitRunning(t, "default.web", 2)
	w := e.channel(t)
	w.sub("EVENTS")
	var families map[string]*dto.MetricFamily
	scrape := func() string {
		res := e.do(t, request{method: "GET", path: "/metrics"})
		if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/plain") {
			t.Fatalf("status %d, Content-Type %q", res.status, res.header.Get("Content-Type"))
		}
		var err error
		p := expfmt.NewTextParser(model.UTF8Validation)
		if families, err = p.TextToMetricFamilies(bytes.NewReader(res.body)); err != nil {
			t.Fatalf("the exposition does not parse: %v\n%s", err, res.body)
		}
		return string(res.body)
	}
	// value returns the value of the series of family name with labels.
	value := func(name string, labels ...string) (float64, bool) {
		f := families[name]
		if f == nil {
			return 0, false
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	await.Until(t, 10*time.Second, "the crashing job restarted and both web slots running", func() bool {
		scrape()
		r, _ := value("ganger_restarts_total", "job", "default.crash")
		run, _ := value("ganger_slots", "job", "default.web", "state", "running")
		return r >= 2 && run == 2
	})
	body := scrape()
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"ganger_jobs", nil, 2},
		{"ganger_processes_running", []string{"job", "default.web"}, 2},
		{"ganger_restarts_total", []string{"job", "default.web"}, 0},
		{"ganger_slots", []string{"job", "default.web", "state", "starting"}, 0},
		{"ganger_slots", []string{"job", "default.web", "state", "fatal"}, 0},
		{"ganger_spawn_errors_total", nil, 0},
		{"ganger_giveups_total", nil, 0},
		{"ganger_events_dropped_total", []string{"kind", "events"}, 0},
		{"ganger_events_dropped_total", []string{"kind", "output"}, 0},
		{"ganger_channel_clients", nil, 1},
	} {
		if got, ok := value(c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if spawns, _ := value("ganger_spawns_total"); spawns < 4 {
		t.Errorf("ganger_spawns_total %v, want 4 or more", spawns)
	}
	if n := len(families["ganger_slots"].GetMetric()); n != 2*7 {
		t.Errorf("%d ganger_slots series, want one per job and state (14)", n)
	}
	for name, f := range families {
		if f.GetHelp() == "" {
			t.Errorf("%s has no HELP", name)
		}
	}
	for _, want := range []string{"# TYPE ganger_restarts_total counter", "# TYPE ganger_slots gauge", "# TYPE ganger_jobs gauge"} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in\n%s", want, body)
		}
	}
}

// fakeManager fails in the ways a real one should not, to test the error
// paths. Methods it does not override panic (nil interface).
type fakeManager struct {
	httpapi.Manager
	sessions func() ([]string, error)
}

func (f fakeManager) Sessions(context.Context) ([]string, error) { return f.sessions() }

func TestInternalErrors(t *testing.T) {
	logs := &syncBuffer{}
	var panics bool
	f := fakeManager{sessions: func() ([]string, error) {
		if panics {
			panic("boom")
		}
		return nil, errors.New("disk on fire at /secret/path")
	}}
	h := httpapi.New(httpapi.Options{Manager: f, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func() (int, string) {
		res, err := http.Get(srv.URL + "/sessions")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	status, body := get()
	if status != 500 || strings.TrimSpace(body) != `{"error":"internal","reason":"internal error","errno":500}` {
		t.Errorf("internal error: %d %s", status, body)
	}
	if !strings.Contains(logs.String(), "disk on fire at /secret/path") {
		t.Errorf("the internal error is not logged:\n%s", logs)
	}

	panics = true
	status, body = get()
	if status != 500 || strings.TrimSpace(body) != `{"error":"internal","reason":"internal error","errno":500}` {
		t.Errorf("panic: %d %s", status, body)
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Errorf("the panic is not logged:\n%s", logs)
	}
	panics = false
	if status, _ := get(); status != 500 {
		t.Errorf("after a panic: %d", status)
	}
}

// TestRequestIDs: a request that logs takes the client's X-Request-Id or
// a new ID, unique to it and the same on all its lines; a GET that logs
// nothing needs none.
func TestRequestIDs(t *testing.T) {
	logs := &syncBuffer{}
	e := newEnv(t, withOptions(func(o *httpapi.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	}))
	e.load(t, `{"name":"web","cmd":"sleep 30","graceful_timeout":1}`)
	lines := func() []map[string]any {
		var out []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil {
				out = append(out, m)
			}
		}
		return out
	}
	scale := request{method: "POST", path: "/jobs/default/web/numprocesses", body: `{"scale":1}`}
	e.do(t, scale)
	e.do(t, scale)
	withID := scale
	withID.header = map[string]string{"X-Request-Id": "client-chosen-7"}
	e.do(t, withID)
	if res := e.do(t, request{method: "GET", path: "/jobs/default/web"}); res.status != 200 {
		t.Fatalf("GET job: %d %s", res.status, res.body)
	}

	var ids []string
	for _, l := range lines() {
		if l["msg"] != "api call" || l["path"] != scale.path {
			continue
		}
		id, _ := l["request_id"].(string)
		ids = append(ids, id)
	}
	if len(ids) != 3 {
		t.Fatalf("want 3 logged scale calls, got %q in:\n%s", ids, logs)
	}
	if ids[0] == "" || ids[0] == ids[1] {
		t.Errorf("made request IDs must be unique and non-empty: %q", ids[:2])
	}
	if ids[2] != "client-chosen-7" {
		t.Errorf("the client's X-Request-Id: logged %q", ids[2])
	}
	if strings.Contains(logs.String(), `"method":"GET"`) {
		t.Errorf("a GET was logged:\n%s", logs)
	}
}

func TestUI(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ui:"+r.URL.Path) })
	e := newAuthEnv(t, withOptions(func(o *httpapi.Options) { o.UI = ui }))
	e.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if res := e.do(t, request{method: "GET", path: "/ui"}); res.status != http.StatusMovedPermanently || res.header.Get("Location") != "/ui/" {
		t.Errorf("/ui: %d %v", res.status, res.header)
	}
	// The assets need no token; the API calls they make do.
	if res := e.do(t, request{method: "GET", path: "/ui/app.js"}); res.status != 200 || string(res.body) != "ui:/app.js" {
		t.Errorf("/ui/app.js: %d %s", res.status, res.body)
	}
}

// TestWebSocketSurvivesServerTimeouts: a server's ReadTimeout or
// WriteTimeout must not end a WebSocket (the deadlines they leave on the
// connection are cleared at the upgrade).
func TestWebSocketSurvivesServerTimeouts(t *testing.T) {
	if testing.Short() {
		t.Skip("waits past a read timeout")
	}
	m := newEnv(t).m
	h := httpapi.New(httpapi.Options{Manager: m, Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewUnstartedServer(h)
	srv.Config = httpapi.NewServer(h)
	srv.Config.ReadTimeout = 300 * time.Millisecond
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.Start()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(10*time.Second))
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/channel", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	w := &ws{t: t, c: c}
	time.Sleep(600 * time.Millisecond) // past the timeouts
	w.result("sessions")
}
