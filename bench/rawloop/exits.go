package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"
	"time"
)

// exitResult is the floor of the exit-event latency figure.
type exitResult struct {
	Kills int     `json:"kills"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
}

// exitLatency starts kills `sleep <marker>` children, their stdout and
// stderr pipes drained as a manager would, then SIGKILLs one every 1/rate s
// and times each kill to the moment a SIGCHLD-driven wait4 reaps it: the
// least any manager can take to notice an exit.
func exitLatency(kills, rate int, marker string) error {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	pids := make([]int, 0, kills)
	defer func() { // on any failure, leave nothing behind
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			_, _ = syscall.Wait4(pid, nil, 0, nil)
		}
	}()
	for range kills {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		pid, err := syscall.ForkExec(sleep, []string{"sleep", marker}, &syscall.ProcAttr{
			Env: os.Environ(), Files: []uintptr{0, w.Fd(), w.Fd()}, Sys: &syscall.SysProcAttr{Setpgid: true},
		})
		w.Close()
		if err != nil {
			r.Close()
			return err
		}
		pids = append(pids, pid)
		go func() { _, _ = io.Copy(io.Discard, r); r.Close() }()
	}
	lats := make([]time.Duration, 0, kills)
	start := time.Now()
	for i := len(pids) - 1; i >= 0; i-- {
		time.Sleep(time.Until(start.Add(time.Duration(len(lats)) * time.Second / time.Duration(rate))))
		pid := pids[i]
		t := time.Now()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return err
		}
		if err := reap(pid, sigs); err != nil {
			return err
		}
		lats = append(lats, time.Since(t))
		pids = pids[:i]
	}
	if len(lats) == 0 {
		return errors.New("no process killed")
	}
	slices.Sort(lats)
	return json.NewEncoder(os.Stdout).Encode(exitResult{
		Kills: len(lats),
		P50Ms: ms(lats[len(lats)/2]),
		P99Ms: ms(lats[min(len(lats)-1, len(lats)*99/100)]),
	})
}

// reap waits for SIGCHLDs until pid can be reaped, then reaps it.
func reap(pid int, sigs <-chan os.Signal) error {
	timeout := time.After(10 * time.Second)
	for {
		got, err := syscall.Wait4(pid, nil, syscall.WNOHANG, nil)
		if err != nil || got == pid {
			return err
		}
		select {
		case <-sigs:
		case <-timeout:
			return errors.New("killed child not reaped after 10s")
		}
	}
}
