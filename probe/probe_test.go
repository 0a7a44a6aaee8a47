package probe_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ganger/ganger/probe"
)

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestHTTP(t *testing.T) {
	var open atomic.Int64 // connections the server holds
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("User-Agent") != "ganger-probe" {
			w.WriteHeader(http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/nowhere", http.StatusFound) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.Start()
	defer srv.Close()

	tests := []struct {
		path    string
		timeout time.Duration
		wantErr string // "" passes
	}{
		{"/ok", time.Second, ""},
		{"/moved", time.Second, ""},
		{"/down", time.Second, "status 503 Service Unavailable"},
		{"/missing", time.Second, "status 404 Not Found"},
		{"/slow", 200 * time.Millisecond, "timed out"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			err := probe.HTTP(timeout(t, tt.timeout), srv.URL+tt.path)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("HTTP: %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("HTTP: %v, want an error with %q", err, tt.wantErr)
			}
			// A probe keeps no connection: the server sees it closed.
			deadline := time.Now().Add(5 * time.Second)
			for open.Load() != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%d connections still open after the probe", open.Load())
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

func TestHTTPS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	if err := probe.HTTP(timeout(t, time.Second), srv.URL+"/"); err != nil {
		t.Fatalf("HTTPS with a self-signed certificate: %v", err)
	}
}

func TestHTTPBadURLs(t *testing.T) {
	for _, u := range []string{"ftp://127.0.0.1/", "http://", "://nope", "http://127.0.0.1:1/"} {
		if err := probe.HTTP(timeout(t, time.Second), u); err == nil {
			t.Errorf("HTTP(%q) passed", u)
		}
	}
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan struct{}, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	if err := probe.TCP(timeout(t, time.Second), ln.Addr().String()); err != nil {
		t.Fatalf("TCP to a listener: %v", err)
	}
	<-accepted
	addr := ln.Addr().String()
	ln.Close()
	err = probe.TCP(timeout(t, time.Second), addr)
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("TCP to a closed port: %v, want connection refused", err)
	}
}
