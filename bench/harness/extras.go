package main

import (
	"bufio"
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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// eventResult is the exit-event latency test's outcome.
type eventResult struct {
	P50Ms, P99Ms, MaxMs float64
	Rate                float64 // kills actually sent per second
	Kills, Received     int
}

// eventLatency starts kills one-off `sleep` runs (commits), then SIGKILLs
// one known os_pid every 1/rate s and times each kill to the `exit` event
// for that os_pid on a /channel WebSocket subscribed to the job's events.
// The os_pids come from the same subscription's `spawn` events.
func eventLatency(ctx context.Context, d *gangerDaemon, marker string, kills, rate int, step time.Duration) (eventResult, error) {
	var res eventResult
	ctx, cancel := context.WithTimeout(ctx, step)
	defer cancel()
	c, _, err := websocket.Dial(ctx, strings.Replace(d.base, "http", "ws", 1)+"/channel", nil)
	if err != nil {
		return res, err
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	sub, _ := json.Marshal(map[string]any{"event": "SUB", "data": map[string]string{"topic": "EVENTS:job.bench.lat"}})
	if err := c.Write(ctx, websocket.MessageText, sub); err != nil {
		return res, err
	}

	var (
		mu      sync.Mutex
		killed  = map[int]time.Time{}
		lats    []time.Duration
		spawned = make(chan int, kills)
		got     atomic.Int64
	)
	readErr := make(chan error, 1)
	go func() {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				readErr <- err
				return
			}
			now := time.Now()
			var m struct {
				Event string `json:"event"`
				Data  struct {
					Event string `json:"event"`
					OSPid int    `json:"os_pid"`
				} `json:"data"`
			}
			if json.Unmarshal(b, &m) != nil || m.Event != "gaffer:event" {
				continue
			}
			switch m.Data.Event {
			case "spawn":
				select {
				case spawned <- m.Data.OSPid:
				default:
				}
			case "exit":
				mu.Lock()
				if t, ok := killed[m.Data.OSPid]; ok {
					lats = append(lats, now.Sub(t))
					delete(killed, m.Data.OSPid)
					got.Add(1)
				}
				mu.Unlock()
			}
		}
	}()
	// Wait for the subscription to be live before loading the job.
	time.Sleep(100 * time.Millisecond)
	// The victims are commits (one-off runs, never restarted), all started
	// before the first kill, so the manager does no respawning while it is
	// measured: the figure is the exit path alone.
	job := sleepJob("lat", marker, 0)
	job["flapping"] = false
	if err := d.call(ctx, "POST", "/jobs/bench", job, http.StatusCreated, nil); err != nil {
		return res, err
	}
	defer func() {
		_ = d.call(context.Background(), "DELETE", "/jobs/bench/lat", nil, http.StatusOK, nil)
	}()
	for range kills {
		if err := d.call(ctx, "POST", "/jobs/bench/lat/commit", map[string]any{}, http.StatusOK, nil); err != nil {
			return res, err
		}
	}
	if err := waitFor(ctx, step, "every commit's spawn event", func() bool { return len(spawned) >= kills }); err != nil {
		return res, err
	}
	if _, err := timeSpawn(ctx, step, kills, marker, func() error { return nil }); err != nil {
		return res, err
	}

	interval := time.Second / time.Duration(rate)
	start := time.Now()
	sent := 0
	for i := 0; i < kills; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		var pid int
		select {
		case pid = <-spawned:
		case err := <-readErr:
			return res, fmt.Errorf("event socket: %w", err)
		case <-ctx.Done():
			return res, fmt.Errorf("no process to kill after %d kills: %w", sent, ctx.Err())
		}
		mu.Lock()
		killed[pid] = time.Now()
		mu.Unlock()
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			sent++
		}
	}
	res.Rate = float64(sent) / time.Since(start).Seconds()
	res.Kills = sent
	_ = waitFor(ctx, 10*time.Second, "the last exit events", func() bool { return int(got.Load()) >= sent })
	mu.Lock()
	defer mu.Unlock()
	res.Received = len(lats)
	if len(lats) == 0 {
		return res, errors.New("no exit event received")
	}
	slices.Sort(lats)
	q := func(p float64) float64 { return ms(lats[min(len(lats)-1, int(p*float64(len(lats))))]) }
	res.P50Ms, res.P99Ms, res.MaxMs = q(0.50), q(0.99), ms(lats[len(lats)-1])
	return res, nil
}

// loadGen runs workers clients for dur, each on its own keep-alive
// connection with one request in flight, and returns answers per second.
// Anything but 200 is an error. The clients are lean on purpose: each
// writes mk()'s request, serialised once, and parses the answer with
// http.ReadResponse on its own connection. net/http's Transport would hand
// every request between three goroutines and take a core of the two this
// machine has for itself, so it would measure the client, not the server.
func loadGen(ctx context.Context, workers int, dur time.Duration, mk func() *http.Request) (float64, error) {
	req := mk()
	var wire bytes.Buffer
	if err := req.Write(&wire); err != nil {
		return 0, fmt.Errorf("load generator: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var n atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	t0 := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := keepAsking(ctx, req.URL.Host, wire.Bytes(), &n); err != nil && ctx.Err() == nil {
				firstErr.CompareAndSwap(nil, err)
				cancel()
			}
		}()
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok {
		return 0, e
	}
	return float64(n.Load()) / time.Since(t0).Seconds(), nil
}

// keepAsking sends wire over one connection to addr until ctx ends,
// reading each answer whole and counting the 200s in n.
func keepAsking(ctx context.Context, addr string, wire []byte, n *atomic.Int64) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	br := bufio.NewReaderSize(conn, 64<<10)
	buf := make([]byte, 32<<10)
	for ctx.Err() == nil {
		if _, err := conn.Write(wire); err != nil {
			return err
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		_, err = drain(resp.Body, buf)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		if resp.Close {
			return errors.New("the server closed the keep-alive connection")
		}
		n.Add(1)
	}
	return nil
}

// outputResult is the output test's outcome, in milliseconds.
type outputResult struct {
	NoReaderMs, FollowerMs, FollowerRecvMs, CatMs float64
}

// outputScript writes bytes zeros to stdout once the file gate exists and
// writes how long `head` took (ns, measured inside the shell) to result.
func outputScript(gate, result string, bytes int64, sink string) string {
	return fmt.Sprintf(`i=0; while [ ! -e %s ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; `+
		`s=$(date +%%s%%N); head -c %d /dev/zero%s; e=$(date +%%s%%N); echo $((e-s)) > %s`,
		gate, bytes, sink, result)
}

// outputTest times a child writing bytes to stdout under ganger (a commit
// of a job with no kept-alive processes), without a reader and with one
// /{pid}/channel?mode=1 follower, and `head | cat > /dev/null` as the floor.
func outputTest(ctx context.Context, d *gangerDaemon, dir string, bytes int64, step time.Duration) (outputResult, error) {
	var r outputResult
	ctx, cancel := context.WithTimeout(ctx, step)
	defer cancel()
	readNs := func(p string) (float64, error) {
		if err := waitFor(ctx, step, "the output test's result", func() bool {
			b, err := os.ReadFile(p)
			return err == nil && len(b) > 0 && b[len(b)-1] == '\n'
		}); err != nil {
			return 0, err
		}
		b, _ := os.ReadFile(p)
		ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return float64(ns) / 1e6, err
	}

	// The floor.
	res := filepath.Join(dir, "out-cat.result")
	gate := filepath.Join(dir, "out-cat.gate")
	if err := freshFiles(res); err != nil {
		return r, err
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		return r, err
	}
	if out, err := exec.CommandContext(ctx, "sh", "-c", outputScript(gate, res, bytes, " | cat > /dev/null")).CombinedOutput(); err != nil {
		return r, fmt.Errorf("cat baseline: %v: %s", err, out)
	}
	var err error
	if r.CatMs, err = readNs(res); err != nil {
		return r, err
	}

	for i, follow := range []bool{false, true} {
		res := filepath.Join(dir, fmt.Sprintf("out-%d.result", i))
		gate := filepath.Join(dir, fmt.Sprintf("out-%d.gate", i))
		// An earlier run's files would be read as this run's result.
		if err := freshFiles(res, gate); err != nil {
			return r, err
		}
		name := fmt.Sprintf("out%d", i)
		job := map[string]any{"name": name, "cmd": "sh", "args": []string{"-c", outputScript(gate, res, bytes, "")},
			"numprocesses": 0, "flapping": false}
		if err := d.call(ctx, "POST", "/jobs/bench", job, http.StatusCreated, nil); err != nil {
			return r, err
		}
		var commit struct {
			Pid int `json:"pid"`
		}
		if err := d.call(ctx, "POST", "/jobs/bench/"+name+"/commit", map[string]any{}, http.StatusOK, &commit); err != nil {
			return r, err
		}
		var recv chan error
		var gateAt time.Time
		var recvDur time.Duration
		var total int64
		var c *websocket.Conn
		if follow {
			var err error
			c, _, err = websocket.Dial(ctx, fmt.Sprintf("%s/%d/channel?mode=1", strings.Replace(d.base, "http", "ws", 1), commit.Pid), nil)
			if err != nil {
				return r, err
			}
			c.SetReadLimit(-1)
		}
		gateAt = time.Now()
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			return r, err
		}
		if follow {
			recv = make(chan error, 1)
			buf := make([]byte, 1<<20)
			go func() {
				defer c.CloseNow()
				for {
					typ, rd, err := c.Reader(ctx)
					if err != nil {
						if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
							err = nil
						}
						recvDur = time.Since(gateAt)
						recv <- err
						return
					}
					n, _ := drain(rd, buf)
					if typ == websocket.MessageBinary {
						total += n
					}
				}
			}()
		}
		ms, err := readNs(res)
		if err != nil {
			return r, err
		}
		if follow {
			r.FollowerMs = ms
			select {
			case err := <-recv:
				if err != nil {
					return r, fmt.Errorf("follower: %w", err)
				}
			case <-ctx.Done():
				return r, fmt.Errorf("follower: %w", ctx.Err())
			}
			if total != bytes {
				return r, fmt.Errorf("follower got %d bytes, want %d", total, bytes)
			}
			r.FollowerRecvMs = float64(recvDur.Microseconds()) / 1000
		} else {
			r.NoReaderMs = ms
		}
		_ = d.call(ctx, "DELETE", "/jobs/bench/"+name, nil, http.StatusOK, nil)
	}
	return r, nil
}

// gangerRequests measures GET /jobs/bench/api (a job of 10 processes).
func gangerRequests(ctx context.Context, d *gangerDaemon, marker string, workers int, dur, step time.Duration) (rps float64, size int, err error) {
	if err := d.call(ctx, "POST", "/jobs/bench", sleepJob("api", marker, 10), http.StatusCreated, nil); err != nil {
		return 0, 0, err
	}
	defer func() { _ = d.call(context.Background(), "DELETE", "/jobs/bench/api", nil, http.StatusOK, nil) }()
	if _, err := timeSpawn(ctx, step, 10, marker, func() error { return nil }); err != nil {
		return 0, 0, err
	}
	var job json.RawMessage
	if err := d.call(ctx, "GET", "/jobs/bench/api", nil, http.StatusOK, &job); err != nil {
		return 0, 0, err
	}
	url := d.base + "/jobs/bench/api"
	rps, err = loadGen(ctx, workers, dur, func() *http.Request {
		req, _ := http.NewRequest("GET", url, nil)
		return req
	})
	return rps, len(job), err
}

// rawRequests measures the floor of the request rate: bench/rawloop -serve,
// a bare net/http server answering size bytes, under the same load.
func rawRequests(ctx context.Context, c Config, ps *procs, size int) (float64, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(c.RawLoop, "-serve", addr, "-body-size", strconv.Itoa(size))
	if err := ps.start(cmd, nil); err != nil {
		return 0, err
	}
	defer stopCmd(cmd, 9, 5*time.Second)
	url := "http://" + addr + "/"
	if err := waitFor(ctx, c.Step, "the raw HTTP server", func() bool {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}); err != nil {
		return 0, err
	}
	return loadGen(ctx, c.APIWorkers, c.APIDuration, func() *http.Request {
		req, _ := http.NewRequest("GET", url, nil)
		return req
	})
}

// freshFiles removes what an earlier run left at paths.
func freshFiles(paths ...string) error {
	for _, p := range paths {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// drain reads r to its end through buf, as a client that wants the bytes
// would: io.Copy into io.Discard would read in 8 KiB steps instead.
func drain(r io.Reader, buf []byte) (int64, error) {
	var total int64
	for {
		n, err := r.Read(buf)
		total += int64(n)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
