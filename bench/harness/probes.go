package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ganger/ganger/bench/internal/procfs"
)

// The probe figure: a job of n `sleep`s, each with an http readiness probe
// and a tcp liveness probe every second, both aimed at one HTTP server the
// harness runs (probeServer). The daemon's cost per attempt does not depend
// on how many servers answer, and n server processes would measure the
// machine, not the prober. Its floor is bench/rawloop -probes: the same
// attempts from a bare Go program; and below it bench/rawloop
// -probe-syscalls: the attempts' system calls alone, from one thread.

// probePortBase is the job's port: the i-th process has PORT=probePortBase+i-1,
// which its http probe's URL carries (nothing listens there: the sleeps only
// carry it in their environment).
const probePortBase = 20000

// probeServer answers every GET with 200 and counts what it sees: every
// accepted connection (one per attempt of either kind) and every request
// (one per http attempt). It also keeps, by the port in the URL, when each
// process's last http attempt came, and sums the gaps between two attempts
// of one process: their mean is the probe's actual period (its interval
// plus the attempt's own time and any delay in starting it).
type probeServer struct {
	addr  string
	srv   *http.Server
	conns atomic.Int64
	reqs  atomic.Int64

	mu     sync.Mutex
	last   map[int]time.Time // port → last http attempt
	gapSum time.Duration
	gaps   int64
}

type countingListener struct {
	net.Listener
	n *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func startProbeServer() (*probeServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &probeServer{addr: ln.Addr().String(), last: map[int]time.Time{}}
	s.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			now := time.Now()
			s.reqs.Add(1)
			if port, err := strconv.Atoi(r.URL.Query().Get("port")); err == nil {
				s.mu.Lock()
				if t, ok := s.last[port]; ok {
					s.gapSum += now.Sub(t)
					s.gaps++
				}
				s.last[port] = now
				s.mu.Unlock()
			}
			_, _ = io.WriteString(w, "ok\n")
		}),
	}
	go func() { _ = s.srv.Serve(countingListener{ln, &s.conns}) }()
	return s, nil
}

func (s *probeServer) close() { _ = s.srv.Close() }

// gapTotals is the sum and count of the gaps seen so far.
func (s *probeServer) gapTotals() (time.Duration, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gapSum, s.gaps
}

// forget drops the last attempts seen, so that the next prober's first
// attempts are not measured from the previous one's last.
func (s *probeServer) forget() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.last)
}

func (s *probeServer) httpURL() string { return "http://" + s.addr + "/health?port=$PORT" }

// probeSample is one window of probing, by ganger or the floor.
type probeSample struct {
	CPUPct   float64 // the prober's CPU, % of one core
	Rate     float64 // attempts per second seen by the server, both kinds
	HTTPRate float64 // http attempts per second
	RSSMB    float64 // the prober's RSS at the end of the window
	HostPct  float64 // the whole machine's busy time, % of one core (all CPUs: up to 100 × nproc)
	PeriodMs float64 // mean time between two http attempts of one process
	// SynRetrans counts the machine's TCP SYN retransmissions in the
	// window: each is a connect whose SYN went unanswered for a second
	// (on loopback, a new connection's ports colliding with one the server
	// still holds in TIME_WAIT), so the attempt took a second more.
	SynRetrans int64
}

// costUs is the prober's CPU per attempt, in microseconds.
func (s probeSample) costUs() float64 {
	if s.Rate == 0 {
		return 0
	}
	return s.CPUPct / 100 / s.Rate * 1e6
}

// measureProbing measures pids' CPU (utime+stime) and the server's counts
// over window.
func measureProbing(ctx context.Context, pids []int, srv *probeServer, window time.Duration) (probeSample, error) {
	var s probeSample
	h0, _, _ := procfs.MachineTicks()
	sr0, _ := procfs.TCPExt("TCPSynRetrans")
	gs0, gn0 := srv.gapTotals()
	t0, c0, r0, w0 := procfs.SumTicks(pids), srv.conns.Load(), srv.reqs.Load(), time.Now()
	select {
	case <-ctx.Done():
		return s, ctx.Err()
	case <-time.After(window):
	}
	t1, c1, r1, el := procfs.SumTicks(pids), srv.conns.Load(), srv.reqs.Load(), time.Since(w0).Seconds()
	h1, _, _ := procfs.MachineTicks()
	sr1, _ := procfs.TCPExt("TCPSynRetrans")
	s.SynRetrans = sr1 - sr0
	if gs1, gn1 := srv.gapTotals(); gn1 > gn0 {
		s.PeriodMs = ms(gs1-gs0) / float64(gn1-gn0)
	}
	s.CPUPct = float64(t1-t0) / procfs.ClockTicks / el * 100
	s.HostPct = float64(h1-h0) / procfs.ClockTicks / el * 100
	s.Rate = float64(c1-c0) / el
	s.HTTPRate = float64(r1-r0) / el
	s.RSSMB = float64(procfs.SumRSSKiB(pids)) * 1024 / 1e6
	return s, nil
}

// checkRate fails a window whose probes did not run at the configured rate
// (n processes × two probes every second, each interval counted from the
// last attempt's end): its CPU figure would not be the figure asked for.
// A short window over few processes, whose attempts come in bursts, sees
// one burst more or less: the tolerance is one interval's worth.
func checkRate(who string, s probeSample, n int, window time.Duration) error {
	want := 2 * float64(n)
	tol := max(0.2, time.Second.Seconds()/window.Seconds())
	if s.Rate <= (1-tol)*want || s.Rate > (1+tol)*want {
		return fmt.Errorf("%s made %.0f probes/s (%.0f http), want about %.0f", who, s.Rate, s.HTTPRate, want)
	}
	return nil
}

// probeJob is n `sleep marker` with the figure's two probes.
func probeJob(name, marker string, n int, srv *probeServer) map[string]any {
	j := sleepJob(name, marker, n)
	j["port"] = probePortBase
	j["readiness"] = map[string]any{"http": srv.httpURL(), "interval": "1s"}
	j["liveness"] = map[string]any{"tcp": srv.addr, "interval": "1s"}
	return j
}

// probeFigures measures the probe figure c.Runs times, each on a fresh
// daemon (so its RSS is the probes' alone) followed by the floor.
func probeFigures(ctx context.Context, c Config, rep *Report, work string, ps *procs, m *markers) error {
	srv, err := startProbeServer()
	if err != nil {
		return err
	}
	defer srv.close()
	n := c.ProbeN
	for run := range c.Runs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.Log("ganger: probes run %d/%d (%d processes, %v window)", run+1, c.Runs, n, c.ProbeWindow)
		srv.forget()
		g, err := gangerProbes(ctx, c, work, ps, m.next(), srv, run)
		if err != nil {
			return fmt.Errorf("ganger: %w", err)
		}
		c.Log("ganger: probes %.2f%% core, %.0f probes/s (%.0f http, one every %.1f ms per process), %.1f µs/probe, rss %.1f MB; machine busy %.0f%% core, %d SYN retransmits", g.CPUPct, g.Rate, g.HTTPRate, g.PeriodMs, g.costUs(), g.RSSMB, g.HostPct, g.SynRetrans)
		r, err := rawProbes(ctx, c, ps, srv)
		if err != nil {
			return fmt.Errorf("raw: %w", err)
		}
		c.Log("raw: probes %.2f%% core, %.0f probes/s (%.0f http, one every %.1f ms per process), %.1f µs/probe, rss %.1f MB; machine busy %.0f%% core, %d SYN retransmits", r.CPUPct, r.Rate, r.HTTPRate, r.PeriodMs, r.costUs(), r.RSSMB, r.HostPct, r.SynRetrans)
		sys, err := syscallProbes(ctx, c, srv)
		if err != nil {
			return fmt.Errorf("raw syscalls: %w", err)
		}
		c.Log("raw: the same attempts as blocking system calls from one thread: %.2f%% core (%.2f%% in the kernel), %.1f µs/attempt", sys.CPUPct, sys.SysPct, sys.PerAttemptUs)
		// Rows in this order; the medians of each run's figures.
		both := func(metric string, v func(probeSample) float64) {
			rep.add(metric, n, "raw", v(r))
			rep.add(metric, n, "ganger", v(g))
		}
		both("probe_cpu", func(s probeSample) float64 { return s.CPUPct })
		rep.add("probe_sys_cpu", n, "raw", sys.CPUPct)
		both("probe_rate", func(s probeSample) float64 { return s.Rate })
		both("probe_period", func(s probeSample) float64 { return s.PeriodMs })
		both("probe_cost", probeSample.costUs)
		both("probe_rss", func(s probeSample) float64 { return s.RSSMB })
	}
	return nil
}

// settle is how long probing runs before a window starts. The daemon is
// not steady for the first seconds after a thousand processes became ready
// (counted each second at the server, its probes ran 5–30% below their
// rate for 3–4 s after the last one, then at it).
func settle(window time.Duration) time.Duration { return min(5*time.Second, window/2) }

// gangerProbes loads the probe job on a fresh daemon, waits until every
// process is ready, and measures the daemon over the window; with
// c.PprofDir it also writes a CPU profile of the window there.
func gangerProbes(ctx context.Context, c Config, work string, ps *procs, marker string, srv *probeServer, run int) (probeSample, error) {
	var s probeSample
	var extra []string
	var pprofAddr string
	if c.PprofDir != "" {
		port, err := freePort()
		if err != nil {
			return s, err
		}
		pprofAddr = fmt.Sprintf("127.0.0.1:%d", port)
		extra = []string{"--pprof", pprofAddr}
	}
	d, err := startGanger(ctx, c.Ganger, work, ps, extra...)
	if err != nil {
		return s, err
	}
	defer d.close()
	n := c.ProbeN
	if err := d.call(ctx, "POST", "/jobs/bench", probeJob("probes", marker, n, srv), http.StatusCreated, nil); err != nil {
		return s, err
	}
	var job struct {
		Ready    int    `json:"ready"`
		Restarts int    `json:"restarts"`
		State    string `json:"state"`
	}
	get := func() error { return d.call(ctx, "GET", "/jobs/bench/probes", nil, http.StatusOK, &job) }
	if err := waitForErr(ctx, c.Step, fmt.Sprintf("%d ready processes", n), 100*time.Millisecond, func() (bool, error) {
		err := get()
		return err == nil && job.Ready == n, err
	}); err != nil {
		return s, fmt.Errorf("%w (last: %d ready, state %q)", err, job.Ready, job.State)
	}
	select {
	case <-ctx.Done():
		return s, ctx.Err()
	case <-time.After(settle(c.ProbeWindow)):
	}
	pids := procfs.Helpers([]int{d.cmd.Process.Pid}, func(pid int) bool { return procfs.IsMarked(procfs.Argv(pid), procfs.Exactly(marker)) })
	var prof chan error
	if pprofAddr != "" {
		prof = make(chan error, 1)
		path := filepath.Join(c.PprofDir, fmt.Sprintf("probes-cpu-%d.pprof", run+1))
		go func() { prof <- fetchProfile(ctx, pprofAddr, c.ProbeWindow, path) }()
	}
	if s, err = measureProbing(ctx, pids, srv, c.ProbeWindow); err != nil {
		return s, err
	}
	if prof != nil {
		if err := <-prof; err != nil {
			return s, fmt.Errorf("cpu profile: %w", err)
		}
	}
	if err := get(); err != nil {
		return s, err
	}
	if job.Ready < n-n/100 || job.Restarts > n/100 {
		return s, fmt.Errorf("after the window: %d of %d ready, %d restarts (probes failed)", job.Ready, n, job.Restarts)
	} else if job.Ready != n || job.Restarts != 0 {
		c.Log("ganger: after the window %d of %d ready, %d restarts", job.Ready, n, job.Restarts)
	}
	return s, checkRate("ganger", s, n, c.ProbeWindow)
}

// fetchProfile writes a CPU profile of the daemon over window to path.
func fetchProfile(ctx context.Context, addr string, window time.Duration, path string) error {
	secs := max(1, int(window.Round(time.Second)/time.Second))
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rawProbes runs bench/rawloop -probes against srv and measures it the same
// way.
func rawProbes(ctx context.Context, c Config, ps *procs, srv *probeServer) (probeSample, error) {
	var s probeSample
	srv.forget()
	var out, errb bytes.Buffer
	cmd := exec.Command(c.RawLoop, "-probes", strconv.Itoa(c.ProbeN), "-probe-http", srv.httpURL(),
		"-probe-tcp", srv.addr, "-probe-port", strconv.Itoa(probePortBase))
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := ps.start(cmd, nil); err != nil {
		return s, err
	}
	stopped := false
	defer func() {
		if !stopped {
			stopCmd(cmd, syscall.SIGKILL, time.Second)
		}
	}()
	// Its goroutines start spread over the first second; then it settles
	// as long as the daemon did.
	select {
	case <-ctx.Done():
		return s, ctx.Err()
	case <-time.After(time.Second + settle(c.ProbeWindow)):
	}
	s, err := measureProbing(ctx, []int{cmd.Process.Pid}, srv, c.ProbeWindow)
	if err != nil {
		return s, err
	}
	stopCmd(cmd, syscall.SIGTERM, 5*time.Second)
	stopped = true
	var res struct {
		HTTP, TCP, Failed int64
		FirstError        string `json:"first_error"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return s, fmt.Errorf("rawloop -probes output %q (%s): %w", out.Bytes(), bytes.TrimSpace(errb.Bytes()), err)
	}
	// A busy host may time an attempt out now and then, as it may
	// ganger's (whose thresholds absorb it); more means the figure is off.
	if all := res.HTTP + res.TCP + res.Failed; res.Failed > all/100 {
		return s, fmt.Errorf("rawloop -probes: %d of %d attempts failed, first: %s", res.Failed, all, res.FirstError)
	} else if res.Failed > 0 {
		c.Log("raw: %d of %d probe attempts failed, first: %s", res.Failed, all, res.FirstError)
	}
	return s, checkRate("the floor", s, c.ProbeN, c.ProbeWindow)
}

// syscallSample is bench/rawloop -probe-syscalls's answer.
type syscallSample struct {
	CPUPct       float64 `json:"cpu_pct"`
	SysPct       float64 `json:"sys_pct"`
	PerAttemptUs float64 `json:"cpu_us_per_attempt"`
}

// syscallProbes runs bench/rawloop -probe-syscalls against srv for the
// window: the attempts' system calls alone, with no Go runtime around them
// (one locked thread, blocking calls), the part of the cost no prober can
// avoid while every attempt is a new connection.
func syscallProbes(ctx context.Context, c Config, srv *probeServer) (syscallSample, error) {
	var s syscallSample
	ctx, cancel := context.WithTimeout(ctx, c.Step)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, c.RawLoop, "-probe-syscalls", strconv.Itoa(c.ProbeN), "-probe-http", srv.httpURL(),
		"-probe-tcp", srv.addr, "-probe-port", strconv.Itoa(probePortBase), "-probe-duration", c.ProbeWindow.String())
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return s, fmt.Errorf("rawloop -probe-syscalls: %v: %s", err, bytes.TrimSpace(errb.Bytes()))
	}
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		return s, fmt.Errorf("rawloop -probe-syscalls output %q: %w", out.Bytes(), err)
	}
	return s, nil
}

// waitForErr polls cond every interval until it holds, returns an error, or
// timeout passes (the last error is then part of the answer).
func waitForErr(ctx context.Context, timeout time.Duration, what string, interval time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("waiting for %s: %w", what, ctx.Err()), last)
		case <-time.After(interval):
		}
	}
}
