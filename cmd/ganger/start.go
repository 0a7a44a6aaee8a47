package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/httpapi"
	"github.com/ganger/ganger/manager"
	"github.com/ganger/ganger/runner"
	"github.com/ganger/ganger/web"
)

const startHelp = `
Run the entries of a Procfile in the foreground, as foreman does. They are
the jobs of one session named after the Procfile's folder; each entry's
command runs through /bin/sh -c in that folder, with the environment plus
the variables of the .env files. Without job arguments every entry runs;
with them, only those.

Output: every line of every process, prefixed "HH:MM:SS web.1 | ", where
web.1 is the first process of the entry web; coloured when stdout is a
terminal. "system" lines say when processes start, exit and restart.

Ports: the n-th process (from 0) of the i-th entry (from 0) gets
PORT=BASEPORT+100*i+n, so with the default base web.1 gets 5000, web.2 5001
and the next entry's first process 5100.

A process that exits is restarted after a growing delay (100ms, doubling
up to 30s); one that keeps crashing is flapping (5 exits within 10s): it is
paused for 7s, and given up after 5 pauses. A ganger.toml beside the
Procfile adds job settings to entries by name ([[job]] name = "web" with
readiness, liveness, depends_on, restart = "on-failure"…, any job field
but cmd). When nothing is left to run (every process ended and is not
restarted, or gave up), ganger start exits by itself: 0 if every process
ended with a success code, 1 otherwise.
The API and the dashboard are served on --api, so the client commands work
against it: ganger scale --address http://127.0.0.1:5999 <session>.web=3

Ctrl-C (SIGINT), SIGTERM or SIGHUP: stop every process gracefully (SIGTERM,
then SIGKILL after the graceful timeout) and exit 0. A second Ctrl-C kills
every process at once and exits 130 (128 + the signal's number).`

func cmdStart(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("start", "[job...]", startHelp, stdout, stderr)
	pf := addProcfileFlags(fs)
	var formation runner.Formation
	fs.Var(&formation, "m", "processes per entry: `name=N,...` (foreman's formation; repeatable; all=N sets every other entry; default 1 each)")
	fs.Var(&formation, "formation", "same as -m `name=N,...`")
	fs.Var(&formation, "c", "same as -m `name=N,...` (foreman's old --concurrency)")
	port := fs.Int("p", runner.DefaultBasePort, "base `port` of $PORT")
	fs.IntVar(port, "port", runner.DefaultBasePort, "same as -p `port`")
	api := fs.String("api", runner.DefaultAPI, "serve the API and dashboard on `addr` (host:port or unix:/path), or \"off\"")
	timeout := fs.String("t", "10", "graceful `timeout` before SIGKILL: seconds or a duration (\"5s\")")
	fs.StringVar(timeout, "timeout", "10", "same as -t `timeout`")
	color := fs.String("color", "auto", "colour the output `when`: auto (stdout is a terminal and $NO_COLOR is unset), always or never")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	grace, err := runner.ParseDuration(*timeout)
	if err != nil {
		return fs.usageError("-t: %v", err)
	}
	useColor, err := colorMode(*color, stdout)
	if err != nil {
		return fs.usageError("--color: %v", err)
	}
	if *port < 1 || *port > 65535 {
		return fs.usageError("-p: want a port from 1 to 65535, got %d", *port)
	}

	project, err := pf.load()
	if err != nil {
		fmt.Fprintf(stderr, "ganger: %s\n", configError(err))
		return exitError
	}
	jobs, err := project.Jobs(runner.JobOptions{
		Formation: formation, BasePort: *port, GracefulTimeout: grace, Only: fs.Args(),
	})
	if err != nil {
		fmt.Fprintf(stderr, "ganger: %s\n", configError(err))
		return exitError
	}

	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	opts := runner.Options{
		Session: runner.SessionName(project.Dir),
		Jobs:    jobs,
		Out:     stdout,
		Color:   useColor,
		Logger:  logger,
		// The runner is the only code of this process that starts
		// children, so its manager may reap them all, orphans included.
		Subreaper: true,
	}
	if *api != "off" && *api != "" {
		ln, err := listen(*api)
		if err != nil {
			fmt.Fprintf(stderr, "ganger: --api: %v (choose another address, or --api off)\n", err)
			return exitError
		}
		loopback := conf.LoopbackBind(*api)
		opts.Listener = ln
		opts.Server = func(m *manager.Manager) *http.Server {
			return httpapi.NewServer(httpapi.New(httpapi.Options{
				Manager:      m,
				Version:      ganger.Version,
				LoopbackOnly: loopback,
				UI:           web.Handler(),
				Logger:       logger,
			}))
		}
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	opts.Signals = sigs

	err = runner.Run(context.Background(), opts)
	if k, ok := err.(*runner.KilledError); ok {
		return k.ExitCode()
	}
	if e, ok := err.(*runner.EndedError); ok {
		return e.ExitCode() // the last system line said why
	}
	if err != nil {
		fmt.Fprintf(stderr, "ganger: %v\n", err)
		return exitError
	}
	return exitOK
}

// colorMode decides whether output is coloured: "auto" colours a terminal
// (a character device; golang.org/x/term is not needed for that) unless
// $NO_COLOR is set.
func colorMode(mode string, w io.Writer) (bool, error) {
	switch strings.ToLower(mode) {
	case "always", "yes", "on":
		return true, nil
	case "never", "no", "off":
		return false, nil
	case "auto", "":
		if os.Getenv("NO_COLOR") != "" {
			return false, nil
		}
		return isTerminal(w), nil
	}
	return false, fmt.Errorf("want auto, always or never, got %q", mode)
}

// isTerminal reports whether w is a file on a character device (a tty).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// procfileFlags are the -f and -e flags of start, run, check and export.
type procfileFlags struct {
	fs       *flagSet
	procfile *string
	envFiles stringList
}

func addProcfileFlags(fs *flagSet) *procfileFlags {
	pf := &procfileFlags{fs: fs}
	pf.procfile = fs.String("f", runner.DefaultProcfile, "read the Procfile `file`")
	fs.StringVar(pf.procfile, "procfile", runner.DefaultProcfile, "same as -f `file`")
	fs.Var(&pf.envFiles, "e", "read the environment `file` (repeatable, later files win; default: the .env next to the Procfile, if any)")
	fs.Var(&pf.envFiles, "env", "same as -e `file`")
	return pf
}

// load reads the Procfile and the .env files.
func (pf *procfileFlags) load() (*runner.Project, error) {
	return runner.LoadProject(*pf.procfile, pf.envFiles)
}

// explicit reports whether -f was given.
func (pf *procfileFlags) explicit() bool {
	set := false
	pf.fs.Visit(func(f *flag.Flag) {
		if f.Name == "f" || f.Name == "procfile" {
			set = true
		}
	})
	return set
}
