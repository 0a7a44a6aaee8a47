package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Run measures everything c asks for and writes results.json and
// results.md under c.OutDir. A peer that cannot be installed or fails is
// reported (Report.Skipped, Report.Errors), never fatal; only a failure of
// the harness itself or of ganger's daemon start is returned.
func Run(ctx context.Context, c Config) (*Report, error) {
	if c.Log == nil {
		c.Log = func(string, ...any) {}
	}
	if c.Runs < 1 {
		c.Runs = 1
	}
	if c.ProbesOnly {
		c.Peers, c.Ns = nil, nil
	}
	var err error
	if c.Ganger, err = filepath.Abs(c.Ganger); err != nil {
		return nil, err
	}
	if c.RawLoop, err = filepath.Abs(c.RawLoop); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp("", "ganger-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	m := newMarkers()
	ps := &procs{log: c.Log}
	defer func() {
		ps.killAll()
		if n := sweep(m); n > 0 {
			c.Log("killed %d leftover sleep processes", n)
		}
	}()

	rep := newReport(c)
	targets := []target{
		&rawTarget{bin: c.RawLoop, step: c.Step},
		&gangerTarget{targetEnv: targetEnv{dir: work, ps: ps, m: m, step: c.Step}, bin: c.Ganger},
	}
	for _, p := range c.Peers {
		t, err := peer(ctx, c, p, work, ps, m)
		if err != nil {
			c.Log("peer %s skipped: %v", p, err)
			rep.Skipped[p] = err.Error()
			continue
		}
		targets = append(targets, t)
	}
	for _, t := range targets {
		rep.Targets = append(rep.Targets, t.Name())
	}

	for _, n := range c.Ns {
		for run := range c.Runs {
			idle := time.Duration(0)
			if run == 0 {
				idle = c.Idle // the idle window is measured in the first run only
			}
			for _, t := range targets {
				if ctx.Err() != nil {
					return rep, finish(rep, c, ctx.Err())
				}
				if rep.failed(t.Name(), n) {
					continue // a peer that failed at n once is not retried
				}
				c.Log("%s: N=%d run %d/%d", t.Name(), n, run+1, c.Runs)
				s, err := t.cycle(ctx, n, m.next(), idle)
				if err != nil {
					c.Log("%s N=%d: %v", t.Name(), n, err)
					rep.fail(t.Name(), n, err)
					sweep(m)
					continue
				}
				c.Log("%s N=%d: spawn %.1f ms, stop %.1f ms, rss %.1f MB, cpu %.3f%%", t.Name(), n, s.SpawnMs, s.StopMs, float64(s.RSSKiB)*1024/1e6, s.CPUPct)
				rep.add("spawn", n, t.Name(), s.SpawnMs)
				rep.add("stop", n, t.Name(), s.StopMs)
				rep.add("rss", n, t.Name(), float64(s.RSSKiB)*1024/1e6)
				if s.HasCPU {
					rep.add("idle_cpu", n, t.Name(), s.CPUPct)
				}
			}
		}
	}

	if !c.ProbesOnly {
		if err := gangerExtras(ctx, c, rep, work, ps, m); err != nil {
			c.Log("ganger extras: %v", err)
			rep.Errors = append(rep.Errors, "ganger: "+err.Error())
		}
	}
	if c.ProbeN > 0 {
		if err := probeFigures(ctx, c, rep, work, ps, m); err != nil {
			c.Log("probes: %v", err)
			rep.Errors = append(rep.Errors, "probes: "+err.Error())
			sweep(m)
		}
	}
	if slices.Contains(rep.Targets, "supervisor") {
		for run := range c.Runs {
			c.Log("supervisor: XML-RPC getProcessInfo run %d/%d", run+1, c.Runs)
			rps, err := supervisorRequests(ctx, work, ps, m.next(), c.APIWorkers, c.APIDuration, c.Step)
			if err != nil {
				rep.Errors = append(rep.Errors, "supervisor requests: "+err.Error())
				break
			}
			rep.add("api_rps", 0, "supervisor", rps)
		}
	}
	return rep, finish(rep, c, ctx.Err())
}

// finish computes the medians and goals and writes what was measured, also
// after an interruption (cause), so a long run cut short still leaves a
// partial table.
func finish(rep *Report, c Config, cause error) error {
	rep.finish()
	if cause != nil {
		rep.Errors = append(rep.Errors, "run interrupted: "+cause.Error())
	}
	return errors.Join(cause, rep.write(c.OutDir))
}

func peer(ctx context.Context, c Config, name, work string, ps *procs, m *markers) (target, error) {
	env := targetEnv{dir: work, ps: ps, m: m, step: c.Step}
	switch name {
	case "supervisor":
		if err := aptEnsure(ctx, c.Install, "supervisord", "supervisor", c.Log); err != nil {
			return nil, err
		}
		return &supervisorTarget{env}, nil
	case "foreman":
		if err := aptEnsure(ctx, c.Install, "foreman", "ruby-foreman", c.Log); err != nil {
			return nil, err
		}
		return &foremanTarget{env}, nil
	case "pm2":
		prefix, err := filepath.Abs(c.PeerDir)
		if err != nil {
			return nil, err
		}
		bin, err := pm2Ensure(ctx, c.Install, prefix, c.Log)
		if err != nil {
			return nil, err
		}
		return &pm2Target{env, bin}, nil
	}
	return nil, fmt.Errorf("unknown peer %q", name)
}

// gangerExtras runs the ganger-only figures: exit-event latency, request
// rate, output throughput; each on a fresh daemon, c.Runs times.
func gangerExtras(ctx context.Context, c Config, rep *Report, work string, ps *procs, m *markers) error {
	var errs []error
	for run := range c.Runs {
		d, err := startGanger(ctx, c.Ganger, work, ps)
		if err != nil {
			return err
		}
		c.Log("ganger: exit-event latency run %d/%d (%d kills at %d/s)", run+1, c.Runs, c.EventKills, c.EventRate)
		if ev, err := eventLatency(ctx, d, m.next(), c.EventKills, c.EventRate, c.Step); err != nil {
			errs = append(errs, fmt.Errorf("event latency: %w", err))
		} else {
			c.Log("ganger: exit event p50 %.2f ms, p99 %.2f ms, max %.2f ms, %d/%d events, %.0f kills/s", ev.P50Ms, ev.P99Ms, ev.MaxMs, ev.Received, ev.Kills, ev.Rate)
			rep.add("exit_event_p50", 0, "ganger", ev.P50Ms)
			rep.add("exit_event_p99", 0, "ganger", ev.P99Ms)
			rep.add("exit_event_rate", 0, "ganger", ev.Rate)
		}
		if p50, p99, err := rawExitLatency(ctx, c, m.next()); err != nil {
			errs = append(errs, err)
		} else {
			c.Log("raw: kill to reap p50 %.2f ms, p99 %.2f ms", p50, p99)
			rep.add("exit_event_p50", 0, "raw", p50)
			rep.add("exit_event_p99", 0, "raw", p99)
		}
		c.Log("ganger: GET /jobs/{s}/{j} rate run %d/%d", run+1, c.Runs)
		if rps, size, err := gangerRequests(ctx, d, m.next(), c.APIWorkers, c.APIDuration, c.Step); err != nil {
			errs = append(errs, fmt.Errorf("requests: %w", err))
		} else {
			rep.add("api_rps", 0, "ganger", rps)
			if rps, err := rawRequests(ctx, c, ps, size); err != nil {
				errs = append(errs, fmt.Errorf("raw requests: %w", err))
			} else {
				rep.add("api_rps", 0, "raw", rps)
			}
		}
		c.Log("ganger: output test run %d/%d (%d bytes)", run+1, c.Runs, c.OutputBytes)
		if o, err := outputTest(ctx, d, work, c.OutputBytes, c.Step); err != nil {
			errs = append(errs, fmt.Errorf("output: %w", err))
		} else {
			c.Log("ganger: output no reader %.1f ms, follower %.1f ms (received all %.1f ms), cat %.1f ms", o.NoReaderMs, o.FollowerMs, o.FollowerRecvMs, o.CatMs)
			rep.add("output_no_reader", 0, "ganger", o.NoReaderMs)
			rep.add("output_follower", 0, "ganger", o.FollowerMs)
			rep.add("output_follower_recv", 0, "ganger", o.FollowerRecvMs)
			for _, k := range []string{"output_no_reader", "output_follower", "output_follower_recv"} {
				rep.add(k, 0, "raw", o.CatMs)
			}
		}
		d.close()
		if len(errs) > 0 {
			break
		}
	}
	return errors.Join(errs...)
}
