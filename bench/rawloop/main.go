// Command rawloop is the physical limit the harness compares managers
// against: it fork/execs N `sleep <marker>` children with nothing in
// between, waits until /proc shows all of them running, optionally idles,
// then sends each SIGTERM (what a manager's graceful stop sends), reaps them
// and waits until /proc shows none. It prints one JSON object. With
// -exit-latency it measures the floor of the exit-event latency instead,
// with -serve it is the floor of the request rate, with -probes the floor
// of the probe figure.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/ganger/ganger/bench/internal/procfs"
)

type result struct {
	N         int     `json:"n"`
	SpawnMs   float64 `json:"spawn_ms"`
	StopMs    float64 `json:"stop_ms"`
	RSSKiB    int64   `json:"rss_kib"`
	IdleCPUPc float64 `json:"idle_cpu_pct"`
}

func main() {
	n := flag.Int("n", 10, "number of children")
	marker := flag.String("marker", "1000", "the argument given to sleep (must parse as seconds)")
	idle := flag.Duration("idle", 0, "idle window measured between spawn and stop (0: none)")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this")
	exits := flag.Int("exit-latency", 0, "instead: start this many children, SIGKILL them at -rate per second and report kill-to-reap latency")
	rate := flag.Int("rate", 1000, "kills per second with -exit-latency")
	addr := flag.String("serve", "", "instead: answer HTTP requests on this host:port with -body-size bytes of JSON until killed")
	bodySize := flag.Int("body-size", 1000, "answer size with -serve")
	probes := flag.Int("probes", 0, "instead: make this many http and tcp probes every -probe-interval until SIGTERM, then print counts")
	probeHTTP := flag.String("probe-http", "", "with -probes: the URL to GET ($PORT is replaced by -probe-port+i for the i-th; empty: no http probes)")
	probeTCP := flag.String("probe-tcp", "", "with -probes: the host:port to connect to (empty: no tcp probes)")
	probePort := flag.Int("probe-port", 0, "with -probes: the first $PORT")
	probeInterval := flag.Duration("probe-interval", time.Second, "with -probes: the time from one attempt's end to the next")
	probeTimeout := flag.Duration("probe-timeout", time.Second, "with -probes: the bound on one attempt")
	probeSpread := flag.Duration("probe-spread", time.Second, "with -probes: the first attempts are spread evenly over this (0: all at once)")
	syscalls := flag.Int("probe-syscalls", 0, "instead: make this many http and tcp attempts per second (-probe-http, -probe-tcp; $PORT becomes -probe-port) from one thread with blocking system calls for -probe-duration, then print its CPU use")
	probeDuration := flag.Duration("probe-duration", 10*time.Second, "with -probe-syscalls: how long")
	flag.Parse()
	var err error
	if *syscalls > 0 {
		err = syscallFloor(*syscalls, *probeHTTP, *probeTCP, *probePort, *probeDuration)
	} else if *probes > 0 {
		err = probeFloor(*probes, *probeHTTP, *probeTCP, *probePort, *probeInterval, *probeTimeout, *probeSpread)
	} else if *addr != "" {
		err = serve(*addr, *bodySize)
	} else if *exits > 0 {
		err = exitLatency(*exits, *rate, *marker)
	} else {
		err = run(*n, *marker, *idle, *timeout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawloop:", err)
		os.Exit(1)
	}
}

func run(n int, marker string, idle, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return err
	}
	cmds := make([]*exec.Cmd, 0, n)
	defer func() { // on any failure, leave nothing behind
		for _, c := range cmds {
			if c.ProcessState == nil {
				_ = c.Process.Kill()
				_ = c.Wait()
			}
		}
	}()
	var r result
	r.N = n
	start := time.Now()
	for range n {
		c := exec.Command(sleep, marker)
		if err := c.Start(); err != nil {
			return err
		}
		cmds = append(cmds, c)
	}
	d, err := procfs.WaitRunning(ctx, start, marker, n)
	if err != nil {
		return err
	}
	r.SpawnMs = ms(d)
	self := os.Getpid()
	r.RSSKiB = procfs.RSSKiB(self)
	if idle > 0 {
		t0 := procfs.SumTicks([]int{self})
		time.Sleep(idle)
		r.IdleCPUPc = float64(procfs.SumTicks([]int{self})-t0) / procfs.ClockTicks / idle.Seconds() * 100
	}
	start = time.Now()
	for _, c := range cmds {
		_ = c.Process.Signal(syscall.SIGTERM)
	}
	for _, c := range cmds {
		_ = c.Wait()
	}
	d, err = procfs.WaitGone(ctx, start, marker)
	if err != nil {
		return err
	}
	r.StopMs = ms(d)
	return json.NewEncoder(os.Stdout).Encode(r)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
