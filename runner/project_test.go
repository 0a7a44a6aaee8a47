package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustProject(t *testing.T, procfile string, env ...string) *Project {
	t.Helper()
	p, err := LoadProject(procfile, env)
	if err != nil {
		t.Fatalf("LoadProject: %v", err)
	}
	return p
}

func TestSessionName(t *testing.T) {
	tests := []struct{ dir, want string }{
		{"/srv/shop", "shop"},
		{"/srv/my.app", "my_app"},
		{"/home/me/My App", "My_App"},
		{"/x/-dash", "_-dash"},
		{"/x/été", "_t_"},
		{"/", "default"},
		{".", "default"},
	}
	for _, tt := range tests {
		if got := SessionName(tt.dir); got != tt.want {
			t.Errorf("SessionName(%q) = %q, want %q", tt.dir, got, tt.want)
		}
	}
}

func TestFormation(t *testing.T) {
	tests := []struct {
		name    string
		flags   []string
		counts  map[string]int
		wantErr string
	}{
		{name: "default one each", counts: map[string]int{"web": 1, "worker": 1}},
		{name: "named", flags: []string{"web=2"}, counts: map[string]int{"web": 2, "worker": 1}},
		{name: "all and named", flags: []string{"all=0, web=3"}, counts: map[string]int{"web": 3, "worker": 0}},
		{name: "repeated, later wins", flags: []string{"web=2,worker=4", "web=5"}, counts: map[string]int{"web": 5, "worker": 4}},
		{name: "no count", flags: []string{"web"}, wantErr: "want name=N"},
		{name: "negative", flags: []string{"web=-1"}, wantErr: "count >= 0"},
		{name: "not a number", flags: []string{"web=x"}, wantErr: "count >= 0"},
		{name: "bad name", flags: []string{"w.b=1"}, wantErr: "not a valid process name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Formation
			var err error
			for _, s := range tt.flags {
				if err = f.Set(s); err != nil {
					break
				}
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range tt.counts {
				if got := f.Count(name); got != want {
					t.Errorf("Count(%s) = %d, want %d", name, got, want)
				}
			}
		})
	}
}

func TestLoadProjectEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GANGER_TEST_OS", "os")
	procfile := writeFile(t, dir, "Procfile", "web: echo $PORT\n")

	// The default .env next to the Procfile may be missing.
	p := mustProject(t, procfile)
	if len(p.Env) != 0 || len(p.EnvFiles) != 0 {
		t.Errorf("without a .env: env %v, files %v", p.Env, p.EnvFiles)
	}
	if p.Dir != dir {
		t.Errorf("Dir = %q, want %q", p.Dir, dir)
	}

	// The default .env is read when it exists.
	writeFile(t, dir, ".env", "A=1\nB=$GANGER_TEST_OS\n")
	p = mustProject(t, procfile)
	if p.Env["A"] != "1" || p.Env["B"] != "os" {
		t.Errorf("default .env: env %v", p.Env)
	}

	// Explicit files: later ones win and see earlier ones' variables.
	second := writeFile(t, dir, "second.env", "C=${A}-$B\nA=2\n")
	p = mustProject(t, procfile, filepath.Join(dir, ".env"), second)
	if p.Env["A"] != "2" || p.Env["C"] != "1-os" {
		t.Errorf("two files: env %v", p.Env)
	}

	// An explicit file must exist.
	if _, err := LoadProject(procfile, []string{filepath.Join(dir, "missing.env")}); err == nil {
		t.Error("a missing explicit .env file: no error")
	}
	// A bad line is reported with its file and line.
	bad := writeFile(t, dir, "bad.env", "OK=1\nnot a line\n")
	if _, err := LoadProject(procfile, []string{bad}); err == nil || !strings.Contains(err.Error(), "bad.env:2:") {
		t.Errorf("bad .env: error %v, want one naming bad.env:2:", err)
	}
}

func TestLoadProjectProcfileErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, data, want string }{
		{"bad line", "web: ok\n\nnot a line\n", "Procfile:3:"},
		{"duplicate", "web: a\nweb: b\n", "Procfile:2:"},
		{"empty", "# nothing\n", "no processes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, dir, "Procfile", tt.data)
			if _, err := LoadProject(path, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := LoadProject(filepath.Join(dir, "nope"), nil); err == nil {
		t.Error("missing Procfile: no error")
	}
}

func TestJobs(t *testing.T) {
	dir := t.TempDir()
	procfile := writeFile(t, dir, "Procfile", "web: echo web $PORT | cat\nworker: sh worker.sh\nclock: date\n")
	writeFile(t, dir, ".env", "FOO=bar\n")
	p := mustProject(t, procfile)

	var f Formation
	if err := f.Set("web=2,clock=0"); err != nil {
		t.Fatal(err)
	}
	jobs, err := p.Jobs(JobOptions{Formation: f, BasePort: 6000, GracefulTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name  string
		count int
		port  int
	}{{"web", 2, 6000}, {"worker", 1, 6100}, {"clock", 0, 6200}}
	if len(jobs) != len(want) {
		t.Fatalf("%d jobs, want %d", len(jobs), len(want))
	}
	for i, w := range want {
		j := jobs[i]
		if j.Name != w.name || j.NumProcesses != w.count || j.Port != w.port {
			t.Errorf("job %d: %s×%d port %d, want %s×%d port %d", i, j.Name, j.NumProcesses, j.Port, w.name, w.count, w.port)
		}
		if !j.Shell || j.Cwd != dir || !j.OSEnv || j.Env["FOO"] != "bar" || j.GracefulTimeout != 3*time.Second || !j.Flapping.Enabled {
			t.Errorf("job %s: shell %v cwd %q os_env %v env %v grace %v flapping %v", j.Name, j.Shell, j.Cwd, j.OSEnv, j.Env, j.GracefulTimeout, j.Flapping.Enabled)
		}
		if err := j.Validate(); err != nil {
			t.Errorf("job %s: %v", j.Name, err)
		}
	}
	if jobs[0].Cmd != "echo web $PORT | cat" {
		t.Errorf("cmd = %q", jobs[0].Cmd)
	}

	// Only some entries: ports still follow the Procfile's order.
	jobs, err = p.Jobs(JobOptions{Only: []string{"clock"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].Name != "clock" || jobs[0].Port != 5200 || jobs[0].NumProcesses != 1 {
		t.Errorf("only clock: %+v", jobs)
	}

	for _, o := range []JobOptions{
		{Only: []string{"nope"}},
		{Formation: Formation{Counts: map[string]int{"nope": 1}}},
		{BasePort: 65500},
	} {
		if _, err := p.Jobs(o); err == nil {
			t.Errorf("Jobs(%+v): no error", o)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5", 5 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"1m30s", 90 * time.Second, true},
		{"0", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
