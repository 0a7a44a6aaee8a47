package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"

	"github.com/coder/websocket"

	"github.com/ganger/ganger/httpapi"
	"github.com/ganger/ganger/manager"

	"github.com/ganger/ganger/internal/leakcheck"
)

var _ httpapi.Manager = (*manager.Manager)(nil)

// TestMain fails the run if a goroutine of this package or of the
// WebSocket library outlives the tests (the manager's and net/http's own
// are not ours to judge).
func TestMain(m *testing.M) {
	leakcheck.Main(m, await.Scale(10*time.Second), leakcheck.Filter{Code: []string{"ganger/httpapi.", "coder/websocket."}})
}

// env is an API over a real manager, served by an httptest server.
type env struct {
	m      *manager.Manager
	srv    *httptest.Server
	url    string
	client *http.Client
	token  string // sent as a Bearer token when not ""
}

// envConfig configures newEnv.
type envConfig struct {
	opts httpapi.Options
	// smallBuffers shrinks the kernel socket buffers of the server's
	// connections and the client's, so that a client that does not read
	// blocks the server's writes after a few KiB.
	smallBuffers bool
}

type envOption func(*envConfig)

func withOptions(f func(*httpapi.Options)) envOption {
	return func(c *envConfig) { f(&c.opts) }
}

func withSmallBuffers() envOption { return func(c *envConfig) { c.smallBuffers = true } }

// smallBufListener shrinks the send buffer of every accepted connection.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	m := manager.New(manager.Options{Logger: slog.New(slog.DiscardHandler), DrainTimeout: 500 * time.Millisecond})
	cfg := envConfig{opts: httpapi.Options{Manager: m, Version: "test", Logger: slog.New(slog.DiscardHandler)}}
	for _, f := range opts {
		f(&cfg)
	}
	h := httpapi.New(cfg.opts)
	srv := httptest.NewUnstartedServer(h)
	srv.Config = httpapi.NewServer(h)
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	if cfg.smallBuffers {
		srv.Listener = smallBufListener{srv.Listener}
		// Set before connecting, so that the window is small from the start.
		d := &net.Dialer{Control: func(network, address string, c syscall.RawConn) error {
			var err error
			c.Control(func(fd uintptr) {
				err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
			return err
		}}
		tr.DialContext = d.DialContext
	}
	srv.Start()
	e := &env{m: m, srv: srv, url: srv.URL, client: &http.Client{Transport: tr, Timeout: await.Scale(30 * time.Second)}}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), await.Scale(10*time.Second))
		defer cancel()
		srv.Config.Shutdown(ctx)
		srv.Close()
		tr.CloseIdleConnections()
		if err := m.Close(ctx); err != nil {
			t.Errorf("closing the manager: %v", err)
		}
	})
	return e
}

// request is one HTTP call of a test.
type request struct {
	method, path string
	body         string            // sent as is; Content-Type application/json unless header says otherwise
	header       map[string]string // extra headers; a "" value removes a default
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("answer is not a JSON object: %v: %q", err, r.body)
	}
	return v
}

func (e *env) do(t testing.TB, rq request) response {
	t.Helper()
	var body io.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	}
	req, err := http.NewRequest(rq.method, e.url+rq.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if rq.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	for k, v := range rq.header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// call does a request, checks its status and decodes its JSON answer.
func (e *env) call(t testing.TB, method, path, body string, want int) map[string]any {
	t.Helper()
	res := e.do(t, request{method: method, path: path, body: body})
	if res.status != want {
		t.Fatalf("%s %s %s: status %d, want %d: %s", method, path, body, res.status, want, res.body)
	}
	if method == http.MethodHead {
		return nil
	}
	return res.json(t)
}

func (e *env) get(t testing.TB, path string) map[string]any {
	t.Helper()
	return e.call(t, http.MethodGet, path, "", http.StatusOK)
}

// load creates a job from a JSON config in session "default".
func (e *env) load(t testing.TB, cfg string) string {
	t.Helper()
	return e.call(t, http.MethodPost, "/jobs/default", cfg, http.StatusCreated)["name"].(string)
}

// ints converts a decoded JSON list of numbers.
func ints(t testing.TB, v any) []int {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("not a list: %#v", v)
	}
	out := make([]int, 0, len(l))
	for _, x := range l {
		f, ok := x.(float64)
		if !ok {
			t.Fatalf("not a number: %#v", x)
		}
		out = append(out, int(f))
	}
	return out
}

func (e *env) pids(t testing.TB, path string) []int {
	t.Helper()
	return ints(t, e.get(t, path)["pids"])
}

// waitRunning waits until a job has n kept-alive processes running and
// returns their pids.
func (e *env) waitRunning(t testing.TB, job string, n int) []int {
	t.Helper()
	var pids []int
	await.Until(t, 10*time.Second, fmt.Sprintf("%s to run %d processes", job, n), func() bool {
		info := e.get(t, "/jobs/"+strings.Replace(job, ".", "/", 1))
		pids = ints(t, info["processes"])
		return int(info["running"].(float64)) == n && len(pids) == n
	})
	return pids
}

func (e *env) osPid(t testing.TB, pid int) int {
	t.Helper()
	return int(e.get(t, "/"+strconv.Itoa(pid))["os_pid"].(float64))
}

func procExists(osPid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(osPid))
	return err == nil
}

// ws is a WebSocket test client.
type ws struct {
	t testing.TB
	c *websocket.Conn
}

func (e *env) wsURL(path string) string { return "ws" + strings.TrimPrefix(e.url, "http") + path }

func (e *env) dial(t testing.TB, path string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(10*time.Second))
	defer cancel()
	if header == nil {
		header = http.Header{}
	}
	if e.token != "" && header.Get("Authorization") == "" {
		header.Set("Authorization", "Bearer "+e.token)
	}
	return websocket.Dial(ctx, e.wsURL(path), &websocket.DialOptions{HTTPHeader: header, HTTPClient: e.client})
}

func (e *env) channel(t testing.TB) *ws {
	t.Helper()
	c, _, err := e.dial(t, "/channel", nil)
	if err != nil {
		t.Fatalf("dialing /channel: %v", err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &ws{t: t, c: c}
}

// as returns the same client reporting to t (for subtests).
func (w *ws) as(t testing.TB) *ws { return &ws{t: t, c: w.c} }

func (w *ws) send(v any) {
	w.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		w.t.Fatal(err)
	}
	w.sendRaw(string(b))
}

func (w *ws) sendRaw(s string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(5*time.Second))
	defer cancel()
	if err := w.c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		w.t.Fatalf("writing %s: %v", s, err)
	}
}

// msg is a decoded server message.
type msg struct {
	Event string         `json:"event"`
	Topic string         `json:"topic"`
	Data  map[string]any `json:"data"`
}

// read reads the next message, failing after d.
func (w *ws) read(d time.Duration) msg {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(d))
	defer cancel()
	typ, b, err := w.c.Read(ctx)
	if err != nil {
		w.t.Fatalf("reading: %v", err)
	}
	if typ != websocket.MessageText {
		w.t.Fatalf("got a binary message: %q", b)
	}
	var m msg
	if err := json.Unmarshal(b, &m); err != nil {
		w.t.Fatalf("bad message %q: %v", b, err)
	}
	return m
}

// until reads messages until one satisfies pred and returns it; the
// messages skipped are returned too.
func (w *ws) until(d time.Duration, pred func(msg) bool) (msg, []msg) {
	w.t.Helper()
	deadline := time.Now().Add(await.Scale(d))
	var skipped []msg
	for {
		left := time.Until(deadline)
		if left <= 0 {
			w.t.Fatalf("no matching message within %v; got %v", await.Scale(d), skipped)
		}
		m := w.read(time.Duration(float64(left) / await.Factor()))
		if pred(m) {
			return m, skipped
		}
		skipped = append(skipped, m)
	}
}

func (w *ws) sub(topic string) {
	w.t.Helper()
	w.send(map[string]any{"event": "SUB", "data": map[string]any{"topic": topic}})
	m, _ := w.until(5*time.Second, func(m msg) bool {
		return m.Topic == topic && strings.HasPrefix(m.Event, "gaffer:subscription")
	})
	if m.Event != "gaffer:subscription_success" {
		w.t.Fatalf("SUB %s: %v", topic, m)
	}
}

var cmdID atomic.Int64

// cmd runs a command and returns its reply (success or error).
func (w *ws) cmd(name string, args ...any) msg {
	w.t.Helper()
	id := "c" + strconv.FormatInt(cmdID.Add(1), 10)
	if args == nil {
		args = []any{}
	}
	w.send(map[string]any{"event": "CMD", "data": map[string]any{"identity": id, "name": name, "args": args}})
	m, _ := w.until(15*time.Second, func(m msg) bool {
		return strings.HasPrefix(m.Event, "gaffer:command") && m.Data["id"] == id
	})
	return m
}

// result runs a command that must succeed and returns its result.
func (w *ws) result(name string, args ...any) map[string]any {
	w.t.Helper()
	m := w.cmd(name, args...)
	if m.Event != "gaffer:command_success" {
		w.t.Fatalf("%s %v: %v", name, args, m)
	}
	res, _ := m.Data["result"].(map[string]any)
	return res
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func compact(s string) string {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return s
	}
	return b.String()
}
