package main

import (
	"bytes"
	"net"
	"net/http"
	"time"
)

// serve answers every request on addr with size bytes of JSON, nothing
// else: the floor of the request-rate figure, net/http with no routing,
// no middleware and no state behind it.
func serve(addr string, size int) error {
	body := append(append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), max(size-11, 0))...), `"}`...)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})}
	return srv.Serve(ln)
}
