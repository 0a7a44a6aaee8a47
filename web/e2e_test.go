package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/httpapi"
	"github.com/ganger/ganger/manager"
	"github.com/ganger/ganger/web"
)

// chromePath finds Chromium: $CHROME_PATH, then chromium or
// chromium-browser on $PATH. It skips the test when there is none.
func chromePath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROME_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium found (looked for $CHROME_PATH, /usr/bin/chromium, chromium-browser): " +
		"install the Debian package chromium to run the dashboard's browser test")
	return ""
}

// dropListener is a listener whose connections, hijacked WebSockets
// included, can all be cut, and which can refuse new ones for a while: a
// daemon that went away and came back.
type dropListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
	down  bool
}

func (l *dropListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if l.down {
			l.mu.Unlock()
			c.Close()
			continue
		}
		l.conns[c] = true
		l.mu.Unlock()
		return &trackedConn{Conn: c, l: l}, nil
	}
}

// cut closes every connection and refuses new ones until restore.
func (l *dropListener) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = true
	for c := range l.conns {
		c.Close()
	}
	clear(l.conns)
}

func (l *dropListener) restore() {
	l.mu.Lock()
	l.down = false
	l.mu.Unlock()
}

type trackedConn struct {
	net.Conn
	l    *dropListener
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c.Conn)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// stack is a real manager behind the real API with the dashboard, on a
// loopback test server.
type stack struct {
	m   *manager.Manager
	srv *httptest.Server
	lis *dropListener

	// mu guards the following fields.
	mu   sync.Mutex
	gets map[string]int // GET requests by path
}

// getsOf returns how many GET requests for path the server has had.
func (s *stack) getsOf(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets[path]
}

// shJob is a job running script with sh -c.
func shJob(name, script string) conf.Job {
	cfg := conf.DefaultJob()
	cfg.Name = name
	cfg.Cmd = "sh"
	cfg.Args = []string{"-c", script}
	cfg.GracefulTimeout = 3 * time.Second
	return cfg
}

// newStack starts the stack with the job default.web, which says
// hello-from-web and sleeps (unless an extra job is named web), and the
// extra jobs.
func newStack(t *testing.T, tokens []conf.Token, extra ...conf.Job) *stack {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := manager.New(manager.Options{Logger: quiet})
	jobs := extra
	if !slices.ContainsFunc(extra, func(j conf.Job) bool { return j.Name == "web" }) {
		jobs = append([]conf.Job{shJob("web", "echo hello-from-web; while true; do sleep 1; done")}, extra...)
	}
	for _, cfg := range jobs {
		if _, err := m.Load(context.Background(), "default", cfg); err != nil {
			t.Fatalf("loading job %s: %v", cfg.Name, err)
		}
	}
	h := httpapi.New(httpapi.Options{
		Manager: m, Version: "test", Tokens: tokens, UI: web.Handler(), LoopbackOnly: true, Logger: quiet,
	})
	s := &stack{m: m, gets: map[string]int{}}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			s.mu.Lock()
			s.gets[r.URL.Path]++
			s.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	s.lis = &dropListener{Listener: s.srv.Listener, conns: map[net.Conn]bool{}}
	s.srv.Listener = s.lis
	s.srv.Start()
	return s
}

// jobInfo is GET /jobs/default/web, straight from the API.
func (s *stack) jobInfo(t *testing.T, token string) manager.JobInfo {
	t.Helper()
	return s.jobInfoAs(t, "default/web", token)
}

func (s *stack) jobInfoOf(t *testing.T, job string) manager.JobInfo {
	t.Helper()
	return s.jobInfoAs(t, job, "")
}

// jobInfoAs is GET /jobs/<job> with a token.
func (s *stack) jobInfoAs(t *testing.T, job, token string) manager.JobInfo {
	t.Helper()
	req, _ := http.NewRequest("GET", s.srv.URL+"/jobs/"+job, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /jobs/%s: %v", job, err)
	}
	defer res.Body.Close()
	var info manager.JobInfo
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET /jobs/%s: %d %s", job, res.StatusCode, b)
	}
	if err := json.NewDecoder(res.Body).Decode(&info); err != nil {
		t.Fatalf("decoding job info: %v", err)
	}
	return info
}

// waitAPI polls the API (not the page) until ok holds.
func (s *stack) waitAPI(t *testing.T, token, what string, ok func(manager.JobInfo) bool) manager.JobInfo {
	t.Helper()
	var info manager.JobInfo
	if !await.Poll(15*time.Second, func() bool { info = s.jobInfo(t, token); return ok(info) }) {
		t.Fatalf("API: %s: gave up; last answer: state %s, numprocesses %d, processes %v",
			what, info.State, info.NumProcesses, info.Processes)
	}
	return info
}

// osPids returns the OS pids of a job's processes (default.web when job is "").
func (s *stack) osPids(t *testing.T, job ...string) []int {
	t.Helper()
	name := "default.web"
	if len(job) > 0 {
		name = job[0]
	}
	st, err := s.m.JobStats(context.Background(), name)
	if err != nil {
		t.Fatalf("job stats: %v", err)
	}
	var out []int
	for _, p := range st.Stats {
		out = append(out, p.OSPid)
	}
	return out
}

// close closes the manager and checks that no process group it started
// is left.
func (s *stack) close(t *testing.T, groups map[int]bool) {
	t.Helper()
	s.srv.CloseClientConnections()
	s.lis.cut()
	s.srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(30*time.Second))
	defer cancel()
	if err := s.m.Close(ctx); err != nil {
		t.Errorf("closing the manager: %v", err)
	}
	for pgid := range groups {
		if !await.Poll(5*time.Second, func() bool { return syscall.Kill(-pgid, 0) != nil }) {
			t.Errorf("process group %d still exists after Close", pgid)
		}
	}
}

// browser starts headless Chromium and returns a tab's context and a func
// that closes the browser (also called at cleanup). Uncaught exceptions of
// the page fail the test.
func browser(t *testing.T) (context.Context, func()) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromePath(t)),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no deadline
		cancelTab()
		cancelAlloc()
		t.Fatalf("starting Chromium: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for msg, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			switch {
			case msg.IsException():
				t.Errorf("page exception: %s", msg.Text)
			case msg.Type == chromedp.ConsoleError || msg.Type == chromedp.ConsoleWarning:
				t.Logf("page console %s: %s", msg.Type, msg.Text)
			}
		}
	})
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancelTab()
			cancelAlloc()
			wg.Wait()
		})
	}
	t.Cleanup(stop)
	return ctx, stop
}

// step runs actions with a deadline, failing the test with what on error.
func step(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, await.Scale(20*time.Second))
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitJS polls a JavaScript predicate in the page until it is truthy.
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	step(t, ctx, what, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(await.Scale(15*time.Second))))
}

func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// setInput sets a form field's value as a user's typing would, input event
// included.
func setInput(sel, value string) chromedp.Action[chromedp.Void] {
	js, _ := json.Marshal([]string{sel, value})
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`((sel, v) => {
		const el = document.querySelector(sel);
		el.value = v;
		el.dispatchEvent(new Event('input', {bubbles: true}));
	})(...%s)`, js))
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
	// A copy a human can find after the test.
	if err := os.WriteFile(filepath.Join(os.TempDir(), name), buf, 0o644); err != nil {
		t.Logf("copying the screenshot: %v", err)
	}
}

const (
	jobSel   = `[data-job="default.web"]`
	procRows = `document.querySelectorAll('[data-job="default.web"] .slots tr[data-pid]').length`
	// helloLines counts the log view's lines that say hello.
	helloLines = `[...document.querySelectorAll('#log-view .ln')].filter(l => l.textContent.includes('hello-from-web')).length`
)

func TestDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ctx, closeBrowser := browser(t)
	s := newStack(t, nil)
	groups := map[int]bool{}
	closed := false
	t.Cleanup(func() {
		if !closed {
			closeBrowser()
			s.close(t, groups)
		}
	})
	s.waitAPI(t, "", "job running with one process", func(i manager.JobInfo) bool { return len(i.Processes) == 1 })

	// The page lists the job, running, and its first process.
	step(t, ctx, "open the dashboard",
		chromedp.Navigate(s.srv.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS(jobSel+` [data-field="state"][data-state="running"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#conn-status[data-state="open"]`)),
	)
	waitJS(t, ctx, "one process row", procRows+` === 1`)

	// The log view follows the first job by default: its first line is there.
	waitJS(t, ctx, "hello-from-web in the log view", helloLines+` >= 1`)

	// Scale up: a second process appears in the page and in the API, and
	// its output arrives live in the log view.
	step(t, ctx, "click scale-up", chromedp.Click(chromedp.CSS(jobSel+` [data-action="scale-up"]`)))
	waitJS(t, ctx, "two process rows", procRows+` === 2`)
	info := s.waitAPI(t, "", "numprocesses 2 with 2 pids", func(i manager.JobInfo) bool {
		return i.NumProcesses == 2 && len(i.Processes) == 2
	})
	for _, pid := range info.Processes {
		waitJS(t, ctx, fmt.Sprintf("row of pid %d", pid), fmt.Sprintf(`!!document.querySelector('%s [data-pid="%d"]')`, jobSel, pid))
	}
	waitJS(t, ctx, "the new process's hello, live", helloLines+` >= 2`)
	waitJS(t, ctx, "ready column says 2/2", `document.querySelector('`+jobSel+` [data-field="ready"]').textContent === '2/2'`)

	// The event feed has the spawn, and its pattern filter works.
	waitJS(t, ctx, "spawn in the event feed", `!!document.querySelector('#event-feed [data-event="spawn"]')`)
	step(t, ctx, "filter events", chromedp.SendKeys(chromedp.ID("event-filter"), "job.*.web.scale"))
	waitJS(t, ctx, "only scale events listed", `(() => {
		const evs = [...document.querySelectorAll('#event-feed .ev')];
		return evs.length >= 1 && evs.every(e => e.dataset.event === 'scale');
	})()`)
	step(t, ctx, "clear the event filter", setInput("#event-filter", ""))

	// The Logs button of the job reloads the view from the API.
	step(t, ctx, "click logs", chromedp.Click(chromedp.CSS(jobSel+` [data-action="logs"]`)))
	waitJS(t, ctx, "hello lines of both processes after reload", helloLines+` >= 2`)

	// Stats arrive over STATS:default.web.
	waitJS(t, ctx, "memory shown", `/\d/.test(document.querySelector('`+jobSel+` [data-field="mem"]').textContent)`)
	for _, p := range s.osPids(t) {
		groups[p] = true
	}

	// The daemon goes away: the page says so, then comes back by itself and
	// resyncs what changed meanwhile (a scale to 3 it got no event for).
	step(t, ctx, "watch the banner", chromedp.Evaluate[chromedp.Void](`(() => {
		window.bannerSeen = false;
		const b = document.querySelector('#conn-banner');
		new MutationObserver(() => { if (!b.hidden) window.bannerSeen = true; }).observe(b, {attributes: true});
	})()`))
	s.lis.cut()
	waitJS(t, ctx, "disconnection banner", `window.bannerSeen && document.querySelector('#conn-status').dataset.state !== 'open'`)
	if _, err := s.m.Scale(context.Background(), "default.web", manager.ScaleOp{Op: '=', N: 3}); err != nil {
		t.Fatalf("scaling behind the page's back: %v", err)
	}
	s.lis.restore()
	waitJS(t, ctx, "reconnected", `document.querySelector('#conn-status').dataset.state === 'open' && document.querySelector('#conn-banner').hidden`)
	waitJS(t, ctx, "three process rows after resync", procRows+` === 3`)
	waitJS(t, ctx, "the log view resynced: three hello lines", helloLines+` >= 3`)
	for _, p := range s.osPids(t) {
		groups[p] = true
	}

	screenshot(t, ctx, "ganger-dashboard.png")

	// An error of the API is shown in words: its reason.
	step(t, ctx, "scale to an absurd number",
		chromedp.SendKeys(chromedp.CSS(jobSel+` [data-field="scale-to"]`), "99999999999999999999999"),
		chromedp.Click(chromedp.CSS(jobSel+` button[data-action="scale-to"]`)),
	)
	waitJS(t, ctx, "the API's reason in a toast", `[...document.querySelectorAll('#toasts .toast.error')].some(t => t.textContent.includes('invalid scale'))`)

	// Stop: the page and the API say stopped.
	step(t, ctx, "click stop", chromedp.Click(chromedp.CSS(jobSel+` [data-action="stop"]`)))
	waitJS(t, ctx, "state stopped", `document.querySelector('`+jobSel+` [data-field="state"]').dataset.state === 'stopped'`)
	waitJS(t, ctx, "no process rows", procRows+` === 0`)
	s.waitAPI(t, "", "state stopped", func(i manager.JobInfo) bool { return i.State == "stopped" && len(i.Processes) == 0 })

	// The same page in dark mode and on a phone, for a human to look at.
	step(t, ctx, "dark phone view",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
			})
			return err
		}),
		chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Click(chromedp.CSS(jobSel+` [data-action="start"]`)),
	)
	waitJS(t, ctx, "running again", procRows+` === 3 && document.querySelector('`+jobSel+` [data-field="state"]').dataset.state === 'running'`)
	waitJS(t, ctx, "the new processes' hello lines, live", helloLines+` >= 6`)
	for _, p := range s.osPids(t) {
		groups[p] = true
	}
	screenshot(t, ctx, "ganger-dashboard-phone-dark.png")

	closed = true
	closeBrowser() // first, so the page does not see the daemon go
	s.close(t, groups)
}

func TestDashboardToken(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ctx, closeBrowser := browser(t)
	const secret = "s3cret-token"
	s := newStack(t, []conf.Token{{Name: "admin", Token: secret, Role: conf.RoleAdmin}})
	defer func() {
		closeBrowser()
		groups := map[int]bool{}
		for _, p := range s.osPids(t) {
			groups[p] = true
		}
		s.close(t, groups)
	}()

	step(t, ctx, "open the dashboard: it asks for a token",
		chromedp.Navigate(s.srv.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("token-input")),
	)
	step(t, ctx, "a wrong token", chromedp.SendKeys(chromedp.ID("token-input"), "wrong"), chromedp.Click(chromedp.ID("token-save")))
	waitJS(t, ctx, "the refusal's reason", `document.querySelector('#token-dialog').open && document.querySelector('#token-reason').textContent.includes('unknown token')`)
	step(t, ctx, "the right token",
		setInput("#token-input", ""),
		chromedp.SendKeys(chromedp.ID("token-input"), secret),
		chromedp.Click(chromedp.ID("token-save")),
		chromedp.WaitVisible(chromedp.CSS(jobSel+` [data-field="state"][data-state="running"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#conn-status[data-state="open"]`)),
	)
	if got := evalJS[string](t, ctx, `sessionStorage.getItem('ganger.token')`); got != secret {
		t.Errorf("sessionStorage token %q, want %q", got, secret)
	}
	// Authenticated actions and live updates work.
	step(t, ctx, "click scale-up", chromedp.Click(chromedp.CSS(jobSel+` [data-action="scale-up"]`)))
	waitJS(t, ctx, "two process rows", procRows+` === 2`)
	s.waitAPI(t, secret, "numprocesses 2", func(i manager.JobInfo) bool { return i.NumProcesses == 2 })
	waitJS(t, ctx, "hello-from-web in the log view", helloLines+` >= 1`)
}

func TestDashboardLogFollow(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ctx, closeBrowser := browser(t)
	s := newStack(t, nil, shJob("chatty", "i=0; while true; do i=$((i+1)); echo line-$i; sleep 0.05; done"))
	defer func() {
		closeBrowser()
		groups := map[int]bool{}
		for _, job := range []string{"default.web", "default.chatty"} {
			for _, p := range s.osPids(t, job) {
				groups[p] = true
			}
		}
		s.close(t, groups)
	}()
	const (
		chatty  = `[data-job="default.chatty"]`
		lines   = `document.querySelectorAll('#log-view .ln').length`
		atEnd   = `(v => v.scrollTop + v.clientHeight >= v.scrollHeight - 8)(document.querySelector('#log-view'))`
		overful = `(v => v.scrollHeight > v.clientHeight + 100)(document.querySelector('#log-view'))`
	)
	step(t, ctx, "open the chatty job's logs",
		chromedp.Navigate(s.srv.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS(chatty+` [data-field="state"][data-state="running"]`)),
		chromedp.Click(chromedp.CSS(chatty+` [data-action="logs"]`)),
	)
	waitJS(t, ctx, "the view fills and follows the end", overful+` && `+atEnd+` && document.querySelector('#log-follow').hidden`)

	// Scrolling up pauses: new lines arrive, the view stays where it is.
	step(t, ctx, "scroll up", chromedp.Evaluate[chromedp.Void](`document.querySelector('#log-view').scrollTop = 0`))
	waitJS(t, ctx, "paused", `!document.querySelector('#log-follow').hidden`)
	n := evalJS[int](t, ctx, lines)
	waitJS(t, ctx, "more lines while paused", fmt.Sprintf(`%s >= %d`, lines, n+10))
	if top := evalJS[float64](t, ctx, `document.querySelector('#log-view').scrollTop`); top > 5 {
		t.Errorf("paused view scrolled to %v, want it left at the top", top)
	}
	waitJS(t, ctx, "the button counts new lines", `/\d+ new line/.test(document.querySelector('#log-follow').textContent)`)

	// The button (or scrolling to the bottom) resumes following.
	step(t, ctx, "resume", chromedp.Click(chromedp.ID("log-follow")))
	waitJS(t, ctx, "following again", atEnd+` && document.querySelector('#log-follow').hidden`)
	n = evalJS[int](t, ctx, lines)
	waitJS(t, ctx, "more lines while following", fmt.Sprintf(`%s >= %d && %s`, lines, n+10, atEnd))

	// The filter box hides the lines that do not match.
	step(t, ctx, "filter", setInput("#log-filter", "line-1"))
	waitJS(t, ctx, "only matching lines shown", `(() => {
		const all = [...document.querySelectorAll('#log-view .ln')];
		const shown = all.filter(l => !l.hidden);
		return shown.length > 0 && shown.length < all.length && shown.every(l => l.textContent.includes('line-1'));
	})()`)
	step(t, ctx, "clear the filter", setInput("#log-filter", ""))

	// A process's own view shows only its lines.
	pid := s.jobInfoOf(t, "default/chatty").Processes[0]
	step(t, ctx, "open one process's logs", chromedp.Click(chromedp.CSS(fmt.Sprintf(`%s [data-pid="%d"] [data-action="proc-logs"]`, chatty, pid))))
	waitJS(t, ctx, "the process view", fmt.Sprintf(`document.querySelector('#log-target').textContent.includes('#%d') &&
		document.querySelectorAll('#log-view .ln').length > 10 &&
		[...document.querySelectorAll('#log-view .ln')].every(l => l.dataset.logPid === '%d')`, pid, pid))
}
