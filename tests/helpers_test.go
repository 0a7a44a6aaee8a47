package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"
)

// Helpers shared by the tests of this package (procfile_test.go too).
//
//	await.Scale(d)                  d times $GANGER_TEST_SLOW (internal/await)
//	await.Until(t, d, what, cond)   poll cond until true, or fail the test after d (scaled)
//	run(t, args…)                   run ganger to completion: stdout, stderr, exit code
//	runWith(t, runOptions, args…)   the same with a directory, stdin, environment
//	startCmd(t, runOptions, args…)  run ganger in the background (*bgCmd)
//	startDaemon(t, configTOML)      a daemon on port 0 (daemonBin): its "127.0.0.1:port", stop
//	startDaemonProc(t, toml, args…) the same, returning the *daemonProc
//	(*daemonProc).waitLog(pattern)  wait for a line of the daemon's log
//	waitOutputMatch(t, cmd, re)     wait for a line of a command's stdout
//	refusedAddr(t)                  a loopback address that refuses connections
//	procsInGroup(pgid), alive(pid)  process checks through /proc
//	httpDo(t, method, url, token, body), getJSON(t, url, token, &v)

// runOptions tune how ganger is run. The zero value runs it in the test's
// directory with no stdin and the test process's environment, minus
// GANGER_ADDRESS and GANGER_TOKEN.
type runOptions struct {
	Dir   string
	Stdin string
	Env   []string      // extra "NAME=value" entries
	Limit time.Duration // for run: kill it after this (scaled; default 30s)
}

func (o runOptions) command(args []string) *exec.Cmd {
	return o.commandOf(gangerBin, args)
}

func (o runOptions) commandOf(bin string, args []string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = o.Dir
	cmd.Stdin = strings.NewReader(o.Stdin)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GANGER_ADDRESS=") && !strings.HasPrefix(kv, "GANGER_TOKEN=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, o.Env...)
	return cmd
}

// run runs ganger with args to completion and returns its output and exit
// status.
func run(t testing.TB, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runWith(t, runOptions{}, args...)
}

// runWith is run with options.
func runWith(t testing.TB, o runOptions, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := o.command(args)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ganger %s: %v", strings.Join(args, " "), err)
	}
	limit := await.Scale(30 * time.Second)
	if o.Limit > 0 {
		limit = await.Scale(o.Limit)
	}
	timer := time.AfterFunc(limit, func() { cmd.Process.Kill() })
	err := cmd.Wait()
	if !timer.Stop() {
		t.Fatalf("ganger %s: still running after %v; killed\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), limit, &out, &errb)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("ganger %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// syncBuffer is a bytes.Buffer safe for a writer and readers at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// bgCmd is ganger running in the background.
type bgCmd struct {
	t      testing.TB
	Cmd    *exec.Cmd
	stdout syncBuffer
	stderr syncBuffer
	done   chan struct{}
	code   int
}

// startCmd starts ganger in the background. The test's cleanup kills it if
// it still runs.
func startCmd(t testing.TB, o runOptions, args ...string) *bgCmd {
	t.Helper()
	return startBin(t, gangerBin, o, args...)
}

func startBin(t testing.TB, bin string, o runOptions, args ...string) *bgCmd {
	t.Helper()
	b := &bgCmd{t: t, Cmd: o.commandOf(bin, args), done: make(chan struct{})}
	b.Cmd.Stdout, b.Cmd.Stderr = &b.stdout, &b.stderr
	if err := b.Cmd.Start(); err != nil {
		t.Fatalf("starting ganger %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		b.Cmd.Wait()
		b.code = b.Cmd.ProcessState.ExitCode()
		close(b.done)
	}()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			b.Cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

// Stdout and Stderr return what the command has written so far.
func (b *bgCmd) Stdout() string { return b.stdout.String() }
func (b *bgCmd) Stderr() string { return b.stderr.String() }

// Pid returns the command's process id.
func (b *bgCmd) Pid() int { return b.Cmd.Process.Pid }

// Signal sends sig to the command.
func (b *bgCmd) Signal(sig syscall.Signal) {
	b.t.Helper()
	if err := b.Cmd.Process.Signal(sig); err != nil {
		b.t.Fatalf("signalling ganger: %v", err)
	}
}

// Exited reports whether the command has exited.
func (b *bgCmd) Exited() bool {
	select {
	case <-b.done:
		return true
	default:
		return false
	}
}

// Wait waits for the command to exit and returns its status (-1 after a
// signal); after timeout (scaled) it kills it and fails the test.
func (b *bgCmd) Wait(timeout time.Duration) int {
	b.t.Helper()
	select {
	case <-b.done:
		return b.code
	case <-time.After(await.Scale(timeout)):
		b.Cmd.Process.Kill()
		<-b.done
		b.t.Fatalf("ganger %s: still running after %v; killed\nstdout:\n%s\nstderr:\n%s",
			strings.Join(b.Cmd.Args[1:], " "), await.Scale(timeout), b.Stdout(), b.Stderr())
		return -1
	}
}

// refusedAddr returns a "127.0.0.1:port" that refuses connections for
// the rest of the test: a socket holds the port, bound but not listening,
// so no other test's server can take it meanwhile.
func refusedAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
}

// daemonProc is a ganger daemon run by a test.
type daemonProc struct {
	*bgCmd
	Addr       string // "127.0.0.1:port"
	URL        string // "http://127.0.0.1:port"
	Dir        string // a temporary directory holding the config file
	ConfigPath string
	stopOnce   sync.Once
}

// startDaemon starts "ganger daemon" with configTOML as its config file and
// --bind 127.0.0.1:<a free port>, waits until it answers /ping, and returns
// its "127.0.0.1:port" (usable as --address, and as "http://"+addr) and a
// function that stops it with SIGTERM and checks that it exits 0. The
// test's cleanup stops it too. configTOML may be "".
func startDaemon(t testing.TB, configTOML string) (addr string, stop func()) {
	t.Helper()
	d := startDaemonProc(t, configTOML)
	return d.Addr, d.Stop
}

// startDaemonProc is startDaemon returning the whole daemonProc; extra
// arguments are added to the daemon's command line (more --bind flags).
// The daemon binds port 0 and the test reads the port it got from its
// start-up line: a port picked free beforehand could be taken by another
// test's daemon meanwhile, whose /ping would then answer for this one.
func startDaemonProc(t testing.TB, configTOML string, extra ...string) *daemonProc {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "ganger.toml")
	if err := os.WriteFile(path, []byte(configTOML), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"daemon", "--config", path, "--bind", "127.0.0.1:0"}, extra...)
	d := &daemonProc{bgCmd: startBin(t, daemonBin, runOptions{Dir: dir}, args...), Dir: dir, ConfigPath: path}
	addr := d.boundAddr()
	d.Addr, d.URL = addr, "http://"+addr
	d.waitReady()
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("daemon log:\n%s", d.Stderr())
		}
	})
	return d
}

// boundAddr waits for the daemon's start-up line and returns the first
// address it names: the TCP bind startDaemonProc gave first.
func (d *daemonProc) boundAddr() string {
	d.t.Helper()
	m := d.waitLog(`msg="ganger daemon started".* bind=(\S+)`)
	return strings.Split(m[1], ",")[0]
}

// waitLog waits until the daemon's log (its stderr) has a line matching
// pattern and returns the submatches.
func (d *daemonProc) waitLog(pattern string) []string {
	d.t.Helper()
	return waitMatch(d.t, d.bgCmd, d.Stderr, pattern)
}

// waitOutputMatch waits until the command's stdout matches re and returns
// the submatches of the first match.
func waitOutputMatch(t testing.TB, b *bgCmd, re string) []string {
	t.Helper()
	return waitMatch(t, b, b.Stdout, re)
}

// waitMatch waits until out (the command's Stdout or Stderr) matches re
// and returns the submatches of the first match; it fails the test if the
// command exits first or 20s (scaled) pass.
func waitMatch(t testing.TB, b *bgCmd, out func() string, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	await.Poll(20*time.Second, func() bool {
		m = rx.FindStringSubmatch(out())
		return m != nil || b.Exited()
	})
	if m == nil {
		t.Fatalf("no output line matching %q (exited: %v)\nstdout:\n%s\nstderr:\n%s", re, b.Exited(), b.Stdout(), b.Stderr())
	}
	return m
}

// waitReady polls /ping until it answers 200, failing the test if the
// daemon exits first or never answers.
func (d *daemonProc) waitReady() {
	d.t.Helper()
	ready := await.Poll(20*time.Second, func() bool {
		if d.Exited() {
			d.t.Fatalf("the daemon exited (status %d) before answering /ping:\n%s", d.code, d.Stderr())
		}
		resp, err := http.Get(d.URL + "/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if ready {
		return
	}
	d.Cmd.Process.Kill()
	<-d.done
	d.t.Fatalf("the daemon did not answer /ping within %v:\n%s", await.Scale(20*time.Second), d.Stderr())
}

// Stop sends SIGTERM and waits for the daemon to exit, failing the test
// unless it exits 0 within 30s (scaled). Later calls do nothing.
func (d *daemonProc) Stop() {
	d.stopOnce.Do(func() {
		if d.Exited() {
			d.t.Errorf("the daemon had exited already (status %d)", d.code)
			return
		}
		d.Signal(syscall.SIGTERM)
		if code := d.Wait(30 * time.Second); code != 0 {
			d.t.Errorf("the daemon exited with status %d, want 0", code)
		}
	})
}

// WriteConfig replaces the daemon's config file (for a SIGHUP reload).
func (d *daemonProc) WriteConfig(configTOML string) {
	d.t.Helper()
	if err := os.WriteFile(d.ConfigPath, []byte(configTOML), 0o600); err != nil {
		d.t.Fatal(err)
	}
}

// procStat is what /proc/<pid>/stat says about a process.
type procStat struct {
	state byte
	ppid  int
	pgid  int
}

func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	pgid, _ := strconv.Atoi(f[2])
	return procStat{state: f[0][0], ppid: ppid, pgid: pgid}, true
}

// alive reports whether a process exists and is not a zombie.
func alive(pid int) bool {
	st, ok := readStat(pid)
	return ok && st.state != 'Z'
}

// procsWhere returns the pids in /proc for which keep holds.
func procsWhere(keep func(pid int) bool) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && keep(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// procsInGroup returns the live (non-zombie) processes of a process group.
func procsInGroup(pgid int) []int {
	return procsWhere(func(pid int) bool {
		st, ok := readStat(pid)
		return ok && st.pgid == pgid && st.state != 'Z'
	})
}

// httpDo sends a request (token, when not "", as a Bearer token; body, when
// not "", as JSON) and returns the status and body.
func httpDo(t testing.TB, method, url, token, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(20*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp.StatusCode, b
}

// getJSON GETs url and decodes a 200 answer into v.
func getJSON(t testing.TB, url, token string, v any) {
	t.Helper()
	code, body := httpDo(t, http.MethodGet, url, token, "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", url, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

// jobInfo is the part of GET /jobs/{s}/{j} the tests look at.
type jobInfo struct {
	Name         string          `json:"name"`
	State        string          `json:"state"`
	Active       bool            `json:"active"`
	Running      int             `json:"running"`
	Ready        int             `json:"ready"`
	NumProcesses int             `json:"numprocesses"`
	Restarts     int             `json:"restarts"`
	Processes    []int           `json:"processes"`
	Slots        []slotInfo      `json:"slots"`
	Config       json.RawMessage `json:"config"`
}

// slotInfo is one of a job's slots.
type slotInfo struct {
	Slot     int    `json:"slot"`
	State    string `json:"state"`
	Pid      *int   `json:"pid"`
	OSPid    *int   `json:"os_pid"`
	Ready    bool   `json:"ready"`
	Restarts int    `json:"restarts"`
	LastExit *struct {
		ExitStatus int    `json:"exit_status"`
		TermSignal int    `json:"term_signal"`
		Reason     string `json:"reason"`
	} `json:"last_exit"`
}

// getJob returns a job's info, or ok=false if it does not exist.
func getJob(t testing.TB, base, token, session, job string) (info jobInfo, ok bool) {
	t.Helper()
	code, body := httpDo(t, http.MethodGet, base+"/jobs/"+session+"/"+job, token, "")
	if code == http.StatusNotFound {
		return jobInfo{}, false
	}
	if code != http.StatusOK {
		t.Fatalf("GET job %s.%s: status %d: %s", session, job, code, body)
	}
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatal(err)
	}
	return info, true
}

// osPids returns the os_pid of each of a job's kept-alive processes.
func osPids(t testing.TB, base, token, session, job string) []int {
	t.Helper()
	info, ok := getJob(t, base, token, session, job)
	if !ok {
		return nil
	}
	var out []int
	for _, pid := range info.Processes {
		var p struct {
			OSPid int `json:"os_pid"`
		}
		code, body := httpDo(t, http.MethodGet, base+"/"+strconv.Itoa(pid), token, "")
		if code != http.StatusOK || json.Unmarshal(body, &p) != nil {
			continue // gone meanwhile
		}
		out = append(out, p.OSPid)
	}
	return out
}

// waitRunning waits until a job has n processes running and ready and
// returns their os_pids.
func waitRunning(t testing.TB, base, token, session, job string, n int) []int {
	t.Helper()
	var pids []int
	await.Until(t, 15*time.Second, fmt.Sprintf("%d running processes of %s.%s", n, session, job), func() bool {
		info, ok := getJob(t, base, token, session, job)
		if !ok || info.Running != n || info.Ready != n || len(info.Processes) != n {
			return false
		}
		pids = osPids(t, base, token, session, job)
		return len(pids) == n
	})
	return pids
}

// lines returns the non-empty lines of s.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// mustContain fails the test unless s contains every one of subs.
func mustContain(t testing.TB, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Fatalf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

// channelClients returns the number of open /channel WebSockets of a daemon
// (from /metrics): a follow command has installed its signal handler and
// is about to subscribe once it is counted.
func channelClients(t testing.TB, base, token string) int {
	t.Helper()
	code, body := httpDo(t, http.MethodGet, base+"/metrics", token, "")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, body)
	}
	for _, l := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(l, "ganger_channel_clients "); ok {
			n, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(n)
		}
	}
	t.Fatalf("no ganger_channel_clients in /metrics")
	return 0
}

// waitClients waits until a daemon has n /channel clients.
func waitClients(t testing.TB, base, token string, n int) {
	t.Helper()
	await.Until(t, 15*time.Second, fmt.Sprintf("%d clients on /channel", n), func() bool { return channelClients(t, base, token) == n })
}
