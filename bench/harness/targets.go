package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"

	"github.com/ganger/ganger/bench/internal/procfs"
)

// sample is one spawn/stop cycle of N processes.
type sample struct {
	SpawnMs float64
	StopMs  float64
	RSSKiB  int64
	CPUPct  float64 // over the idle window; only when it was measured
	HasCPU  bool
}

// target is one way of running N `sleep` processes.
type target interface {
	Name() string
	// cycle starts n `sleep marker` processes, measures, stops them, and
	// leaves nothing running.
	cycle(ctx context.Context, n int, marker string, idle time.Duration) (sample, error)
	close()
}

// targetEnv is what every managed target shares: the work directory, the
// process-group tracker, the run markers and the bound on any wait.
type targetEnv struct {
	dir  string
	ps   *procs
	m    *markers
	step time.Duration
}

// rawTarget runs bench/rawloop, which measures itself.
type rawTarget struct {
	bin  string
	step time.Duration
}

func (r *rawTarget) Name() string { return "raw" }
func (r *rawTarget) close()       {}

func (r *rawTarget) cycle(ctx context.Context, n int, marker string, idle time.Duration) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, r.step+idle)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, r.bin, "-n", fmt.Sprint(n), "-marker", marker,
		"-idle", idle.String(), "-timeout", r.step.String())
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("rawloop: %v: %s", err, errb.Bytes())
	}
	var res struct {
		SpawnMs   float64 `json:"spawn_ms"`
		StopMs    float64 `json:"stop_ms"`
		RSSKiB    int64   `json:"rss_kib"`
		IdleCPUPc float64 `json:"idle_cpu_pct"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return sample{}, fmt.Errorf("rawloop output %q: %w", out.Bytes(), err)
	}
	return sample{SpawnMs: res.SpawnMs, StopMs: res.StopMs, RSSKiB: res.RSSKiB, CPUPct: res.IdleCPUPc, HasCPU: idle > 0}, nil
}

// timeSpawn runs start (the request), then waits until n processes run.
func timeSpawn(ctx context.Context, step time.Duration, n int, marker string, start func() error) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, step)
	defer cancel()
	t0 := time.Now()
	if err := start(); err != nil {
		return 0, err
	}
	d, err := procfs.WaitRunning(ctx, t0, marker, n)
	return ms(d), err
}

// timeStop runs stop (the request), then waits until none runs.
func timeStop(ctx context.Context, step time.Duration, marker string, stop func() error) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, step)
	defer cancel()
	t0 := time.Now()
	if err := stop(); err != nil {
		return 0, err
	}
	d, err := procfs.WaitGone(ctx, t0, marker)
	return ms(d), err
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// rawExitLatency runs bench/rawloop -exit-latency: the floor of the
// exit-event figure, kill to reap with nothing in between.
func rawExitLatency(ctx context.Context, c Config, marker string) (p50, p99 float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.Step)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, c.RawLoop, "-exit-latency", fmt.Sprint(c.EventKills),
		"-rate", fmt.Sprint(c.EventRate), "-marker", marker)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("rawloop -exit-latency: %v: %s", err, errb.Bytes())
	}
	var res struct {
		P50Ms float64 `json:"p50_ms"`
		P99Ms float64 `json:"p99_ms"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return 0, 0, fmt.Errorf("rawloop output %q: %w", out.Bytes(), err)
	}
	return res.P50Ms, res.P99Ms, nil
}
