package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// probeResult is what the probe floor made, printed when it is stopped.
type probeResult struct {
	HTTP       int64  `json:"http"`   // http attempts that passed
	TCP        int64  `json:"tcp"`    // tcp attempts that passed
	Failed     int64  `json:"failed"` // attempts that failed
	FirstError string `json:"first_error,omitempty"`
}

// probeFloor is the floor of the probe figure: n goroutines, each making
// one http attempt (GET of httpURL with $PORT replaced by port+i, as a
// job's n-th process would have it) and one tcp attempt (connect to
// tcpAddr and close) every interval after the last ended, each attempt on
// a new connection bounded by timeout. An http attempt is what ganger's
// probe makes, with nothing around it: a dial, net/http's request writer,
// net/http's response reader on a 1 KiB buffer, the status, close. The
// goroutines' first attempts are spread evenly over spread (one interval
// by default: as a manager's probes would be when its processes start one
// after the other; 0: all at once). An empty httpURL or tcpAddr
// leaves that kind out. It runs until SIGTERM, then prints one JSON object
// of counts.
func probeFloor(n int, httpURL, tcpAddr string, port int, interval, timeout, spread time.Duration) error {
	if httpURL != "" && !strings.HasPrefix(httpURL, "http://") {
		return fmt.Errorf("-probe-http: want an http:// URL, got %q", httpURL)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var res probeResult
	var httpOK, tcpOK, failed atomic.Int64
	var firstErr sync.Once
	count := func(ok *atomic.Int64, err error) {
		switch {
		case err == nil:
			ok.Add(1)
		case ctx.Err() == nil:
			failed.Add(1)
			firstErr.Do(func() { res.FirstError = err.Error() })
		}
	}
	var wg sync.WaitGroup
	for i := range n {
		url := strings.ReplaceAll(httpURL, "$PORT", strconv.Itoa(port+i))
		wg.Go(func() {
			t := time.NewTimer(time.Duration(i) * spread / time.Duration(n))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if httpURL != "" {
					count(&httpOK, httpAttempt(ctx, url, timeout))
				}
				if tcpAddr != "" {
					count(&tcpOK, tcpAttempt(ctx, tcpAddr, timeout))
				}
				t.Reset(interval)
			}
		})
	}
	wg.Wait()
	res.HTTP, res.TCP, res.Failed = httpOK.Load(), tcpOK.Load(), failed.Load()
	return json.NewEncoder(os.Stdout).Encode(res)
}

// httpAttempt GETs url on a connection of its own.
func httpAttempt(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Close = true
	req.Header.Set("User-Agent", "rawloop-probe")
	conn, err := dialProbe(ctx, req.URL.Host)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := req.Write(conn); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 1024), req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// tcpAttempt connects to addr and closes the connection.
func tcpAttempt(ctx context.Context, addr string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := dialProbe(ctx, addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

func dialProbe(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	return conn, nil
}

// syscallResult is what probeSyscalls measured.
type syscallResult struct {
	HTTP     int     `json:"http"`
	TCP      int     `json:"tcp"`
	Seconds  float64 `json:"seconds"`
	CPUPct   float64 `json:"cpu_pct"` // this process's CPU, % of one core
	SysPct   float64 `json:"sys_pct"` // of which in the kernel
	CPUPerUs float64 `json:"cpu_us_per_attempt"`
}

// probeSyscalls is the kernel's part of the probe floor: one thread making
// the attempts with blocking system calls and nothing else (socket,
// connect, close; for http also one write of the request, prepared once,
// and one read of the answer), n http and n tcp attempts per second, in
// batches every 10 ms, for dur. It prints its own CPU use (getrusage).
func probeSyscalls(n int, httpHost, httpPath, tcpAddr string, dur time.Duration) error {
	sa := func(addr string) (*syscall.SockaddrInet4, error) {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || !ap.Addr().Is4() {
			return nil, fmt.Errorf("want an IPv4 host:port, got %q", addr)
		}
		return &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}, nil
	}
	var hsa, tsa *syscall.SockaddrInet4
	var err error
	if httpHost != "" {
		if hsa, err = sa(httpHost); err != nil {
			return err
		}
	}
	if tcpAddr != "" {
		if tsa, err = sa(tcpAddr); err != nil {
			return err
		}
	}
	req := []byte("GET " + httpPath + " HTTP/1.1\r\nHost: " + httpHost + "\r\nUser-Agent: rawloop-probe\r\nConnection: close\r\n\r\n")
	buf := make([]byte, 1024)
	attempt := func(to *syscall.SockaddrInet4, exchange bool) error {
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		if err := syscall.Connect(fd, to); err != nil {
			return err
		}
		if !exchange {
			return nil
		}
		if _, err := syscall.Write(fd, req); err != nil {
			return err
		}
		if _, err := syscall.Read(fd, buf); err != nil {
			return err
		}
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var r0, r1 syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r0); err != nil {
		return err
	}
	var res syscallResult
	start := time.Now()
	const tick = 10 * time.Millisecond
	perTick := max(1, n*int(tick)/int(time.Second))
	for i := 1; time.Since(start) < dur; i++ {
		for range perTick {
			if hsa != nil {
				if err := attempt(hsa, true); err != nil {
					return fmt.Errorf("http attempt: %w", err)
				}
				res.HTTP++
			}
			if tsa != nil {
				if err := attempt(tsa, false); err != nil {
					return fmt.Errorf("tcp attempt: %w", err)
				}
				res.TCP++
			}
		}
		time.Sleep(time.Until(start.Add(time.Duration(i) * tick)))
	}
	el := time.Since(start)
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r1); err != nil {
		return err
	}
	usr := time.Duration(r1.Utime.Nano() - r0.Utime.Nano())
	sys := time.Duration(r1.Stime.Nano() - r0.Stime.Nano())
	res.Seconds = el.Seconds()
	res.CPUPct = float64(usr+sys) / float64(el) * 100
	res.SysPct = float64(sys) / float64(el) * 100
	if all := res.HTTP + res.TCP; all > 0 {
		res.CPUPerUs = float64((usr + sys).Microseconds()) / float64(all)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// syscallFloor runs probeSyscalls for the URL and address the -probes
// floor takes.
func syscallFloor(n int, httpURL, tcpAddr string, port int, dur time.Duration) error {
	var host, path string
	if httpURL != "" {
		u, err := url.Parse(strings.ReplaceAll(httpURL, "$PORT", strconv.Itoa(port)))
		if err != nil || u.Scheme != "http" {
			return fmt.Errorf("-probe-http: want an http:// URL, got %q", httpURL)
		}
		host, path = u.Host, u.RequestURI()
	}
	return probeSyscalls(n, host, path, tcpAddr, dur)
}
