package client_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"

	"github.com/ganger/ganger/client"
	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/httpapi"
	"github.com/ganger/ganger/manager"
)

// newServer serves the API of a fresh manager; it returns the server's URL.
func newServer(t *testing.T, tokens ...conf.Token) string {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	m := manager.New(manager.Options{Logger: quiet})
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Manager: m, Tokens: tokens, Logger: quiet}))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), await.Scale(10*time.Second))
		defer cancel()
		m.Close(ctx)
	})
	return srv.URL
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), await.Scale(20*time.Second))
	t.Cleanup(cancel)
	return c
}

func TestJobLifecycle(t *testing.T) {
	ctx := ctx(t)
	c := client.New(newServer(t), "")
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Version(ctx); err != nil || v == "" {
		t.Errorf("Version: %q, %v", v, err)
	}
	job := conf.DefaultJob()
	job.Name, job.Cmd, job.GracefulTimeout = "web", "sleep 300", time.Second
	name, err := c.Load(ctx, "app", job)
	if err != nil || name != "app.web" {
		t.Fatalf("Load: %q, %v", name, err)
	}
	_, err = c.Load(ctx, "app", job)
	if !client.IsConflict(err) || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Load twice: %v", err)
	}
	var apiErr *client.Error
	_, err = c.Load(ctx, "", []byte(`{"name": "x", "cmd": "true", "bogus": 1}`))
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusBadRequest || apiErr.Code != "invalid_config" || !strings.Contains(apiErr.Reason, "bogus") {
		t.Errorf("Load with an unknown field: %#v", err)
	}

	await.Until(t, 10*time.Second, "app.web to run", func() bool {
		info, err := c.Job(ctx, "app/web")
		return err == nil && info.Running == 1
	})
	if jobs, err := c.Jobs(ctx, ""); err != nil || len(jobs) != 1 || jobs[0] != "app.web" {
		t.Errorf("Jobs: %v, %v", jobs, err)
	}
	if jobs, err := c.Jobs(ctx, "nope"); !client.IsNotFound(err) {
		t.Errorf("Jobs of an unknown session: %v, %v", jobs, err)
	}
	if s, err := c.Sessions(ctx); err != nil || len(s) != 1 || s[0] != "app" {
		t.Errorf("Sessions: %v, %v", s, err)
	}

	for _, sc := range []struct {
		scale any
		want  int
	}{{2, 3}, {"-1", 2}, {"=4", 4}, {-3, 1}} {
		if n, err := c.Scale(ctx, "app.web", sc.scale); err != nil || n != sc.want {
			t.Errorf("Scale(%v): %d, %v; want %d", sc.scale, n, err, sc.want)
		}
	}
	if _, err := c.Scale(ctx, "app.web", "-5"); err == nil {
		t.Errorf("Scale below 0: no error")
	}
	if n, err := c.NumProcesses(ctx, "app.web"); err != nil || n != 1 {
		t.Errorf("NumProcesses: %d, %v", n, err)
	}

	var pid int
	await.Until(t, 10*time.Second, "the pid of app.web", func() bool {
		pids, err := c.Pids(ctx, "app.web")
		if err == nil && len(pids) == 1 {
			pid = pids[0]
		}
		return pid != 0
	})
	p, err := c.Process(ctx, pid)
	if err != nil || p.Name != "app.web" || p.OSPid == 0 || p.Cmd != "sleep" {
		t.Errorf("Process: %+v, %v", p, err)
	}
	if st, err := c.ProcessStats(ctx, pid); err != nil || st.OSPid != p.OSPid {
		t.Errorf("ProcessStats: %+v, %v", st, err)
	}
	if st, err := c.JobStats(ctx, "app.web"); err != nil || st.Name != "app.web" || len(st.Stats) == 0 {
		t.Errorf("JobStats: %+v, %v", st, err)
	}
	if err := c.SignalProcess(ctx, pid, "NOPE"); err == nil {
		t.Errorf("SignalProcess with a bad signal: no error")
	}
	if err := c.SignalJob(ctx, "app.web", "0"); err == nil {
		t.Errorf("SignalJob with signal 0: no error")
	}
	if err := c.StopJob(ctx, "app.web"); err != nil {
		t.Fatal(err)
	}
	await.Until(t, 10*time.Second, "app.web to be inactive", func() bool {
		active, err := c.Active(ctx, "app.web")
		return err == nil && !active
	})
	if err := c.StartJob(ctx, "app.web"); err != nil {
		t.Fatal(err)
	}
	if err := c.ReloadJob(ctx, "app.web"); err != nil {
		t.Fatal(err)
	}
	job.Cmd = "sleep 301"
	if err := c.Update(ctx, "app.web", job); err != nil {
		t.Fatal(err)
	}
	if err := c.Unload(ctx, "app.web"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Job(ctx, "app.web"); !client.IsNotFound(err) {
		t.Errorf("Job after Unload: %v", err)
	}
	if _, err := c.Job(ctx, "a.b.c"); err == nil {
		t.Errorf("Job with an invalid name: no error")
	}
}

func TestCommitLogsAndChannel(t *testing.T) {
	ctx := ctx(t)
	c := client.New(newServer(t), "")
	if _, err := c.Load(ctx, "", map[string]any{"name": "say", "cmd": "sh -c 'echo $WORD; echo oops >&2; sleep 0.2'", "start": false}); err != nil {
		t.Fatal(err)
	}
	ch, err := c.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Subscribe(ctx, "EVENTS:job.default.say"); err != nil {
		t.Fatal(err)
	}
	var subErr *client.Error
	if err := ch.Subscribe(ctx, "STREAM:999"); !errors.As(err, &subErr) || !strings.Contains(subErr.Reason, "999") {
		t.Errorf("Subscribe to a missing process: %v", err)
	}
	if err := ch.Subscribe(ctx, "NOPE"); err == nil {
		t.Errorf("Subscribe to a bad topic: no error")
	}
	// Follow the job's output from before the commit (a stream has no
	// history), then wait for the commit's exit.
	if err := ch.Subscribe(ctx, "STREAM:default.say"); err != nil {
		t.Fatal(err)
	}
	pid, err := c.Commit(ctx, "say", &client.CommitOptions{Env: map[string]string{"WORD": "bonjour"}, GracefulTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var output strings.Builder
	for {
		ev, err := ch.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "output" && ev.Pid == pid {
			output.WriteString(ev.Stream + ":" + ev.Data)
		}
		if ev.Type == "exit" {
			if ev.Pid != pid || ev.Int("exit_status") != 0 || ev.Fields["once"] != true {
				t.Errorf("exit event %+v", ev)
			}
			break
		}
	}
	if !strings.Contains(output.String(), "stdout:bonjour\n") {
		t.Errorf("STREAM output %q", output.String())
	}
	lines, err := c.Logs(ctx, "say", 0)
	if err != nil || len(lines) != 2 {
		t.Fatalf("Logs: %+v, %v", lines, err)
	}
	got := map[string]string{}
	for _, l := range lines {
		got[l.Stream] = l.Data
		if l.Pid != pid || l.Time.IsZero() {
			t.Errorf("log line %+v", l)
		}
	}
	if got["stdout"] != "bonjour" || got["stderr"] != "oops" {
		t.Errorf("Logs: %+v", lines)
	}
	if lines, err := c.Logs(ctx, "say", 1); err != nil || len(lines) != 1 {
		t.Errorf("Logs(1): %+v, %v", lines, err)
	}
	// A command over the channel.
	res, err := ch.Command(ctx, "jobs", nil, nil)
	if err != nil || !strings.Contains(string(res), "default.say") {
		t.Errorf("Command jobs: %s, %v", res, err)
	}
	_, err = ch.Command(ctx, "info", []any{"default.nope"}, nil)
	var cmdErr *client.Error
	if !errors.As(err, &cmdErr) || cmdErr.Status != http.StatusNotFound {
		t.Errorf("Command info of a missing job: %#v", err)
	}
	if err := ch.Unsubscribe(ctx, "EVENTS:job.default.say"); err != nil {
		t.Errorf("Unsubscribe: %v", err)
	}
}

func TestTokens(t *testing.T) {
	ctx := ctx(t)
	url := newServer(t, conf.Token{Name: "a", Token: "sekret", Role: conf.RoleAdmin}, conf.Token{Name: "r", Token: "ro", Role: conf.RoleRead})
	var e *client.Error
	if _, err := client.New(url, "").Jobs(ctx, ""); !errors.As(err, &e) || e.Status != http.StatusUnauthorized || e.Code != "unauthorized" {
		t.Errorf("no token: %#v", err)
	}
	if _, err := client.New(url, "sekret").Jobs(ctx, ""); err != nil {
		t.Errorf("admin token: %v", err)
	}
	if _, err := client.New(url, "ro").Load(ctx, "", map[string]any{"name": "x", "cmd": "true"}); !errors.As(err, &e) || e.Status != http.StatusForbidden {
		t.Errorf("read token writing: %#v", err)
	}
	if _, err := client.New(url, "").Dial(ctx); !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
		t.Errorf("Dial without a token: %#v", err)
	}
	ch, err := client.New(url, "ro").Dial(ctx)
	if err != nil {
		t.Fatalf("Dial with a read token: %v", err)
	}
	ch.Close()
}

func TestUnreachable(t *testing.T) {
	ctx := ctx(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := client.New(addr, "")
	if c.Address() != "http://"+addr {
		t.Errorf("Address() = %q", c.Address())
	}
	err = c.Ping(ctx)
	var ue *client.UnreachableError
	if !errors.As(err, &ue) || err.Error() != "cannot reach ganger at http://"+addr+": connection refused" {
		t.Errorf("Ping: %v", err)
	}
	if _, err := c.Dial(ctx); !errors.As(err, &ue) || err.Error() != "cannot reach ganger at http://"+addr+": connection refused" {
		t.Errorf("Dial: %v", err)
	}
	sock := filepath.Join(t.TempDir(), "none.sock")
	err = client.New("unix:"+sock, "").Ping(ctx)
	if err == nil || err.Error() != "cannot reach ganger at unix:"+sock+": no such file or directory" {
		t.Errorf("Ping over a missing socket: %v", err)
	}
}

func TestUnixSocket(t *testing.T) {
	ctx := ctx(t)
	m := manager.New(manager.Options{})
	defer m.Close(context.Background())
	sock := filepath.Join(t.TempDir(), "g.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	// A loopback-only API checks Host headers: the client's must pass.
	srv := &http.Server{Handler: httpapi.New(httpapi.Options{Manager: m, LoopbackOnly: true})}
	go srv.Serve(l)
	defer srv.Close()
	c := client.New("unix:"+sock, "")
	if _, err := c.Jobs(ctx, ""); err != nil {
		t.Fatalf("Jobs over a unix socket: %v", err)
	}
	ch, err := c.Dial(ctx)
	if err != nil {
		t.Fatalf("Dial over a unix socket: %v", err)
	}
	if err := ch.Subscribe(ctx, "EVENTS"); err != nil {
		t.Errorf("Subscribe: %v", err)
	}
	ch.Close()
}

func TestNonAPIErrorBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	defer srv.Close()
	err := client.New(srv.URL, "").Ping(ctx(t))
	if err == nil || err.Error() != "HTTP status 502: bad gateway" {
		t.Errorf("Ping through a broken proxy: %v", err)
	}
}
