package conf

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger"
)

func mustParseConfig(t *testing.T, src string) *Config {
	t.Helper()
	c, err := ParseConfig([]byte(src), "cfg.toml")
	if err != nil {
		t.Fatalf("ParseConfig:\n%s\nerror: %v", src, err)
	}
	return c
}

func TestParseConfigExample(t *testing.T) {
	data, err := os.ReadFile("testdata/config/example.toml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfig(data, "example.toml")
	if err != nil {
		t.Fatal(err)
	}
	web := job(func(j *Job) {
		j.Session = "default"
		j.Cmd = "python3 -m http.server"
		j.NumProcesses = 2
		j.GracefulTimeout = 5 * time.Second
		j.Env = map[string]string{"LOG_LEVEL": "info"}
		j.Flapping = Flapping{Enabled: true, Attempts: 3, Window: 2 * time.Second, RetryIn: 5 * time.Second, MaxRetry: 5}
		j.Port = 8000
		j.Readiness = probe(func(p *Probe) { p.HTTP, p.Interval = "http://127.0.0.1:$PORT/", 500*time.Millisecond })
		j.Liveness = probe(func(p *Probe) { p.TCP, p.FailureThreshold = "127.0.0.1:$PORT", 3 })
		j.DependsOn = map[string]string{"db": "ready", "migrate": "completed"}
	})
	migrate := job(func(j *Job) {
		j.Session, j.Name, j.Cmd = "default", "migrate", "./migrate.sh"
		j.Restart = RestartOnFailure
	})
	want := &Config{
		Bind:   []string{"127.0.0.1:5000", "unix:/run/ganger.sock"},
		LogDir: "/var/log/ganger",
		Auth: Auth{Tokens: []Token{
			{Name: "token-0", Token: "4dm1n-t0k3n-7f3a9c", Role: RoleAdmin, Sessions: []string{}},
			{Name: "token-1", Token: "r34d-t0k3n-b81e22", Role: RoleRead, Sessions: []string{"default"}},
		}},
		Jobs: []Job{web, migrate},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseConfig:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, c *Config)
	}{
		{"empty file takes the defaults", "", func(t *testing.T, c *Config) {
			want := &Config{Bind: []string{DefaultBind}}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got %+v, want %+v", c, want)
			}
		}},
		{"bind as one string", `bind = "unix:/tmp/g.sock"`, func(t *testing.T, c *Config) {
			if !reflect.DeepEqual(c.Bind, []string{"unix:/tmp/g.sock"}) {
				t.Errorf("Bind = %q", c.Bind)
			}
		}},
		{"bind forms", `bind = [":5000", "[::1]:0", "localhost:80"]`, func(t *testing.T, c *Config) {
			if len(c.Bind) != 3 {
				t.Errorf("Bind = %q", c.Bind)
			}
		}},
		{"allowed origins and hosts", "allowed_origins = [\"*.example.com\", \"localhost:*\"]\nallowed_hosts = [\"ganger.local\"]", func(t *testing.T, c *Config) {
			if !reflect.DeepEqual(c.AllowedOrigins, []string{"*.example.com", "localhost:*"}) || !reflect.DeepEqual(c.AllowedHosts, []string{"ganger.local"}) {
				t.Errorf("AllowedOrigins = %q, AllowedHosts = %q", c.AllowedOrigins, c.AllowedHosts)
			}
		}},
		{"tokens as array of tables, with names", "[[auth.tokens]]\nname = \"ci\"\ntoken = \"abc\"\nrole = \"read\"\n[[auth.tokens]]\ntoken = \"def\"\nrole = \"admin\"\n", func(t *testing.T, c *Config) {
			want := []Token{{Name: "ci", Token: "abc", Role: "read", Sessions: []string{}}, {Name: "token-1", Token: "def", Role: "admin", Sessions: []string{}}}
			if !reflect.DeepEqual(c.Auth.Tokens, want) {
				t.Errorf("Tokens = %+v, want %+v", c.Auth.Tokens, want)
			}
		}},
		{"empty auth", "[auth]\ntokens = []", func(t *testing.T, c *Config) {
			if len(c.Auth.Tokens) != 0 {
				t.Errorf("Tokens = %+v", c.Auth.Tokens)
			}
		}},
		{"job values in TOML types", `
[[job]]
name = "w"
cmd = "run"
args = "-x 'a b'"
uid = 1000
gid = "staff"
graceful_timeout = 2.5
stop_signal = 1
port = 8000
priority = -1
flapping = false
custom_streams = ["ctl"]
redirect_output = []
env = { A = "1", B = "" }
`, func(t *testing.T, c *Config) {
			want := job(func(j *Job) {
				j.Session, j.Name = "default", "w"
				j.Args = []string{"-x", "a b"}
				j.UID, j.GID = "1000", "staff"
				j.GracefulTimeout = 2500 * time.Millisecond
				j.StopSignal = syscall.SIGHUP
				j.Port, j.Priority = 8000, -1
				j.Flapping.Enabled = false
				j.CustomStreams = []string{"ctl"}
				j.RedirectOutput = []string{}
				j.Env = map[string]string{"A": "1", "B": ""}
			})
			if len(c.Jobs) != 1 || !reflect.DeepEqual(c.Jobs[0], want) {
				t.Errorf("Jobs = %+v\nwant [%+v]", c.Jobs, want)
			}
		}},
		{"jobs keep file order and sessions", `
[[job]]
name = "b"
cmd = "run"
[[job]]
session = "other"
name = "b"
cmd = "run"
[[job]]
name = "a"
cmd = "run"
flapping = { attempts = 2 }
`, func(t *testing.T, c *Config) {
			var names []string
			for _, j := range c.Jobs {
				names = append(names, ganger.JobName(j.Session, j.Name))
			}
			if !reflect.DeepEqual(names, []string{"default.b", "other.b", "default.a"}) {
				t.Errorf("jobs = %q", names)
			}
			if f := c.Jobs[2].Flapping; f.Attempts != 2 || f.Window != DefaultFlapWindow {
				t.Errorf("flapping = %+v", f)
			}
		}},
		{"job durations as TOML integers", "[[job]]\nname = \"w\"\ncmd = \"run\"\ngraceful_timeout = 3\nflapping = { window = 60, retry_in = 0 }\n", func(t *testing.T, c *Config) {
			j := c.Jobs[0]
			if j.GracefulTimeout != 3*time.Second || j.Flapping.Window != time.Minute || j.Flapping.RetryIn != 0 {
				t.Errorf("graceful_timeout = %v, flapping = %+v", j.GracefulTimeout, j.Flapping)
			}
		}},
		{"job lifecycle fields in TOML types", `
[[job]]
name = "w"
cmd = "run"
restart = "never"
success_exit_codes = [0, 2]
backoff = { initial = 1, max = "1m", factor = 3, reset_after = 0.5 }
min_uptime = 2
readiness = { log = "ready", interval = 0.1, timeout = 2, initial_delay = "1s", failure_threshold = 4, success_threshold = 2 }
depends_on = ["db", "other.cache", "other/q"]

[job.liveness]
exec = "check"
failure_threshold = 1
`, func(t *testing.T, c *Config) {
			want := job(func(j *Job) {
				j.Session, j.Name = "default", "w"
				j.Restart = RestartNever
				j.SuccessExitCodes = []int{0, 2}
				j.Backoff = Backoff{Enabled: true, Initial: time.Second, Max: time.Minute, Factor: 3, ResetAfter: 500 * time.Millisecond}
				j.MinUptime = 2 * time.Second
				j.Readiness = &Probe{Log: "ready", Interval: 100 * time.Millisecond, Timeout: 2 * time.Second, InitialDelay: time.Second,
					FailureThreshold: 4, SuccessThreshold: 2}
				j.Liveness = probe(func(p *Probe) { p.Exec, p.FailureThreshold = "check", 1 })
				j.DependsOn = map[string]string{"db": "ready", "other.cache": "ready", "other/q": "ready"}
			})
			if len(c.Jobs) != 1 || !reflect.DeepEqual(c.Jobs[0], want) {
				t.Errorf("Jobs = %+v\nwant [%+v]", c.Jobs, want)
			}
		}},
		{"job backoff off, depends_on table with quoted names", `
[[job]]
name = "w"
cmd = "run"
backoff = false
depends_on = { "other.db" = "started", db = "completed" }
`, func(t *testing.T, c *Config) {
			want := job(func(j *Job) {
				j.Session, j.Name = "default", "w"
				j.Backoff.Enabled = false
				j.DependsOn = map[string]string{"other.db": "started", "db": "completed"}
			})
			if len(c.Jobs) != 1 || !reflect.DeepEqual(c.Jobs[0], want) {
				t.Errorf("Jobs = %+v\nwant [%+v]", c.Jobs, want)
			}
		}},
		{"dependencies without a cycle", "[[job]]\nname = \"a\"\ncmd = \"run\"\ndepends_on = [\"b\", \"missing\"]\n[[job]]\nname = \"b\"\ncmd = \"run\"\n", func(t *testing.T, c *Config) {
			if len(c.Jobs) != 2 {
				t.Errorf("Jobs = %+v", c.Jobs)
			}
		}},
		{"empty session means the default one", "[[job]]\nsession = \"\"\nname = \"w\"\ncmd = \"run\"\n", func(t *testing.T, c *Config) {
			if len(c.Jobs) != 1 || c.Jobs[0].Session != "default" {
				t.Errorf("Jobs = %+v", c.Jobs)
			}
		}},
		{"jobs as inline array", `job = [{ name = "w", cmd = "run" }]`, func(t *testing.T, c *Config) {
			if len(c.Jobs) != 1 || c.Jobs[0].Name != "w" {
				t.Errorf("Jobs = %+v", c.Jobs)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustParseConfig(t, tt.src))
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		src   string
		wants []string // substrings of the error, in any order
	}{
		{"syntax error has its position", "bind = [\"a:1\"]\nlog_dir = = 2\n", []string{"cfg.toml:2:11: expected value but found '=' instead"}},
		{"unterminated array", "bind = [", []string{"cfg.toml:1:8: "}},
		{"duplicate key", "a = 1\na = 2\n", []string{"cfg.toml:2:", "key 'a' has already been defined"}},
		{"unknown top-level key", "bind = [\"127.0.0.1:1\"]\nport = 5000\n", []string{`cfg.toml: unknown key "port"`}},
		{"unknown table", "[server]\nport = 5000\n", []string{`cfg.toml: unknown key "server"`}},
		{"keys are case-sensitive", `Bind = ["127.0.0.1:1"]`, []string{`unknown key "Bind"`}},
		{"unknown key in auth", "[auth]\ntoken = \"x\"\n", []string{`cfg.toml: unknown key "auth.token"`}},
		{"unknown key in a token", "[auth]\ntokens = [{ token = \"a\", role = \"admin\" }, { token = \"b\", rol = \"read\" }]\n", []string{`cfg.toml: unknown key "auth.tokens[1].rol"`, `auth.tokens[1].role: want "admin" or "read"`}},
		{"unknown field in a job", "[[job]]\nname = \"web\"\ncmd = \"run\"\nnumprocess = 2\n", []string{`cfg.toml: job[0] (web): unknown field "numprocess"`}},
		{"unknown flapping field in a job", "[[job]]\nname = \"web\"\ncmd = \"run\"\nflapping = { attempt = 2 }\n", []string{`cfg.toml: job[0] (web): unknown field "flapping.attempt"`}},
		{"job field of the wrong type", "[[job]]\nname = \"web\"\ncmd = \"run\"\nnumprocesses = \"2\"\n", []string{`cfg.toml: job[0] (web): field "numprocesses": want an integer, got a string`}},
		{"job without a name", "[[job]]\ncmd = \"run\"\n", []string{`cfg.toml: job[0]: field "name": required`}},
		{"job date value", "[[job]]\nname = \"w\"\ncmd = 1979-05-27\n", []string{`job[0] (w): field "cmd": want a string, got a date/time`}},
		{"job nan duration", "[[job]]\nname = \"w\"\ncmd = \"run\"\ngraceful_timeout = nan\n", []string{`job[0] (w): field "graceful_timeout": duration of NaN seconds is out of range`}},
		{"job restart unknown", "[[job]]\nname = \"w\"\ncmd = \"run\"\nrestart = \"sometimes\"\n", []string{`cfg.toml: job[0] (w): field "restart": want "always", "on-failure" or "never", got "sometimes"`}},
		{"job success code out of range", "[[job]]\nname = \"w\"\ncmd = \"run\"\nsuccess_exit_codes = [0, 300]\n", []string{`job[0] (w): field "success_exit_codes": exit code 300 is out of range`}},
		{"job success codes as strings", "[[job]]\nname = \"w\"\ncmd = \"run\"\nsuccess_exit_codes = [\"0\"]\n", []string{`job[0] (w): field "success_exit_codes": item 0: want an integer, got a string`}},
		{"job backoff unknown field", "[[job]]\nname = \"w\"\ncmd = \"run\"\nbackoff = { initial = 1, jitter = true }\n", []string{`cfg.toml: job[0] (w): unknown field "backoff.jitter"`}},
		{"job backoff max below initial", "[[job]]\nname = \"w\"\ncmd = \"run\"\nbackoff = { initial = 10, max = 5 }\n", []string{`job[0] (w): field "backoff.max": must be >= backoff.initial (10s), got 5s`}},
		{"job backoff infinite factor", "[[job]]\nname = \"w\"\ncmd = \"run\"\nbackoff = { factor = inf }\n", []string{`job[0] (w): field "backoff.factor": must be a finite number, got +Inf`}},
		{"job min_uptime negative", "[[job]]\nname = \"w\"\ncmd = \"run\"\nmin_uptime = -1\n", []string{`job[0] (w): field "min_uptime": must be >= 0, got -1s`}},
		{"job probe unknown field", "[[job]]\nname = \"w\"\ncmd = \"run\"\n[job.readiness]\ntcp = \"a:1\"\nperiod = 1\n", []string{`cfg.toml: job[0] (w): unknown field "readiness.period"`}},
		{"job probe two kinds", "[[job]]\nname = \"w\"\ncmd = \"run\"\nreadiness = { exec = \"true\", http = \"http://x/\" }\n", []string{`job[0] (w): field "readiness": want exactly one of exec, http, tcp, log, got exec and http`}},
		{"job probe interval negative", "[[job]]\nname = \"w\"\ncmd = \"run\"\nliveness = { tcp = \"a:1\", interval = -1 }\n", []string{`job[0] (w): field "liveness.interval": must be > 0, got -1s`}},
		{"job log liveness", "[[job]]\nname = \"w\"\ncmd = \"run\"\nliveness = { log = \"up\" }\n", []string{`job[0] (w): field "liveness.log": a log probe is for readiness only`}},
		{"job probe as a list", "[[job]]\nname = \"w\"\ncmd = \"run\"\nreadiness = [{ tcp = \"a:1\" }]\n", []string{`job[0] (w): field "readiness": want a probe object`}},
		{"job depends_on unquoted dotted name", "[[job]]\nname = \"w\"\ncmd = \"run\"\ndepends_on = { other.db = \"ready\" }\n", []string{`job[0] (w): field "depends_on": condition of "other": want a string, got an object (in TOML, quote a session.job name`}},
		{"job depends on itself", "[[job]]\nname = \"w\"\ncmd = \"run\"\ndepends_on = [\"w\"]\n", []string{`cfg.toml: job[0] (w): field "depends_on": the job depends on itself ("w")`}},
		{"job depends on itself by full name", "[[job]]\nname = \"w\"\ncmd = \"run\"\ndepends_on = [\"default.w\"]\n", []string{`cfg.toml: job[0] (w): field "depends_on": the job depends on itself ("default.w")`}},
		{"job depends on the same job twice", "[[job]]\nname = \"w\"\ncmd = \"run\"\ndepends_on = [\"db\", \"default/db\"]\n", []string{`cfg.toml: job[0] (w): field "depends_on": "db" and "default/db" name the same job default.db`}},
		{"dependency cycle", "[[job]]\nname = \"a\"\ncmd = \"run\"\ndepends_on = [\"b\"]\n[[job]]\nname = \"b\"\ncmd = \"run\"\ndepends_on = { a = \"started\" }\n",
			[]string{`cfg.toml: field "depends_on": cycle default.a -> default.b -> default.a`}},
		{"dependency cycle across sessions", "[[job]]\nsession = \"x\"\nname = \"a\"\ncmd = \"run\"\ndepends_on = [\"y.b\"]\n[[job]]\nsession = \"y\"\nname = \"b\"\ncmd = \"run\"\ndepends_on = [\"z/c\"]\n[[job]]\nsession = \"z\"\nname = \"c\"\ncmd = \"run\"\ndepends_on = [\"x.a\"]\n",
			[]string{`cfg.toml: field "depends_on": cycle x.a -> y.b -> z.c -> x.a`}},
		{"job as a single table", "[job]\nname = \"w\"\n", []string{`cfg.toml: job: want an array of tables ([[job]]), got an object`}},
		{"job as a number", "job = 5\n", []string{`job: want an array of tables`}},
		{"job list of strings", "job = [\"w\"]\n", []string{`cfg.toml: job[0]: want a table`}},
		{"duplicate job", "[[job]]\nname = \"web\"\ncmd = \"a\"\n[[job]]\nname = \"api\"\ncmd = \"b\"\n[[job]]\nsession = \"default\"\nname = \"web\"\ncmd = \"c\"\n", []string{`cfg.toml: job[2] (web): duplicate job "default.web" (also job[0])`}},
		{"bad bind without port", `bind = ["localhost"]`, []string{`cfg.toml: bind: invalid bind address "localhost": want host:port or unix:/absolute/path`}},
		{"bad bind port", `bind = ["127.0.0.1:99999"]`, []string{`bind: invalid bind address "127.0.0.1:99999": port must be a number from 0 to 65535`}},
		{"bad bind port name", `bind = ["127.0.0.1:http"]`, []string{`bind: invalid bind address "127.0.0.1:http": port must be`}},
		{"relative unix socket", `bind = ["unix:run/g.sock"]`, []string{`bind: invalid bind address "unix:run/g.sock": want unix:/absolute/path`}},
		{"duplicate bind", `bind = ["127.0.0.1:1", "127.0.0.1:1"]`, []string{`bind: duplicate address "127.0.0.1:1"`}},
		{"empty bind", `bind = []`, []string{`bind: want at least one address`}},
		{"bind wrong type", `bind = 5000`, []string{`bind: want a list of strings, got a number`}},
		{"bind list of numbers", `bind = ["127.0.0.1:1", 5000]`, []string{`bind: want a list of strings, item 1 is a number`}},
		{"sessions wrong type", "[auth]\ntokens = [{ token = \"a\", role = \"read\", sessions = [1] }]\n", []string{`auth.tokens[0].sessions: want a list of strings, item 0 is a number`}},
		{"log_dir wrong type", `log_dir = true`, []string{`log_dir: want a string, got a boolean`}},
		{"bad origin pattern", `allowed_origins = ["[a-"]`, []string{`allowed_origins: invalid entry "[a-"`}},
		{"empty host", `allowed_hosts = [""]`, []string{`allowed_hosts: invalid entry ""`}},
		{"auth not a table", `auth = "x"`, []string{`auth: want a table, got a string`}},
		{"empty token", "[auth]\ntokens = [{ token = \"\", role = \"admin\" }]\n", []string{`auth.tokens[0].token: required`}},
		{"missing token", "[auth]\ntokens = [{ role = \"admin\" }]\n", []string{`auth.tokens[0].token: required`}},
		{"token with a space", "[auth]\ntokens = [{ token = \"a b\", role = \"admin\" }]\n", []string{`auth.tokens[0].token: must not contain blanks`}},
		{"bad role", "[auth]\ntokens = [{ token = \"a\", role = \"root\" }]\n", []string{`auth.tokens[0].role: want "admin" or "read"`}},
		{"duplicate token, secret not shown", "[auth]\ntokens = [{ token = \"s3cr3t\", role = \"admin\" }, { token = \"s3cr3t\", role = \"read\" }]\n", []string{`auth.tokens[1].token: same token as auth.tokens[0]`}},
		{"duplicate token names", "[auth]\ntokens = [{ name = \"x\", token = \"a\", role = \"admin\" }, { name = \"x\", token = \"b\", role = \"read\" }]\n", []string{`auth.tokens[1].name: same name "x" as auth.tokens[0]`}},
		{"bad token session", "[auth]\ntokens = [{ token = \"a\", role = \"read\", sessions = [\"a.b\"] }]\n", []string{`auth.tokens[0].sessions: invalid session name "a.b"`}},
		{"all problems together", "bind = [\"nope\"]\nextra = 1\n[[job]]\nname = \"w\"\ncmd = \"run\"\nnumprocesses = -1\n[[job]]\nname = \"v\"\n",
			[]string{`unknown key "extra"`, `bind: invalid bind address "nope"`, `job[0] (w): field "numprocesses": must be >= 0`, `job[1] (v): field "cmd": required`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.src), "cfg.toml")
			wantInvalid(t, err, tt.wants...)
			if c != nil {
				t.Errorf("got a config along with an error: %+v", c)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error shows a token: %v", err)
			}
		})
	}
}

func TestParseConfigErrorFormat(t *testing.T) {
	// One problem per line, each starting with the file name.
	_, err := ParseConfig([]byte("zzz = 1\n[[job]]\nname = \"w\"\ncmd = \"\"\n"), "/etc/ganger.toml")
	want := `/etc/ganger.toml: unknown key "zzz"
/etc/ganger.toml: job[0] (w): field "cmd": required`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestParseBind(t *testing.T) {
	tests := []struct {
		in, network, address string
	}{
		{"127.0.0.1:5000", "tcp", "127.0.0.1:5000"},
		{":0", "tcp", ":0"},
		{"[::1]:5000", "tcp", "[::1]:5000"},
		{"unix:/run/ganger.sock", "unix", "/run/ganger.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			network, address, err := ParseBind(tt.in)
			if err != nil || network != tt.network || address != tt.address {
				t.Errorf("ParseBind(%q) = %q, %q, %v; want %q, %q", tt.in, network, address, err, tt.network, tt.address)
			}
		})
	}
	for _, bad := range []string{"", "5000", "host:", "unix:", "unix:sock", "a:b:c", "127.0.0.1:-1"} {
		t.Run("bad "+bad, func(t *testing.T) {
			_, _, err := ParseBind(bad)
			wantInvalid(t, err, "invalid bind address")
		})
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ganger.toml")
	if err := os.WriteFile(path, []byte("[[job]]\nname = \"w\"\ncmd = \"run\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil || len(c.Jobs) != 1 {
		t.Fatalf("LoadConfig = %+v, %v", c, err)
	}
	if err := os.WriteFile(path, []byte("bogus = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadConfig(path)
	wantInvalid(t, err, path+`: unknown key "bogus"`)
	if _, err := LoadConfig(filepath.Join(dir, "missing.toml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadConfig of a missing file: %v, want ErrNotExist", err)
	}
}
