// Command probeserver is the target of the black-box tests' health
// probes: an HTTP server that listens only after a delay, so a readiness
// probe has something to wait for, and that can be made sick on demand,
// so a liveness probe has something to catch.
//
//	probeserver [-addr HOST:PORT] [-delay D] [-fail-for D]
//
// It listens on -addr (default 127.0.0.1:$PORT) after -delay, printing
// "listening on ADDR" once it does, and answers GET /health with 200, or
// with 503 during the first -fail-for after it started listening (a
// server that accepts connections but is not healthy yet). Signals:
//
//	SIGUSR1  /health answers 503 from now on (the listener stays open)
//	SIGUSR2  close the listener and every connection (connections refused)
//	SIGTERM  exit 0
//
// The tests build it once per test binary (see probeServerBin).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:"+os.Getenv("PORT"), "listen on this address")
	delay := flag.Duration("delay", 0, "wait this long before listening")
	failFor := flag.Duration("fail-for", 0, "answer /health with 503 for this long after listening")
	flag.Parse()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT)

	fmt.Printf("starting, listening in %v\n", *delay)
	select {
	case <-time.After(*delay):
	case sig := <-sigs:
		if sig == syscall.SIGTERM || sig == syscall.SIGINT {
			return
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probeserver:", err)
		os.Exit(1)
	}
	healthyAt := time.Now().Add(*failFor)
	var sick atomic.Bool
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		if sick.Load() || time.Now().Before(healthyAt) {
			http.Error(w, "not healthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})}
	go srv.Serve(ln)
	fmt.Printf("listening on %s\n", ln.Addr())

	for sig := range sigs {
		switch sig {
		case syscall.SIGUSR1:
			sick.Store(true)
			fmt.Println("sick: /health answers 503")
		case syscall.SIGUSR2:
			srv.Close() // the listener and every connection
			fmt.Println("closed the listener")
		default:
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			srv.Shutdown(ctx)
			cancel()
			return
		}
	}
}
