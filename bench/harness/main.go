// Command harness measures ganger side by side with the physical limit (the
// raw fork/exec loop in bench/rawloop) and with the process managers a user
// would pick instead (Supervisor, foreman, pm2), plus what its health probes
// cost (probes.go), and writes a table of medians as JSON and Markdown. bench/run builds it and runs it; see
// BENCHMARKS.md for what each figure means.
//
// Every wait is bounded by a timeout, everything listens on loopback, and
// every process the harness starts leads its own process group, which is
// killed at the end, even after a failure or a Ctrl-C. Managed children are
// `sleep 1000.<marker>` processes; a final sweep kills any left over.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config is one harness run.
type Config struct {
	Ganger  string        // path of the ganger binary
	RawLoop string        // path of the rawloop binary
	OutDir  string        // where results.json and results.md go
	Ns      []int         // process counts
	Runs    int           // runs per figure; the median is reported
	Idle    time.Duration // idle window for the CPU figure
	Peers   []string      // peers to try: supervisor, foreman, pm2
	Install bool          // install missing peers with apt-get / npm
	PeerDir string        // npm prefix for pm2

	EventKills  int           // SIGKILLs sent in the event-latency test
	EventRate   int           // kills per second
	APIDuration time.Duration // length of each request-rate measurement
	APIWorkers  int           // concurrent clients
	OutputBytes int64         // bytes written in the output test
	ProbeN      int           // processes in the probe figure (0: skip it)
	ProbeWindow time.Duration // CPU window of the probe figure
	PprofDir    string        // if set, CPU profiles of the daemon's probe windows go here
	ProbesOnly  bool          // measure the probe figure alone
	Step        time.Duration // bound on any single wait
	Log         func(format string, args ...any)
}

func main() {
	var c Config
	var ns, peers string
	smoke := flag.Bool("smoke", false, "quick run: N=10, 1 run, short windows, the probe figure still at 1000 (flags given explicitly still win)")
	flag.StringVar(&c.Ganger, "ganger", "", "ganger binary (required)")
	flag.StringVar(&c.RawLoop, "rawloop", "", "rawloop binary (required)")
	flag.StringVar(&c.OutDir, "out", "bench/results", "results directory")
	flag.StringVar(&ns, "n", "10,100,500,1000", "process counts, comma-separated")
	flag.IntVar(&c.Runs, "runs", 3, "runs per figure (median reported)")
	flag.DurationVar(&c.Idle, "idle", 10*time.Second, "idle window for CPU use")
	flag.StringVar(&peers, "peers", "supervisor,foreman,pm2", "peers to compare with, comma-separated, or none")
	flag.BoolVar(&c.Install, "install", true, "install missing peers (apt-get, npm)")
	flag.StringVar(&c.PeerDir, "peer-dir", "bench/.peers", "npm prefix for pm2")
	flag.IntVar(&c.EventKills, "event-kills", 2000, "processes killed in the event-latency test")
	flag.IntVar(&c.EventRate, "event-rate", 1000, "kills per second in the event-latency test")
	flag.DurationVar(&c.APIDuration, "api-duration", 5*time.Second, "length of each request-rate measurement")
	flag.IntVar(&c.APIWorkers, "api-workers", 4, "concurrent API clients")
	flag.Int64Var(&c.OutputBytes, "output-bytes", 200<<20, "bytes written in the output test")
	flag.IntVar(&c.ProbeN, "probe-n", 1000, "processes in the probe figure, each with an http readiness and a tcp liveness probe every second (0: skip)")
	flag.DurationVar(&c.ProbeWindow, "probe-window", 10*time.Second, "CPU window of the probe figure")
	flag.BoolVar(&c.ProbesOnly, "probes-only", false, "measure the probe figure alone (no spawn/stop cycles, no other ganger figures, no peers)")
	flag.StringVar(&c.PprofDir, "pprof-dir", "", "write a CPU profile of the daemon over each probe window here (the daemon runs with --pprof)")
	flag.DurationVar(&c.Step, "step-timeout", 3*time.Minute, "bound on any single wait")
	flag.Parse()
	if *smoke {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		def := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		def("n", func() { ns = "10" })
		def("runs", func() { c.Runs = 1 })
		def("idle", func() { c.Idle = 2 * time.Second })
		def("event-kills", func() { c.EventKills = 300 })
		def("api-duration", func() { c.APIDuration = time.Second })
		def("output-bytes", func() { c.OutputBytes = 50 << 20 })
		def("probe-window", func() { c.ProbeWindow = 2 * time.Second })
		def("step-timeout", func() { c.Step = time.Minute })
	}
	var err error
	if c.Ns, err = parseInts(ns); err != nil {
		fatal(err)
	}
	if peers != "none" && peers != "" {
		c.Peers = strings.Split(peers, ",")
	}
	if c.Ganger == "" || c.RawLoop == "" {
		fatal(fmt.Errorf("-ganger and -rawloop are required"))
	}
	c.Log = func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := Run(ctx, c)
	if rep != nil {
		fmt.Println(rep.Markdown())
	}
	if err != nil {
		fatal(err)
	}
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad process count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "harness:", err)
	os.Exit(1)
}
