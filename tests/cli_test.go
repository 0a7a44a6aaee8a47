package tests

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"
)

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	out, _, code := run(t, "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, cmd := range []string{"daemon", "start", "run", "check", "export", "ps", "load", "unload", "scale",
		"start-job", "stop-job", "reload", "kill", "commit", "logs", "events", "stats", "version", "help"} {
		if !regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(cmd) + ` `).MatchString(out) {
			t.Errorf("--help does not list %q:\n%s", cmd, out)
		}
	}
	if help, _, code := run(t, "help"); code != 0 || help != out {
		t.Errorf("help: exit %d, output differs from --help", code)
	}

	out, _, code = run(t, "version")
	if code != 0 || !regexp.MustCompile(`^ganger \d+\.\d+\.\d+`).MatchString(out) {
		t.Errorf("version: exit %d, %q", code, out)
	}

	// Every client command documents --address and --token; its help goes
	// to stdout with status 0, whichever way it is asked for.
	for _, cmd := range []string{"ps", "load", "unload", "scale", "start-job", "stop-job", "reload", "kill", "commit", "logs", "events", "stats"} {
		out, errOut, code := run(t, cmd, "--help")
		if code != 0 || !strings.HasPrefix(out, "usage: ganger "+cmd) || errOut != "" {
			t.Errorf("%s --help: exit %d, stdout %q, stderr %q", cmd, code, out, errOut)
			continue
		}
		mustContain(t, cmd+" --help", out, "-address", "-token", "GANGER_ADDRESS")
		if out2, _, _ := run(t, "help", cmd); out2 != out {
			t.Errorf("help %s differs from %s --help", cmd, cmd)
		}
	}
	out, _, code = run(t, "daemon", "-h")
	if code != 0 {
		t.Errorf("daemon -h: exit %d", code)
	}
	mustContain(t, "daemon -h", out, "-config", "-bind", "SIGHUP")

	_, errOut, code := run(t, "frobnicate")
	if code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, %q", code, errOut)
	}
	_, errOut, code = run(t)
	if code != 2 || !strings.Contains(errOut, "Usage:") {
		t.Errorf("no command: exit %d, %q", code, errOut)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"scale"},
		{"scale", "web"},
		{"scale", "web=x"},
		{"scale", "web*3"},
		{"unload"},
		{"unload", "a.b.c"},
		{"start-job"},
		{"kill"},
		{"kill", "web", "NOSUCHSIG"},
		{"kill", "web", "HUP", "extra"},
		{"commit"},
		{"commit", "--env", "novalue", "web"},
		{"load"},
		{"logs", "-n", "-3"},
		{"events", "a", "b"},
		{"ps", "--nosuchflag"},
		{"daemon", "--bind", "nonsense"},
		{"daemon", "extra"},
	} {
		out, errOut, code := run(t, args...)
		if code != 2 {
			t.Errorf("%q: exit %d, want 2 (stdout %q, stderr %q)", args, code, out, errOut)
			continue
		}
		if !strings.Contains(errOut, "usage: ganger "+args[0]) {
			t.Errorf("%q: no usage line in stderr %q", args, errOut)
		}
	}
}

// TestUnreachable: every client command says in one line that the daemon
// cannot be reached, and exits 1.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	addr := refusedAddr(t)
	want := "ganger: cannot reach ganger at http://" + addr + ": connection refused\n"
	for _, args := range [][]string{
		{"ps"}, {"unload", "web"}, {"scale", "web=2"}, {"start-job", "web"}, {"stop-job", "web"},
		{"reload", "web"}, {"kill", "web", "HUP"}, {"kill", "3", "HUP"}, {"commit", "web"}, {"logs"},
		{"logs", "-f", "web"}, {"events"}, {"stats"},
	} {
		_, errOut, code := run(t, append(args, "--address", addr)...)
		if code != 1 || errOut != want {
			t.Errorf("%q: exit %d, stderr %q; want 1, %q", args, code, errOut, want)
		}
	}
	// The same through $GANGER_ADDRESS, and over a unix socket.
	_, errOut, code := runWith(t, runOptions{Env: []string{"GANGER_ADDRESS=http://" + addr}}, "ps")
	if code != 1 || errOut != want {
		t.Errorf("ps with $GANGER_ADDRESS: exit %d, %q", code, errOut)
	}
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, errOut, code = run(t, "ps", "--address", "unix:"+sock)
	if want := "ganger: cannot reach ganger at unix:" + sock + ": no such file or directory\n"; code != 1 || errOut != want {
		t.Errorf("ps over a missing socket: exit %d, %q, want %q", code, errOut, want)
	}
}

const cliConfig = `
[[job]]
name = "web"
cmd = "sh -c 'trap \"echo got-usr1\" USR1; echo web-up; while :; do sleep 0.1; done'"
graceful_timeout = "2s"

[[job]]
name = "task"
cmd = "sh -c 'echo task-ran-$X'"
start = false
`

// TestClientCommands drives one daemon through every client command.
func TestClientCommands(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, cliConfig)
	addr := d.Addr
	ganger := func(args ...string) (string, string, int) {
		t.Helper()
		return run(t, append(args, "--address", addr)...)
	}
	mustOK := func(args ...string) string {
		t.Helper()
		out, errOut, code := ganger(args...)
		if code != 0 {
			t.Fatalf("ganger %q: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
		return out
	}
	mustFail := func(reason string, args ...string) {
		t.Helper()
		out, errOut, code := ganger(args...)
		if code != 1 || !strings.HasPrefix(errOut, "ganger: ") || !strings.Contains(errOut, reason) {
			t.Fatalf("ganger %q: exit %d, stderr %q; want 1 and %q\nstdout: %s", args, code, errOut, reason, out)
		}
	}
	waitRunning(t, d.URL, "", "default", "web", 1)

	t.Run("ps", func(t *testing.T) {
		out := mustOK("ps")
		ls := lines(out)
		if len(ls) != 3 {
			t.Fatalf("ps: want a header and 2 rows:\n%s", out)
		}
		header := strings.Fields(ls[0])
		if strings.Join(header, " ") != "JOB STATE RUNNING PIDS CPU MEM UPTIME" {
			t.Errorf("ps header: %q", ls[0])
		}
		// Columns are aligned: every row starts its STATE where the header does.
		col := strings.Index(ls[0], "STATE")
		for _, l := range ls[1:] {
			if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
				t.Errorf("ps: row %q not aligned with header %q", l, ls[0])
			}
		}
		web := strings.Fields(ls[1])
		if web[0] != "default.web" || web[1] != "running" || web[2] != "1/1" || !regexp.MustCompile(`^\d+$`).MatchString(web[3]) ||
			!strings.HasSuffix(web[4], "%") || web[5] == "-" || web[6] == "-" {
			t.Errorf("ps: web row %q", ls[1])
		}
		task := strings.Fields(ls[2])
		if strings.Join(task, " ") != "default.task stopped 0/1 - - - -" {
			t.Errorf("ps: task row %q", ls[2])
		}
		if out := mustOK("ps", "web"); len(lines(out)) != 2 {
			t.Errorf("ps web: want one row:\n%s", out)
		}
		mustFail(`job "default.nope" not found`, "ps", "nope")
	})

	t.Run("load", func(t *testing.T) {
		dir := t.TempDir()
		jsonFile := filepath.Join(dir, "job.json")
		os.WriteFile(jsonFile, []byte(`{"name": "fromjson", "cmd": "sleep 300", "graceful_timeout": 1}`), 0o600)
		if out := mustOK("load", jsonFile); out != "loaded default.fromjson\n" {
			t.Errorf("load json: %q", out)
		}
		// TOML on stdin, into another session, two jobs in priority order.
		toml := "[[job]]\nsession = \"other\"\nname = \"b\"\ncmd = \"sleep 300\"\npriority = 2\n" +
			"[[job]]\nsession = \"other\"\nname = \"a\"\ncmd = \"sleep 300\"\npriority = 1\n"
		out, errOut, code := runWith(t, runOptions{Stdin: toml}, "load", "-", "--address", addr)
		if code != 0 || out != "loaded other.a\nloaded other.b\n" {
			t.Errorf("load toml from stdin: exit %d, %q, %q", code, out, errOut)
		}
		// A list of JSON jobs whose extension says nothing.
		listFile := filepath.Join(dir, "jobs.conf")
		os.WriteFile(listFile, []byte(`[{"name": "l1", "cmd": "true", "start": false}, {"name": "l2", "cmd": "true", "start": false}]`), 0o600)
		if out := mustOK("load", listFile); out != "loaded default.l1\nloaded default.l2\n" {
			t.Errorf("load json list: %q", out)
		}
		mustFail(`"default.fromjson" already exists`, "load", jsonFile)
		os.WriteFile(jsonFile, []byte(`{"name": "bad", "cmd": "true", "numprocesses": -1, "colour": 1}`), 0o600)
		mustFail("numprocesses", "load", jsonFile)
		mustFail("does-not-exist.json", "load", filepath.Join(dir, "does-not-exist.json"))
		for _, j := range []string{"fromjson", "other.a", "other/b", "l1", "l2"} {
			mustOK("unload", j)
		}
		if _, ok := getJob(t, d.URL, "", "default", "fromjson"); ok {
			t.Errorf("unload: fromjson still there")
		}
		mustFail(`job "default.fromjson" not found`, "unload", "fromjson")
	})

	t.Run("scale", func(t *testing.T) {
		if out := mustOK("scale", "web=3"); out != "default.web: 3\n" {
			t.Errorf("scale web=3: %q", out)
		}
		if out := mustOK("scale", "default.web+2", "web-1"); out != "default.web: 5\ndefault.web: 4\n" {
			t.Errorf("scale web+2 web-1: %q", out)
		}
		waitRunning(t, d.URL, "", "default", "web", 4)
		mustFail("below 0", "scale", "web-9")
		mustFail(`job "default.nope" not found`, "scale", "nope=1")
		mustOK("scale", "web=1")
		waitRunning(t, d.URL, "", "default", "web", 1)
	})

	t.Run("stop-start-reload", func(t *testing.T) {
		before := waitRunning(t, d.URL, "", "default", "web", 1)
		mustOK("stop-job", "web")
		await.Until(t, 10*time.Second, "web to stop and its process to die", func() bool {
			info, _ := getJob(t, d.URL, "", "default", "web")
			return info.State == "stopped" && info.Running == 0 && !alive(before[0])
		})
		mustOK("start-job", "web")
		started := waitRunning(t, d.URL, "", "default", "web", 1)
		mustOK("reload", "web")
		await.Until(t, 10*time.Second, "web's process to be replaced", func() bool {
			pids := osPids(t, d.URL, "", "default", "web")
			return len(pids) == 1 && pids[0] != started[0]
		})
		mustFail(`job "default.nope" not found`, "start-job", "nope")
		mustFail(`job "default.nope" not found`, "stop-job", "nope")
		mustFail(`job "default.nope" not found`, "reload", "nope")
	})

	t.Run("kill-logs", func(t *testing.T) {
		waitRunning(t, d.URL, "", "default", "web", 1)
		// The shell prints web-up once its trap is set.
		await.Until(t, 10*time.Second, "web-up in web's logs", func() bool {
			out, _, _ := ganger("logs", "web")
			return strings.Contains(out, "web-up")
		})
		mustOK("kill", "web", "USR1")
		await.Until(t, 10*time.Second, "got-usr1 in web's logs", func() bool {
			out, _, _ := ganger("logs", "-n", "3", "web")
			return strings.Contains(out, "got-usr1")
		})
		out := mustOK("logs", "-n", "1", "web")
		// (The signal reaches the whole group: sh's sleep dies of it, and sh
		// may say so on stderr.)
		if !regexp.MustCompile(`^\d\d:\d\d:\d\d default\.web\[\d+\] std(out|err) \| .+\n$`).MatchString(out) {
			t.Errorf("logs -n 1 web: %q", out)
		}
		// Kill by pid: the process dies and the job respawns one.
		info, _ := getJob(t, d.URL, "", "default", "web")
		pid := info.Processes[0]
		mustOK("kill", strconv.Itoa(pid), "KILL")
		await.Until(t, 10*time.Second, "a new web process in place of the killed one", func() bool {
			info, _ := getJob(t, d.URL, "", "default", "web")
			return len(info.Processes) == 1 && info.Processes[0] != pid && info.Running == 1
		})
		mustFail("process 9999 not found", "kill", "9999", "TERM")
		mustFail(`job "default.nope" not found`, "kill", "nope", "TERM")
		mustFail(`job "default.nope" not found`, "logs", "nope")
	})

	t.Run("commit", func(t *testing.T) {
		out := mustOK("commit", "--env", "X=42", "task")
		if _, err := strconv.Atoi(strings.TrimSpace(out)); err != nil {
			t.Fatalf("commit: want a pid, got %q", out)
		}
		await.Until(t, 10*time.Second, "task-ran-42 in task's logs", func() bool {
			out, _, _ := ganger("logs", "task")
			return strings.Contains(out, "task-ran-42")
		})
		// The job stays stopped.
		if info, _ := getJob(t, d.URL, "", "default", "task"); info.Active || info.NumProcesses != 1 {
			t.Errorf("after commit: task %+v", info)
		}
		mustFail(`job "default.nope" not found`, "commit", "nope")
	})

	t.Run("stats", func(t *testing.T) {
		out := mustOK("stats")
		ls := lines(out)
		if len(ls) < 2 || strings.Join(strings.Fields(ls[0]), " ") != "JOB PID OS_PID CPU MEM RSS VMS CPU_TIME UPTIME" {
			t.Fatalf("stats:\n%s", out)
		}
		mustContain(t, "stats", out, "default.web ")
		out = mustOK("stats", "--json", "web")
		mustContain(t, "stats --json", out, `"name":"default.web"`, `"stats":[{`)
		mustFail(`job "default.nope" not found`, "stats", "nope")
	})

	t.Run("token-from-env", func(t *testing.T) {
		// No tokens configured: a token is simply ignored.
		out, _, code := runWith(t, runOptions{Env: []string{"GANGER_ADDRESS=" + addr, "GANGER_TOKEN=whatever"}}, "ps")
		if code != 0 || !strings.Contains(out, "default.web") {
			t.Errorf("ps with $GANGER_ADDRESS: exit %d, %q", code, out)
		}
	})
}

// TestEventsCommand: "ganger events" prints the events as they happen and
// exits 0 on SIGINT.
func TestEventsCommand(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, "")
	ev := startCmd(t, runOptions{}, "events", "--address", d.Addr)
	evJSON := startCmd(t, runOptions{}, "events", "--json", "job.default.ev", "--address", d.Addr)
	other := startCmd(t, runOptions{}, "events", "job.default.other", "--address", d.Addr)
	waitClients(t, d.URL, "", 3)
	// The commands subscribe some time after they start: load the job until
	// they have seen it (unloading it in between).
	job := `{"name": "ev", "cmd": "sleep 300", "graceful_timeout": 1}`
	await.Until(t, 15*time.Second, "the load and spawn of default.ev in both event streams", func() bool {
		if _, errOut, code := runWith(t, runOptions{Stdin: job}, "load", "-", "--address", d.Addr); code != 0 {
			t.Fatalf("load: exit %d: %s", code, errOut)
		}
		ok := strings.Contains(ev.Stdout(), "load default.ev") && strings.Contains(ev.Stdout(), "spawn default.ev pid=") &&
			strings.Contains(evJSON.Stdout(), `"event":"load"`) && strings.Contains(evJSON.Stdout(), `"event":"spawn"`)
		if !ok {
			run(t, "unload", "ev", "--address", d.Addr) // subscribed too late: again
		}
		return ok
	})
	out := ev.Stdout()
	if !regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d load default\.ev$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d spawn default\.ev pid=\d+ os_pid=\d+ slot=1$`).MatchString(out) {
		t.Errorf("events output:\n%s", out)
	}
	mustContain(t, "events --json", evJSON.Stdout(), `"name":"default.ev"`, `"os_pid":`)
	for _, c := range []*bgCmd{ev, evJSON, other} {
		c.Signal(syscall.SIGINT)
		if code := c.Wait(10 * time.Second); code != 0 {
			t.Errorf("events: exit %d after SIGINT, want 0; stderr %q", code, c.Stderr())
		}
	}
	if other.Stdout() != "" {
		t.Errorf("events job.default.other printed:\n%s", other.Stdout())
	}
}

// TestLogsFollow: "ganger logs -f" prints the history, then new output,
// including that of processes spawned later, until SIGINT.
func TestLogsFollow(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, `
[[job]]
name = "talk"
cmd = "sh -c 'i=0; while :; do i=$((i+1)); echo line-$i; sleep 0.2; done'"
graceful_timeout = 1
[[job]]
name = "quiet"
cmd = "sh -c 'echo quiet-says; exec sleep 300'"
graceful_timeout = 1
`)
	await.Until(t, 10*time.Second, "line-2 in talk's logs", func() bool {
		out, _, _ := run(t, "logs", "talk", "--address", d.Addr)
		return strings.Contains(out, "line-2")
	})
	f := startCmd(t, runOptions{}, "logs", "-f", "-n", "1", "talk", "--address", d.Addr)
	all := startCmd(t, runOptions{}, "logs", "-f", "--address", d.Addr)
	waitClients(t, d.URL, "", 2)
	await.Until(t, 10*time.Second, "4 lines from logs -f", func() bool { return len(lines(f.Stdout())) >= 4 })
	first := lines(f.Stdout())[0]
	if !regexp.MustCompile(`^\d\d:\d\d:\d\d default\.talk\[\d+\] stdout \| line-\d+$`).MatchString(first) {
		t.Errorf("logs -f first line: %q", first)
	}
	// A process spawned now is followed too.
	info, _ := getJob(t, d.URL, "", "default", "talk")
	run(t, "scale", "talk+1", "--address", d.Addr)
	var newPid int
	await.Until(t, 10*time.Second, "a second talk process", func() bool {
		i, _ := getJob(t, d.URL, "", "default", "talk")
		if len(i.Processes) == 2 {
			newPid = i.Processes[1]
		}
		return newPid != 0
	})
	if newPid == info.Processes[0] {
		t.Fatalf("no new process")
	}
	await.Until(t, 10*time.Second, "the new talk process's lines in both logs -f", func() bool {
		return strings.Contains(f.Stdout(), fmt.Sprintf("default.talk[%d] stdout | line-", newPid)) &&
			strings.Contains(all.Stdout(), fmt.Sprintf("default.talk[%d] stdout | line-", newPid))
	})
	mustContain(t, "logs -f (all jobs)", all.Stdout(), "default.quiet[", "| quiet-says")
	if strings.Contains(f.Stdout(), "quiet") {
		t.Errorf("logs -f talk shows another job's output:\n%s", f.Stdout())
	}
	for _, c := range []*bgCmd{f, all} {
		c.Signal(syscall.SIGINT)
		if code := c.Wait(10 * time.Second); code != 0 {
			t.Errorf("logs -f: exit %d after SIGINT; stderr %q", code, c.Stderr())
		}
	}
}

// TestTokens: with tokens configured, requests need one; a read token may
// read but not write.
func TestTokens(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, `
[auth]
tokens = [
  { token = "admin-secret", role = "admin" },
  { token = "read-secret", role = "read" },
]
[[job]]
name = "web"
cmd = "sleep 300"
graceful_timeout = 1
`)
	u := d.URL
	for _, c := range []struct {
		method, path, token, body string
		want                      int
	}{
		{"GET", "/ping", "", "", http.StatusOK},
		{"GET", "/jobs", "", "", http.StatusUnauthorized},
		{"GET", "/jobs", "wrong", "", http.StatusUnauthorized},
		{"GET", "/", "", "", http.StatusUnauthorized},
		{"GET", "/jobs", "read-secret", "", http.StatusOK},
		{"GET", "/jobs", "admin-secret", "", http.StatusOK},
		{"POST", "/jobs/default", "read-secret", `{"name": "x", "cmd": "sleep 300"}`, http.StatusForbidden},
		{"POST", "/jobs/default/web/numprocesses", "read-secret", `{"scale": 2}`, http.StatusForbidden},
		{"POST", "/jobs/default", "", `{"name": "x", "cmd": "sleep 300"}`, http.StatusUnauthorized},
		{"POST", "/jobs/default", "admin-secret", `{"name": "x", "cmd": "sleep 300", "graceful_timeout": 1}`, http.StatusCreated},
	} {
		code, body := httpDo(t, c.method, u+c.path, c.token, c.body)
		if code != c.want {
			t.Errorf("%s %s with token %q: %d %s, want %d", c.method, c.path, c.token, code, body, c.want)
		}
	}
	// The CLI: --token, $GANGER_TOKEN, and the reason of a refusal.
	_, errOut, code := run(t, "ps", "--address", d.Addr)
	if code != 1 || !strings.HasPrefix(errOut, "ganger: ") || len(lines(errOut)) != 1 {
		t.Errorf("ps without a token: exit %d, %q", code, errOut)
	}
	if out, _, code := run(t, "ps", "--address", d.Addr, "--token", "read-secret"); code != 0 || !strings.Contains(out, "default.web") {
		t.Errorf("ps --token: exit %d, %q", code, out)
	}
	if out, _, code := runWith(t, runOptions{Env: []string{"GANGER_TOKEN=admin-secret"}}, "scale", "web=2", "--address", d.Addr); code != 0 || out != "default.web: 2\n" {
		t.Errorf("scale with $GANGER_TOKEN: exit %d, %q", code, out)
	}
	_, errOut, code = run(t, "scale", "web=1", "--address", d.Addr, "--token", "read-secret")
	if code != 1 || !strings.HasPrefix(errOut, "ganger: ") {
		t.Errorf("scale with a read token: exit %d, %q", code, errOut)
	}
	_, errOut, code = run(t, "events", "--address", d.Addr)
	if code != 1 || !strings.HasPrefix(errOut, "ganger: ") {
		t.Errorf("events without a token: exit %d, %q", code, errOut)
	}
	// A read token may follow events.
	ev := startCmd(t, runOptions{}, "events", "--address", d.Addr, "--token", "read-secret")
	waitClients(t, d.URL, "read-secret", 1)
	await.Until(t, 15*time.Second, "a scale event for the read token's events", func() bool {
		run(t, "scale", "web+1", "--address", d.Addr, "--token", "admin-secret")
		return strings.Contains(ev.Stdout(), "scale default.web")
	})
	ev.Signal(syscall.SIGINT)
	if code := ev.Wait(10 * time.Second); code != 0 {
		t.Errorf("events: exit %d", code)
	}
	// Tokens never reach the log.
	if log := d.Stderr(); strings.Contains(log, "admin-secret") || strings.Contains(log, "read-secret") {
		t.Errorf("the daemon logged a token:\n%s", log)
	}
}
