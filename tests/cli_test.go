package tests

import (
	"fmt"
	"net/http"
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

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	out, _, code := run(t, "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, cmd := range []string{"daemon", "start", "run", "check", "export", "ps", "status", "load", "unload", "scale",
		"start-job", "stop-job", "restart", "reload", "kill", "commit", "logs", "events", "stats", "version", "help"} {
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
	for _, cmd := range []string{"ps", "status", "load", "unload", "scale", "start-job", "stop-job", "restart", "reload", "kill", "commit", "logs", "events", "stats"} {
		out, errOut, code := run(t, cmd, "--help")
		if code != 0 || !strings.HasPrefix(out, "usage: ganger "+cmd) || errOut != "" {
			t.Errorf("%s --help: exit %d, stdout %q, stderr %q", cmd, code, out, errOut)
			continue
		}
		mustContain(t, cmd+" --help", out, "-address", "-token", "GANGER_ADDRESS")
		if d := strings.TrimSpace(strings.SplitN(out, "\n\n", 3)[1]); d == "" || strings.HasPrefix(d, "Flags:") {
			t.Errorf("%s --help has no description:\n%s", cmd, out)
		}
		if out2, _, _ := run(t, "help", cmd); out2 != out {
			t.Errorf("help %s differs from %s --help", cmd, cmd)
		}
	}
	// What ps and status show, and that reload is restart.
	out, _, _ = run(t, "ps", "--help")
	mustContain(t, "ps --help", out, "STATE", "READY", "RESTARTS", "LAST EXIT", "UPTIME", "degraded", "SIGTERM (stopped)")
	out, _, _ = run(t, "status", "--help")
	mustContain(t, "status --help", out, "web.1", "backoff", "LAST EXIT", "SINCE")
	out, _, _ = run(t, "restart", "--help")
	mustContain(t, "restart --help", out, "one slot at a time", "ready", `"ganger reload" is the same`)
	out, _, _ = run(t, "reload", "--help")
	mustContain(t, "reload --help", out, `The same as "ganger restart"`)

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
		{"restart"},
		{"restart", "a.b.c"},
		{"status", "a.b.c"},
		{"status", "--nosuchflag"},
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
		{"reload", "web"}, {"restart", "web"}, {"status"}, {"status", "web"}, {"kill", "web", "HUP"}, {"kill", "3", "HUP"}, {"commit", "web"}, {"logs"},
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
		rows := psTable(t, mustOK("ps"))
		if len(rows) != 2 {
			t.Fatalf("ps: want 2 rows: %v", rows)
		}
		web := rows[0]
		if web["JOB"] != "default.web" || web["STATE"] != "running" || web["READY"] != "1/1" || web["RESTARTS"] != "0" ||
			web["LAST EXIT"] != "-" || web["UPTIME"] == "-" || !regexp.MustCompile(`^\d+$`).MatchString(web["PIDS"]) ||
			!strings.HasSuffix(web["CPU"], "%") || web["MEM"] == "-" {
			t.Errorf("ps: web row %v", web)
		}
		task := rows[1]
		if fmt.Sprint(task) != fmt.Sprint(map[string]string{"JOB": "default.task", "STATE": "stopped", "READY": "0/1", "RESTARTS": "0",
			"LAST EXIT": "-", "UPTIME": "-", "PIDS": "-", "CPU": "-", "MEM": "-"}) {
			t.Errorf("ps: task row %v", task)
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
		mustFail(`job "default.nope" not found`, "restart", "nope")
		mustFail(`job "default.nope" not found`, "status", "nope")
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

// table reads a table the CLI printed (ps, status): a header line of
// column names (a name may hold single spaces, "LAST EXIT"), then rows.
// It returns each row as column name → cell, failing the test if a row's
// cells do not start where their column's name does.
func table(t testing.TB, what, text string) []map[string]string {
	t.Helper()
	ls := lines(text)
	if len(ls) == 0 {
		t.Fatalf("%s: no header:\n%s", what, text)
	}
	header := ls[0]
	cols := regexp.MustCompile(`\S+( \S+)*`).FindAllStringIndex(header, -1)
	var rows []map[string]string
	for _, l := range ls[1:] {
		row := map[string]string{}
		for i, c := range cols {
			start, end := c[0], len(l)
			if i+1 < len(cols) {
				end = min(cols[i+1][0], len(l))
			}
			if start >= len(l) || l[start] == ' ' || (start > 0 && l[start-1] != ' ') {
				t.Fatalf("%s: row %q not aligned with header %q at %s", what, l, header, header[c[0]:c[1]])
			}
			row[header[c[0]:c[1]]] = strings.TrimSpace(l[start:end])
		}
		rows = append(rows, row)
	}
	return rows
}

// psTable runs table on the output of ps, checking its header.
func psTable(t testing.TB, out string) []map[string]string {
	t.Helper()
	if h := strings.SplitN(out, "\n", 2)[0]; strings.Join(strings.Fields(h), " ") != "JOB STATE READY RESTARTS LAST EXIT UPTIME PIDS CPU MEM" {
		t.Fatalf("ps header: %q", h)
	}
	return table(t, "ps", out)
}

// psRow returns the row of job in the output of ps, or nil.
func psRow(t testing.TB, out, job string) map[string]string {
	t.Helper()
	for _, r := range psTable(t, out) {
		if r["JOB"] == job {
			return r
		}
	}
	return nil
}

// jobStatus is one job's part of the output of status.
type jobStatus struct {
	summary string              // "default.web: running, 2/2 ready, 0 restarts"
	slots   []map[string]string // by slot: NAME, STATE, PID…
}

// statusBlocks reads the output of status: per job, a summary line and
// a table of its slots, jobs separated by a blank line. It returns them
// in order.
func statusBlocks(t testing.TB, out string) []jobStatus {
	t.Helper()
	var blocks []jobStatus
	for _, b := range strings.Split(strings.TrimSuffix(out, "\n"), "\n\n") {
		summary, rest, _ := strings.Cut(b, "\n")
		if h := strings.SplitN(rest, "\n", 2)[0]; strings.Join(strings.Fields(h), " ") != "NAME STATE PID READY RESTARTS LAST EXIT SINCE" {
			t.Fatalf("status: header %q in\n%s", h, out)
		}
		blocks = append(blocks, jobStatus{summary, table(t, "status", rest)})
	}
	return blocks
}

// TestCLIPsStatus: ps and status show the lifecycle of jobs: states,
// readiness, restarts and last exits, slot by slot for status.
func TestCLIPsStatus(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, `
[[job]]
name = "web"
cmd = "sleep 300"
numprocesses = 2
graceful_timeout = "2s"
min_uptime = 0

[[job]]
name = "crash"
cmd = "sh -c 'exit 3'"
backoff = { initial = "200ms" }

# Slot 2 (PORT 9001) fails, slot 1 runs.
[[job]]
name = "half"
cmd = "sh -c '[ $PORT = 9001 ] && exit 1; exec sleep 300'"
numprocesses = 2
port = 9000
min_uptime = 0
graceful_timeout = "2s"
backoff = { initial = "500ms" }

[[job]]
name = "after"
cmd = "sleep 300"
depends_on = ["nothere"]
`)
	ganger := func(args ...string) (string, string, int) {
		t.Helper()
		return run(t, append(args, "--address", d.Addr)...)
	}
	mustOK := func(args ...string) string {
		t.Helper()
		out, errOut, code := ganger(args...)
		if code != 0 {
			t.Fatalf("ganger %q: exit %d\nstdout: %s\nstderr: %s", args, code, out, errOut)
		}
		return out
	}
	waitRunning(t, d.URL, "", "default", "web", 2)

	// The crash-looping job: restarted, its last exit code 3, never ready.
	var crash map[string]string
	await.Until(t, 15*time.Second, "ps to show crash restarted, its last exit code 3", func() bool {
		crash = psRow(t, mustOK("ps"), "default.crash")
		n, _ := strconv.Atoi(crash["RESTARTS"])
		return n > 1 && crash["LAST EXIT"] == "code 3"
	})
	if (crash["STATE"] != "flapping" && crash["STATE"] != "starting") || crash["READY"] != "0/1" {
		t.Errorf("ps: crash row %v", crash)
	}
	// One slot of two crashing: degraded, 1/2 ready.
	var half map[string]string
	await.Until(t, 15*time.Second, "ps to show half degraded", func() bool {
		half = psRow(t, mustOK("ps"), "default.half")
		return half["STATE"] == "degraded"
	})
	if half["READY"] != "1/2" || half["LAST EXIT"] != "code 1" || half["UPTIME"] == "-" || !regexp.MustCompile(`^\d+$`).MatchString(half["PIDS"]) {
		t.Errorf("ps: half row %v", half)
	}
	out := mustOK("ps")
	if r := psRow(t, out, "default.web"); r["STATE"] != "running" || r["READY"] != "2/2" || r["RESTARTS"] != "0" ||
		r["LAST EXIT"] != "-" || !regexp.MustCompile(`^\d+,\d+$`).MatchString(r["PIDS"]) {
		t.Errorf("ps: web row %v", r)
	}
	if r := psRow(t, out, "default.after"); fmt.Sprint(r) != fmt.Sprint(map[string]string{"JOB": "default.after", "STATE": "waiting",
		"READY": "0/1", "RESTARTS": "0", "LAST EXIT": "-", "UPTIME": "-", "PIDS": "-", "CPU": "-", "MEM": "-"}) {
		t.Errorf("ps: after row %v", r)
	}

	// status web: the summary, then web.1 and web.2 with the os pids the
	// API gives.
	info, _ := getJob(t, d.URL, "", "default", "web")
	blocks := statusBlocks(t, mustOK("status", "web"))
	if len(blocks) != 1 || blocks[0].summary != "default.web: running, 2/2 ready, 0 restarts" || len(blocks[0].slots) != 2 {
		t.Fatalf("status web: %+v", blocks)
	}
	for i, row := range blocks[0].slots {
		s := info.Slots[i]
		if row["NAME"] != fmt.Sprintf("web.%d", i+1) || row["STATE"] != "running" || s.OSPid == nil || row["PID"] != strconv.Itoa(*s.OSPid) ||
			row["READY"] != "yes" || row["RESTARTS"] != "0" || row["LAST EXIT"] != "-" || !regexp.MustCompile(`^\d+s$`).MatchString(row["SINCE"]) {
			t.Errorf("status web: row %d %v, slot %+v", i+1, row, s)
		}
	}
	// The full name and the session/job form work too.
	if out := mustOK("status", "default/web"); !strings.HasPrefix(out, "default.web: ") {
		t.Errorf("status default/web:\n%s", out)
	}

	blocks = statusBlocks(t, mustOK("status", "crash"))
	if len(blocks) != 1 || !regexp.MustCompile(`^default\.crash: (flapping|starting), 0/1 ready, \d+ restarts`).MatchString(blocks[0].summary) {
		t.Fatalf("status crash: %+v", blocks)
	}
	if row := blocks[0].slots[0]; row["NAME"] != "crash.1" || row["READY"] != "no" || row["RESTARTS"] == "0" ||
		!regexp.MustCompile(`^code 3 \(\d+s ago\)$`).MatchString(row["LAST EXIT"]) {
		t.Errorf("status crash: row %v", row)
	}
	blocks = statusBlocks(t, mustOK("status", "half"))
	if len(blocks[0].slots) != 2 || blocks[0].slots[0]["STATE"] != "running" || blocks[0].slots[0]["LAST EXIT"] != "-" ||
		!regexp.MustCompile(`^code 1 \(\d+s ago\)$`).MatchString(blocks[0].slots[1]["LAST EXIT"]) {
		t.Errorf("status half: %+v", blocks)
	}
	blocks = statusBlocks(t, mustOK("status", "after"))
	if blocks[0].summary != "default.after: waiting, 0/1 ready, 0 restarts, waiting for default.nothere (ready)" ||
		blocks[0].slots[0]["STATE"] != "waiting" || blocks[0].slots[0]["PID"] != "-" {
		t.Errorf("status after: %+v", blocks)
	}

	// status without a job: every job.
	blocks = statusBlocks(t, mustOK("status"))
	var names []string
	for _, b := range blocks {
		name, _, _ := strings.Cut(b.summary, ":")
		names = append(names, name)
		for _, row := range b.slots {
			if !strings.HasPrefix(row["NAME"], strings.TrimPrefix(name, "default.")+".") {
				t.Errorf("status: row %v under %s", row, name)
			}
		}
	}
	if slices.Sort(names); strings.Join(names, " ") != "default.after default.crash default.half default.web" {
		t.Errorf("status: jobs %q", names)
	}

	// A stopped job: its processes' last exit is the stop's SIGTERM.
	mustOK("stop-job", "web")
	var web map[string]string
	await.Until(t, 15*time.Second, "ps to show web stopped", func() bool {
		web = psRow(t, mustOK("ps"), "default.web")
		return web["STATE"] == "stopped"
	})
	if web["READY"] != "0/2" || web["LAST EXIT"] != "SIGTERM (stopped)" || web["UPTIME"] != "-" || web["PIDS"] != "-" {
		t.Errorf("ps: stopped web row %v", web)
	}
	blocks = statusBlocks(t, mustOK("status", "web"))
	for _, row := range blocks[0].slots {
		if row["STATE"] != "exited" || row["PID"] != "-" || row["READY"] != "no" ||
			!regexp.MustCompile(`^SIGTERM \(stopped, \d+s ago\)$`).MatchString(row["LAST EXIT"]) {
			t.Errorf("status of stopped web: row %v", row)
		}
	}

	// Unknown jobs: the daemon's reason and exit 1, the known ones shown.
	out, errOut, code := ganger("status", "nope")
	if code != 1 || out != "" || errOut != "ganger: job \"default.nope\" not found\n" {
		t.Errorf("status nope: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = ganger("status", "web", "other.nope")
	if code != 1 || !strings.HasPrefix(out, "default.web: ") || errOut != "ganger: job \"other.nope\" not found\n" {
		t.Errorf("status web other.nope: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestCLIRestart: ganger restart replaces a job's processes one slot at a
// time, so a job of two never lacks a running process meanwhile.
func TestCLIRestart(t *testing.T) {
	t.Parallel()
	// Each process takes a while to stop (its TERM trap sleeps), so the
	// restart is slow enough to be watched.
	d := startDaemonProc(t, `
[[job]]
name = "web"
cmd = "sh -c 'trap \"sleep 0.3; exit 0\" TERM; while :; do sleep 0.1; done'"
numprocesses = 2
graceful_timeout = "5s"
min_uptime = 0
`)
	ganger := func(args ...string) (string, string, int) {
		t.Helper()
		return run(t, append(args, "--address", d.Addr)...)
	}
	before := waitRunning(t, d.URL, "", "default", "web", 2)
	if out, errOut, code := ganger("restart", "web"); code != 0 || out != "" || errOut != "" {
		t.Fatalf("restart web: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	sawStopping := false
	await.Until(t, 20*time.Second, "both of web's processes replaced and ready", func() bool {
		info, _ := getJob(t, d.URL, "", "default", "web")
		running, replaced := 0, 0
		for _, s := range info.Slots {
			if s.State == "stopping" {
				sawStopping = true
			}
			if s.State != "running" || s.OSPid == nil || !alive(*s.OSPid) {
				continue
			}
			running++
			if !slices.Contains(before, *s.OSPid) {
				replaced++
			}
		}
		if running == 0 {
			t.Fatalf("during the restart, no process of web runs: %+v", info.Slots)
		}
		return replaced == 2
	})
	if !sawStopping {
		t.Logf("never saw a slot stopping (polling too slow?)")
	}
	for _, pid := range before {
		if alive(pid) {
			t.Errorf("old process %d still alive after the restart", pid)
		}
	}
	// A restart is no crash; its stops show as the processes' last exits.
	out, _, _ := ganger("ps", "web")
	if r := psRow(t, out, "default.web"); r["STATE"] != "running" || r["READY"] != "2/2" || r["RESTARTS"] != "0" || r["LAST EXIT"] != "ok (stopped)" {
		t.Errorf("ps after the restart: %v", r)
	}

	// A stopped job is started by restart.
	if _, errOut, code := ganger("stop-job", "web"); code != 0 {
		t.Fatalf("stop-job: %s", errOut)
	}
	await.Until(t, 15*time.Second, "web to stop", func() bool {
		info, _ := getJob(t, d.URL, "", "default", "web")
		return info.State == "stopped" && len(info.Processes) == 0
	})
	if _, errOut, code := ganger("restart", "web"); code != 0 {
		t.Fatalf("restart of a stopped job: %s", errOut)
	}
	waitRunning(t, d.URL, "", "default", "web", 2)

	_, errOut, code := ganger("restart", "nope")
	if code != 1 || errOut != "ganger: job \"default.nope\" not found\n" {
		t.Errorf("restart nope: exit %d, %q", code, errOut)
	}
}
