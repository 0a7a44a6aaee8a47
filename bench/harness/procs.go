package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ganger/ganger/bench/internal/procfs"
)

// markers hands out unique `sleep` arguments: "1000.<run><seq>", which sleep
// reads as about 1000 seconds. The run prefix lets the final sweep find every
// child this harness caused, whoever its parent is now.
type markers struct {
	mu     sync.Mutex
	prefix string
	seq    int
}

func newMarkers() *markers {
	return &markers{prefix: fmt.Sprintf("1000.%06d", rand.IntN(1000000))}
}

func (m *markers) next() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	return fmt.Sprintf("%s%04d", m.prefix, m.seq)
}

func (m *markers) ours(arg string) bool { return strings.HasPrefix(arg, m.prefix) }

// procs tracks the process groups the harness started.
type procs struct {
	mu    sync.Mutex
	pgids []int
	log   func(string, ...any)
}

// start runs cmd in its own process group, output to logw.
func (p *procs) start(cmd *exec.Cmd, logw io.Writer) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if logw != nil {
		cmd.Stdout, cmd.Stderr = logw, logw
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	p.track(cmd.Process.Pid)
	return nil
}

func (p *procs) track(pgid int) {
	p.mu.Lock()
	p.pgids = append(p.pgids, pgid)
	p.mu.Unlock()
}

// killAll SIGKILLs every group started.
func (p *procs) killAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range p.pgids {
		_ = syscall.Kill(-g, syscall.SIGKILL)
	}
	p.pgids = nil
}

// stopCmd sends sig to cmd's group, waits up to grace for it to exit, then
// kills the group.
func stopCmd(cmd *exec.Cmd, sig syscall.Signal, grace time.Duration) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	_ = syscall.Kill(cmd.Process.Pid, sig)
	select {
	case <-done:
	case <-time.After(grace):
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// sweep kills every live `sleep` carrying one of our markers.
func sweep(m *markers) int {
	left, _ := procfs.Marked(m.ours)
	for _, p := range left {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	return len(left)
}

// footprint measures a manager's own processes (roots and their
// descendants, minus the marked children): RSS now, then CPU use over idle
// (skipped when idle is 0). cpu is in percent of one core.
func footprint(ctx context.Context, roots []int, m *markers, idle time.Duration) (rssKiB int64, cpu float64, err error) {
	skip := func(pid int) bool { return procfs.IsMarked(procfs.Argv(pid), m.ours) }
	helpers := procfs.Helpers(roots, skip)
	if len(helpers) == 0 {
		return 0, 0, errors.New("manager process not found")
	}
	rssKiB = procfs.SumRSSKiB(helpers)
	if idle <= 0 {
		return rssKiB, 0, nil
	}
	t0 := procfs.SumTicks(helpers)
	w0 := time.Now()
	select {
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	case <-time.After(idle):
	}
	cpu = float64(procfs.SumTicks(helpers)-t0) / procfs.ClockTicks / time.Since(w0).Seconds() * 100
	return rssKiB, cpu, nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls cond every 10 ms until it holds or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	return waitForEvery(ctx, timeout, 10*time.Millisecond, what, cond)
}

// waitForEvery polls cond every interval until it holds or timeout passes.
func waitForEvery(ctx context.Context, timeout, interval time.Duration, what string, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(interval):
		}
	}
	return nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
