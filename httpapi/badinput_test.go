package httpapi_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// snapshot is what a rejected request must leave unchanged.
func (e *env) snapshot(t *testing.T) string {
	t.Helper()
	job := e.get(t, "/jobs/default/web")
	var b strings.Builder
	for _, p := range []string{"/sessions", "/jobs", "/pids"} {
		b.WriteString(string(e.do(t, request{method: "GET", path: p}).body))
	}
	b.WriteString(mustJSON([]any{job["numprocesses"], job["active"], job["config"], job["processes"]}))
	return b.String()
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"web","cmd":"sleep 30","graceful_timeout":1}`)
	pid := e.waitRunning(t, "default.web", 1)[0]
	p := "/" + strconv.Itoa(pid)
	big := `{"name":"big","cmd":"sleep 1","env":{"X":"` + strings.Repeat("x", 1<<20) + `"}}`
	json := map[string]string{}
	text := map[string]string{"Content-Type": "text/plain"}
	form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	noType := map[string]string{"Content-Type": ""}

	cases := []struct {
		name    string
		method  string
		path    string
		body    string
		header  map[string]string
		chunked bool
		status  int
		code    string
		reason  string // a substring of the reason
	}{
		{"malformed job JSON", "POST", "/jobs/default", `{"name":`, json, false, 400, "invalid_config", "JSON"},
		{"job not an object", "POST", "/jobs/default", `[1,2]`, json, false, 400, "invalid_config", "object"},
		{"empty job", "POST", "/jobs/default", ``, map[string]string{"Content-Type": "application/json"}, false, 400, "invalid_config", ""},
		{"job wrong type", "POST", "/jobs/default", `{"name":"x","cmd":"sleep 1","numprocesses":"two"}`, json, false, 400, "invalid_config", "numprocesses"},
		{"job unknown field", "POST", "/jobs/default", `{"name":"x","cmd":"sleep 1","bogus":1}`, json, false, 400, "invalid_config", "bogus"},
		{"job negative numprocesses", "POST", "/jobs/default", `{"name":"x","cmd":"sleep 1","numprocesses":-1}`, json, false, 400, "invalid_config", "numprocesses"},
		{"job bad stop_signal", "POST", "/jobs/default", `{"name":"x","cmd":"sleep 1","stop_signal":"FOO"}`, json, false, 400, "invalid_config", "stop_signal"},
		{"job session mismatch", "POST", "/jobs/default", `{"session":"other","name":"x","cmd":"sleep 1"}`, json, false, 400, "invalid_config", "session"},
		{"job trailing data", "POST", "/jobs/default", `{"name":"x","cmd":"sleep 1"} {}`, json, false, 400, "invalid_config", ""},
		{"invalid session name", "POST", "/jobs/bad.name", `{"name":"x","cmd":"sleep 1"}`, json, false, 400, "bad_request", "session"},
		{"invalid job name", "GET", "/jobs/default/bad!name", ``, nil, false, 400, "bad_request", "job"},
		{"body over 1 MiB", "POST", "/jobs/default", big, json, false, 413, "payload_too_large", ""},
		{"chunked body over 1 MiB", "POST", "/jobs/default", big, json, true, 413, "payload_too_large", ""},
		{"text content type", "POST", "/jobs/default", `{"name":"x","cmd":"sleep 1"}`, text, false, 415, "bad_request", "Content-Type"},
		{"form content type", "POST", "/jobs/default/web/commit", `a=b`, form, false, 415, "bad_request", "Content-Type"},
		{"form content type, empty body", "POST", "/jobs/default/web/commit", ``, form, false, 415, "bad_request", "Content-Type"},
		{"no content type", "POST", "/jobs/default", `{"name":"x","cmd":"sleep 1"}`, noType, false, 415, "bad_request", "Content-Type"},
		{"put malformed", "PUT", "/jobs/default/web", `{`, json, false, 400, "invalid_config", ""},
		{"put unknown field", "PUT", "/jobs/default/web", `{"name":"web","cmd":"sleep 2","numprocess":3}`, json, false, 400, "invalid_config", "numprocess"},
		{"put unknown job", "PUT", "/jobs/default/nosuch", `{"name":"nosuch","cmd":"sleep 2"}`, json, false, 404, "not_found", ""},
		{"scale malformed", "POST", "/jobs/default/web/numprocesses", `{"scale":`, json, false, 400, "bad_request", "JSON"},
		{"scale missing", "POST", "/jobs/default/web/numprocesses", `{}`, json, false, 400, "bad_request", "scale"},
		{"scale word", "POST", "/jobs/default/web/numprocesses", `{"scale":"two"}`, json, false, 400, "bad_request", "scale"},
		{"scale fraction", "POST", "/jobs/default/web/numprocesses", `{"scale":1.5}`, json, false, 400, "bad_request", "scale"},
		{"scale bool", "POST", "/jobs/default/web/numprocesses", `{"scale":true}`, json, false, 400, "bad_request", "scale"},
		{"scale unknown field", "POST", "/jobs/default/web/numprocesses", `{"scale":1,"force":true}`, json, false, 400, "bad_request", "force"},
		{"scale trailing data", "POST", "/jobs/default/web/numprocesses", `{"scale":1}{"scale":2}`, json, false, 400, "bad_request", ""},
		{"scale below 0", "POST", "/jobs/default/web/numprocesses", `{"scale":-2}`, json, false, 400, "bad_request", "below 0"},
		{"scale =-1", "POST", "/jobs/default/web/numprocesses", `{"scale":"=-1"}`, json, false, 400, "bad_request", ""},
		{"scale unknown job", "POST", "/jobs/default/nosuch/numprocesses", `{"scale":1}`, json, false, 404, "not_found", ""},
		{"signal FOO", "POST", "/jobs/default/web/signal", `{"signal":"FOO"}`, json, false, 400, "bad_request", "FOO"},
		{"signal 999", "POST", "/jobs/default/web/signal", `{"signal":999}`, json, false, 400, "bad_request", "999"},
		{"signal 0", "POST", "/jobs/default/web/signal", `{"signal":0}`, json, false, 400, "bad_request", ""},
		{"signal -9", "POST", "/jobs/default/web/signal", `{"signal":-9}`, json, false, 400, "bad_request", ""},
		{"signal list", "POST", "/jobs/default/web/signal", `{"signal":[9]}`, json, false, 400, "bad_request", ""},
		{"signal missing", "POST", "/jobs/default/web/signal", `{}`, json, false, 400, "bad_request", "signal"},
		{"signal no body", "POST", "/jobs/default/web/signal", ``, nil, false, 400, "bad_request", ""},
		{"signal unknown field", "POST", "/jobs/default/web/signal", `{"signal":"HUP","sig":1}`, json, false, 400, "bad_request", "sig"},
		{"signal unknown job", "POST", "/jobs/default/nosuch/signal", `{"signal":"HUP"}`, json, false, 404, "not_found", ""},
		{"process signal FOO", "POST", p + "/signal", `{"signal":"FOO"}`, json, false, 400, "bad_request", "FOO"},
		{"process signal 999", "POST", p + "/signal", `{"signal":"999"}`, json, false, 400, "bad_request", ""},
		{"state unknown action", "POST", "/jobs/default/web/state", `{"action":"explode"}`, json, false, 400, "bad_request", "explode"},
		{"state unknown action names restart", "POST", "/jobs/default/web/state", `{"action":"explode"}`, json, false, 400, "bad_request", `"restart"`},
		{"state no action names restart", "POST", "/jobs/default/web/state", `{}`, json, false, 400, "bad_request", `"restart"`},
		{"state bad body names restart", "POST", "/jobs/default/web/state", `"go"`, json, false, 400, "bad_request", `"restart"`},
		{"state wrong type", "POST", "/jobs/default/web/state", `{"action":1}`, json, false, 400, "bad_request", "action"},
		{"state 3", "POST", "/jobs/default/web/state", `3`, json, false, 400, "bad_request", ""},
		{"state word", "POST", "/jobs/default/web/state", `start`, json, false, 400, "bad_request", ""},
		{"state unknown job", "POST", "/jobs/default/nosuch/state", `{"action":"stop"}`, json, false, 404, "not_found", ""},
		{"commit bad timeout", "POST", "/jobs/default/web/commit", `{"graceful_timeout":"soon"}`, json, false, 400, "bad_request", "graceful_timeout"},
		{"commit negative timeout", "POST", "/jobs/default/web/commit", `{"graceful_timeout":-1}`, json, false, 400, "bad_request", "graceful_timeout"},
		{"commit env not strings", "POST", "/jobs/default/web/commit", `{"env":{"A":1}}`, json, false, 400, "bad_request", "env"},
		{"commit unknown field", "POST", "/jobs/default/web/commit", `{"numprocesses":1}`, json, false, 400, "bad_request", "numprocesses"},
		{"commit unknown job", "POST", "/jobs/default/nosuch/commit", ``, nil, false, 404, "not_found", ""},
		{"delete unknown job", "DELETE", "/jobs/default/nosuch", ``, nil, false, 404, "not_found", ""},
		{"non-numeric pid", "DELETE", "/abc", ``, nil, false, 404, "not_found", ""},
		{"non-numeric pid signal", "POST", "/abc/signal", `{"signal":"HUP"}`, json, false, 404, "not_found", ""},
		{"unknown pid", "DELETE", "/987654", ``, nil, false, 404, "not_found", ""},
		{"logs bad lines", "GET", "/jobs/default/web/logs?lines=abc", ``, nil, false, 400, "bad_request", "lines"},
		{"bad channel mode", "GET", p + "/channel?mode=5", ``, nil, false, 400, "bad_request", "mode"},
	}
	before := e.snapshot(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, e.url+c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.body != "" {
				if c.chunked {
					req.Body = io.NopCloser(strings.NewReader(c.body))
					req.ContentLength = -1
				} else {
					req.Body = io.NopCloser(strings.NewReader(c.body))
					req.ContentLength = int64(len(c.body))
				}
				req.Header.Set("Content-Type", "application/json")
			}
			for k, v := range c.header {
				if v == "" {
					req.Header.Del(k)
				} else {
					req.Header.Set(k, v)
				}
			}
			res, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			t.Logf("%d %s", res.StatusCode, b)
			r := response{status: res.StatusCode, header: res.Header, body: b}
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, b)
			}
			wantError(c.code)(t, r)
			if reason, _ := r.json(t)["reason"].(string); !strings.Contains(reason, c.reason) {
				t.Errorf("reason %q does not mention %q", reason, c.reason)
			}
			if after := e.snapshot(t); after != before {
				t.Errorf("state changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	if got := e.waitRunning(t, "default.web", 1)[0]; got != pid {
		t.Errorf("process %d replaced by %d", pid, got)
	}
}
