package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ganger/ganger"
)

// DefaultAddress is the daemon's default address.
const DefaultAddress = "http://127.0.0.1:5000"

// Client talks to one ganger daemon. Create it with New; it is safe for
// concurrent use.
type Client struct {
	address string // as given, for messages
	base    string // URL prefix without a trailing slash
	token   string
	http    *http.Client
}

// New returns a client for the daemon at address: "http://host:port",
// "https://host:port", "host:port" or "unix:/path"; "" means
// DefaultAddress. A non-empty token is sent with every request.
func New(address, token string) *Client {
	if address == "" {
		address = DefaultAddress
	}
	c := &Client{address: address, token: token}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ForceAttemptHTTP2 = false // WebSocket handshakes need HTTP/1.1
	if path, ok := strings.CutPrefix(address, "unix:"); ok {
		// The Host sent over a unix socket is "localhost": a loopback
		// name, which a daemon checking Host headers always accepts.
		c.base = "http://localhost"
		tr.Proxy = nil
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
	} else {
		if !strings.Contains(address, "://") {
			address = "http://" + address
		}
		c.base = strings.TrimRight(address, "/")
		c.address = c.base
	}
	c.http = &http.Client{Transport: tr}
	return c
}

// Address returns the daemon's address as the client shows it in errors.
func (c *Client) Address() string { return c.address }

// Error is an error answer of the daemon.
type Error struct {
	Status int    // HTTP status (the errno of a WebSocket error)
	Code   string // "not_found", "conflict", "invalid_config", … or "overflow" on a Channel
	Reason string // human-readable text
}

// Error returns the server's reason.
func (e *Error) Error() string {
	if e.Reason != "" {
		return e.Reason
	}
	if e.Code != "" {
		return e.Code
	}
	return fmt.Sprintf("HTTP status %d", e.Status)
}

// UnreachableError is returned when the daemon cannot be reached at all.
type UnreachableError struct {
	Address string
	Err     error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach ganger at %s: %s", e.Address, shortNetError(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// shortNetError reduces a dial error to its cause ("connection refused",
// "no such file or directory") rather than the whole chain of wrappers.
func shortNetError(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr.Error()
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Err != nil {
		return opErr.Err.Error()
	}
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err.Error()
	}
	return err.Error()
}

// IsNotFound reports whether err is a "not_found" answer of the daemon.
func IsNotFound(err error) bool { return errorCode(err) == ganger.ENOTFOUND }

// IsConflict reports whether err is a "conflict" answer of the daemon.
func IsConflict(err error) bool { return errorCode(err) == ganger.ECONFLICT }

func errorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// do sends a request and decodes a 2xx JSON answer into out (when not nil).
// body, when not nil, is sent as JSON (a json.RawMessage or []byte as is).
func (c *Client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		var data []byte
		switch b := body.(type) {
		case []byte:
			data = b
		case json.RawMessage:
			data = b
		default:
			var err error
			if data, err = json.Marshal(body); err != nil {
				return fmt.Errorf("encoding request: %w", err)
			}
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &UnreachableError{Address: c.address, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading answer of %s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errorFromBody(resp.StatusCode, data)
	}
	if out == nil || method == http.MethodHead {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding answer of %s %s: %w", method, path, err)
	}
	return nil
}

func errorFromBody(status int, data []byte) error {
	var body struct {
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}
	e := &Error{Status: status}
	if json.Unmarshal(data, &body) == nil && (body.Error != "" || body.Reason != "") {
		e.Code, e.Reason = body.Error, body.Reason
		return e
	}
	// Not the API's error body: a proxy, or a daemon too old or too new.
	e.Reason = fmt.Sprintf("HTTP status %d", status)
	if text := strings.TrimSpace(string(data)); text != "" && len(text) < 200 && !strings.ContainsAny(text, "\n<") {
		e.Reason += ": " + text
	}
	return e
}

// jobPath returns "/jobs/<session>/<job>" for a job name in any accepted
// form.
func jobPath(name string) (string, error) {
	s, j, err := ganger.ParseJobName(name)
	if err != nil {
		return "", err
	}
	return "/jobs/" + url.PathEscape(s) + "/" + url.PathEscape(j), nil
}

// Ping checks that the daemon answers.
func (c *Client) Ping(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/ping", nil, nil)
}

// Version returns the daemon's version.
func (c *Client) Version(ctx context.Context) (string, error) {
	var out struct {
		Version string `json:"version"`
	}
	err := c.do(ctx, http.MethodGet, "/version", nil, &out)
	return out.Version, err
}

// Sessions returns the session names in load order.
func (c *Client) Sessions(ctx context.Context) ([]string, error) {
	var out struct {
		Sessions []string `json:"sessions"`
	}
	err := c.do(ctx, http.MethodGet, "/sessions", nil, &out)
	return out.Sessions, err
}

// Jobs returns the full names of the jobs of a session, or of every session
// when session is "". A not_found error for an unknown session.
func (c *Client) Jobs(ctx context.Context, session string) ([]string, error) {
	var out struct {
		Jobs []string `json:"jobs"`
	}
	path := "/jobs"
	if session != "" {
		path += "/" + url.PathEscape(session)
	}
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out.Jobs, err
}

// Job describes a job. A not_found error if there is none.
func (c *Client) Job(ctx context.Context, name string) (*JobInfo, error) {
	path, err := jobPath(name)
	if err != nil {
		return nil, err
	}
	var out JobInfo
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Load adds a job to a session ("" means "default") and returns its full
// name. config is the job's config: anything that encodes to the JSON
// object of the API (a map, a struct such as conf.Job, or raw JSON as
// json.RawMessage or []byte). A conflict error if the job exists, an
// invalid_config error naming the problem if the config is wrong.
func (c *Client) Load(ctx context.Context, session string, config any) (string, error) {
	if session == "" {
		session = ganger.DefaultSession
	}
	if !ganger.ValidName(session) {
		return "", ganger.Errorf(ganger.EBADREQUEST, "invalid session name %q", session)
	}
	var out struct {
		Name string `json:"name"`
	}
	err := c.do(ctx, http.MethodPost, "/jobs/"+url.PathEscape(session), config, &out)
	return out.Name, err
}

// Update replaces a job's config (see Load for config); its processes are
// replaced gracefully.
func (c *Client) Update(ctx context.Context, name string, config any) error {
	path, err := jobPath(name)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPut, path, config, nil)
}

// Unload stops a job's processes and forgets the job.
func (c *Client) Unload(ctx context.Context, name string) error {
	path, err := jobPath(name)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, path, nil, nil)
}

// Scale changes a job's number of processes and returns the new number.
// scale is an int (n > 0 adds n, n < 0 removes -n) or a string "+N", "-N"
// or "=N".
func (c *Client) Scale(ctx context.Context, name string, scale any) (int, error) {
	path, err := jobPath(name)
	if err != nil {
		return 0, err
	}
	var out struct {
		N int `json:"numprocesses"`
	}
	err = c.do(ctx, http.MethodPost, path+"/numprocesses", map[string]any{"scale": scale}, &out)
	return out.N, err
}

// NumProcesses returns the number of processes a job keeps alive.
func (c *Client) NumProcesses(ctx context.Context, name string) (int, error) {
	path, err := jobPath(name)
	if err != nil {
		return 0, err
	}
	var out struct {
		N int `json:"numprocesses"`
	}
	err = c.do(ctx, http.MethodGet, path+"/numprocesses", nil, &out)
	return out.N, err
}

func (c *Client) state(ctx context.Context, name, action string) error {
	path, err := jobPath(name)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path+"/state", map[string]string{"action": action}, nil)
}

// StartJob starts a job (asynchronously: its processes are being spawned
// when it returns).
func (c *Client) StartJob(ctx context.Context, name string) error {
	return c.state(ctx, name, "start")
}

// StopJob stops a job's processes gracefully and keeps it stopped
// (asynchronously).
func (c *Client) StopJob(ctx context.Context, name string) error {
	return c.state(ctx, name, "stop")
}

// ReloadJob replaces a job's processes gracefully with fresh ones, one
// slot at a time (asynchronously); it starts the job if it is stopped. It
// is the same as RestartJob.
func (c *Client) ReloadJob(ctx context.Context, name string) error {
	return c.state(ctx, name, "reload")
}

// RestartJob is the rolling restart of a job (asynchronously): slot by
// slot, the old process is stopped gracefully, a new one is started, and
// the next slot waits until it is ready, so a job of two processes or more
// always has one serving. It starts the job if it is stopped. A not_found
// error if there is no such job.
func (c *Client) RestartJob(ctx context.Context, name string) error {
	return c.state(ctx, name, "restart")
}

// Active reports whether a job is started.
func (c *Client) Active(ctx context.Context, name string) (bool, error) {
	path, err := jobPath(name)
	if err != nil {
		return false, err
	}
	var out struct {
		Active bool `json:"active"`
	}
	err = c.do(ctx, http.MethodGet, path+"/state", nil, &out)
	return out.Active, err
}

// SignalJob sends a signal ("HUP", "SIGHUP" or a number as a string) to
// every process of a job.
func (c *Client) SignalJob(ctx context.Context, name, signal string) error {
	path, err := jobPath(name)
	if err != nil {
		return err
	}
	return c.do(ctx, http.MethodPost, path+"/signal", signalBody(signal), nil)
}

// SignalProcess sends a signal to one process (its process group).
func (c *Client) SignalProcess(ctx context.Context, pid int, signal string) error {
	return c.do(ctx, http.MethodPost, "/"+strconv.Itoa(pid)+"/signal", signalBody(signal), nil)
}

// signalBody sends a numeric signal as a number, a name as a string.
func signalBody(signal string) map[string]any {
	if n, err := strconv.Atoi(signal); err == nil {
		return map[string]any{"signal": n}
	}
	return map[string]any{"signal": signal}
}

// Commit runs one extra process of a job, never restarted and not counted
// in its numprocesses, and returns its pid. opts may be nil.
func (c *Client) Commit(ctx context.Context, name string, opts *CommitOptions) (int, error) {
	path, err := jobPath(name)
	if err != nil {
		return 0, err
	}
	body := map[string]any{}
	if opts != nil {
		if opts.GracefulTimeout > 0 {
			body["graceful_timeout"] = opts.GracefulTimeout.Seconds()
		}
		if len(opts.Env) > 0 {
			body["env"] = opts.Env
		}
	}
	var out struct {
		Pid int `json:"pid"`
	}
	err = c.do(ctx, http.MethodPost, path+"/commit", body, &out)
	return out.Pid, err
}

// Logs returns the last lines of a job's captured output (all its
// processes), oldest first; lines <= 0 asks for all the server keeps.
func (c *Client) Logs(ctx context.Context, name string, lines int) ([]LogLine, error) {
	path, err := jobPath(name)
	if err != nil {
		return nil, err
	}
	path += "/logs?lines=" + strconv.Itoa(max(lines, 0))
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, path, nil, &raw); err != nil {
		return nil, err
	}
	return decodeLogs(raw)
}

// decodeLogs reads a list of lines, bare or wrapped as {"lines": […]}.
func decodeLogs(raw json.RawMessage) ([]LogLine, error) {
	out := []LogLine{}
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '{' {
		var wrapped struct {
			Lines []LogLine `json:"lines"`
		}
		if err := json.Unmarshal(t, &wrapped); err != nil {
			return nil, fmt.Errorf("decoding logs: %w", err)
		}
		if wrapped.Lines != nil {
			out = wrapped.Lines
		}
		return out, nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("decoding logs: %w", err)
	}
	if out == nil {
		out = []LogLine{}
	}
	return out, nil
}

// Pids returns the pids a job keeps alive, or every pid (commits included)
// when name is "".
func (c *Client) Pids(ctx context.Context, name string) ([]int, error) {
	path := ""
	if name != "" {
		var err error
		if path, err = jobPath(name); err != nil {
			return nil, err
		}
	}
	var out struct {
		Pids []int `json:"pids"`
	}
	err := c.do(ctx, http.MethodGet, path+"/pids", nil, &out)
	return out.Pids, err
}

// JobStats samples the resource usage of a job's processes.
func (c *Client) JobStats(ctx context.Context, name string) (*JobStats, error) {
	path, err := jobPath(name)
	if err != nil {
		return nil, err
	}
	var out JobStats
	if err := c.do(ctx, http.MethodGet, path+"/stats", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Process describes one process. A not_found error if it is gone.
func (c *Client) Process(ctx context.Context, pid int) (*ProcessInfo, error) {
	var out ProcessInfo
	if err := c.do(ctx, http.MethodGet, "/"+strconv.Itoa(pid), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ProcessStats samples one process's resource usage.
func (c *Client) ProcessStats(ctx context.Context, pid int) (*ProcStats, error) {
	var out struct {
		Stats ProcStats `json:"stats"`
	}
	if err := c.do(ctx, http.MethodGet, "/"+strconv.Itoa(pid)+"/stats", nil, &out); err != nil {
		return nil, err
	}
	return &out.Stats, nil
}

// StopProcess stops one process gracefully; its job respawns one if it is
// below its numprocesses.
func (c *Client) StopProcess(ctx context.Context, pid int) error {
	return c.do(ctx, http.MethodDelete, "/"+strconv.Itoa(pid), nil, nil)
}

// Uptime returns how long ago a Unix time in seconds (a create_time, a
// slot's since, an exit's time) was.
func Uptime(createTime float64, now time.Time) time.Duration {
	return now.Sub(UnixTime(createTime))
}

// UnixTime returns the time of the API's Unix seconds.
func UnixTime(sec float64) time.Time {
	s := math.Floor(sec)
	return time.Unix(int64(s), int64((sec-s)*1e9))
}
