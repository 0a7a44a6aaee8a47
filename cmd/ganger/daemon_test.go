package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"

	"github.com/ganger/ganger/client"
	"github.com/ganger/ganger/conf"
)

// TestDaemonInProcess runs the Daemon in the test process on 127.0.0.1:0
// and a unix socket: serve, reload, shut down.
func TestDaemonInProcess(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "g.sock")
	path := filepath.Join(dir, "ganger.toml")
	config := `bind = ["127.0.0.1:0", "unix:` + sock + `"]
[[job]]
name = "web"
cmd = "sleep 300"
graceful_timeout = 1
[[job]]
name = "early"
cmd = "sleep 300"
priority = -5
graceful_timeout = 1
`
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := conf.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	var logBuf syncWriter
	d := &Daemon{Config: cfg, ConfigPath: path, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))}
	if err := d.Open(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- d.Run(ctx) }()

	addr := d.Addrs()[0].String()
	c := client.New(addr, "")
	await.Until(t, 15*time.Second, "web to run", func() bool {
		info, err := c.Job(ctx, "web")
		return err == nil && info.Running == 1
	})
	// Jobs load in ascending priority.
	if names, err := c.Jobs(ctx, ""); err != nil || strings.Join(names, " ") != "default.early default.web" {
		t.Errorf("jobs %v, %v; want early (priority -5) first", names, err)
	}

	// The CLI, in process, over TCP and over the unix socket.
	for _, a := range []string{addr, "unix:" + sock} {
		var out, errOut bytes.Buffer
		if code := run([]string{"ps", "--address", a}, nil, &out, &errOut); code != 0 || !strings.Contains(out.String(), "default.web") {
			t.Errorf("ps --address %s: exit %d, %q, %q", a, code, out.String(), errOut.String())
		}
	}

	// A reload: "early" leaves the file, "late" joins it, "web" is unchanged.
	before, _ := c.Job(ctx, "web")
	config = strings.Replace(config, `name = "early"`, `name = "late"`, 1)
	os.WriteFile(path, []byte(config), 0o600)
	if err := d.Reload(ctx); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if names, _ := c.Jobs(ctx, ""); strings.Join(names, " ") != "default.web default.late" {
		t.Errorf("jobs after reload: %v", names)
	}
	if after, _ := c.Job(ctx, "web"); len(after.Processes) != 1 || after.Processes[0] != before.Processes[0] {
		t.Errorf("web restarted by a reload that did not change it: %v → %v", before.Processes, after.Processes)
	}
	os.WriteFile(path, []byte("[[job]]\nname = 1\n"), 0o600)
	if err := d.Reload(ctx); err == nil {
		t.Errorf("Reload of a broken file: no error")
	}
	if names, _ := c.Jobs(ctx, ""); len(names) != 2 {
		t.Errorf("jobs after a broken reload: %v", names)
	}

	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(await.Scale(20 * time.Second)):
		t.Fatal("Run did not return after its context ended")
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	if err := c.Ping(context.Background()); err == nil {
		t.Errorf("the daemon still answers after Run returned")
	}
	if strings.Contains(logBuf.String(), "level=ERROR") && !strings.Contains(logBuf.String(), "config file not reloaded") {
		t.Errorf("errors in the log:\n%s", logBuf.String())
	}
}

// syncWriter is a log destination safe for concurrent writers.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestParseFlagsInterspersed(t *testing.T) {
	for _, c := range []struct {
		args []string
		f    bool
		n    string
		pos  string
	}{
		{[]string{"web"}, false, "10", "web"},
		{[]string{"-f", "web"}, true, "10", "web"},
		{[]string{"web", "-f", "-n", "3"}, true, "3", "web"},
		{[]string{"a", "-n", "2", "b"}, false, "2", "a b"},
		{[]string{"-n", "2", "--", "-f", "x"}, false, "2", "-f x"},
		{[]string{"-"}, false, "10", "-"},
	} {
		fs := newFlagSet("x", "", "", io.Discard, io.Discard)
		f := fs.Bool("f", false, "")
		n := fs.String("n", "10", "")
		if _, ok := fs.parse(c.args); !ok {
			t.Errorf("%q: parse failed", c.args)
			continue
		}
		if *f != c.f || *n != c.n || strings.Join(fs.Args(), " ") != c.pos {
			t.Errorf("%q: f=%v n=%s args=%q; want %v %s %q", c.args, *f, *n, fs.Args(), c.f, c.n, c.pos)
		}
	}
}

func TestScaleArgs(t *testing.T) {
	for in, want := range map[string][]string{
		"web=3":      {"web", "=", "3"},
		"web+2":      {"web", "+", "2"},
		"my-app-1":   {"my-app", "-", "1"},
		"s.my-app=0": {"s.my-app", "=", "0"},
		"web":        nil,
		"web=":       nil,
		"web=-1":     nil,
		"=3":         nil,
	} {
		m := scaleRE.FindStringSubmatch(in)
		var got []string
		if m != nil {
			got = m[1:]
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func TestHumanFormats(t *testing.T) {
	for n, want := range map[uint64]string{0: "0B", 1023: "1023B", 1024: "1.0K", 1536: "1.5K", 5 << 20: "5.0M", 3 << 30: "3.0G"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 45 * time.Second: "45s", 192 * time.Second: "3m12s",
		2*time.Hour + 5*time.Minute: "2h05m", 76 * time.Hour: "3d04h",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestParseJobsFile(t *testing.T) {
	for _, c := range []struct {
		file, data string
		want       string // "session:label" in load order, or "error"
	}{
		{"j.json", `{"name": "a", "cmd": "x"}`, "default:a"},
		{"j", `{"name": "a", "cmd": "x", "session": "s"}`, "s:a"},
		{"j", `[{"name": "b", "cmd": "x", "priority": 2}, {"name": "a", "cmd": "x"}]`, "default:a default:b"},
		{"j.toml", "[[job]]\nname = \"a\"\ncmd = \"x\"\n[[job]]\nsession = \"s\"\nname = \"b\"\ncmd = \"x\"\npriority = -1\n", "s:s.b default:default.a"},
		{"j", "[[job]]\nname = \"a\"\ncmd = \"x\"\n", "default:default.a"},
		{"j.json", `{"name": `, "error"},
		{"j.toml", "bind = [\"127.0.0.1:1\"]\n", "error"},
		{"j", "", "error"},
		{"j", "[]", "error"},
	} {
		jobs, err := parseJobsFile(c.file, []byte(c.data))
		var got []string
		for _, j := range jobs {
			got = append(got, j.session+":"+j.label)
		}
		g := strings.Join(got, " ")
		if err != nil {
			g = "error"
		}
		if g != c.want {
			t.Errorf("%s %q: %s (%v), want %s", c.file, c.data, g, err, c.want)
		}
	}
}

// TestExampleConfig keeps examples/ganger.toml valid.
func TestExampleConfig(t *testing.T) {
	cfg, err := conf.LoadConfig("../../examples/ganger.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Jobs) != 3 {
		t.Errorf("%d jobs, want 3", len(cfg.Jobs))
	}
}
