package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"

	"github.com/coder/websocket"
)

// Helpers of the lifecycle and health tests (lifecycle_test.go,
// probe_test.go, badconfig_test.go), over those of helpers_test.go:
//
//	probeServerBin(t)               the probe target tests/internal/probeserver, built once
//	freePorts(t, n)                 a base port with n free ports from it, below the ephemeral range
//	watchEvents(t, d, pattern)      every event of a daemon matching pattern, over /channel (*eventLog)
//	(*eventLog).wait/waitN/filter   the events received, by matchers is(type, job), isSlot(…)
//	loadJob(t, d, json)             POST a job into session default (201 or the test fails)
//	mustDo(t, method, url, body, n) a request that must answer status n
//	jobState(t, d, job)             GET /jobs/default/{job}, with waiting_for and flapping (jobView)
//	waitJob(t, d, job, d, what, f)  poll jobState until f holds
//	never(t, d, what, cond)         cond must stay false for d (an observation window)
//	watchProcs(t, pick)             poll /proc all along: the fewest picked processes alive at once
//	zombieWatch(t, ppid)            fail if a child of ppid stays a zombie
//	waitDead(t, d, what, pids…)     wait until none of pids is alive
//	procEnv, procArgs, procStartTime  /proc/<pid>/environ, cmdline, start time
//	markerEnv(t), hasEnv(k, v)      a NAME=value unique to a test; the /proc pick of its processes

// probeServerBin returns the path of the probeserver helper, building it
// on first use. It goes beside the ganger binary TestMain built, in the
// folder TestMain removes at the end; with $GANGER_TEST_BIN set there is
// no such folder and it goes to a temporary folder of its own.
func probeServerBin(t testing.TB) string {
	t.Helper()
	bin, err := buildProbeServer()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

var buildProbeServer = sync.OnceValues(func() (string, error) {
	dir := filepath.Dir(gangerBin)
	if os.Getenv("GANGER_TEST_BIN") != "" {
		var err error
		if dir, err = os.MkdirTemp("", "ganger-test-probeserver-"); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(dir, "probeserver")
	cmd := exec.Command("go", "build", "-o", bin, "./tests/internal/probeserver")
	cmd.Dir = ".." // the module's root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the probe server: %v\n%s", err, out)
	}
	return bin, nil
})

// portsMu guards nextPort: each freePorts call of the test binary gets a
// range of its own.
var (
	portsMu  sync.Mutex
	nextPort = 20000 + 10*rand.IntN(900)
)

// freePorts returns a base port p such that p…p+n-1 can be bound now. The
// ports are taken below Linux's ephemeral range (32768 and up), so no
// daemon or client binding port 0 can be given one of them meanwhile,
// and each call of this test binary gets ports of its own.
func freePorts(t testing.TB, n int) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 200 {
		base := nextPort
		nextPort += 10 * ((n + 9) / 10)
		if nextPort+n >= 32768 {
			nextPort = 20000
		}
		ok := true
		var lns []net.Listener
		for i := range n {
			ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+i))
			if err != nil {
				ok = false
				break
			}
			lns = append(lns, ln)
		}
		for _, ln := range lns {
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d free consecutive ports", n)
	return 0
}

// event is an event of the contract, as /channel delivers it.
type event struct {
	Event      string  `json:"event"`
	Name       string  `json:"name"`
	Pid        int     `json:"pid"`
	OSPid      int     `json:"os_pid"`
	Slot       int     `json:"slot"`
	ExitStatus int     `json:"exit_status"`
	TermSignal int     `json:"term_signal"`
	Reason     string  `json:"reason"`
	Delay      float64 `json:"delay"`
	RetryIn    float64 `json:"retry_in"`
	WaitingFor []struct {
		Name      string `json:"name"`
		Condition string `json:"condition"`
	} `json:"waiting_for"`

	At time.Time `json:"-"` // when the test received it
}

func (e event) String() string {
	s := fmt.Sprintf("%s %s", e.Event, e.Name)
	if e.Pid != 0 {
		s += fmt.Sprintf(" pid=%d os_pid=%d", e.Pid, e.OSPid)
	}
	if e.Slot != 0 {
		s += fmt.Sprintf(" slot=%d", e.Slot)
	}
	if e.Event == "exit" {
		s += fmt.Sprintf(" status=%d signal=%d", e.ExitStatus, e.TermSignal)
	}
	if e.Reason != "" {
		s += fmt.Sprintf(" reason=%q", e.Reason)
	}
	if e.Event == "backoff" {
		s += fmt.Sprintf(" delay=%v", e.Delay)
	}
	return s + " at " + e.At.Format("15:04:05.000")
}

// is returns a matcher of the events of type typ of job name (a full name).
func is(typ, name string) func(event) bool {
	return func(e event) bool { return e.Event == typ && e.Name == name }
}

// isSlot is is for the events of one slot.
func isSlot(typ, name string, slot int) func(event) bool {
	return func(e event) bool { return e.Event == typ && e.Name == name && e.Slot == slot }
}

// eventLog collects the events a /channel subscription receives.
type eventLog struct {
	t      testing.TB
	cancel context.CancelFunc
	done   chan struct{}

	// mu guards the following fields.
	mu     sync.Mutex
	evs    []event
	closed bool
}

// watchEvents subscribes to the daemon's events matching pattern ("" for
// all) and collects them until the test ends or the daemon closes the
// socket. It returns once the subscription is in place: every event
// published afterwards is collected.
func watchEvents(t testing.TB, d *daemonProc, pattern string) *eventLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dctx, dcancel := context.WithTimeout(ctx, await.Scale(20*time.Second))
	defer dcancel()
	c, _, err := websocket.Dial(dctx, "ws://"+d.Addr+"/channel", nil)
	if err != nil {
		cancel()
		t.Fatalf("dialing /channel: %v", err)
	}
	c.SetReadLimit(1 << 20)
	topic := "EVENTS"
	if pattern != "" {
		topic += ":" + pattern
	}
	sub, _ := json.Marshal(map[string]any{"event": "SUB", "data": map[string]string{"topic": topic}})
	if err := c.Write(dctx, websocket.MessageText, sub); err != nil {
		cancel()
		c.CloseNow()
		t.Fatalf("subscribing to %s: %v", topic, err)
	}
	_, b, err := c.Read(dctx)
	if err != nil || !strings.Contains(string(b), `"gaffer:subscription_success"`) {
		cancel()
		c.CloseNow()
		t.Fatalf("subscribing to %s: %v %s", topic, err, b)
	}
	l := &eventLog{t: t, cancel: cancel, done: make(chan struct{})}
	go l.read(ctx, c)
	t.Cleanup(func() {
		cancel()
		<-l.done
		if t.Failed() {
			t.Logf("events (%s):\n%s", topic, l)
		}
	})
	return l
}

func (l *eventLog) read(ctx context.Context, c *websocket.Conn) {
	defer close(l.done)
	defer c.CloseNow()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			l.mu.Lock()
			l.closed = true
			l.mu.Unlock()
			return
		}
		var m struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		}
		if json.Unmarshal(b, &m) != nil || m.Event != "gaffer:event" {
			continue
		}
		var e event
		if json.Unmarshal(m.Data, &e) != nil {
			continue
		}
		e.At = time.Now()
		l.mu.Lock()
		l.evs = append(l.evs, e)
		l.mu.Unlock()
	}
}

// all returns the events received so far, in order.
func (l *eventLog) all() []event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.evs)
}

// filter returns the events received so far that match.
func (l *eventLog) filter(match func(event) bool) []event {
	var out []event
	for _, e := range l.all() {
		if match(e) {
			out = append(out, e)
		}
	}
	return out
}

// index returns the position of the first event received that matches, or -1.
func (l *eventLog) index(match func(event) bool) int {
	return slices.IndexFunc(l.all(), match)
}

// waitN waits until n events matching have been received and returns the
// n-th; it fails the test after timeout (scaled) or if the socket closes.
func (l *eventLog) waitN(timeout time.Duration, what string, n int, match func(event) bool) event {
	l.t.Helper()
	var found []event
	closed := false
	ok := await.Poll(timeout, func() bool {
		found = l.filter(match)
		l.mu.Lock()
		closed = l.closed
		l.mu.Unlock()
		return len(found) >= n || closed
	})
	if !ok || len(found) < n {
		l.t.Fatalf("waiting for %s (%d of them, got %d; socket closed: %v)\nevents:\n%s", what, n, len(found), closed, l)
	}
	return found[n-1]
}

// wait waits for the first event matching (see waitN).
func (l *eventLog) wait(timeout time.Duration, what string, match func(event) bool) event {
	l.t.Helper()
	return l.waitN(timeout, what, 1, match)
}

// waitClosed waits until the daemon closes the socket (at its shutdown).
func (l *eventLog) waitClosed(timeout time.Duration) {
	l.t.Helper()
	select {
	case <-l.done:
	case <-time.After(await.Scale(timeout)):
		l.t.Fatalf("the daemon did not close /channel within %v", await.Scale(timeout))
	}
}

func (l *eventLog) String() string {
	var b strings.Builder
	for _, e := range l.all() {
		b.WriteString("  " + e.String() + "\n")
	}
	return b.String()
}

// loadJob POSTs a job config into session default and fails the test
// unless it is created.
func loadJob(t testing.TB, d *daemonProc, config string) {
	t.Helper()
	code, body := httpDo(t, http.MethodPost, d.URL+"/jobs/default", "", config)
	if code != http.StatusCreated {
		t.Fatalf("POST /jobs/default %s: %d %s", config, code, body)
	}
}

// mustDo sends a request (body, when not "", as JSON) and fails the test
// unless the status is want; it returns the body.
func mustDo(t testing.TB, method, url, body string, want int) []byte {
	t.Helper()
	code, b := httpDo(t, method, url, "", body)
	if code != want {
		t.Fatalf("%s %s %s: %d %s, want %d", method, url, body, code, b, want)
	}
	return b
}

// jobView is GET /jobs/{s}/{j} with what jobInfo leaves out.
type jobView struct {
	jobInfo
	WaitingFor []struct {
		Name      string `json:"name"`
		Condition string `json:"condition"`
	} `json:"waiting_for"`
	Flapping struct {
		State   string `json:"state"`
		Retries int    `json:"retries"`
	} `json:"flapping"`
}

// slot returns slot n (1-based) of the job, or a zero slotInfo.
func (j jobView) slot(n int) slotInfo {
	for _, s := range j.Slots {
		if s.Slot == n {
			return s
		}
	}
	return slotInfo{}
}

// slotPids returns each slot's os_pid (0 without a process), by slot.
func (j jobView) slotPids() []int {
	out := make([]int, len(j.Slots))
	for i, s := range j.Slots {
		if s.OSPid != nil {
			out[i] = *s.OSPid
		}
	}
	return out
}

// jobState returns job default.{job}, failing the test if it does not exist.
func jobState(t testing.TB, d *daemonProc, job string) jobView {
	t.Helper()
	var v jobView
	getJSON(t, d.URL+"/jobs/default/"+job, "", &v)
	return v
}

// waitJob polls job until cond holds and returns what it last saw.
func waitJob(t testing.TB, d *daemonProc, job string, timeout time.Duration, what string, cond func(jobView) bool) jobView {
	t.Helper()
	var v jobView
	if !await.Poll(timeout, func() bool { v = jobState(t, d, job); return cond(v) }) {
		t.Fatalf("timed out after %v waiting for %s; job %s is: %s", await.Scale(timeout), what, job, jsonString(v))
	}
	return v
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// never fails the test if cond becomes true within d (scaled): an
// observation window, for what must not happen.
func never(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if await.Poll(d, cond) {
		t.Fatalf("%s", what)
	}
}

// markerEnv returns a NAME=value unique to this test, to find its
// processes in /proc.
func markerEnv(t testing.TB) (name, value string) {
	return "GANGER_TEST_MARKER", fmt.Sprintf("%s-%d-%d", strings.NewReplacer("/", "-").Replace(t.Name()), os.Getpid(), time.Now().UnixNano())
}

// procEnv returns a process's environment, nil if it is gone.
func procEnv(pid int) map[string]string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return nil
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(b), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

// procArgs returns a process's command line, nil if it is gone.
func procArgs(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// procWatch polls /proc in the background for the processes a predicate
// picks, and remembers the fewest it saw at once.
type procWatch struct {
	stop chan struct{}
	done chan struct{}

	// mu guards the following fields.
	mu    sync.Mutex
	min   int // -1 before the first poll
	minAt time.Time
	polls int
}

// watchProcs starts polling /proc every few milliseconds for the live
// processes for which pick holds, until the test ends. Call reset to
// start counting afresh.
func watchProcs(t testing.TB, pick func(pid int) bool) *procWatch {
	w := &procWatch{stop: make(chan struct{}), done: make(chan struct{}), min: -1}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			pids := procsWhere(func(pid int) bool { return alive(pid) && pick(pid) })
			w.mu.Lock()
			w.polls++
			if w.min < 0 || len(pids) < w.min {
				w.min, w.minAt = len(pids), time.Now()
			}
			w.mu.Unlock()
		}
	}()
	t.Cleanup(w.close)
	return w
}

func (w *procWatch) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// fewest returns the fewest processes seen at once since the last reset,
// and how many polls of /proc were made.
func (w *procWatch) fewest() (n int, polls int, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.min, w.polls, w.minAt
}

// reset starts counting afresh.
func (w *procWatch) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.min, w.polls = -1, 0
}

// hasEnv returns a /proc predicate: the process's environment holds
// name=value.
func hasEnv(name, value string) func(pid int) bool {
	return func(pid int) bool { return procEnv(pid)[name] == value }
}

// childrenOf returns the processes whose parent is ppid, zombies included,
// with their state.
func childrenOf(ppid int) map[int]byte {
	out := map[int]byte{}
	for _, pid := range procsWhere(func(pid int) bool {
		st, ok := readStat(pid)
		return ok && st.ppid == ppid
	}) {
		if st, ok := readStat(pid); ok {
			out[pid] = st.state
		}
	}
	return out
}

// zombieWatch polls the children of ppid in the background and fails the
// test if one of them stays a zombie (exited, not reaped) for longer than
// a second (scaled): a reaper that does its job reaps in milliseconds.
func zombieWatch(t testing.TB, ppid int) (stop func()) {
	var (
		mu     sync.Mutex
		leaked []string
	)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		since := map[int]time.Time{}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			}
			now := time.Now()
			kids := childrenOf(ppid)
			for pid, state := range kids {
				if state != 'Z' {
					delete(since, pid)
					continue
				}
				if _, ok := since[pid]; !ok {
					since[pid] = now
				}
				if now.Sub(since[pid]) > await.Scale(time.Second) {
					mu.Lock()
					leaked = append(leaked, fmt.Sprintf("%d (%s)", pid, strings.Join(procArgs(pid), " ")))
					mu.Unlock()
					since[pid] = now.Add(time.Hour) // report it once
				}
			}
			for pid := range since {
				if _, ok := kids[pid]; !ok {
					delete(since, pid)
				}
			}
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(quit)
			<-done
			mu.Lock()
			defer mu.Unlock()
			if len(leaked) > 0 {
				t.Errorf("zombie children of the daemon (pid %d) left unreaped for over %v: %v", ppid, await.Scale(time.Second), leaked)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitDead waits until none of pids is alive.
func waitDead(t testing.TB, timeout time.Duration, what string, pids ...int) {
	t.Helper()
	await.Until(t, timeout, what, func() bool {
		return !slices.ContainsFunc(pids, alive)
	})
}

// procStartTime returns when a process started, from /proc (to within a
// clock tick, 10ms): unlike the time its spawn event arrives, it cannot
// be late. The process must still exist.
func procStartTime(t testing.TB, pid int) time.Time {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatalf("reading the start time of process %d: %v", pid, err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ticks, err := strconv.ParseInt(f[19], 10, 64) // field 22: starttime, in ticks since boot
	if err != nil {
		t.Fatalf("/proc/%d/stat: %v", pid, err)
	}
	now := time.Now()
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		t.Fatal(err)
	}
	secs, err := strconv.ParseFloat(strings.Fields(string(up))[0], 64)
	if err != nil {
		t.Fatalf("/proc/uptime: %v", err)
	}
	uptime := time.Duration(secs * float64(time.Second))
	return now.Add(-(uptime - time.Duration(ticks)*time.Second/clockTicks))
}

// clockTicks is USER_HZ, the unit of /proc's times: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// checkExits fails the test unless every process whose spawn event was
// received got at most one exit event (exactly one if ended: every one of
// them has ended), and no event of it came before its spawn.
func (l *eventLog) checkExits(ended bool) {
	l.t.Helper()
	evs := l.all()
	spawnAt := map[int]int{} // pid → index of its spawn
	for i, e := range evs {
		if e.Event == "spawn" {
			if _, dup := spawnAt[e.Pid]; dup {
				l.t.Errorf("pid %d spawned twice: %v", e.Pid, e)
				continue
			}
			spawnAt[e.Pid] = i
		}
	}
	exits := map[int]int{}
	for i, e := range evs {
		at, ok := spawnAt[e.Pid]
		if e.Pid == 0 || !ok {
			continue // not a process event, or a process spawned before the subscription
		}
		if i < at {
			l.t.Errorf("%v before its process's spawn", e)
		}
		if e.Event == "exit" {
			exits[e.Pid]++
		}
	}
	for pid := range spawnAt {
		if n := exits[pid]; n > 1 || (ended && n != 1) {
			l.t.Errorf("pid %d: %d exit events, want exactly one", pid, n)
		}
	}
}

// channelCommand runs a command over /channel and returns its result;
// it fails the test unless the command succeeds.
func channelCommand(t testing.TB, d *daemonProc, name string, args ...any) json.RawMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(20*time.Second))
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+d.Addr+"/channel", nil)
	if err != nil {
		t.Fatalf("dialing /channel: %v", err)
	}
	defer c.CloseNow()
	if args == nil {
		args = []any{}
	}
	cmd, _ := json.Marshal(map[string]any{"event": "CMD", "data": map[string]any{"identity": "t1", "name": name, "args": args, "kwargs": map[string]any{}}})
	if err := c.Write(ctx, websocket.MessageText, cmd); err != nil {
		t.Fatalf("sending %s: %v", name, err)
	}
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for the answer to %s: %v", name, err)
		}
		var m struct {
			Event string `json:"event"`
			Data  struct {
				Result json.RawMessage `json:"result"`
			} `json:"data"`
		}
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		switch m.Event {
		case "gaffer:command_success":
			c.Close(websocket.StatusNormalClosure, "")
			return m.Data.Result
		case "gaffer:command_error", "gaffer:error":
			t.Fatalf("command %s: %s", name, b)
		}
	}
}
