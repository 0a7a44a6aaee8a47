package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
)

// userAgent names ganger's probes in the probed server's logs.
const userAgent = "ganger-probe"

// HTTP makes one GET request to rawURL (http:// or https://) and returns
// nil when the answer's status is 2xx or 3xx (a redirect is not followed:
// it passes). The body is not read. An https probe does not verify the
// server's certificate, as a liveness check of one's own process does not
// need to (and a self-signed certificate must not make it fail).
func HTTP(ctx context.Context, rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("GET %s: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("GET %s: want an http:// or https:// URL", rawURL)
	}
	if u.Host == "" {
		return fmt.Errorf("GET %s: no host", rawURL)
	}
	status, err := get(ctx, u)
	if err != nil {
		return fmt.Errorf("GET %s: %w", rawURL, describe(err))
	}
	if status < 200 || status > 399 {
		return fmt.Errorf("GET %s: status %d %s", rawURL, status, http.StatusText(status))
	}
	return nil
}

// get sends one GET on a connection of its own and returns the status.
// It uses net/http's request writer and response reader over a plain
// connection rather than an http.Client: a Client's Transport starts two
// goroutines per connection and keeps a pool, which a probe made every
// second for each of a thousand processes does not need.
func get(ctx context.Context, u *url.URL) (int, error) {
	addr := u.Host
	if u.Port() == "" {
		if u.Scheme == "https" {
			addr = net.JoinHostPort(u.Hostname(), "443")
		} else {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	conn, err := dial(ctx, addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if u.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: true})
		if err := tc.HandshakeContext(ctx); err != nil {
			return 0, err
		}
		conn = tc
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	req.Close = true
	req.Header.Set("User-Agent", userAgent)
	if err := req.Write(conn); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 1024), req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close() // the connection closes with conn: nothing is drained
	return resp.StatusCode, nil
}

// TCP connects to addr (host:port) and returns nil once the connection is
// accepted; it closes it at once, with a reset (SO_LINGER 0, as
// Kubernetes' tcp probes do): a probe made every second would otherwise
// leave a socket in TIME_WAIT for a minute each time.
func TCP(ctx context.Context, addr string) error {
	conn, err := dial(ctx, addr)
	if err != nil {
		return fmt.Errorf("connect %s: %w", addr, describe(err))
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
	return nil
}

// dial connects to addr; the connection's deadline is the context's, so
// every later read and write stops there too. TCP keep-alive is off: a
// probe's connection lives for one attempt.
func dial(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{KeepAlive: -1}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	return conn, nil
}

// describe shortens a network error to what a user needs: "connection
// refused", "timed out", "unexpected EOF".
func describe(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return errors.New("timed out")
	case errors.Is(err, context.Canceled):
		return errors.New("cancelled")
	}
	for _, errno := range []syscall.Errno{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EPIPE} {
		if errors.Is(err, errno) {
			return errno
		}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Errorf("cannot resolve %s", dnsErr.Name)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("the connection closed before an answer")
	}
	return err
}
