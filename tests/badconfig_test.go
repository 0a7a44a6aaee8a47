package tests

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"
)

// Tests of bad lifecycle settings (API.md "Bad input", "Job config"): each
// is refused wherever a job config comes in, naming the field, and
// nothing changes.

// badJobs are job configs with one bad lifecycle setting, as the fields
// of a job named "bad" whose cmd is "sleep 300", in JSON and in TOML.
var badJobs = []struct {
	name string
	json string
	toml string
	want []string // what the error must say: the field first
}{
	{"unknown probe kind", `"readiness": {"grpc": "127.0.0.1:1"}`, `readiness = { grpc = "127.0.0.1:1" }`,
		[]string{"readiness.grpc"}},
	{"two kinds in one probe", `"readiness": {"http": "http://127.0.0.1:1/", "tcp": "127.0.0.1:1"}`,
		`readiness = { http = "http://127.0.0.1:1/", tcp = "127.0.0.1:1" }`, []string{"readiness", "http", "tcp"}},
	{"no kind in a probe", `"liveness": {"interval": "1s"}`, `liveness = { interval = "1s" }`, []string{"liveness"}},
	{"negative threshold", `"liveness": {"tcp": "127.0.0.1:1", "failure_threshold": -1}`,
		`liveness = { tcp = "127.0.0.1:1", failure_threshold = -1 }`, []string{"liveness.failure_threshold"}},
	{"negative interval", `"readiness": {"tcp": "127.0.0.1:1", "interval": "-1s"}`,
		`readiness = { tcp = "127.0.0.1:1", interval = "-1s" }`, []string{"readiness.interval"}},
	{"log probe for liveness", `"liveness": {"log": "up"}`, `liveness = { log = "up" }`, []string{"liveness.log"}},
	{"depends_on an invalid name", `"depends_on": {"bad name!": "ready"}`, `depends_on = { "bad name!" = "ready" }`,
		[]string{"depends_on", "bad name!"}},
	{"depends_on itself", `"depends_on": {"bad": "ready"}`, `depends_on = { bad = "ready" }`, []string{"depends_on", "itself"}},
	{"depends_on itself by full name", `"depends_on": ["default.bad"]`, `depends_on = ["default.bad"]`, []string{"depends_on", "itself"}},
	{"depends_on an unknown condition", `"depends_on": {"db": "healthy"}`, `depends_on = { db = "healthy" }`,
		[]string{"depends_on", "healthy"}},
	{"restart sometimes", `"restart": "sometimes"`, `restart = "sometimes"`, []string{"restart", "sometimes"}},
	{"backoff max below initial", `"backoff": {"initial": "2s", "max": "1s"}`, `backoff = { initial = "2s", max = "1s" }`,
		[]string{"backoff.max"}},
}

func badJobJSON(fields string) string {
	return `{"name": "bad", "cmd": "sleep 300", ` + fields + `}`
}

func badJobTOML(fields string) string {
	return "\n[[job]]\nname = \"bad\"\ncmd = \"sleep 300\"\n" + fields + "\n"
}

// cycleJobs are two jobs that depend on each other, each fine alone.
const (
	cycleA     = `{"name": "a", "cmd": "sleep 300", "graceful_timeout": 1, "depends_on": {"b": "ready"}}`
	cycleB     = `{"name": "b", "cmd": "sleep 300", "graceful_timeout": 1, "depends_on": ["a"]}`
	cycleTOML  = "\n[[job]]\nname = \"a\"\ncmd = \"sleep 300\"\ndepends_on = { b = \"ready\" }\n\n[[job]]\nname = \"b\"\ncmd = \"sleep 300\"\ndepends_on = [\"a\"]\n"
	goodConfig = "[[job]]\nname = \"keep\"\ncmd = \"sleep 300\"\ngraceful_timeout = 1\n"
)

// cycleWant is what a refused cycle's error must say.
var cycleWant = []string{"depends_on", "cycle", "default.a", "default.b"}

// sayAll fails the test unless msg holds every one of want.
func sayAll(t *testing.T, what, msg string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("%s: %q does not say %q", what, msg, w)
		}
	}
}

// TestBadLifecycleConfig: over REST (POST /jobs/default and a PUT: 400
// invalid_config naming the field), through "ganger load" (a message, a
// non-zero exit) and in a SIGHUP-reloaded config file (the error logged),
// each bad setting is refused and nothing is loaded or changed; a
// dependency cycle across two loads (or a load and a PUT) refuses the
// second, naming the cycle.
func TestBadLifecycleConfig(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, goodConfig)
	keep := waitRunning(t, d.URL, "", "default", "keep", 1)
	jobs := func() []string {
		var v struct{ Jobs []string }
		getJSON(t, d.URL+"/jobs", "", &v)
		slices.Sort(v.Jobs)
		return v.Jobs
	}
	unchanged := func(t *testing.T, what string, want []string) {
		t.Helper()
		if got := jobs(); !slices.Equal(got, want) {
			t.Errorf("%s: jobs %v, want %v", what, got, want)
		}
		if got := osPids(t, d.URL, "", "default", "keep"); !slices.Equal(got, keep) {
			t.Errorf("%s: keep's os_pids %v, were %v", what, got, keep)
		}
	}
	refused := func(t *testing.T, method, path, body string, want []string) {
		t.Helper()
		code, b := httpDo(t, method, d.URL+path, "", body)
		var e struct {
			Error  string `json:"error"`
			Reason string `json:"reason"`
			Errno  int    `json:"errno"`
		}
		if err := json.Unmarshal(b, &e); err != nil || code != http.StatusBadRequest || e.Error != "invalid_config" || e.Errno != 400 {
			t.Errorf("%s %s %s: %d %s, want 400 invalid_config", method, path, body, code, b)
		}
		sayAll(t, method+" "+path, e.Reason, want)
	}
	refusedREST := func(t *testing.T, body string, want []string) {
		t.Helper()
		refused(t, http.MethodPost, "/jobs/default", body, want)
	}
	keepConfig := string(jobState(t, d, "keep").Config)
	dir := t.TempDir()
	refusedLoad := func(t *testing.T, body string, want []string) {
		t.Helper()
		path := filepath.Join(dir, "job.json")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, code := run(t, "load", path, "--address", d.Addr)
		if code == 0 {
			t.Errorf("ganger load %s: exit 0 (stdout %q)", body, out)
		}
		sayAll(t, "ganger load", errOut, want)
	}
	refusedHUP := func(t *testing.T, config string, want []string) {
		t.Helper()
		const notReloaded = "config file not reloaded"
		seen := len(d.Stderr())
		d.WriteConfig(config)
		d.Signal(syscall.SIGHUP)
		var logged string
		await.Until(t, 10*time.Second, "the daemon to log the refused reload", func() bool {
			logged = d.Stderr()[seen:]
			return strings.Contains(logged, notReloaded)
		})
		line := logged[strings.Index(logged, notReloaded):]
		if i := strings.IndexByte(line, '\n'); i >= 0 {
			line = line[:i]
		}
		sayAll(t, "the log after SIGHUP", line, want)
	}
	before := jobs()
	for _, c := range badJobs {
		t.Run(c.name, func(t *testing.T) {
			refusedREST(t, badJobJSON(c.json), c.want)
			unchanged(t, "after POST", before)
			if code, _ := httpDo(t, http.MethodHead, d.URL+"/jobs/default/bad", "", ""); code != http.StatusNotFound {
				t.Errorf("HEAD /jobs/default/bad: %d after a refused POST", code)
			}
			// A PUT of the job keep with the bad setting (the job named
			// keep throughout) changes nothing either.
			toKeep := strings.NewReplacer("bad", "keep")
			var wantKeep []string
			for _, w := range c.want {
				wantKeep = append(wantKeep, toKeep.Replace(w))
			}
			refused(t, http.MethodPut, "/jobs/default/keep", toKeep.Replace(badJobJSON(c.json)), wantKeep)
			unchanged(t, "after PUT", before)
			if cfg := string(jobState(t, d, "keep").Config); cfg != keepConfig {
				t.Errorf("keep's config after a refused PUT:\n%s\nwas:\n%s", cfg, keepConfig)
			}
			refusedLoad(t, badJobJSON(c.json), c.want)
			unchanged(t, "after ganger load", before)
			refusedHUP(t, goodConfig+badJobTOML(c.toml), c.want)
			unchanged(t, "after SIGHUP", before)
		})
	}

	t.Run("cycle across two loads", func(t *testing.T) {
		withA := append(slices.Clone(before), "default.a")
		slices.Sort(withA)
		// REST: a (which waits for b) loads; b, closing the cycle, does not.
		loadJob(t, d, cycleA)
		if v := jobState(t, d, "a"); v.State != "waiting" {
			t.Errorf("a, depending on b not loaded yet: state %s, want waiting", v.State)
		}
		refusedREST(t, cycleB, cycleWant)
		unchanged(t, "after the cycle's POST", withA)
		// The same through ganger load.
		refusedLoad(t, cycleB, cycleWant)
		unchanged(t, "after the cycle's ganger load", withA)
		// b without the dependency loads; a PUT adding it is refused.
		loadJob(t, d, `{"name": "b", "cmd": "sleep 300", "graceful_timeout": 1}`)
		withAB := append(slices.Clone(withA), "default.b")
		slices.Sort(withAB)
		refused(t, http.MethodPut, "/jobs/default/b", cycleB, cycleWant)
		unchanged(t, "after the cycle's PUT", withAB)
		if v := jobState(t, d, "b"); len(v.WaitingFor) != 0 || strings.Contains(string(v.Config), `"a"`) {
			t.Errorf("b after a refused PUT: %s", jsonString(v))
		}
		mustDo(t, http.MethodDelete, d.URL+"/jobs/default/b", "", http.StatusOK)
		mustDo(t, http.MethodDelete, d.URL+"/jobs/default/a", "", http.StatusOK)
		unchanged(t, "after unloading a and b", before)
		// In the config file, a SIGHUP.
		refusedHUP(t, goodConfig+cycleTOML, cycleWant)
		unchanged(t, "after the cycle's SIGHUP", before)
	})
}

// TestBadLifecycleConfigAtStart: a daemon whose config file has a bad
// lifecycle setting (or a dependency cycle) says which and exits non-zero.
func TestBadLifecycleConfigAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := map[string]struct {
		config string
		want   []string
	}{"cycle": {goodConfig + cycleTOML, cycleWant}}
	for _, c := range badJobs {
		cases[c.name] = struct {
			config string
			want   []string
		}{goodConfig + badJobTOML(c.toml), c.want}
	}
	for name, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".toml")
		if err := os.WriteFile(path, []byte(c.config), 0o600); err != nil {
			t.Fatal(err)
		}
		_, errOut, code := runWith(t, runOptions{Dir: dir, Limit: 10 * time.Second}, "daemon", "--config", path, "--bind", "127.0.0.1:0")
		if code == 0 {
			t.Errorf("%s: the daemon exited 0", name)
		}
		sayAll(t, name, errOut, append([]string{path}, c.want...))
	}
}
