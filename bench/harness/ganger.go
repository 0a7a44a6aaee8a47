package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// gangerDaemon is one `ganger daemon` on a loopback port.
type gangerDaemon struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:PORT
	hc   *http.Client
}

// startGanger starts `ganger daemon` on a free loopback port, with extra
// arguments after the harness's own, and waits until it answers.
func startGanger(ctx context.Context, bin, dir string, ps *procs, extra ...string) (*gangerDaemon, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("ganger-%d.log", port)))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, append([]string{"daemon", "--bind", addr, "--log-level", "warn"}, extra...)...)
	cmd.Dir = dir
	if err := ps.start(cmd, logf); err != nil {
		return nil, err
	}
	d := &gangerDaemon{cmd: cmd, base: "http://" + addr, hc: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	}}
	err = waitFor(ctx, 15*time.Second, "ganger to answer /ping", func() bool {
		resp, err := d.hc.Get(d.base + "/ping")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// call sends a JSON request and decodes a JSON answer into out (if not
// nil); any status but want is an error carrying the body.
func (d *gangerDaemon) call(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (d *gangerDaemon) close() {
	// SIGTERM: the daemon stops its processes gracefully and exits.
	stopCmd(d.cmd, 15, 15*time.Second)
}

// gangerTarget loads a job of n `sleep marker` with one POST and stops it
// with POST …/state {"action":"stop"}; a fresh daemon per cycle, so its
// memory reflects n alone.
type gangerTarget struct {
	targetEnv
	bin string
}

func (g *gangerTarget) Name() string { return "ganger" }
func (g *gangerTarget) close()       {}

func sleepJob(name, marker string, n int) map[string]any {
	return map[string]any{
		"name": name, "cmd": "sleep", "args": []string{marker},
		"numprocesses": n, "graceful_timeout": 10,
	}
}

func (g *gangerTarget) cycle(ctx context.Context, n int, marker string, idle time.Duration) (sample, error) {
	d, err := startGanger(ctx, g.bin, g.dir, g.ps)
	if err != nil {
		return sample{}, err
	}
	defer d.close()
	var s sample
	s.SpawnMs, err = timeSpawn(ctx, g.step, n, marker, func() error {
		return d.call(ctx, "POST", "/jobs/bench", sleepJob("sl", marker, n), http.StatusCreated, nil)
	})
	if err != nil {
		return s, err
	}
	// Idle means steady: each process becomes ready (running) min_uptime
	// (1 s) after its spawn, which is work of the daemon's, so the
	// footprint is measured after that; the job is asked whether every
	// slot is ready only afterwards, since an answer describing 1000 slots
	// that changed is 150 KB to encode, memory the figure would count.
	select {
	case <-ctx.Done():
		return s, ctx.Err()
	case <-time.After(1500 * time.Millisecond):
	}
	if s.RSSKiB, s.CPUPct, err = footprint(ctx, []int{d.cmd.Process.Pid}, g.m, idle); err != nil {
		return s, err
	}
	var job struct {
		Ready *int `json:"ready"` // nil: a ganger older than slots
	}
	if err := d.call(ctx, "GET", "/jobs/bench/sl", nil, http.StatusOK, &job); err != nil {
		return s, err
	}
	if job.Ready != nil && *job.Ready != n {
		return s, fmt.Errorf("%d of %d slots ready when the footprint was measured", *job.Ready, n)
	}
	s.HasCPU = idle > 0
	s.StopMs, err = timeStop(ctx, g.step, marker, func() error {
		return d.call(ctx, "POST", "/jobs/bench/sl/state", map[string]string{"action": "stop"}, http.StatusAccepted, nil)
	})
	return s, err
}
