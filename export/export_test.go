package export

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// shop is an app with the characters that need quoting in every place.
func shop(dir string) App {
	return App{
		Name: "shop",
		Dir:  dir,
		Env: map[string]string{
			"FOO":      "bar",
			"SPACES":   "a b  c",
			"QUOTES":   `it's "quoted"`,
			"SPECIALS": `100% $HOME \ end`,
			"MULTI":    "line1\nline2",
			"PORT":     "1234", // replaced by the process's own port
		},
		Processes: []Process{
			{Name: "web", Command: `echo "web port=$PORT" 100% \ done && exec python3 -m http.server $PORT`, Count: 2, Port: 5000},
			{Name: "worker", Command: `sh -c 'while :; do echo "${FOO}"; sleep 1; done'`, Count: 1, Port: 5100},
			{Name: "clock", Command: "date", Count: 0, Port: 5200},
		},
		GracefulTimeout: 7 * time.Second,
	}
}

// checkGolden compares got with testdata/<name>, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func files(t *testing.T, fs []File) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, f := range fs {
		if _, dup := m[f.Name]; dup {
			t.Fatalf("file %s written twice", f.Name)
		}
		m[f.Name] = string(f.Data)
	}
	return m
}

func TestSystemdGolden(t *testing.T) {
	fs, err := Systemd(shop("/srv/shop"))
	if err != nil {
		t.Fatal(err)
	}
	got := files(t, fs)
	wantNames := []string{
		"shop.target",
		"shop-web.target", "shop-web@.service",
		"shop-worker.target", "shop-worker@.service",
		"shop-clock.target", "shop-clock@.service",
	}
	if len(got) != len(wantNames) {
		t.Errorf("files %v, want %v", keys(got), wantNames)
	}
	for _, n := range wantNames {
		if _, ok := got[n]; !ok {
			t.Errorf("no file %s", n)
			continue
		}
		checkGolden(t, filepath.Join("systemd", n), []byte(got[n]))
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSystemdFields(t *testing.T) {
	a := shop("/srv/shop")
	a.User = "deploy"
	fs, err := Systemd(a)
	if err != nil {
		t.Fatal(err)
	}
	got := files(t, fs)
	web := got["shop-web@.service"]
	for _, want := range []string{
		"\nKillMode=control-group\n",
		"\nTimeoutStopSec=7\n",
		"\nRestart=on-failure\n",
		"\nWorkingDirectory=/srv/shop\n",
		"\nUser=deploy\n",
		"\nEnvironment=PORT=%i\n",
		"\nEnvironment=FOO=bar\n",
		"\nEnvironment=\"SPACES=a b  c\"\n",
		"\nEnvironment=\"QUOTES=it's \\\"quoted\\\"\"\n",
		"\nEnvironment=\"SPECIALS=100%% $HOME \\\\ end\"\n",
		"\nEnvironment=\"MULTI=line1\\nline2\"\n",
		"\nExecStart=/bin/sh -c \"echo \\\"web port=$$PORT\\\" 100%% \\\\ done && exec python3 -m http.server $$PORT\"\n",
		"\nPartOf=shop-web.target\n",
	} {
		if !strings.Contains(web, want) {
			t.Errorf("shop-web@.service lacks %q:\n%s", want, web)
		}
	}
	if strings.Contains(web, "PORT=1234") {
		t.Errorf("the .env's PORT leaked into the unit:\n%s", web)
	}
	if want := "\nWants=shop-web@5000.service shop-web@5001.service\n"; !strings.Contains(got["shop-web.target"], want) {
		t.Errorf("shop-web.target lacks %q:\n%s", want, got["shop-web.target"])
	}
	if strings.Contains(got["shop-clock.target"], "Wants=") {
		t.Errorf("a zero count wants instances:\n%s", got["shop-clock.target"])
	}
	top := got["shop.target"]
	for _, want := range []string{"\nWants=shop-web.target shop-worker.target shop-clock.target\n", "\nWantedBy=multi-user.target\n"} {
		if !strings.Contains(top, want) {
			t.Errorf("shop.target lacks %q:\n%s", want, top)
		}
	}
}

func TestSystemdZeroTimeoutKillsAtOnce(t *testing.T) {
	a := shop("/srv/shop")
	a.GracefulTimeout = 0
	fs, err := Systemd(a)
	if err != nil {
		t.Fatal(err)
	}
	web := files(t, fs)["shop-web@.service"]
	if strings.Contains(web, "TimeoutStopSec=") || !strings.Contains(web, "\nKillSignal=SIGKILL\n") {
		t.Errorf("graceful timeout 0:\n%s", web)
	}
	if got := systemdTimespan(1500 * time.Millisecond); got != "1500ms" {
		t.Errorf("systemdTimespan(1.5s) = %q", got)
	}
}

// TestSystemdVerify runs systemd-analyze verify on the units, when it is
// installed, and checks how systemd itself reads the quoted values.
func TestSystemdVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	dir := t.TempDir()
	fs, err := Systemd(shop(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, fs); err != nil {
		t.Fatal(err)
	}
	// An instance of the template, as systemctl start shop-web@5000 makes.
	instance := filepath.Join(dir, "shop-web@5000.service")
	if err := os.Symlink(filepath.Join(dir, "shop-web@.service"), instance); err != nil {
		t.Fatal(err)
	}
	args := []string{"verify", "--man=no"}
	for _, f := range fs {
		args = append(args, filepath.Join(dir, f.Name))
	}
	args = append(args, instance)
	cmd := exec.Command(analyze, args...)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_LEVEL=debug")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, bad := range []string{"Unknown key", "Invalid", "Failed to parse", "ignoring"} {
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, bad) && strings.Contains(line, "shop") {
				t.Errorf("systemd-analyze: %s", line)
			}
		}
	}
	// The debug dump of the instance shows the values systemd parsed.
	dump := string(out)
	if !strings.Contains(dump, "Environment: ") {
		t.Log("no unit dump in systemd-analyze's output; values not checked")
		return
	}
	for _, want := range []string{
		"Environment: PORT=5000",
		"Environment: SPACES=a b  c",
		`Environment: QUOTES=it's "quoted"`,
		`Environment: SPECIALS=100% $HOME \ end`,
		"WorkingDirectory: " + dir,
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("systemd read no %q; output:\n%s", want, dump)
		}
	}
}

func TestNomad(t *testing.T) {
	fs, err := Nomad(shop("/srv/shop"))
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Name != "shop.nomad.json" {
		t.Fatalf("files %+v", fs)
	}
	checkGolden(t, filepath.Join("nomad", "shop.nomad.json"), fs[0].Data)

	var doc struct {
		Job struct {
			ID, Type   string
			TaskGroups []struct {
				Name  string
				Count int
				Tasks []struct {
					Driver string
					Config struct {
						Command string
						Args    []string
					}
					Env         map[string]string
					KillTimeout int64
				}
			}
		}
	}
	if err := json.Unmarshal(fs[0].Data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Job.ID != "shop" || doc.Job.Type != "service" || len(doc.Job.TaskGroups) != 3 {
		t.Fatalf("job %+v", doc.Job)
	}
	g := doc.Job.TaskGroups[0]
	task := g.Tasks[0]
	if g.Name != "web" || g.Count != 2 || task.Driver != "raw_exec" || task.KillTimeout != int64(7*time.Second) {
		t.Errorf("group %+v", g)
	}
	if task.Config.Command != "/bin/sh" || len(task.Config.Args) != 2 || task.Config.Args[0] != "-c" ||
		!strings.HasPrefix(task.Config.Args[1], "cd '/srv/shop' || exit\n") ||
		!strings.HasSuffix(task.Config.Args[1], shop("").Processes[0].Command) {
		t.Errorf("config %+v", task.Config)
	}
	if task.Env["FOO"] != "bar" || task.Env["MULTI"] != "line1\nline2" || task.Env["PORT"] != "${NOMAD_PORT_port}" {
		t.Errorf("env %v", task.Env)
	}
	if c := doc.Job.TaskGroups[2].Count; c != 0 {
		t.Errorf("clock count %d, want 0", c)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*App)
		want string
	}{
		{"bad app name", func(a *App) { a.Name = "my.app" }, "invalid app name"},
		{"relative dir", func(a *App) { a.Dir = "srv" }, "not an absolute path"},
		{"bad env name", func(a *App) { a.Env = map[string]string{"A-B": "1"} }, "invalid environment variable"},
		{"bad user", func(a *App) { a.User = "a b" }, "invalid user"},
		{"no processes", func(a *App) { a.Processes = nil }, "no processes"},
		{"port out of range", func(a *App) { a.Processes[0].Port = 65535 }, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := shop("/srv/shop")
			tt.edit(&a)
			for _, exp := range []func(App) ([]File, error){Systemd, Nomad} {
				if _, err := exp(a); err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %v, want one containing %q", err, tt.want)
				}
			}
		})
	}
}

func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	if err := Write(dir, []File{{"x.service", []byte("one")}}); err != nil {
		t.Fatal(err)
	}
	if err := Write(dir, []File{{"x.service", []byte("two")}}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "x.service"))
	if err != nil || string(got) != "two" {
		t.Fatalf("read %q, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("left files behind: %v", entries)
	}
}
