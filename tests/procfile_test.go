package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"
)

// Tests of the Procfile commands: start, run, check and export.

// procfileApp writes a Procfile (and a .env when env is not "") into a
// fresh folder named "my.app" (so its session is "my_app") and returns it.
func procfileApp(t *testing.T, procfile, env string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "my.app")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, dir, "Procfile", procfile)
	if env != "" {
		writeTestFile(t, dir, ".env", env)
	}
	return dir
}

func writeTestFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// procsWithEnv returns the live processes whose environment holds kv.
func procsWithEnv(kv string) []int {
	return procsWhere(func(pid int) bool {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		return err == nil && slices.Contains(strings.Split(string(env), "\x00"), kv) && alive(pid)
	})
}

// spawnedPids returns the os pids of the "X started (pid N" system lines.
func spawnedPids(stdout string) []int {
	var pids []int
	for _, m := range regexp.MustCompile(`system +\| \S+ started \(pid (\d+)`).FindAllStringSubmatch(stdout, -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	return pids
}

// checkNothingLeft fails the test if a process of the run is still alive:
// one in the group of a spawned process, or one carrying the marker.
func checkNothingLeft(t *testing.T, stdout, marker string) {
	t.Helper()
	pids := spawnedPids(stdout)
	if len(pids) == 0 {
		t.Fatalf("no spawned process in the output:\n%s", stdout)
	}
	await.Until(t, 10*time.Second, "every process group to end", func() bool {
		for _, pid := range pids {
			if len(procsInGroup(pid)) > 0 {
				return false
			}
		}
		return len(procsWithEnv(marker)) == 0
	})
}

const timeRE = `\d\d:\d\d:\d\d`

func TestProcfileStart(t *testing.T) {
	marker := fmt.Sprintf("GANGER_TEST_MARKER=procfile-start-%d-%d", os.Getpid(), time.Now().UnixNano())
	dir := procfileApp(t,
		"# a comment\n"+
			"web: echo \"web port=$PORT foo=$FOO\"; exec sleep 30\n"+
			"worker: echo \"worker port=$PORT\" | cat; sh -c 'sleep 30 & exec sleep 30'\n"+
			"crash: echo \"crash run $PORT\"; sleep 0.1; exit 3\n",
		"FOO=bar\n"+marker+"\n")
	g := startCmd(t, runOptions{Dir: dir}, "start", "-c", "web=2", "-p", "6000", "--api", "127.0.0.1:0", "-t", "5")
	api := waitOutputMatch(t, g, `API and dashboard on http://(\S+)/ui/`)[1]

	// Prefixed output, PORT per process and per entry, .env values.
	waitOutputMatch(t, g, `(?m)^`+timeRE+` web\.1 +\| web port=6000 foo=bar$`)
	waitOutputMatch(t, g, `(?m)^`+timeRE+` web\.2 +\| web port=6001 foo=bar$`)
	waitOutputMatch(t, g, `(?m)^`+timeRE+` worker\.1 +\| worker port=6100$`)
	waitOutputMatch(t, g, `(?m)^`+timeRE+` crash\.1 +\| crash run 6200$`)
	if strings.Contains(g.Stdout(), "\x1b[") {
		t.Errorf("colours on a pipe:\n%q", g.Stdout())
	}
	// Names are padded to one width: every " | " is at the same column.
	col := -1
	for _, l := range lines(g.Stdout()) {
		i := strings.Index(l, " | ")
		if col < 0 {
			col = i
		}
		if i != col {
			t.Errorf("misaligned line %q (separator at %d, want %d)", l, i, col)
		}
	}

	// A crashing entry is restarted, and the output says so.
	waitOutputMatch(t, g, `(?m)^`+timeRE+` system +\| crash\.1 exited with code 3\n`+timeRE+` system +\| crash\.1 restarting in 100ms$`)
	await.Until(t, 20*time.Second, "crash.1 to start twice", func() bool {
		return len(regexp.MustCompile(`system +\| crash\.1 started`).FindAllString(g.Stdout(), -1)) >= 2
	})

	// The API answers on --api.
	var jobs struct {
		Jobs []string `json:"jobs"`
	}
	getJSON(t, "http://"+api+"/jobs", "", &jobs)
	for _, want := range []string{"my_app.web", "my_app.worker", "my_app.crash"} {
		if !slices.Contains(jobs.Jobs, want) {
			t.Errorf("GET /jobs = %v, want %s in it", jobs.Jobs, want)
		}
	}
	// The client commands work against it: a third web process gets the next port.
	if out, errOut, code := run(t, "scale", "--address", "http://"+api, "my_app.web=3"); code != 0 {
		t.Fatalf("ganger scale: exit %d\n%s%s", code, out, errOut)
	}
	waitOutputMatch(t, g, `(?m)^`+timeRE+` web\.3 +\| web port=6002 foo=bar$`)

	// Ctrl-C stops everything gracefully and exits 0.
	g.Signal(syscall.SIGINT)
	if code := g.Wait(30 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGINT, want 0\nstdout:\n%s\nstderr:\n%s", code, g.Stdout(), g.Stderr())
	}
	mustContain(t, "stdout", g.Stdout(), "all processes stopped")
	checkNothingLeft(t, g.Stdout(), marker)
}

func TestProcfileStartOnlyNamedJobs(t *testing.T) {
	dir := procfileApp(t, "web: echo web; exec sleep 30\nworker: echo \"worker port=$PORT\"; exec sleep 30\n", "")
	g := startCmd(t, runOptions{Dir: dir}, "start", "--api", "off", "worker")
	// The second entry keeps its port even when the first does not run.
	waitOutputMatch(t, g, `(?m)^`+timeRE+` worker\.1 +\| worker port=5100$`)
	g.Signal(syscall.SIGTERM)
	if code := g.Wait(30 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0\n%s", code, g.Stderr())
	}
	if strings.Contains(g.Stdout(), "web") {
		t.Errorf("web ran although only worker was asked for:\n%s", g.Stdout())
	}
}

func TestProcfileStartSecondSignalKills(t *testing.T) {
	marker := fmt.Sprintf("GANGER_TEST_MARKER=procfile-kill-%d-%d", os.Getpid(), time.Now().UnixNano())
	dir := procfileApp(t, "stubborn: trap '' TERM; echo ready; while :; do sleep 0.1; done\n", marker+"\n")
	g := startCmd(t, runOptions{Dir: dir}, "start", "--api", "off", "-t", "60")
	waitOutputMatch(t, g, `stubborn\.1 +\| ready`)
	g.Signal(syscall.SIGINT)
	waitOutputMatch(t, g, `SIGINT received, stopping`)
	g.Signal(syscall.SIGINT)
	if code := g.Wait(30 * time.Second); code != 130 {
		t.Errorf("exit status %d after a second SIGINT, want 130\n%s", code, g.Stdout())
	}
	checkNothingLeft(t, g.Stdout(), marker)
}

func TestProcfileStartErrors(t *testing.T) {
	dir := procfileApp(t, "web: sleep 1\n", "")
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown job", []string{"start", "--api", "off", "nope"}, 1, `no process "nope"`},
		{"unknown formation name", []string{"start", "--api", "off", "-c", "nope=2"}, 1, `"nope"`},
		{"bad formation", []string{"start", "-c", "web"}, 2, "want name=N"},
		{"bad timeout", []string{"start", "-t", "soon"}, 2, "invalid duration"},
		{"missing explicit env file", []string{"start", "--api", "off", "-e", "missing.env"}, 1, "missing.env"},
		{"missing Procfile", []string{"start", "--api", "off", "-f", "Nofile"}, 1, "Nofile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runWith(t, runOptions{Dir: dir, Limit: 20 * time.Second}, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tt.code, tt.want)
			}
		})
	}

	// An --api address in use is an error before anything starts.
	other := startCmd(t, runOptions{Dir: dir}, "start", "--api", "127.0.0.1:0")
	busy := waitOutputMatch(t, other, `API and dashboard on http://(\S+)/ui/`)[1]
	_, errOut, code := runWith(t, runOptions{Dir: dir, Limit: 20 * time.Second}, "start", "--api", busy)
	if code != 1 || !strings.Contains(errOut, "address already in use") {
		t.Errorf("second start on a busy --api: exit %d, stderr %q", code, errOut)
	}
	other.Signal(syscall.SIGTERM)
	if code := other.Wait(30 * time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
}

func TestProcfileCheck(t *testing.T) {
	dir := procfileApp(t, "web: python3 -m http.server $PORT\n\n# comment\nworker: sh worker.sh\n", "FOO=bar\nSECRET=hunter2\n")
	out, errOut, code := runWith(t, runOptions{Dir: dir}, "check")
	if code != 0 {
		t.Fatalf("check: exit %d: %s", code, errOut)
	}
	mustContain(t, "check's output", out, "valid procfile detected (web, worker)", "python3 -m http.server $PORT", "sh worker.sh", "FOO", "SECRET")
	if strings.Contains(out, "hunter2") {
		t.Errorf("check printed a .env value:\n%s", out)
	}

	// The examples shipped with ganger are valid.
	for _, args := range [][]string{{"check", "-f", "../Procfile.example"}, {"check", "-f", "../examples/procfile/Procfile"}} {
		out, errOut, code := run(t, args...)
		if code != 0 || !strings.Contains(out, "valid procfile detected (web, worker)") {
			t.Errorf("ganger %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}

	tests := []struct {
		name, procfile, env string
		args                []string
		want                string
	}{
		{name: "bad Procfile line", procfile: "web: ok\n# c\nthis is not a line\n", want: "ganger: Procfile:3: "},
		{name: "bad name", procfile: "w.b: ok\n", want: "ganger: Procfile:1: "},
		{name: "duplicate", procfile: "web: a\nweb: b\n", want: "ganger: Procfile:2: "},
		{name: "empty Procfile", procfile: "# nothing\n", want: "ganger: Procfile: "},
		{name: "bad .env", procfile: "web: a\n", env: "OK=1\nnot a definition\n", want: "ganger: .env:2: "},
		{name: "bad explicit env file", procfile: "web: a\n", args: []string{"-e", "other.env"}, want: "ganger: reading env file: open other.env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := procfileApp(t, tt.procfile, tt.env)
			out, errOut, code := runWith(t, runOptions{Dir: dir}, append([]string{"check"}, tt.args...)...)
			if code != 1 || !strings.HasPrefix(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q (stdout %q); want exit 1 and stderr starting with %q", code, errOut, out, tt.want)
			}
		})
	}
}

func TestProcfileRun(t *testing.T) {
	dir := procfileApp(t, "web: echo \"web port=$PORT in $(basename $(pwd))\"\nworker: exit 9\n", "FOO=bar\n")
	writeTestFile(t, dir, "other.env", "FOO=baz\nBAR=1\n")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
	}{
		{"shell command sees .env", []string{"run", "echo \"foo=$FOO\"; exit 7"}, 7, "foo=bar\n"},
		{"argv without a shell", []string{"run", "sh", "-c", "echo \"$0 $FOO\"; exit 5", "zero"}, 5, "zero bar\n"},
		{"later env files win", []string{"run", "-e", ".env", "-e", "other.env", "echo $FOO$BAR"}, 0, "baz1\n"},
		{"a Procfile entry by name", []string{"run", "web"}, 0, "web port=5000 in my.app\n"},
		{"an entry's exit status", []string{"run", "worker"}, 9, ""},
		{"PORT with -p", []string{"run", "-p", "7000", "echo $PORT"}, 0, "7000\n"},
		{"no PORT without -p", []string{"run", "echo \"[${PORT-unset}]\""}, 0, "[unset]\n"},
		{"killed by a signal", []string{"run", "kill -TERM $$"}, 128 + int(syscall.SIGTERM), ""},
		{"not found", []string{"run", "ganger-no-such-program", "x"}, 127, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, set := os.LookupEnv("PORT"); set && strings.Contains(tt.name, "PORT") {
				t.Skip("PORT is set in the test's environment")
			}
			out, errOut, code := runWith(t, runOptions{Dir: dir}, tt.args...)
			if code != tt.code || (tt.stdout != "" && out != tt.stdout) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q", code, out, errOut, tt.code, tt.stdout)
			}
		})
	}
	// Without a Procfile, run still works with the .env of the folder.
	bare := t.TempDir()
	writeTestFile(t, bare, ".env", "FOO=bare\n")
	if out, errOut, code := runWith(t, runOptions{Dir: bare}, "run", "echo $FOO"); code != 0 || out != "bare\n" {
		t.Errorf("run without a Procfile: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestProcfileExport(t *testing.T) {
	dir := procfileApp(t, "web: echo \"port $PORT\" && exec sleep 30\nworker: sh worker.sh\n", "FOO=bar baz\n")
	out := filepath.Join(t.TempDir(), "units")
	stdout, errOut, code := runWith(t, runOptions{Dir: dir}, "export", "systemd", "-o", out, "-c", "web=2", "-t", "7", "-a", "shop")
	if code != 0 {
		t.Fatalf("export systemd: exit %d: %s", code, errOut)
	}
	for _, name := range []string{"shop.target", "shop-web.target", "shop-web@.service", "shop-worker.target", "shop-worker@.service"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("export systemd: %v (stdout %q)", err, stdout)
		}
	}
	unit, err := os.ReadFile(filepath.Join(out, "shop-web@.service"))
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "shop-web@.service", string(unit),
		"\nKillMode=control-group\n", "\nTimeoutStopSec=7\n", "\nRestart=on-failure\n",
		"\nWorkingDirectory="+dir+"\n", "\nEnvironment=\"FOO=bar baz\"\n", "\nEnvironment=PORT=%i\n",
		"\nExecStart=/bin/sh -c \"echo \\\"port $$PORT\\\" && exec sleep 30\"\n")
	target, _ := os.ReadFile(filepath.Join(out, "shop-web.target"))
	mustContain(t, "shop-web.target", string(target), "Wants=shop-web@5000.service shop-web@5001.service")

	// systemd needs a folder; nomad goes to stdout without one.
	if _, errOut, code := runWith(t, runOptions{Dir: dir}, "export", "systemd"); code != 2 || !strings.Contains(errOut, "-o") {
		t.Errorf("export systemd without -o: exit %d, %q", code, errOut)
	}
	stdout, errOut, code = runWith(t, runOptions{Dir: dir}, "export", "nomad", "-c", "worker=3")
	if code != 0 {
		t.Fatalf("export nomad: exit %d: %s", code, errOut)
	}
	var job struct {
		Job struct {
			ID         string
			TaskGroups []struct {
				Name  string
				Count int
				Tasks []struct{ Driver string }
			}
		}
	}
	if err := json.Unmarshal([]byte(stdout), &job); err != nil {
		t.Fatalf("export nomad: %v in %s", err, stdout)
	}
	if job.Job.ID != "my_app" || len(job.Job.TaskGroups) != 2 || job.Job.TaskGroups[1].Count != 3 || job.Job.TaskGroups[0].Tasks[0].Driver != "raw_exec" {
		t.Errorf("export nomad: %+v", job)
	}
	if _, errOut, code := runWith(t, runOptions{Dir: dir}, "export", "upstart"); code != 2 || !strings.Contains(errOut, "unknown format") {
		t.Errorf("export upstart: exit %d, %q", code, errOut)
	}
}
