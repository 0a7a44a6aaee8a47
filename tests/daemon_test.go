package tests

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"

	"github.com/coder/websocket"
)

func TestDaemonServesAPIAndUI(t *testing.T) {
	t.Parallel()
	addr, stop := startDaemon(t, "")
	var v struct{ Name, Version string }
	getJSON(t, "http://"+addr+"/version", "", &v)
	if v.Name != "ganger" || v.Version == "" {
		t.Errorf("/version: %+v", v)
	}
	code, body := httpDo(t, "GET", "http://"+addr+"/ui/", "", "")
	if code != http.StatusOK || !strings.Contains(strings.ToLower(string(body)), "<html") {
		t.Errorf("/ui/: %d %.200s", code, body)
	}
	stop()
}

func TestDaemonBadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.toml")
	os.WriteFile(path, []byte("[[job]]\nname = \"web\"\ncmd = \"sleep 1\"\nnumprocesses = -2\nbogus = 1\n"), 0o600)
	_, errOut, code := run(t, "daemon", "--config", path, "--bind", "127.0.0.1:0")
	if code != 1 {
		t.Errorf("daemon with a bad config: exit %d, want 1", code)
	}
	mustContain(t, "stderr", errOut, path, "numprocesses", "bogus")

	_, errOut, code = run(t, "daemon", "--config", filepath.Join(dir, "missing.toml"))
	if code != 1 || !strings.Contains(errOut, "missing.toml") {
		t.Errorf("daemon with a missing config: exit %d, %q", code, errOut)
	}

	// A port in use: the daemon says so and exits 1.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, errOut, code = run(t, "daemon", "--bind", l.Addr().String())
	if code != 1 || !strings.Contains(errOut, "address already in use") {
		t.Errorf("daemon on a busy port: exit %d, %q", code, errOut)
	}
}

// TestUnixSocket: a unix:/path bind makes a socket of mode 0600 (replacing
// a stale one), the client reaches it with --address unix:/path, and it is
// removed on exit.
func TestUnixSocket(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sock := filepath.Join(dir, "ganger.sock")
	// A stale socket: bound, then closed without being removed.
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()

	d := startDaemonProc(t, "[[job]]\nname = \"web\"\ncmd = \"sleep 300\"\ngraceful_timeout = 1\n", "--bind", "unix:"+sock)
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	out, errOut, code := run(t, "ps", "--address", "unix:"+sock)
	if code != 0 || !strings.Contains(out, "default.web") {
		t.Errorf("ps over the unix socket: exit %d, %q, %q", code, out, errOut)
	}
	out, _, code = run(t, "scale", "web=2", "--address", "unix:"+sock)
	if code != 0 || out != "default.web: 2\n" {
		t.Errorf("scale over the unix socket: exit %d, %q", code, out)
	}
	// The WebSocket works over it too.
	ev := startCmd(t, runOptions{}, "events", "--address", "unix:"+sock)
	waitClients(t, d.URL, "", 1)
	await.Until(t, 15*time.Second, "a scale event over the unix socket", func() bool {
		run(t, "scale", "web+1", "--address", "unix:"+sock)
		return strings.Contains(ev.Stdout(), "scale default.web")
	})
	ev.Signal(syscall.SIGINT)
	if code := ev.Wait(10 * time.Second); code != 0 {
		t.Errorf("events over the unix socket: exit %d after SIGINT", code)
	}

	// A second daemon on the same live socket refuses to start.
	_, errOut, code = run(t, "daemon", "--bind", "unix:"+sock)
	if code != 1 || !strings.Contains(errOut, "another process is listening") {
		t.Errorf("second daemon on a live socket: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(sock); err != nil {
		t.Errorf("the socket is gone after a second daemon failed: %v", err)
	}

	d.Stop()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket still there after exit: %v", err)
	}
}

// TestSIGTERM: the daemon stops every process gracefully, whole process
// groups included, and exits 0.
func TestSIGTERM(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, `
[[job]]
name = "family"
cmd = "sh -c 'sleep 300 & sleep 300 & wait'"
numprocesses = 2
graceful_timeout = "3s"

[[job]]
name = "stubborn"
# ignores SIGTERM, as its sleep does: killed after graceful_timeout
cmd = "sh -c 'trap \"\" TERM; sleep 300'"
graceful_timeout = "1s"
`)
	groups := append(waitRunning(t, d.URL, "", "default", "family", 2), waitRunning(t, d.URL, "", "default", "stubborn", 1)...)
	// Each process leads a group holding its children too.
	await.Until(t, 10*time.Second, "3 processes in each family group", func() bool {
		for _, g := range groups[:2] {
			if len(procsInGroup(g)) != 3 {
				return false
			}
		}
		return len(procsInGroup(groups[2])) >= 1
	})
	daemonPid := d.Pid()
	start := time.Now()
	d.Stop() // SIGTERM; fails the test unless the exit status is 0
	if took := time.Since(start); took > await.Scale(10*time.Second) {
		t.Errorf("shutdown took %v", took)
	}
	for _, g := range groups {
		if left := procsInGroup(g); len(left) > 0 {
			t.Errorf("process group %d still has processes %v", g, left)
		}
	}
	if alive(daemonPid) {
		t.Errorf("the daemon (pid %d) is still alive", daemonPid)
	}
	mustContain(t, "daemon log", d.Stderr(), "shutting down", "ganger daemon stopped")
}

const hupConfig = `
log_dir = "logs"

[[job]]
name = "keep"
cmd = "sleep 300"
graceful_timeout = 1

[[job]]
name = "change"
cmd = "sleep 300"
graceful_timeout = 1

[[job]]
name = "remove"
cmd = "sleep 300"
graceful_timeout = 1

[[job]]
name = "echo"
cmd = "sh -c 'echo to-the-log-file; exec sleep 300'"
graceful_timeout = 1
`

// TestSIGHUP: a reload adds, updates and removes jobs and leaves unchanged
// ones running; a broken config file changes nothing.
func TestSIGHUP(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, hupConfig)
	keep := waitRunning(t, d.URL, "", "default", "keep", 1)
	change := waitRunning(t, d.URL, "", "default", "change", 1)
	waitRunning(t, d.URL, "", "default", "remove", 1)
	echo := waitRunning(t, d.URL, "", "default", "echo", 1)

	// log_dir (relative to the daemon's directory) gets each job's output.
	logFile := filepath.Join(d.Dir, "logs", "default.echo.log")
	await.Until(t, 10*time.Second, "echo's output in its log file", func() bool {
		b, _ := os.ReadFile(logFile)
		return strings.Contains(string(b), "to-the-log-file")
	})

	newConfig := strings.Replace(hupConfig, "name = \"change\"\ncmd = \"sleep 300\"", "name = \"change\"\ncmd = \"sleep 301\"", 1)
	newConfig = strings.Replace(newConfig, "name = \"remove\"", "name = \"added\"", 1)
	d.WriteConfig(newConfig)
	d.Signal(syscall.SIGHUP)

	added := waitRunning(t, d.URL, "", "default", "added", 1)
	await.Until(t, 10*time.Second, "job remove to be unloaded", func() bool {
		_, ok := getJob(t, d.URL, "", "default", "remove")
		return !ok
	})
	var changed []int
	await.Until(t, 10*time.Second, "change's process to be replaced", func() bool {
		changed = osPids(t, d.URL, "", "default", "change")
		return len(changed) == 1 && changed[0] != change[0]
	})
	info, _ := getJob(t, d.URL, "", "default", "change")
	var cfg struct{ Cmd string }
	json.Unmarshal(info.Config, &cfg)
	if cfg.Cmd != "sleep 301" {
		t.Errorf("change: cmd %q after reload", cfg.Cmd)
	}
	if now := osPids(t, d.URL, "", "default", "keep"); !slices.Equal(now, keep) {
		t.Errorf("keep: os_pids %v, were %v: an unchanged job was restarted", now, keep)
	}
	if now := osPids(t, d.URL, "", "default", "echo"); !slices.Equal(now, echo) {
		t.Errorf("echo: os_pids %v, were %v", now, echo)
	}
	var jobs struct{ Jobs []string }
	getJSON(t, d.URL+"/jobs", "", &jobs)
	slices.Sort(jobs.Jobs)
	if want := []string{"default.added", "default.change", "default.echo", "default.keep"}; !slices.Equal(jobs.Jobs, want) {
		t.Errorf("jobs after reload: %v, want %v", jobs.Jobs, want)
	}

	// A broken config file: logged, nothing changes, the daemon lives on.
	d.WriteConfig(newConfig + "\n[[job]]\nname = \"broken\"\nnumprocesses = \"many\"\n")
	d.Signal(syscall.SIGHUP)
	await.Until(t, 10*time.Second, "the broken config to be reported", func() bool {
		return strings.Contains(d.Stderr(), "config file not reloaded")
	})
	mustContain(t, "daemon log", d.Stderr(), "numprocesses")
	getJSON(t, d.URL+"/jobs", "", &jobs)
	slices.Sort(jobs.Jobs)
	if want := []string{"default.added", "default.change", "default.echo", "default.keep"}; !slices.Equal(jobs.Jobs, want) {
		t.Errorf("jobs after a broken reload: %v, want %v", jobs.Jobs, want)
	}
	for name, want := range map[string][]int{"keep": keep, "change": changed, "added": added} {
		if now := osPids(t, d.URL, "", "default", name); !slices.Equal(now, want) {
			t.Errorf("%s: os_pids %v after a broken reload, were %v", name, now, want)
		}
	}
}

// TestWebSocketChannel talks to /channel directly: a subscription, a
// spawn event, a command.
func TestWebSocketChannel(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(20*time.Second))
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+d.Addr+"/channel", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	send := func(v string) {
		if err := c.Write(ctx, websocket.MessageText, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	next := func() map[string]any {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	send(`{"event": "SUB", "data": {"topic": "EVENTS:job.default.ws"}}`)
	if m := next(); m["event"] != "gaffer:subscription_success" {
		t.Fatalf("SUB: %v", m)
	}
	code, body := httpDo(t, "POST", d.URL+"/jobs/default", "", `{"name": "ws", "cmd": "sleep 300", "graceful_timeout": 1}`)
	if code != http.StatusCreated {
		t.Fatalf("load: %d %s", code, body)
	}
	var types []string
	for !slices.Contains(types, "spawn") {
		m := next()
		if m["event"] != "gaffer:event" {
			t.Fatalf("unexpected message %v", m)
		}
		data := m["data"].(map[string]any)
		if data["name"] != "default.ws" {
			t.Fatalf("event of another job: %v", m)
		}
		types = append(types, data["event"].(string))
	}
	if !slices.Equal(types, []string{"load", "start", "spawn"}) {
		t.Errorf("events %v, want load, start, spawn", types)
	}
	send(`{"event": "CMD", "data": {"identity": "x1", "name": "jobs", "args": [], "kwargs": {}}}`)
	m := next()
	if m["event"] != "gaffer:command_success" {
		t.Fatalf("CMD jobs: %v", m)
	}
	res, _ := json.Marshal(m["data"].(map[string]any)["result"])
	if !strings.Contains(string(res), "default.ws") {
		t.Errorf("CMD jobs result %s", res)
	}
	c.Close(websocket.StatusNormalClosure, "")
}

// TestSecondSignalKills: a second SIGTERM or SIGINT during a graceful
// shutdown kills the processes left at once; the daemon still exits 0.
func TestSecondSignalKills(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, `
[[job]]
name = "stubborn"
cmd = "sh -c 'trap \"\" TERM; sleep 300'"
graceful_timeout = "120s"
`)
	pids := waitRunning(t, d.URL, "", "default", "stubborn", 1)
	d.Signal(syscall.SIGTERM)
	await.Until(t, 10*time.Second, "the daemon to start shutting down", func() bool { return strings.Contains(d.Stderr(), "shutting down") })
	if d.Exited() || len(procsInGroup(pids[0])) == 0 {
		t.Fatalf("the stubborn process did not wait for its graceful timeout")
	}
	d.Signal(syscall.SIGINT)
	if code := d.Wait(20 * time.Second); code != 0 {
		t.Errorf("exit status %d after a second signal, want 0", code)
	}
	if left := procsInGroup(pids[0]); len(left) > 0 {
		t.Errorf("processes %v left", left)
	}
	mustContain(t, "daemon log", d.Stderr(), "second signal")
	d.stopOnce.Do(func() {}) // stopped already
}

// TestPprofFlag: --pprof serves Go's profiler on a loopback address, and a
// non-loopback one is refused with a message and exit 1.
func TestPprofFlag(t *testing.T) {
	t.Parallel()
	d := startDaemonProc(t, "", "--pprof", "127.0.0.1:0")
	pprofAddr := d.waitLog(`msg="profiler listening" addr=(\S+)`)[1]
	code, body := httpDo(t, "GET", "http://"+pprofAddr+"/debug/pprof/cmdline", "", "")
	if code != http.StatusOK || !strings.Contains(string(body), "daemon") {
		t.Errorf("/debug/pprof/cmdline: %d %q", code, body)
	}
	// The API itself does not serve the profiler.
	if code, _ := httpDo(t, "GET", d.URL+"/debug/pprof/cmdline", "", ""); code != http.StatusNotFound {
		t.Errorf("API /debug/pprof/cmdline: %d, want 404", code)
	}
	d.Stop()

	_, errOut, code := run(t, "daemon", "--bind", "127.0.0.1:0", "--pprof", "0.0.0.0:6060")
	if code != 1 || !strings.Contains(errOut, "not a loopback address") {
		t.Errorf("--pprof on 0.0.0.0: exit %d, %q", code, errOut)
	}
}
