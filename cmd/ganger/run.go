package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/ganger/ganger/runner"
)

const runHelp = `
Run one command in the foreground with the environment of the .env files
(on top of ganger's own) and exit with its status (128+n when signal n
ended it). Flags must come before the command; everything from the first
argument on is the command.

  - one argument that names a Procfile entry runs that entry's command, in
    the Procfile's folder, with the PORT of its first process (as start
    would give it);
  - one other argument is a shell command line: ganger run 'echo $FOO'
  - several arguments are run as they are, without a shell.

PORT is set only for a Procfile entry or with -p. The Procfile is optional
unless -f is given. SIGTERM and SIGHUP are passed on to the command; so are
SIGINT and SIGQUIT, unless stdin is a terminal (which sends them to the
command itself).`

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("run", "COMMAND [ARG...]", runHelp, stdout, stderr)
	pf := addProcfileFlags(fs)
	port := fs.Int("p", 0, "set PORT to this `port` (for a Procfile entry: the base port, default 5000)")
	fs.IntVar(port, "port", 0, "same as -p `port`")
	// Flags stop at the command: its own flags are not ganger's. (The
	// shared parse would take flags after positional arguments too.)
	usage := fs.Usage
	fs.Usage = func() {} // -h prints the whole help below, not the usage line
	err := fs.FlagSet.Parse(args)
	fs.Usage = usage
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.help()
			return exitOK
		}
		fs.Usage()
		return exitUsage
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return fs.usageError("run needs a command")
	}
	if *port < 0 || *port > 65535 {
		return fs.usageError("-p: want a port from 1 to 65535, got %d", *port)
	}

	var (
		project *runner.Project
		env     map[string]string
	)
	_, statErr := os.Stat(*pf.procfile)
	if pf.explicit() || statErr == nil {
		project, err = pf.load()
		if err == nil {
			env = project.Env
		}
	} else {
		// No Procfile: the default .env is looked for here.
		env, _, err = runner.LoadEnv(pf.envFiles, runner.DefaultEnvFile)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ganger: %s\n", configError(err))
		return exitError
	}

	full := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			full[k] = v
		}
	}
	for k, v := range env {
		full[k] = v
	}
	c := runner.Command{
		Args:     argv,
		Shell:    len(argv) == 1,
		Env:      full,
		Stdin:    os.Stdin,
		Stdout:   stdout,
		Stderr:   stderr,
		Terminal: isTerminal(os.Stdin),
	}
	if *port > 0 {
		full["PORT"] = strconv.Itoa(*port)
	}
	if project != nil && len(argv) == 1 {
		if e, i, ok := project.Entry(argv[0]); ok {
			base := *port
			if base == 0 {
				base = runner.DefaultBasePort
			}
			c.Args = []string{e.Command}
			c.Dir = project.Dir
			full["PORT"] = strconv.Itoa(base + runner.PortStep*i)
		}
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	code, err := runner.Exec(c, sigs)
	if err != nil {
		fmt.Fprintf(stderr, "ganger: %v\n", err)
	}
	return code
}
