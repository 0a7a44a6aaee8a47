package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/httpapi"
	"github.com/ganger/ganger/manager"
	"github.com/ganger/ganger/process"
	"github.com/ganger/ganger/web"
)

// The daemon's lifecycle: the daemon command, and the Daemon it runs
// (Open, Run, Close, Kill). Config reload is in reload.go, listeners are in
// listen.go.

const daemonHelp = `
Run the ganger daemon: keep the jobs of the config file alive and serve the
REST and WebSocket API, and the dashboard at /ui/, on every bind address
(host:port or unix:/path; default 127.0.0.1:5000).

Signals: SIGTERM or SIGINT stops every process gracefully, then exits 0 (a
second one kills the processes that are left at once). SIGHUP re-reads the
config file: new jobs are loaded, changed jobs updated, removed jobs
unloaded, unchanged jobs left running; a config file with errors is
reported in the log and the running state kept.

Log lines go to stderr.`

// cmdDaemon runs "ganger daemon": it opens a Daemon, reloads it on SIGHUP
// and stops it on SIGTERM or SIGINT (killing what is left on a second one).
func cmdDaemon(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("daemon", "", daemonHelp, stdout, stderr)
	configPath := fs.String("config", "", "read the config `file` (TOML); without it, no jobs and the default bind")
	var binds stringList
	fs.Var(&binds, "bind", "listen on `addr`, host:port or unix:/path (repeatable; replaces the config file's bind)")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	pprofAddr := fs.String("pprof", "", "serve Go's profiler (/debug/pprof/) on the loopback `addr` host:port, for diagnosing the daemon")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError("daemon takes no arguments")
	}
	for _, b := range binds {
		if _, _, err := conf.ParseBind(b); err != nil {
			return fs.usageError("--bind: %s", ganger.ErrorMessage(err))
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fs.usageError("--log-level: want debug, info, warn or error, got %q", *logLevel)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg := &conf.Config{Bind: []string{conf.DefaultBind}}
	if *configPath != "" {
		var err error
		if cfg, err = conf.LoadConfig(*configPath); err != nil {
			fmt.Fprintf(stderr, "ganger: %s\n", configError(err))
			return exitError
		}
	}
	d := &Daemon{Config: cfg, ConfigPath: *configPath, Binds: binds, Subreaper: true, Logger: logger}

	// One channel for every signal, set up before anything starts, so that
	// no signal finds its default action (death) at any point.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if *pprofAddr != "" {
		ln, err := servePprof(*pprofAddr, logger)
		if err != nil {
			fmt.Fprintf(stderr, "ganger: %v\n", err)
			return exitError
		}
		defer ln.Close()
	}
	if err := d.Open(); err != nil {
		logger.Error("cannot start", "err", err)
		return exitError
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reloads := make(chan struct{}, 1) // a SIGHUP during a reload queues one more
	go func() {
		for {
			select {
			case <-reloads:
				d.Reload(ctx)
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		for {
			var sig os.Signal
			select {
			case sig = <-sigs:
			case <-d.Done():
				return
			}
			switch {
			case sig == syscall.SIGHUP && ctx.Err() == nil:
				select {
				case reloads <- struct{}{}:
				default:
				}
			case sig == syscall.SIGHUP:
				// shutting down: nothing to reload
			case ctx.Err() == nil:
				logger.Info("signal received: stopping every process", "signal", sig)
				cancel()
			default:
				logger.Warn("second signal: killing the remaining processes now", "signal", sig)
				d.Kill()
			}
		}
	}()

	if err := d.Run(ctx); err != nil {
		logger.Error("daemon failed", "err", err)
		return exitError
	}
	return exitOK
}

// Daemon is the ganger daemon: a manager running the jobs of a config
// file, and the API and dashboard served on every bind address.
//
// Set its fields, then call Open (optional: Run opens it too) and Run. Run
// serves until its context ends, then stops every process gracefully, shuts
// the HTTP server down and returns. Close stops a daemon that was opened but
// is not running (or hurries one that is).
type Daemon struct {
	// Config is the daemon's configuration (required).
	Config *conf.Config
	// ConfigPath is the file Reload reads; "" makes Reload a no-op.
	ConfigPath string
	// Binds, when not empty, replace Config.Bind.
	Binds []string
	// Subreaper makes the daemon a child subreaper (orphaned grandchildren
	// of its jobs are re-parented to it) and has its manager reap every
	// child of the process. The daemon command sets it; leave it off where
	// other code of the same program waits for its own children (tests
	// using os/exec).
	Subreaper bool
	// Logger receives the daemon's log; nil means slog.Default().
	Logger *slog.Logger
	// ShutdownSlack is added to the manager's StopBound (the graceful
	// timeouts along the longest chain of dependencies) to bound a graceful
	// shutdown; 0 means 5s.
	ShutdownSlack time.Duration

	log       *slog.Logger
	mgr       *manager.Manager
	listeners []net.Listener
	srv       *http.Server

	openOnce  sync.Once
	openErr   error
	closeOnce sync.Once
	done      chan struct{} // closed once the daemon has shut down
	kill      context.CancelFunc
	killCtx   context.Context

	// reloadMu serializes reloads; it guards the following field.
	reloadMu sync.Mutex
	loaded   map[string]conf.Job // the jobs of the config file last applied, by full name
}

// Open listens on every bind address, starts the manager and loads the
// config's jobs (in ascending priority, starting those with start = true).
// Nothing is served until Run.
func (d *Daemon) Open() error {
	d.openOnce.Do(func() { d.openErr = d.open() })
	return d.openErr
}

// open does the work of Open, once.
func (d *Daemon) open() (err error) {
	d.log = cmp.Or(d.Logger, slog.Default())
	d.done = make(chan struct{})
	d.killCtx, d.kill = context.WithCancel(context.Background())
	if d.Config == nil {
		return errors.New("no config")
	}
	cfg := d.Config
	binds := d.Binds
	if len(binds) == 0 {
		binds = cfg.Bind
	}
	if len(binds) == 0 {
		binds = []string{conf.DefaultBind}
	}
	defer func() {
		if err != nil {
			for _, l := range d.listeners {
				l.Close()
			}
			d.listeners = nil
		}
	}()
	for _, b := range binds {
		l, err := listen(b)
		if err != nil {
			return err
		}
		d.listeners = append(d.listeners, l)
	}
	if cfg.LogDir != "" {
		if err := os.MkdirAll(cfg.LogDir, 0o750); err != nil {
			return fmt.Errorf("creating log_dir: %w", err)
		}
	}
	if d.Subreaper {
		if err := process.SetSubreaper(); err != nil {
			return fmt.Errorf("becoming a child subreaper: %w", err)
		}
	}
	d.mgr = manager.New(manager.Options{Logger: d.log, LogDir: cfg.LogDir, ReapAll: d.Subreaper})
	h := httpapi.New(httpapi.Options{
		Manager:        d.mgr,
		Version:        ganger.Version,
		Tokens:         cfg.Auth.Tokens,
		AllowedOrigins: cfg.AllowedOrigins,
		AllowedHosts:   cfg.AllowedHosts,
		LoopbackOnly:   loopbackOnly(binds),
		UI:             web.Handler(),
		Logger:         d.log,
	})
	d.srv = httpapi.NewServer(h)

	ctx := context.Background()
	d.loaded = map[string]conf.Job{}
	for _, j := range byPriority(cfg.Jobs) {
		name := ganger.JobName(j.Session, j.Name)
		if _, err := d.mgr.Load(ctx, j.Session, j); err != nil {
			d.log.Error("cannot load job", "job", name, "err", err)
			continue
		}
		d.loaded[name] = j
	}
	addrs := make([]string, len(d.listeners))
	for i, l := range d.listeners {
		addrs[i] = listenerName(l)
	}
	d.log.Info("ganger daemon started", "version", ganger.Version, "pid", os.Getpid(),
		"bind", strings.Join(addrs, ","), "config", d.ConfigPath, "jobs", len(d.loaded),
		"tokens", len(cfg.Auth.Tokens))
	return nil
}

// Addrs returns the addresses the daemon listens on (after Open), in the
// order of its binds: a *net.TCPAddr or *net.UnixAddr each.
func (d *Daemon) Addrs() []net.Addr {
	out := make([]net.Addr, len(d.listeners))
	for i, l := range d.listeners {
		out[i] = l.Addr()
	}
	return out
}

// Manager returns the daemon's manager (after Open).
func (d *Daemon) Manager() *manager.Manager { return d.mgr }

// Done is closed once the daemon has shut down (after Open).
func (d *Daemon) Done() <-chan struct{} { return d.done }

// Run opens the daemon if needed and serves until ctx ends; then it stops
// every process gracefully (bounded by the largest graceful_timeout plus
// ShutdownSlack), shuts the HTTP server down and returns. It returns an
// error if the daemon could not start or a listener failed.
func (d *Daemon) Run(ctx context.Context) error {
	if err := d.Open(); err != nil {
		return err
	}
	errc := make(chan error, len(d.listeners))
	for _, l := range d.listeners {
		go func() {
			if err := d.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("serving on %s: %w", listenerName(l), err)
			}
		}()
	}
	var err error
	select {
	case <-ctx.Done():
		d.log.Info("shutting down")
	case err = <-errc:
		d.log.Error("shutting down after a listener failed", "err", err)
	case <-d.killCtx.Done():
		d.log.Info("shutting down")
	}
	d.Close()
	return err
}

// Kill hurries a shutdown: the processes still stopping are killed now.
func (d *Daemon) Kill() {
	if d.kill != nil {
		d.kill()
	}
}

// Close stops every process gracefully and shuts the HTTP server down; it
// is what Run does once its context ends. It is safe to call more than
// once and from any goroutine; later calls wait for the first.
func (d *Daemon) Close() error {
	if d.done == nil { // never opened
		return nil
	}
	d.closeOnce.Do(func() {
		defer close(d.done)
		if d.mgr == nil { // Open failed
			return
		}
		grace := d.stopBound() + cmp.Or(d.ShutdownSlack, 5*time.Second)
		ctx, cancel := context.WithTimeout(d.killCtx, grace)
		if err := d.mgr.Close(ctx); err != nil {
			d.log.Warn("processes did not stop in time and were killed", "bound", grace, "err", err)
		}
		cancel()
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.srv.Shutdown(ctx); err != nil {
			d.log.Warn("HTTP server did not shut down in time", "err", err)
			d.srv.Close()
		}
		for _, l := range d.listeners {
			l.Close() // Serve may not have run; closing twice is harmless
		}
		d.log.Info("ganger daemon stopped")
	})
	<-d.done
	return nil
}

// stopBound is how long a graceful stop of every job may take (the
// manager's StopBound: dependents stop first, so the graceful timeouts
// along a chain of dependencies add up).
func (d *Daemon) stopBound() time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bound, _ := d.mgr.StopBound(ctx)
	return bound
}
