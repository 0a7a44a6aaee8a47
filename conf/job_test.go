package conf

import (
	"encoding/json"
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

func TestParseJobDefaults(t *testing.T) {
	got := mustParseJob(t, `{"name":"web","cmd":"run"}`)
	want := Job{
		Name:            "web",
		Cmd:             "run",
		Args:            []string{},
		Env:             map[string]string{},
		OSEnv:           true,
		NumProcesses:    1,
		GracefulTimeout: 10 * time.Second,
		StopSignal:      syscall.SIGTERM,
		RedirectOutput:  []string{"stdout", "stderr"},
		CustomStreams:   []string{},
		Flapping:        Flapping{Enabled: true, Attempts: 5, Window: 10 * time.Second, RetryIn: 7 * time.Second, MaxRetry: 5},
		Start:           true,
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
		"port": 8000
	}`
	want := Job{
		Session:         "app",
		Name:            "web",
		Cmd:             "python3 -m http.server",
		Args:            []string{"--bind", "127.0.0.1", "$PORT"},
		Env:             map[string]string{"LOG_LEVEL": "info", "EMPTY": ""},
		OSEnv:           false,
		Cwd:             "/srv/app",
		Shell:           true,
		UID:             "www-data",
		GID:             "33",
		NumProcesses:    3,
		GracefulTimeout: 2500 * time.Millisecond,
		StopSignal:      syscall.SIGINT,
		RedirectOutput:  []string{"out"},
		RedirectInput:   true,
		CustomStreams:   []string{"ctl", "data"},
		Flapping:        Flapping{Enabled: true, Attempts: 3, Window: 2 * time.Second, RetryIn: 500 * time.Millisecond, MaxRetry: 0},
		Start:           false,
		Priority:        -2,
		Port:            8000,
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
		{"nil slices and maps", Job{Name: "web", Cmd: "run", StopSignal: syscall.SIGTERM}, nil},
		{"zero job", Job{}, []string{`field "name": required`, `field "cmd": required`, `field "stop_signal": invalid signal number 0`}},
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
		`"start":true,"priority":0,"port":null}`
	if string(got) != want {
		t.Errorf("MarshalJSON:\n got %s\nwant %s", got, want)
	}
}

func TestMarshalJSONKeys(t *testing.T) {
	want := []string{"name", "cmd", "args", "env", "os_env", "cwd", "shell", "uid", "gid", "numprocesses",
		"graceful_timeout", "stop_signal", "redirect_output", "redirect_input", "custom_streams", "flapping",
		"start", "priority", "port"}
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
				if k != "port" && string(v) == "null" {
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
			"start":false,"priority":7,"port":5000}`)},
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
	a := job(func(j *Job) { j.Args = []string{"x"}; j.Env = map[string]string{"A": "1"} })
	b := a.Clone()
	b.Args[0], b.Env["A"], b.RedirectOutput[0], b.Env["B"] = "y", "2", "z", "3"
	if !a.Equal(job(func(j *Job) { j.Args = []string{"x"}; j.Env = map[string]string{"A": "1"} })) {
		t.Errorf("changing a clone changed the original: %+v", a)
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
