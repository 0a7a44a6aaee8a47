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
	})
	want := &Config{
		Bind:   []string{"127.0.0.1:5000", "unix:/run/ganger.sock"},
		LogDir: "/var/log/ganger",
		Auth: Auth{Tokens: []Token{
			{Name: "token-0", Token: "4dm1n-t0k3n-7f3a9c", Role: RoleAdmin, Sessions: []string{}},
			{Name: "token-1", Token: "r34d-t0k3n-b81e22", Role: RoleRead, Sessions: []string{"default"}},
		}},
		Jobs: []Job{web},
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
