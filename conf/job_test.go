package conf

import (
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger"
)

func mustParseJob(t *testing.T, body string) Job {
	t.Helper()
	j, err := ParseJob([]byte(body))
	if err != nil {
		t.Fatalf("ParseJob(%s): %v", body, err)
	}
	return j
}

// wantInvalid checks that err is an EINVALID error whose message contains
// every one of wants.
func wantInvalid(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", wants)
	}
	if code := ganger.ErrorCode(err); code != ganger.EINVALID {
		t.Errorf("error code = %q, want %q (error: %v)", code, ganger.EINVALID, err)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
}

// job returns DefaultJob with name "web", cmd "run" and edit applied.
func job(edit func(*Job)) Job {
	j := DefaultJob()
	j.Name, j.Cmd = "web", "run"
	if edit != nil {
		edit(&j)
	}
	return j
}

// probe returns a DefaultProbe with edit applied.
func probe(edit func(*Probe)) *Probe {
	p := DefaultProbe()
	edit(&p)
	return &p
}

func TestParseJobDefaults(t *testing.T) {
	got := mustParseJob(t, `{"name":"web","cmd":"run"}`)
	want := Job{
		Name:             "web",
		Cmd:              "run",
		Args:             []string{},
		Env:              map[string]string{},
		OSEnv:            true,
		NumProcesses:     1,
		GracefulTimeout:  10 * time.Second,
		StopSignal:       syscall.SIGTERM,
		RedirectOutput:   []string{"stdout", "stderr"},
		CustomStreams:    []string{},
		Flapping:         Flapping{Enabled: true, Attempts: 5, Window: 10 * time.Second, RetryIn: 7 * time.Second, MaxRetry: 5},
		Start:            true,
		Restart:          "always",
		SuccessExitCodes: []int{0},
		Backoff:          Backoff{Enabled: true, Initial: 100 * time.Millisecond, Max: 30 * time.Second, Factor: 2, ResetAfter: 30 * time.Second},
		MinUptime:        time.Second,
		DependsOn:        map[string]string{},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseJob defaults:\n got %+v\nwant %+v", got, want)
	}
	if d := job(nil); !reflect.DeepEqual(d, want) {
		t.Errorf("DefaultJob():\n got %+v\nwant %+v", d, want)
	}
}

func TestParseJobEveryField(t *testing.T) {
	body := `{
		"session": "app",
		"name": "web",
		"cmd": "python3 -m http.server",
		"args": ["--bind", "127.0.0.1", "$PORT"],
		"env": {"LOG_LEVEL": "info", "EMPTY": ""},
		"os_env": false,
		"cwd": "/srv/app",
		"shell": true,
		"uid": "www-data",
		"gid": 33,
		"numprocesses": 3,
		"graceful_timeout": 2.5,
		"stop_signal": "SIGINT",
		"redirect_output": ["out"],
		"redirect_input": true,
		"custom_streams": ["ctl", "data"],
		"flapping": {"attempts": 3, "window": "2s", "retry_in": 0.5, "max_retry": 0},
		"start": false,
		"priority": -2,
		"port": 8000,
		"restart": "on-failure",
		"success_exit_codes": [3, 0, 1, 3],
		"backoff": {"initial": "1s", "max": 60, "factor": 1.5, "reset_after": "2m"},
		"min_uptime": "250ms",
		"readiness": {"http": "http://127.0.0.1:$PORT/health", "interval": "500ms", "timeout": 2,
			"initial_delay": "1s", "failure_threshold": 5, "success_threshold": 2},
		"liveness": {"tcp": "127.0.0.1:$PORT"},
		"depends_on": {"db": "ready", "other.cache": "started", "other/migrate": "completed"}
	}`
	want := Job{
		Session:          "app",
		Name:             "web",
		Cmd:              "python3 -m http.server",
		Args:             []string{"--bind", "127.0.0.1", "$PORT"},
		Env:              map[string]string{"LOG_LEVEL": "info", "EMPTY": ""},
		OSEnv:            false,
		Cwd:              "/srv/app",
		Shell:            true,
		UID:              "www-data",
		GID:              "33",
		NumProcesses:     3,
		GracefulTimeout:  2500 * time.Millisecond,
		StopSignal:       syscall.SIGINT,
		RedirectOutput:   []string{"out"},
		RedirectInput:    true,
		CustomStreams:    []string{"ctl", "data"},
		Flapping:         Flapping{Enabled: true, Attempts: 3, Window: 2 * time.Second, RetryIn: 500 * time.Millisecond, MaxRetry: 0},
		Start:            false,
		Priority:         -2,
		Port:             8000,
		Restart:          RestartOnFailure,
		SuccessExitCodes: []int{0, 1, 3},
		Backoff:          Backoff{Enabled: true, Initial: time.Second, Max: time.Minute, Factor: 1.5, ResetAfter: 2 * time.Minute},
		MinUptime:        250 * time.Millisecond,
		Readiness: &Probe{HTTP: "http://127.0.0.1:$PORT/health", Interval: 500 * time.Millisecond, Timeout: 2 * time.Second,
			InitialDelay: time.Second, FailureThreshold: 5, SuccessThreshold: 2},
		Liveness:  &Probe{TCP: "127.0.0.1:$PORT", Interval: time.Second, Timeout: time.Second, FailureThreshold: 3, SuccessThreshold: 1},
		DependsOn: map[string]string{"db": "ready", "other.cache": "started", "other/migrate": "completed"},
	}
	got := mustParseJob(t, body)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseJob:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseJobFields(t *testing.T) {
	tests := []struct {
		name  string
		extra string // JSON members added to {"name":"web","cmd":"run", …}
		want  Job
	}{
		{"args as list", `"args": ["a b", "$X"]`, job(func(j *Job) { j.Args = []string{"a b", "$X"} })},
		{"args as string", `"args": "-c 'echo $$ $1' \"x y\""`, job(func(j *Job) { j.Args = []string{"-c", "echo $$ $1", "x y"} })},
		{"args empty string", `"args": ""`, job(nil)},
		{"duration int", `"graceful_timeout": 5`, job(func(j *Job) { j.GracefulTimeout = 5 * time.Second })},
		{"duration float", `"graceful_timeout": 0.1`, job(func(j *Job) { j.GracefulTimeout = 100 * time.Millisecond })},
		{"duration exponent", `"graceful_timeout": 1e1`, job(func(j *Job) { j.GracefulTimeout = 10 * time.Second })},
		{"duration zero", `"graceful_timeout": 0`, job(func(j *Job) { j.GracefulTimeout = 0 })},
		{"duration string", `"graceful_timeout": "1m30s"`, job(func(j *Job) { j.GracefulTimeout = 90 * time.Second })},
		{"duration ms string", `"graceful_timeout": "500ms"`, job(func(j *Job) { j.GracefulTimeout = 500 * time.Millisecond })},
		{"duration seconds string", `"graceful_timeout": "2.5"`, job(func(j *Job) { j.GracefulTimeout = 2500 * time.Millisecond })},
		{"uid number", `"uid": 1000, "gid": 0`, job(func(j *Job) { j.UID, j.GID = "1000", "0" })},
		{"uid numeric string", `"uid": "1000"`, job(func(j *Job) { j.UID = "1000" })},
		{"flapping false", `"flapping": false`, job(func(j *Job) { j.Flapping.Enabled = false })},
		{"flapping true", `"flapping": true`, job(nil)},
		{"flapping empty object", `"flapping": {}`, job(nil)},
		{"flapping partial", `"flapping": {"attempts": 2}`, job(func(j *Job) { j.Flapping.Attempts = 2 })},
		{"flapping window string", `"flapping": {"window": "1m"}`, job(func(j *Job) { j.Flapping.Window = time.Minute })},
		{"signal name", `"stop_signal": "HUP"`, job(func(j *Job) { j.StopSignal = syscall.SIGHUP })},
		{"signal SIG name", `"stop_signal": "SIGQUIT"`, job(func(j *Job) { j.StopSignal = syscall.SIGQUIT })},
		{"signal lower case", `"stop_signal": "usr1"`, job(func(j *Job) { j.StopSignal = syscall.SIGUSR1 })},
		{"signal number", `"stop_signal": 2`, job(func(j *Job) { j.StopSignal = syscall.SIGINT })},
		{"signal numeric string", `"stop_signal": "9"`, job(func(j *Job) { j.StopSignal = syscall.SIGKILL })},
		{"signal realtime", `"stop_signal": 40`, job(func(j *Job) { j.StopSignal = syscall.Signal(40) })},
		{"redirect_output empty discards", `"redirect_output": []`, job(func(j *Job) { j.RedirectOutput = []string{} })},
		{"redirect_output merged", `"redirect_output": ["out", "out"]`, job(func(j *Job) { j.RedirectOutput = []string{"out", "out"} })},
		{"numprocesses zero", `"numprocesses": 0`, job(func(j *Job) { j.NumProcesses = 0 })},
		{"numprocesses integral float", `"numprocesses": 2.0`, job(func(j *Job) { j.NumProcesses = 2 })},
		{"null means default", `"numprocesses": null, "flapping": null, "args": null, "port": null`, job(nil)},
		{"session", `"session": "other"`, job(func(j *Job) { j.Session = "other" })},
		{"port", `"port": 65535`, job(func(j *Job) { j.Port = 65535 })},
		{"shell cmd with odd quoting", `"shell": true, "cmd": "echo 'unterminated"`, job(func(j *Job) { j.Shell, j.Cmd = true, "echo 'unterminated" })},
		{"restart on-failure", `"restart": "on-failure"`, job(func(j *Job) { j.Restart = RestartOnFailure })},
		{"restart never", `"restart": "never"`, job(func(j *Job) { j.Restart = RestartNever })},
		{"restart always", `"restart": "always"`, job(nil)},
		{"success codes sorted, no duplicates", `"success_exit_codes": [255, 0, 2, 2]`, job(func(j *Job) { j.SuccessExitCodes = []int{0, 2, 255} })},
		{"success codes integral floats", `"success_exit_codes": [1.0]`, job(func(j *Job) { j.SuccessExitCodes = []int{1} })},
		{"backoff false", `"backoff": false`, job(func(j *Job) { j.Backoff.Enabled = false })},
		{"backoff true", `"backoff": true`, job(nil)},
		{"backoff empty object", `"backoff": {}`, job(nil)},
		{"backoff partial", `"backoff": {"max": "5s"}`, job(func(j *Job) { j.Backoff.Max = 5 * time.Second })},
		{"backoff durations as seconds", `"backoff": {"initial": 0, "max": 0.5, "reset_after": 10}`, job(func(j *Job) {
			j.Backoff.Initial, j.Backoff.Max, j.Backoff.ResetAfter = 0, 500*time.Millisecond, 10*time.Second
		})},
		{"backoff factor integer", `"backoff": {"factor": 3}`, job(func(j *Job) { j.Backoff.Factor = 3 })},
		{"backoff factor one", `"backoff": {"factor": 1}`, job(func(j *Job) { j.Backoff.Factor = 1 })},
		{"backoff initial equals max", `"backoff": {"initial": "30s"}`, job(func(j *Job) { j.Backoff.Initial = 30 * time.Second })},
		{"backoff null members", `"backoff": {"initial": null, "factor": null}`, job(nil)},
		{"min_uptime zero", `"min_uptime": 0`, job(func(j *Job) { j.MinUptime = 0 })},
		{"min_uptime string", `"min_uptime": "1m"`, job(func(j *Job) { j.MinUptime = time.Minute })},
		{"exec probe", `"readiness": {"exec": "pg_isready -h localhost -p $PORT"}`, job(func(j *Job) {
			j.Readiness = probe(func(p *Probe) { p.Exec = "pg_isready -h localhost -p $PORT" })
		})},
		{"http probe", `"liveness": {"http": "https://localhost:${PORT}/healthz?full=1"}`, job(func(j *Job) {
			j.Liveness = probe(func(p *Probe) { p.HTTP = "https://localhost:${PORT}/healthz?full=1" })
		})},
		{"http probe upper-case scheme", `"readiness": {"http": "HTTP://example.com"}`, job(func(j *Job) {
			j.Readiness = probe(func(p *Probe) { p.HTTP = "HTTP://example.com" })
		})},
		{"tcp probe with a port number", `"liveness": {"tcp": "[::1]:5432"}`, job(func(j *Job) {
			j.Liveness = probe(func(p *Probe) { p.TCP = "[::1]:5432" })
		})},
		{"tcp probe with variables", `"liveness": {"tcp": "$HOST:$PORT"}`, job(func(j *Job) {
			j.Liveness = probe(func(p *Probe) { p.TCP = "$HOST:$PORT" })
		})},
		{"tcp probe without a host", `"liveness": {"tcp": ":8080"}`, job(func(j *Job) {
			j.Liveness = probe(func(p *Probe) { p.TCP = ":8080" })
		})},
		{"log probe", `"readiness": {"log": "^listening on :[0-9]+$"}`, job(func(j *Job) {
			j.Readiness = probe(func(p *Probe) { p.Log = "^listening on :[0-9]+$" })
		})},
		{"probe settings", `"readiness": {"tcp": "localhost:1", "interval": 0.25, "timeout": "100ms", "initial_delay": 2, "failure_threshold": 1, "success_threshold": 4}`, job(func(j *Job) {
			j.Readiness = &Probe{TCP: "localhost:1", Interval: 250 * time.Millisecond, Timeout: 100 * time.Millisecond,
				InitialDelay: 2 * time.Second, FailureThreshold: 1, SuccessThreshold: 4}
		})},
		{"probe null members", `"readiness": {"tcp": "localhost:1", "http": null, "interval": null}`, job(func(j *Job) {
			j.Readiness = probe(func(p *Probe) { p.TCP = "localhost:1" })
		})},
		{"depends_on object", `"depends_on": {"db": "started", "other.a": "ready", "other/b": "completed"}`, job(func(j *Job) {
			j.DependsOn = map[string]string{"db": "started", "other.a": "ready", "other/b": "completed"}
		})},
		{"depends_on list means ready", `"depends_on": ["db", "other.cache", "db"]`, job(func(j *Job) {
			j.DependsOn = map[string]string{"db": "ready", "other.cache": "ready"}
		})},
		{"depends_on empty list", `"depends_on": []`, job(nil)},
		{"depends_on another session's job of the same name", `"depends_on": ["other.web"]`, job(func(j *Job) {
			j.DependsOn = map[string]string{"other.web": "ready"}
		})},
		{"depends_on default.web without a session", `"depends_on": ["default.web"]`, job(func(j *Job) {
			j.DependsOn = map[string]string{"default.web": "ready"} // the session is not known yet
		})},
		{"null means default, new fields", `"restart": null, "success_exit_codes": null, "backoff": null, "min_uptime": null, "readiness": null, "liveness": null, "depends_on": null`, job(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParseJob(t, `{"name":"web","cmd":"run",`+tt.extra+`}`)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseJobErrors(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		wants []string // substrings of the error, in any order
	}{
		{"empty body", ``, []string{"empty job config"}},
		{"malformed", `{"name":`, []string{"malformed JSON"}},
		{"syntax", `{"name" "web"}`, []string{"malformed JSON at offset"}},
		{"trailing data", `{"name":"web","cmd":"run"} {}`, []string{"unexpected data after"}},
		{"not an object", `["web"]`, []string{"want a JSON object, got a list"}},
		{"null", `null`, []string{"want a JSON object, got null"}},
		{"missing name and cmd", `{}`, []string{`field "name": required`, `field "cmd": required`}},
		{"blank cmd", `{"name":"web","cmd":"  "}`, []string{`field "cmd": required`}},
		{"unknown field", `{"name":"web","cmd":"run","foo":1}`, []string{`unknown field "foo"`}},
		{"field names are case-sensitive", `{"name":"web","cmd":"run","Port":1}`, []string{`unknown field "Port"`}},
		{"unknown flapping field", `{"name":"web","cmd":"run","flapping":{"attempt":3}}`, []string{`unknown field "flapping.attempt"`}},
		{"name wrong type", `{"name":5,"cmd":"run"}`, []string{`field "name": want a string, got a number`}},
		{"numprocesses string", `{"name":"web","cmd":"run","numprocesses":"2"}`, []string{`field "numprocesses": want an integer, got a string`}},
		{"numprocesses fraction", `{"name":"web","cmd":"run","numprocesses":1.5}`, []string{`field "numprocesses": want an integer, got 1.5`}},
		{"numprocesses huge", `{"name":"web","cmd":"run","numprocesses":1e30}`, []string{`field "numprocesses": want an integer`}},
		{"numprocesses negative", `{"name":"web","cmd":"run","numprocesses":-1}`, []string{`field "numprocesses": must be >= 0, got -1`}},
		{"args number", `{"name":"web","cmd":"run","args":5}`, []string{`field "args": want a list of strings or a string, got a number`}},
		{"args list of numbers", `{"name":"web","cmd":"run","args":["a",1]}`, []string{`field "args": want a list of strings, item 1 is a number`}},
		{"args unterminated quote", `{"name":"web","cmd":"run","args":"'oops"}`, []string{`field "args": unterminated single quote`}},
		{"env list", `{"name":"web","cmd":"run","env":["A=1"]}`, []string{`field "env": want an object of strings, got a list`}},
		{"env number value", `{"name":"web","cmd":"run","env":{"A":1}}`, []string{`field "env": value of "A": want a string, got a number`}},
		{"env key with =", `{"name":"web","cmd":"run","env":{"A=B":"1"}}`, []string{`field "env": invalid variable name "A=B"`}},
		{"env empty key", `{"name":"web","cmd":"run","env":{"":"1"}}`, []string{`field "env": empty variable name`}},
		{"os_env string", `{"name":"web","cmd":"run","os_env":"yes"}`, []string{`field "os_env": want true or false, got a string`}},
		{"start number", `{"name":"web","cmd":"run","start":1}`, []string{`field "start": want true or false, got a number`}},
		{"uid negative", `{"name":"web","cmd":"run","uid":-1}`, []string{`field "uid": invalid user "-1"`}},
		{"gid bool", `{"name":"web","cmd":"run","gid":true}`, []string{`field "gid": want a name or a number, got a boolean`}},
		{"uid too big", `{"name":"web","cmd":"run","uid":4294967295}`, []string{`field "uid": invalid user id 4294967295`}},
		{"bad duration string", `{"name":"web","cmd":"run","graceful_timeout":"10 parsecs"}`, []string{`field "graceful_timeout": invalid duration "10 parsecs"`}},
		{"duration bool", `{"name":"web","cmd":"run","graceful_timeout":true}`, []string{`field "graceful_timeout": want a number of seconds or a duration string, got a boolean`}},
		{"negative duration", `{"name":"web","cmd":"run","graceful_timeout":-1}`, []string{`field "graceful_timeout": must be >= 0, got -1s`}},
		{"duration overflow", `{"name":"web","cmd":"run","graceful_timeout":1e300}`, []string{`field "graceful_timeout": duration of 1e+300 seconds is out of range`}},
		{"unknown signal", `{"name":"web","cmd":"run","stop_signal":"FOO"}`, []string{`field "stop_signal": unknown signal "FOO"`}},
		{"signal zero", `{"name":"web","cmd":"run","stop_signal":0}`, []string{`field "stop_signal": invalid signal number 0`}},
		{"signal 65", `{"name":"web","cmd":"run","stop_signal":65}`, []string{`field "stop_signal": invalid signal number 65`}},
		{"signal bool", `{"name":"web","cmd":"run","stop_signal":true}`, []string{`field "stop_signal": invalid signal`}},
		{"redirect_output three labels", `{"name":"web","cmd":"run","redirect_output":["a","b","c"]}`, []string{`field "redirect_output": at most 2 labels`}},
		{"redirect_output empty label", `{"name":"web","cmd":"run","redirect_output":[""]}`, []string{`field "redirect_output": invalid label ""`}},
		{"redirect_output string", `{"name":"web","cmd":"run","redirect_output":"out"}`, []string{`field "redirect_output": want a list of strings, got a string`}},
		{"custom_streams stdin", `{"name":"web","cmd":"run","custom_streams":["stdin"]}`, []string{`field "custom_streams": label "stdin" is reserved`}},
		{"custom_streams duplicate", `{"name":"web","cmd":"run","custom_streams":["a","a"]}`, []string{`field "custom_streams": duplicate label "a"`}},
		{"custom_streams bad label", `{"name":"web","cmd":"run","custom_streams":["a.b"]}`, []string{`field "custom_streams": invalid label "a.b"`}},
		{"custom_streams clash with output", `{"name":"web","cmd":"run","custom_streams":["stdout"]}`, []string{`field "custom_streams": label "stdout" is also a redirect_output label`}},
		{"flapping string", `{"name":"web","cmd":"run","flapping":"off"}`, []string{`field "flapping": want an object or false, got a string`}},
		{"flapping attempts zero", `{"name":"web","cmd":"run","flapping":{"attempts":0}}`, []string{`field "flapping.attempts": must be >= 1, got 0`}},
		{"flapping window zero", `{"name":"web","cmd":"run","flapping":{"window":0}}`, []string{`field "flapping.window": must be > 0, got 0s`}},
		{"flapping retry_in negative", `{"name":"web","cmd":"run","flapping":{"retry_in":"-1s"}}`, []string{`field "flapping.retry_in": must be >= 0, got -1s`}},
		{"flapping max_retry negative", `{"name":"web","cmd":"run","flapping":{"max_retry":-1}}`, []string{`field "flapping.max_retry": must be >= 0, got -1`}},
		{"flapping attempts type", `{"name":"web","cmd":"run","flapping":{"attempts":"3"}}`, []string{`field "flapping.attempts": want an integer, got a string`}},
		{"port too big", `{"name":"web","cmd":"run","port":65536}`, []string{`field "port": must be 1 to 65535 (or 0 for none), got 65536`}},
		{"port negative", `{"name":"web","cmd":"run","port":-1}`, []string{`field "port": must be 1 to 65535`}},
		{"invalid name", `{"name":"a.b","cmd":"run"}`, []string{`field "name": invalid name "a.b"`}},
		{"invalid session", `{"session":"-x","name":"web","cmd":"run"}`, []string{`field "session": invalid name "-x"`}},
		{"cmd unterminated quote", `{"name":"web","cmd":"echo \"hi"}`, []string{`field "cmd": unterminated double quote`}},
		{"cmd empty program", `{"name":"web","cmd":"'' x"}`, []string{`field "cmd": empty program name`}},
		{"restart unknown", `{"name":"web","cmd":"run","restart":"sometimes"}`, []string{`field "restart": want "always", "on-failure" or "never", got "sometimes"`}},
		{"restart empty", `{"name":"web","cmd":"run","restart":""}`, []string{`field "restart": want "always", "on-failure" or "never", got ""`}},
		{"restart case-sensitive", `{"name":"web","cmd":"run","restart":"Never"}`, []string{`field "restart": want "always"`}},
		{"restart bool", `{"name":"web","cmd":"run","restart":false}`, []string{`field "restart": want a string, got a boolean`}},
		{"success codes not a list", `{"name":"web","cmd":"run","success_exit_codes":0}`, []string{`field "success_exit_codes": want a list of integers, got a number`}},
		{"success codes string item", `{"name":"web","cmd":"run","success_exit_codes":[0,"1"]}`, []string{`field "success_exit_codes": item 1: want an integer, got a string`}},
		{"success codes fraction", `{"name":"web","cmd":"run","success_exit_codes":[1.5]}`, []string{`field "success_exit_codes": item 0: want an integer, got 1.5`}},
		{"success code 256", `{"name":"web","cmd":"run","success_exit_codes":[0,256]}`, []string{`field "success_exit_codes": exit code 256 is out of range: want 0 to 255`}},
		{"success code negative", `{"name":"web","cmd":"run","success_exit_codes":[-1]}`, []string{`field "success_exit_codes": exit code -1 is out of range`}},
		{"success codes empty", `{"name":"web","cmd":"run","success_exit_codes":[]}`, []string{`field "success_exit_codes": want at least one exit code`}},
		{"backoff string", `{"name":"web","cmd":"run","backoff":"off"}`, []string{`field "backoff": want an object or false, got a string`}},
		{"backoff unknown field", `{"name":"web","cmd":"run","backoff":{"initial":1,"maximum":2}}`, []string{`unknown field "backoff.maximum"`}},
		{"backoff bad duration", `{"name":"web","cmd":"run","backoff":{"initial":"soon"}}`, []string{`field "backoff.initial": invalid duration "soon"`}},
		{"backoff initial negative", `{"name":"web","cmd":"run","backoff":{"initial":-1}}`, []string{`field "backoff.initial": must be >= 0, got -1s`}},
		{"backoff max below initial", `{"name":"web","cmd":"run","backoff":{"initial":"1m","max":"10s"}}`, []string{`field "backoff.max": must be >= backoff.initial (1m0s), got 10s`}},
		{"backoff max below default initial", `{"name":"web","cmd":"run","backoff":{"max":"10ms"}}`, []string{`field "backoff.max": must be >= backoff.initial (100ms), got 10ms`}},
		{"backoff factor below one", `{"name":"web","cmd":"run","backoff":{"factor":0.5}}`, []string{`field "backoff.factor": must be >= 1, got 0.5`}},
		{"backoff factor string", `{"name":"web","cmd":"run","backoff":{"factor":"2"}}`, []string{`field "backoff.factor": want a number, got a string`}},
		{"backoff factor huge", `{"name":"web","cmd":"run","backoff":{"factor":1e400}}`, []string{`field "backoff.factor": want a number, got 1e400 (out of range)`}},
		{"backoff reset_after negative", `{"name":"web","cmd":"run","backoff":{"reset_after":"-1s"}}`, []string{`field "backoff.reset_after": must be >= 0, got -1s`}},
		{"min_uptime negative", `{"name":"web","cmd":"run","min_uptime":-0.5}`, []string{`field "min_uptime": must be >= 0, got -500ms`}},
		{"min_uptime bool", `{"name":"web","cmd":"run","min_uptime":true}`, []string{`field "min_uptime": want a number of seconds or a duration string, got a boolean`}},
		{"probe not an object", `{"name":"web","cmd":"run","readiness":"http://x"}`, []string{`field "readiness": want a probe object`, `got a string`}},
		{"probe unknown field", `{"name":"web","cmd":"run","readiness":{"tcp":"a:1","foo":1}}`, []string{`unknown field "readiness.foo"`}},
		{"probe no kind", `{"name":"web","cmd":"run","readiness":{"interval":1}}`, []string{`field "readiness": want exactly one of exec, http, tcp, log, got none`}},
		{"probe empty object", `{"name":"web","cmd":"run","liveness":{}}`, []string{`field "liveness": want exactly one of exec, http, tcp, log, got none`}},
		{"probe two kinds", `{"name":"web","cmd":"run","readiness":{"exec":"true","http":"http://x/"}}`, []string{`field "readiness": want exactly one of exec, http, tcp, log, got exec and http`}},
		{"probe three kinds", `{"name":"web","cmd":"run","readiness":{"exec":"true","tcp":"x:1","log":"up"}}`, []string{`field "readiness": want exactly one of exec, http, tcp, log, got exec, tcp and log`}},
		{"probe kind not a string", `{"name":"web","cmd":"run","readiness":{"exec":["true"]}}`, []string{`field "readiness.exec": want a string, got a list`}},
		{"probe kind empty", `{"name":"web","cmd":"run","readiness":{"tcp":""}}`, []string{`field "readiness.tcp": want a non-empty string`}},
		{"exec probe blank", `{"name":"web","cmd":"run","readiness":{"exec":"  "}}`, []string{`field "readiness.exec": empty program name in "  "`}},
		{"exec probe unterminated quote", `{"name":"web","cmd":"run","liveness":{"exec":"check 'x"}}`, []string{`field "liveness.exec": unterminated single quote in "check 'x"`}},
		{"http probe without scheme", `{"name":"web","cmd":"run","readiness":{"http":"127.0.0.1:$PORT/"}}`, []string{`field "readiness.http": want a URL starting with http:// or https://, got "127.0.0.1:$PORT/"`}},
		{"http probe other scheme", `{"name":"web","cmd":"run","readiness":{"http":"ftp://x/"}}`, []string{`field "readiness.http": want a URL starting with http://`}},
		{"http probe without host", `{"name":"web","cmd":"run","liveness":{"http":"http:///health"}}`, []string{`field "liveness.http": want a host after the scheme, got "http:///health"`}},
		{"http probe with a space", `{"name":"web","cmd":"run","liveness":{"http":"http://x/a b"}}`, []string{`field "liveness.http": must not contain blanks`}},
		{"tcp probe without port", `{"name":"web","cmd":"run","liveness":{"tcp":"localhost"}}`, []string{`field "liveness.tcp": want host:port, got "localhost"`}},
		{"tcp probe empty port", `{"name":"web","cmd":"run","liveness":{"tcp":"localhost:"}}`, []string{`field "liveness.tcp": want host:port, got "localhost:"`}},
		{"tcp probe URL", `{"name":"web","cmd":"run","liveness":{"tcp":"http://localhost:80"}}`, []string{`field "liveness.tcp": want host:port`}},
		{"tcp probe bad port", `{"name":"web","cmd":"run","liveness":{"tcp":"localhost:99999"}}`, []string{`field "liveness.tcp": invalid port "99999" in "localhost:99999"`}},
		{"tcp probe with a space", `{"name":"web","cmd":"run","liveness":{"tcp":"local host:1"}}`, []string{`field "liveness.tcp": must not contain blanks or control characters, got "local host:1"`}},
		{"tcp probe port zero", `{"name":"web","cmd":"run","liveness":{"tcp":"localhost:0"}}`, []string{`field "liveness.tcp": invalid port "0"`}},
		{"log probe bad regexp", `{"name":"web","cmd":"run","readiness":{"log":"ready ("}}`, []string{`field "readiness.log": invalid regexp "ready ("`, "missing closing )"}},
		{"log liveness probe", `{"name":"web","cmd":"run","liveness":{"log":"ok"}}`, []string{`field "liveness.log": a log probe is for readiness only`}},
		{"probe interval negative", `{"name":"web","cmd":"run","readiness":{"tcp":"a:1","interval":-1}}`, []string{`field "readiness.interval": must be > 0, got -1s`}},
		{"probe interval zero", `{"name":"web","cmd":"run","readiness":{"tcp":"a:1","interval":0}}`, []string{`field "readiness.interval": must be > 0, got 0s`}},
		{"probe timeout zero", `{"name":"web","cmd":"run","liveness":{"tcp":"a:1","timeout":"0s"}}`, []string{`field "liveness.timeout": must be > 0, got 0s`}},
		{"probe initial_delay negative", `{"name":"web","cmd":"run","liveness":{"tcp":"a:1","initial_delay":"-2s"}}`, []string{`field "liveness.initial_delay": must be >= 0, got -2s`}},
		{"probe failure_threshold zero", `{"name":"web","cmd":"run","liveness":{"tcp":"a:1","failure_threshold":0}}`, []string{`field "liveness.failure_threshold": must be >= 1, got 0`}},
		{"probe success_threshold negative", `{"name":"web","cmd":"run","readiness":{"tcp":"a:1","success_threshold":-1}}`, []string{`field "readiness.success_threshold": must be >= 1, got -1`}},
		{"probe threshold string", `{"name":"web","cmd":"run","readiness":{"tcp":"a:1","failure_threshold":"3"}}`, []string{`field "readiness.failure_threshold": want an integer, got a string`}},
		{"probe bad duration", `{"name":"web","cmd":"run","readiness":{"tcp":"a:1","timeout":"1 sec"}}`, []string{`field "readiness.timeout": invalid duration "1 sec"`}},
		{"probe problems together", `{"name":"web","cmd":"run","readiness":{"interval":0,"failure_threshold":0}}`,
			[]string{`field "readiness": want exactly one`, `field "readiness.interval": must be > 0`, `field "readiness.failure_threshold": must be >= 1`}},
		{"depends_on string", `{"name":"web","cmd":"run","depends_on":"db"}`, []string{`field "depends_on": want an object {"job": condition} or a list of jobs, got a string`}},
		{"depends_on list of numbers", `{"name":"web","cmd":"run","depends_on":["db",1]}`, []string{`field "depends_on": want a list of job names, item 1 is a number`}},
		{"depends_on condition not a string", `{"name":"web","cmd":"run","depends_on":{"db":true}}`, []string{`field "depends_on": condition of "db": want a string, got a boolean`}},
		{"depends_on nested object", `{"name":"web","cmd":"run","depends_on":{"other":{"db":"ready"}}}`, []string{`field "depends_on": condition of "other": want a string, got an object`}},
		{"depends_on unknown condition", `{"name":"web","cmd":"run","depends_on":{"db":"healthy"}}`, []string{`field "depends_on": condition of "db": want "started", "ready" or "completed", got "healthy"`}},
		{"depends_on bad name", `{"name":"web","cmd":"run","depends_on":["a.b.c"]}`, []string{`field "depends_on": invalid job name "a.b.c"`}},
		{"depends_on empty name", `{"name":"web","cmd":"run","depends_on":{"":"ready"}}`, []string{`field "depends_on": invalid job name ""`}},
		{"depends_on empty session", `{"name":"web","cmd":"run","depends_on":[".db"]}`, []string{`field "depends_on": invalid job name ".db"`}},
		{"depends on itself, bare", `{"name":"web","cmd":"run","depends_on":["web"]}`, []string{`field "depends_on": the job depends on itself ("web")`}},
		{"depends on itself, full name", `{"session":"app","name":"web","cmd":"run","depends_on":{"app.web":"started"}}`, []string{`field "depends_on": the job depends on itself ("app.web")`}},
		{"depends on itself, slashed", `{"session":"app","name":"web","cmd":"run","depends_on":["app/web"]}`, []string{`field "depends_on": the job depends on itself ("app/web")`}},
		{"depends_on the same job twice", `{"session":"app","name":"web","cmd":"run","depends_on":{"db":"ready","app.db":"started"}}`, []string{`field "depends_on": "app.db" and "db" name the same job app.db`}},
		{"several problems at once", `{"name":"web","cmd":"run","numprocesses":-1,"redirect_output":["a","b","c"],"bogus":true,"port":"80"}`,
			[]string{`unknown field "bogus"`, `field "numprocesses": must be >= 0`, `field "redirect_output": at most 2 labels`, `field "port": want an integer`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJob([]byte(tt.body))
			wantInvalid(t, err, tt.wants...)
		})
	}
}

func TestParseJobErrorFormat(t *testing.T) {
	// A field that failed to decode is not reported again by validation
	// ("name": required), and problems come one per line: unknown fields
	// first, then fields in API.md's order.
	_, err := ParseJob([]byte(`{"name":5,"zzz":1,"cmd":"run","aaa":2,"numprocesses":-1}`))
	want := `unknown field "aaa"
unknown field "zzz"
field "name": want a string, got a number
field "numprocesses": must be >= 0, got -1`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		job   Job
		wants []string // empty: valid
	}{
		{"default job with name and cmd", job(nil), nil},
		{"nil slices and maps", Job{Name: "web", Cmd: "run", StopSignal: syscall.SIGTERM, Restart: RestartAlways, SuccessExitCodes: []int{0}}, nil},
		{"zero job", Job{}, []string{`field "name": required`, `field "cmd": required`, `field "stop_signal": invalid signal number 0`,
			`field "restart": want "always", "on-failure" or "never", got ""`, `field "success_exit_codes": want at least one exit code`}},
		{"nil success codes", job(func(j *Job) { j.SuccessExitCodes = nil }), []string{`field "success_exit_codes": want at least one exit code`}},
		{"disabled backoff ignores its fields", job(func(j *Job) { j.Backoff = Backoff{Max: -1, Factor: -1} }), nil},
		{"enabled zero backoff", job(func(j *Job) { j.Backoff = Backoff{Enabled: true} }), []string{`field "backoff.factor": must be >= 1, got 0`}},
		{"infinite backoff factor", job(func(j *Job) { j.Backoff.Factor = math.Inf(1) }), []string{`field "backoff.factor": must be a finite number, got +Inf`}},
		{"NaN backoff factor", job(func(j *Job) { j.Backoff.Factor = math.NaN() }), []string{`field "backoff.factor": must be a finite number, got NaN`}},
		{"zero probe", job(func(j *Job) { j.Readiness = &Probe{} }), []string{`field "readiness": want exactly one of exec, http, tcp, log, got none`,
			`field "readiness.interval": must be > 0, got 0s`, `field "readiness.timeout": must be > 0, got 0s`,
			`field "readiness.failure_threshold": must be >= 1, got 0`, `field "readiness.success_threshold": must be >= 1, got 0`}},
		{"probe with four kinds", job(func(j *Job) {
			j.Readiness = probe(func(p *Probe) { p.Exec, p.HTTP, p.TCP, p.Log = "a", "http://b", "c:1", "d" })
		}),
			[]string{`field "readiness": want exactly one of exec, http, tcp, log, got exec, http, tcp and log`}},
		{"NUL in a probe", job(func(j *Job) { j.Liveness = probe(func(p *Probe) { p.Exec = "check\x00" }) }), []string{`field "liveness.exec": must not contain a NUL byte`}},
		{"log readiness, exec liveness", job(func(j *Job) {
			j.Readiness = probe(func(p *Probe) { p.Log = "ready" })
			j.Liveness = probe(func(p *Probe) { p.Exec = "true" })
		}), nil},
		{"bare self dependency without a session", job(func(j *Job) { j.DependsOn = map[string]string{"web": "ready"} }), []string{`field "depends_on": the job depends on itself ("web")`}},
		{"full self dependency once the session is set", job(func(j *Job) {
			j.Session, j.DependsOn = "default", map[string]string{"default.web": "ready"}
		}), []string{`field "depends_on": the job depends on itself ("default.web")`}},
		{"same job twice once the session is set", job(func(j *Job) {
			j.Session, j.DependsOn = "s", map[string]string{"db": "ready", "s/db": "ready"}
		}), []string{`field "depends_on": "db" and "s/db" name the same job s.db`}},
		{"same job twice in other sessions", job(func(j *Job) {
			j.Session, j.DependsOn = "s", map[string]string{"t.db": "ready", "t/db": "started"}
		}), []string{`field "depends_on": "t.db" and "t/db" name the same job t.db`}},
		{"dependency on a job of the same name elsewhere", job(func(j *Job) {
			j.Session, j.DependsOn = "s", map[string]string{"t.web": "ready"}
		}), nil},
		{"disabled flapping ignores its fields", job(func(j *Job) { j.Flapping = Flapping{} }), nil},
		{"enabled zero flapping", job(func(j *Job) { j.Flapping = Flapping{Enabled: true} }), []string{`field "flapping.attempts"`, `field "flapping.window"`}},
		{"cwd is not checked", job(func(j *Job) { j.Cwd = "/does/not/exist" }), nil},
		{"NUL in args", job(func(j *Job) { j.Args = []string{"a", "b\x00"} }), []string{`field "args": argument 1 contains a NUL byte`}},
		{"NUL in env value", job(func(j *Job) { j.Env = map[string]string{"A": "\x00"} }), []string{`field "env": value of "A" contains a NUL byte`}},
		{"gid name with colon", job(func(j *Job) { j.GID = "a:b" }), []string{`field "gid": invalid group "a:b"`}},
		{"cmd line continuation only", job(func(j *Job) { j.Cmd = "\\\n" }), []string{`field "cmd": empty program name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.job.Validate()
			if len(tt.wants) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			wantInvalid(t, err, tt.wants...)
		})
	}
}

func TestMarshalJSONDefault(t *testing.T) {
	got, err := json.Marshal(job(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"web","cmd":"run","args":[],"env":{},"os_env":true,"cwd":"","shell":false,"uid":"","gid":"",` +
		`"numprocesses":1,"graceful_timeout":10,"stop_signal":"TERM","redirect_output":["stdout","stderr"],` +
		`"redirect_input":false,"custom_streams":[],"flapping":{"attempts":5,"window":10,"retry_in":7,"max_retry":5},` +
		`"start":true,"priority":0,"port":null,"restart":"always","success_exit_codes":[0],` +
		`"backoff":{"initial":0.1,"max":30,"factor":2,"reset_after":30},"min_uptime":1,"readiness":null,"liveness":null,` +
		`"depends_on":{}}`
	if string(got) != want {
		t.Errorf("MarshalJSON:\n got %s\nwant %s", got, want)
	}
}

func TestMarshalJSONKeys(t *testing.T) {
	want := []string{"name", "cmd", "args", "env", "os_env", "cwd", "shell", "uid", "gid", "numprocesses",
		"graceful_timeout", "stop_signal", "redirect_output", "redirect_input", "custom_streams", "flapping",
		"start", "priority", "port", "restart", "success_exit_codes", "backoff", "min_uptime", "readiness", "liveness",
		"depends_on"}
	tests := []struct {
		name string
		job  Job
		want []string
	}{
		{"without session", job(nil), want},
		{"with session", job(func(j *Job) { j.Session = "app" }), append([]string{"session"}, want...)},
		{"zero job", Job{}, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.job)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			var keys []string
			for k, v := range m {
				keys = append(keys, k)
				if k != "port" && k != "readiness" && k != "liveness" && string(v) == "null" {
					t.Errorf("key %q is null in %s", k, data)
				}
			}
			slices.Sort(keys)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(keys, want) {
				t.Errorf("keys = %q\nwant %q", keys, want)
			}
		})
	}
}

func TestMarshalJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		job  Job
	}{
		{"defaults", job(nil)},
		{"everything set", mustParseJob(t, `{"session":"app","name":"web","cmd":"python3 -m http.server","args":["a","$PORT"],
			"env":{"A":"1"},"os_env":false,"cwd":"/tmp","shell":true,"uid":"1000","gid":"staff","numprocesses":0,
			"graceful_timeout":0.001,"stop_signal":"KILL","redirect_output":["x","x"],"redirect_input":true,
			"custom_streams":["ctl"],"flapping":{"attempts":1,"window":"1h","retry_in":0,"max_retry":9},
			"start":false,"priority":7,"port":5000,"restart":"never","success_exit_codes":[0,1,2,255],
			"backoff":{"initial":"1.5s","max":"1h","factor":1.25,"reset_after":0},"min_uptime":"1ns",
			"readiness":{"log":"^ready","interval":"10ms","timeout":3,"initial_delay":"0.000001","failure_threshold":9,"success_threshold":4},
			"liveness":{"exec":"check --port $PORT","interval":30,"timeout":"5s","initial_delay":1,"failure_threshold":2,"success_threshold":1},
			"depends_on":{"db":"started","other.cache":"ready","other/migrate":"completed"}}`)},
		{"backoff off", job(func(j *Job) { j.Backoff.Enabled = false })},
		{"min_uptime zero", job(func(j *Job) { j.MinUptime = 0 })},
		{"odd backoff", job(func(j *Job) {
			j.Backoff = Backoff{Enabled: true, Initial: time.Nanosecond, Max: 1234567891234 * time.Nanosecond, Factor: 1.0000001, ResetAfter: 100 * time.Hour}
		})},
		{"http and tcp probes", job(func(j *Job) {
			j.Readiness = probe(func(p *Probe) { p.HTTP = "http://127.0.0.1:$PORT/health" })
			j.Liveness = probe(func(p *Probe) { p.TCP = "127.0.0.1:${PORT}" })
		})},
		{"depends_on from the list form", mustParseJob(t, `{"name":"web","cmd":"run","depends_on":["db","s/j"]}`)},
		{"restart on-failure, several codes", job(func(j *Job) { j.Restart, j.SuccessExitCodes = RestartOnFailure, []int{0, 143} })},
		{"flapping off", job(func(j *Job) { j.Flapping.Enabled = false })},
		{"odd durations", job(func(j *Job) {
			j.GracefulTimeout = 1234567891234 * time.Nanosecond
			j.Flapping.Window = time.Nanosecond
			j.Flapping.RetryIn = 100 * time.Hour
		})},
		{"realtime signal", job(func(j *Job) { j.StopSignal = syscall.Signal(50) })},
		{"alias signal", job(func(j *Job) { j.StopSignal = syscall.SIGIOT })},
		{"discard output", job(func(j *Job) { j.RedirectOutput = []string{} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.job)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseJob(data)
			if err != nil {
				t.Fatalf("ParseJob(%s): %v", data, err)
			}
			if !got.Equal(tt.job) || !reflect.DeepEqual(got, tt.job) {
				t.Errorf("round trip through %s:\n got %+v\nwant %+v", data, got, tt.job)
			}
		})
	}
}

func TestSecondsExact(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0"},
		{10 * time.Second, "10"},
		{1500 * time.Millisecond, "1.5"},
		{time.Nanosecond, "0.000000001"},
		{-2500 * time.Millisecond, "-2.5"},
		{100 * time.Millisecond, "0.1"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := seconds(tt.d); string(got) != tt.want {
				t.Errorf("seconds(%v) = %s, want %s", tt.d, got, tt.want)
			}
			if back, err := secondsDuration(tt.want); err != nil || back != tt.d {
				t.Errorf("secondsDuration(%s) = %v, %v; want %v", tt.want, back, err, tt.d)
			}
		})
	}
}

func TestJobEqual(t *testing.T) {
	base := job(nil)
	tests := []struct {
		name string
		a, b Job
		want bool
	}{
		{"same", base, job(nil), true},
		{"nil and empty are alike", base, job(func(j *Job) { j.Args, j.Env, j.CustomStreams = nil, nil, nil }), true},
		{"different args", base, job(func(j *Job) { j.Args = []string{"x"} }), false},
		{"different env value", job(func(j *Job) { j.Env = map[string]string{"A": "1"} }), job(func(j *Job) { j.Env = map[string]string{"A": "2"} }), false},
		{"different session", base, job(func(j *Job) { j.Session = "default" }), false},
		{"different timeout", base, job(func(j *Job) { j.GracefulTimeout = time.Second }), false},
		{"different flapping", base, job(func(j *Job) { j.Flapping.Attempts = 2 }), false},
		{"flapping on and off", base, job(func(j *Job) { j.Flapping.Enabled = false }), false},
		{"both off, settings differ", job(func(j *Job) { j.Flapping.Enabled = false }), job(func(j *Job) { j.Flapping = Flapping{} }), true},
		{"different port", base, job(func(j *Job) { j.Port = 1 }), false},
		{"redirect order matters", job(func(j *Job) { j.RedirectOutput = []string{"a", "b"} }), job(func(j *Job) { j.RedirectOutput = []string{"b", "a"} }), false},
		{"different restart", base, job(func(j *Job) { j.Restart = RestartNever }), false},
		{"success codes are a set", job(func(j *Job) { j.SuccessExitCodes = []int{1, 0, 1} }), job(func(j *Job) { j.SuccessExitCodes = []int{0, 1} }), true},
		{"different success codes", base, job(func(j *Job) { j.SuccessExitCodes = []int{0, 1} }), false},
		{"different backoff", base, job(func(j *Job) { j.Backoff.Factor = 3 }), false},
		{"backoff on and off", base, job(func(j *Job) { j.Backoff.Enabled = false }), false},
		{"both backoffs off, settings differ", job(func(j *Job) { j.Backoff.Enabled = false }), job(func(j *Job) { j.Backoff = Backoff{} }), true},
		{"different min_uptime", base, job(func(j *Job) { j.MinUptime = 0 }), false},
		{"probe and none", base, job(func(j *Job) { j.Readiness = probe(func(p *Probe) { p.TCP = "a:1" }) }), false},
		{"equal probes, distinct pointers", job(func(j *Job) { j.Liveness = probe(func(p *Probe) { p.TCP = "a:1" }) }),
			job(func(j *Job) { j.Liveness = probe(func(p *Probe) { p.TCP = "a:1" }) }), true},
		{"different probe settings", job(func(j *Job) { j.Liveness = probe(func(p *Probe) { p.TCP = "a:1" }) }),
			job(func(j *Job) { j.Liveness = probe(func(p *Probe) { p.TCP, p.Timeout = "a:1", 2*time.Second }) }), false},
		{"readiness is not liveness", job(func(j *Job) { j.Readiness = probe(func(p *Probe) { p.TCP = "a:1" }) }),
			job(func(j *Job) { j.Liveness = probe(func(p *Probe) { p.TCP = "a:1" }) }), false},
		{"nil and empty depends_on", base, job(func(j *Job) { j.DependsOn = nil }), true},
		{"different condition", job(func(j *Job) { j.DependsOn = map[string]string{"db": "ready"} }), job(func(j *Job) { j.DependsOn = map[string]string{"db": "started"} }), false},
		{"dependencies as written", job(func(j *Job) { j.DependsOn = map[string]string{"db": "ready"} }), job(func(j *Job) { j.DependsOn = map[string]string{"default.db": "ready"} }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Equal(tt.b); got != tt.want {
				t.Errorf("a.Equal(b) = %v, want %v", got, tt.want)
			}
			if got := tt.b.Equal(tt.a); got != tt.want {
				t.Errorf("b.Equal(a) = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestJobClone(t *testing.T) {
	full := func(j *Job) {
		j.Args = []string{"x"}
		j.Env = map[string]string{"A": "1"}
		j.CustomStreams = []string{"ctl"}
		j.SuccessExitCodes = []int{0, 1}
		j.Readiness = probe(func(p *Probe) { p.Log = "ready" })
		j.Liveness = probe(func(p *Probe) { p.TCP = "a:1" })
		j.DependsOn = map[string]string{"db": "ready"}
	}
	a := job(full)
	b := a.Clone()
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("clone differs:\n got %+v\nwant %+v", b, a)
	}
	b.Args[0], b.Env["A"], b.RedirectOutput[0], b.Env["B"], b.CustomStreams[0] = "y", "2", "z", "3", "w"
	b.SuccessExitCodes[0] = 9
	b.Readiness.Log, b.Readiness.Interval = "other", time.Hour
	b.Liveness.TCP = "b:2"
	b.DependsOn["db"], b.DependsOn["x"] = "started", "ready"
	if want := job(full); !reflect.DeepEqual(a, want) {
		t.Errorf("changing a clone changed the original:\n got %+v\nwant %+v", a, want)
	}
	if c := job(nil).Clone(); c.Readiness != nil || c.Liveness != nil {
		t.Errorf("clone of a job without probes has probes: %+v", c)
	}
}

func TestJobUnmarshalJSON(t *testing.T) {
	var msg struct {
		Config Job `json:"config"`
	}
	if err := json.Unmarshal([]byte(`{"config":{"name":"web","cmd":"run","graceful_timeout":3}}`), &msg); err != nil {
		t.Fatal(err)
	}
	if want := job(func(j *Job) { j.GracefulTimeout = 3 * time.Second }); !reflect.DeepEqual(msg.Config, want) {
		t.Errorf("got %+v\nwant %+v", msg.Config, want)
	}
	err := json.Unmarshal([]byte(`{"config":{"name":"web","cmd":"run","nope":1}}`), &msg)
	wantInvalid(t, err, `unknown field "nope"`)
}
