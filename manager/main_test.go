package manager

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"
	"github.com/ganger/ganger/internal/leakcheck"
	"github.com/ganger/ganger/process"
)

// TestMain fails the run if a goroutine of the manager (or of the process
// package it drives, apart from the spawner thread that lives forever)
// outlives the tests. Run with GANGER_TEST_HELPER set, the test binary is
// instead one of the helper processes the real-process tests manage
// (runHelper).
func TestMain(m *testing.M) {
	if mode := os.Getenv("GANGER_TEST_HELPER"); mode != "" {
		runHelper(mode)
		return
	}
	// As the daemon is: orphaned grandchildren come back to the test binary
	// and the managers (ReapAll) reap them at once, rather than leaving
	// zombies in their process groups until the machine's init reaps them.
	if err := process.SetSubreaper(); err != nil {
		panic(err)
	}
	leakcheck.Main(m, await.Scale(10*time.Second), leakcheck.Filter{
		Code:   []string{"ganger/manager.", "ganger/process."},
		Ignore: []string{"process.spawnLoop"},
	})
}

// runHelper is a process for the probes' real-process tests: after
// $HELPER_DELAY it serves, on 127.0.0.1:$PORT, HTTP ("http": /health
// answers 200) or bare TCP ("tcp": accepts and closes), or prints
// "listening" ("log"). SIGUSR1 stops it serving (the listener closes), so
// a probe starts failing. SIGTERM ends it.
func runHelper(mode string) {
	delay, _ := time.ParseDuration(os.Getenv("HELPER_DELAY"))
	time.Sleep(delay)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	if mode == "log" {
		fmt.Println("starting up")
		fmt.Println("listening on the moon")
		<-usr1
		select {}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	go func() { <-usr1; ln.Close() }()
	if mode == "http" {
		http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/health" {
				w.WriteHeader(http.StatusNotFound)
			}
		}))
	} else {
		for {
			c, err := ln.Accept()
			if err != nil {
				break
			}
			c.Close()
		}
	}
	select {} // not serving any more, still alive
}
