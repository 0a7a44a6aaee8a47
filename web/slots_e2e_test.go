package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/internal/await"
	"github.com/ganger/ganger/manager"
)

// mustJob parses a job's JSON config as the API would.
func mustJob(t *testing.T, js string) conf.Job {
	t.Helper()
	cfg, err := conf.ParseJob([]byte(js))
	if err != nil {
		t.Fatalf("parsing job %s: %v", js, err)
	}
	return cfg
}

// jobAnswer is GET /jobs/{s}/{j} as the API writes it (manager.SlotInfo
// has no JSON decoding of its own: its os_pid and last_exit would be lost).
type jobAnswer struct {
	State    string       `json:"state"`
	Ready    int          `json:"ready"`
	Restarts int          `json:"restarts"`
	Slots    []slotAnswer `json:"slots"`
}

type slotAnswer struct {
	Slot     int               `json:"slot"`
	State    string            `json:"state"`
	Pid      int               `json:"pid"`
	OSPid    int               `json:"os_pid"`
	Restarts int               `json:"restarts"`
	LastExit *manager.ExitInfo `json:"last_exit"`
}

// answer is GET /jobs/<job> with a token ("" for none).
func (s *stack) answer(t *testing.T, job, token string) jobAnswer {
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
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET /jobs/%s: %d %s", job, res.StatusCode, b)
	}
	var a jobAnswer
	if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
		t.Fatalf("decoding GET /jobs/%s: %v", job, err)
	}
	return a
}

// waitAnswer polls GET /jobs/<job> until ok holds.
func (s *stack) waitAnswer(t *testing.T, job, token, what string, ok func(jobAnswer) bool) jobAnswer {
	t.Helper()
	var a jobAnswer
	if !await.Poll(15*time.Second, func() bool { a = s.answer(t, job, token); return ok(a) }) {
		t.Fatalf("API: %s: gave up; last answer: %+v", what, a)
	}
	return a
}

// slotRowsJS returns, as JSON, the page's slot rows of a job: each
// [name, state, os pid] as shown.
func slotRowsJS(job string) string {
	return fmt.Sprintf(`JSON.stringify([...document.querySelectorAll('[data-job="%s"] .slots tr[data-slot]:not([data-slot="0"])')].map(r => [
		r.querySelector('[data-field="slot-name"]').textContent,
		r.dataset.state,
		r.querySelector('[data-field="os-pid"]').textContent]))`, job)
}

// slotRowsOf is what slotRowsJS should say for the job's answer.
func slotRowsOf(short string, info jobAnswer) string {
	rows := [][]string{}
	for _, s := range info.Slots {
		os := "–"
		if s.OSPid != 0 {
			os = strconv.Itoa(s.OSPid)
		}
		rows = append(rows, []string{fmt.Sprintf("%s.%d", short, s.Slot), s.State, os})
	}
	b, _ := json.Marshal(rows)
	return string(b)
}

// waitText polls a JavaScript expression of the page until it is want,
// and reports the last value when it does not get there.
func waitText(t *testing.T, ctx context.Context, what, expr, want string) {
	t.Helper()
	var got string
	if !await.Poll(15*time.Second, func() bool { got = evalJS[string](t, ctx, expr); return got == want }) {
		t.Fatalf("%s: the page shows %s, want %s", what, got, want)
	}
}

// slotOSPids returns the os pids of a job's slots.
func slotOSPids(info jobAnswer) []int {
	var out []int
	for _, s := range info.Slots {
		if s.OSPid != 0 {
			out = append(out, s.OSPid)
		}
	}
	return out
}

// TestDashboardSlots: the page shows each job's slots (web.1, web.2) with
// their state, os pid, restarts and last exit, follows a crash loop live,
// says what a waiting job waits for, and restarts a job one slot at a
// time, without fetching a job more often than its events allow.
func TestDashboardSlots(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ctx, closeBrowser := browser(t)
	s := newStack(t, nil,
		// exec: no orphan outlives a stop (this test is no subreaper).
		mustJob(t, `{"name": "web", "cmd": "sh", "args": ["-c", "echo listening on port $PORT; exec sleep 1000"],
			"numprocesses": 2, "port": 8000, "min_uptime": 0, "graceful_timeout": 3}`),
		mustJob(t, `{"name": "crash", "cmd": "sh", "args": ["-c", "echo connecting; echo no config found >&2; exit 3"],
			"backoff": {"initial": "200ms", "max": "1s"}, "flapping": false}`),
		mustJob(t, `{"name": "db", "cmd": "sleep", "args": ["1000"], "readiness": {"exec": "false", "interval": "1s"}}`),
		mustJob(t, `{"name": "api", "cmd": "sleep", "args": ["1000"], "depends_on": {"db": "ready"}}`),
	)
	groups := map[int]bool{}
	defer func() {
		closeBrowser()
		for _, job := range []string{"default.web", "default.db"} {
			for _, p := range s.osPids(t, job) {
				groups[p] = true
			}
		}
		s.close(t, groups)
	}()
	const (
		web   = `[data-job="default.web"]`
		crash = `[data-job="default.crash"] tr[data-slot="1"]`
		api   = `[data-job="default.api"]`
	)

	info := s.waitAnswer(t, "default/web", "", "web: two slots running", func(a jobAnswer) bool { return a.Ready == 2 })
	step(t, ctx, "open the dashboard",
		chromedp.Navigate(s.srv.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS(`#conn-status[data-state="open"]`)),
		chromedp.Evaluate[chromedp.Void](`window.sameDocument = true`),
	)

	// The 2-slot job: rows web.1 and web.2, running, with their os pids.
	waitText(t, ctx, "rows web.1 and web.2 running with their os pids", slotRowsJS("default.web"), slotRowsOf("web", info))
	waitJS(t, ctx, "web: running, 2/2 ready, no restarts", `(() => {
		const j = document.querySelector('`+web+`');
		return j.querySelector('[data-field="state"]').dataset.state === 'running' &&
			j.querySelector('[data-field="state"]').textContent === 'running' &&
			j.querySelector('[data-field="ready"]').textContent === '2/2' &&
			j.querySelector('[data-field="restarts"]').textContent === '0';
	})()`)
	for _, p := range slotOSPids(info) {
		groups[p] = true
	}

	// The crash loop: restarts and the last exit code, updating live.
	crashState := `(() => {
		const r = document.querySelector('` + crash + `');
		if (!r) return null;
		const e = r.querySelector('[data-field="last-exit"]');
		return {
			restarts: Number(r.querySelector('[data-field="restarts"]').textContent),
			jobRestarts: Number(document.querySelector('[data-job="default.crash"] [data-field="restarts"]').textContent),
			status: e.dataset.exitStatus, reason: e.dataset.reason, text: e.textContent,
		};
	})()`
	waitJS(t, ctx, "crash: restarts > 0, last exit code 3", `(s => s && s.restarts > 0 && s.jobRestarts > 0 &&
		s.status === '3' && s.reason === 'exited' && s.text.includes('exit 3'))(`+crashState+`)`)
	n := evalJS[int](t, ctx, `(`+crashState+`).restarts`)
	waitJS(t, ctx, fmt.Sprintf("crash: restarts above %d, live", n), fmt.Sprintf(`(s => s.restarts > %d && s.status === '3')(%s)`, n, crashState))
	if !evalJS[bool](t, ctx, `window.sameDocument === true`) {
		t.Fatal("the page was reloaded")
	}
	ci := s.answer(t, "default/crash", "")
	if ci.Restarts <= n || ci.Slots[0].LastExit == nil || ci.Slots[0].LastExit.ExitStatus != 3 {
		t.Errorf("API: crash restarts %d (page saw more than %d), last exit %+v", ci.Restarts, n, ci.Slots[0].LastExit)
	}

	// The waiting job says what it waits for.
	waitJS(t, ctx, "api: waiting for default.db to be ready", `(() => {
		const j = document.querySelector('`+api+`');
		const w = j.querySelector('[data-field="waiting-for"]');
		return j.querySelector('[data-field="state"]').dataset.state === 'waiting' &&
			j.querySelector('tr[data-slot="1"]').dataset.state === 'waiting' &&
			!w.hidden && w.textContent.includes('default.db') && w.textContent.includes('to be ready') &&
			w.querySelector('[data-dep="default.db"]').dataset.condition === 'ready';
	})()`)
	screenshot(t, ctx, "dashboard.png")

	// Restart: one slot at a time, new processes, shown with their pids.
	old := slotOSPids(s.answer(t, "default/web", ""))
	step(t, ctx, "click restart", chromedp.Click(chromedp.CSS(web+` [data-action="restart"]`)))
	var got, want string
	if !await.Poll(20*time.Second, func() bool {
		info = s.answer(t, "default/web", "")
		pids := slotOSPids(info)
		if info.State != "running" || len(pids) != 2 || slices.ContainsFunc(pids, func(p int) bool { return slices.Contains(old, p) }) {
			return false
		}
		want = slotRowsOf("web", info)
		got = evalJS[string](t, ctx, slotRowsJS("default.web"))
		return got == want
	}) {
		t.Fatalf("after restart: the page shows %s, want %s (old os pids %v)", got, want, old)
	}
	for _, p := range slotOSPids(info) {
		groups[p] = true
	}
	waitJS(t, ctx, "the replaced processes' exits: SIGTERM, stopped, no restart counted", `[...document.querySelectorAll('`+web+` .slots tr[data-slot]')].every(r => {
		const e = r.querySelector('[data-field="last-exit"]');
		return e.dataset.termSignal === '15' && e.dataset.reason === 'stopped' && e.textContent.includes('SIGTERM') &&
			r.querySelector('[data-field="restarts"]').textContent === '0';
	})`)

	// A burst of events (ten spawns, ten ready) costs a few GETs of the
	// job, not one per event: at most one every 200ms, plus the first.
	before := s.getsOf("/jobs/default/web")
	start := time.Now()
	if _, err := s.m.Scale(t.Context(), "default.web", manager.ScaleOp{Op: '=', N: 12}); err != nil {
		t.Fatalf("scaling web to 12: %v", err)
	}
	waitJS(t, ctx, "twelve running slots", `document.querySelectorAll('`+web+` .slots tr[data-state="running"][data-pid]').length === 12`)
	gets := s.getsOf("/jobs/default/web") - before
	if limit := int(time.Since(start)/(200*time.Millisecond)) + 2; gets > limit {
		t.Errorf("%d GET /jobs/default/web for a burst of 21 events in %v, want at most %d", gets, time.Since(start), limit)
	}
	t.Logf("%d GET /jobs/default/web for the burst, in %v", gets, time.Since(start))
	for _, p := range s.osPids(t) {
		groups[p] = true
	}

	// A hidden page fetches nothing on events; it catches up when shown.
	step(t, ctx, "hide the page", chromedp.Evaluate[chromedp.Void](`(() => {
		window.jobFetches = 0;
		const fetch = window.fetch;
		window.fetch = (url, init) => {
			if (String(url).endsWith('/jobs/default/web')) window.jobFetches++;
			return fetch(url, init);
		};
		Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});
		document.dispatchEvent(new Event('visibilitychange'));
	})()`))
	if _, err := s.m.Scale(t.Context(), "default.web", manager.ScaleOp{Op: '=', N: 3}); err != nil {
		t.Fatalf("scaling web to 3: %v", err)
	}
	waitJS(t, ctx, "the scale and exits in the event feed", `(() => {
		const evs = [...document.querySelectorAll('#event-feed .ev')];
		const exits = evs.filter(e => e.dataset.event === 'exit' && e.textContent.includes('default.web')).length;
		return evs.some(e => e.dataset.event === 'scale' && e.textContent.includes('→ 3')) && exits >= 11; // 2 from the restart, 9 from the scale-down
	})()`)
	if n := evalJS[int](t, ctx, `window.jobFetches`); n != 0 {
		t.Errorf("the hidden page fetched the job %d times", n)
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll('`+web+` .slots tr[data-slot]').length`); n != 12 {
		t.Errorf("the hidden page shows %d slot rows, want the 12 it had", n)
	}
	step(t, ctx, "show the page", chromedp.Evaluate[chromedp.Void](`(() => {
		delete document.hidden;
		document.dispatchEvent(new Event('visibilitychange'));
	})()`))
	waitJS(t, ctx, "three running slots once shown", `document.querySelectorAll('`+web+` .slots tr[data-slot]').length === 3 &&
		document.querySelectorAll('`+web+` .slots tr[data-state="running"]').length === 3 && window.jobFetches >= 1`)
}

// TestDashboardReadOnly: with a read-only token (given in the URL, as
// `ganger start` prints it) the page shows everything, and an action the
// daemon refuses says why and disables the actions.
func TestDashboardReadOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ctx, closeBrowser := browser(t)
	s := newStack(t, []conf.Token{
		{Name: "admin", Token: "admin-secret", Role: conf.RoleAdmin},
		{Name: "viewer", Token: "read-secret", Role: conf.RoleRead},
	})
	defer func() {
		closeBrowser()
		groups := map[int]bool{}
		for _, p := range s.osPids(t) {
			groups[p] = true
		}
		s.close(t, groups)
	}()
	before := s.waitAnswer(t, "default/web", "admin-secret", "web running", func(a jobAnswer) bool { return a.Ready == 1 })

	step(t, ctx, "open the dashboard with a read token in the URL",
		chromedp.Navigate(s.srv.URL+"/ui/?token=read-secret"),
		chromedp.WaitVisible(chromedp.CSS(jobSel+` [data-field="state"][data-state="running"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#conn-status[data-state="open"]`)),
	)
	if got := evalJS[string](t, ctx, `location.search`); got != "" {
		t.Errorf("the token stays in the address bar: %q", got)
	}
	if got := evalJS[string](t, ctx, `sessionStorage.getItem('ganger.token')`); got != "read-secret" {
		t.Errorf("sessionStorage token %q, want read-secret", got)
	}
	waitJS(t, ctx, "slot web.1 running", `document.querySelector('`+jobSel+` tr[data-slot="1"]').dataset.state === 'running'`)

	step(t, ctx, "click restart", chromedp.Click(chromedp.CSS(jobSel+` [data-action="restart"]`)))
	waitJS(t, ctx, "the refusal in words, the actions disabled", `(() => {
		const toast = [...document.querySelectorAll('#toasts .toast.error')].some(t => t.textContent.includes('Restarting default.web') && t.textContent.includes('read-only'));
		const j = document.querySelector('`+jobSel+`');
		return toast && !document.querySelector('#readonly-note').hidden &&
			['start', 'stop', 'restart', 'reload', 'scale-up', 'commit', 'proc-stop'].every(a => j.querySelector('[data-action="' + a + '"]').disabled) &&
			!j.querySelector('[data-action="logs"]').disabled;
	})()`)
	after := s.answer(t, "default/web", "admin-secret")
	if !slices.Equal(slotOSPids(after), slotOSPids(before)) {
		t.Errorf("a read token restarted the job: os pids %v, then %v", slotOSPids(before), slotOSPids(after))
	}
}
