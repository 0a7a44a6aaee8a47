// Command ganger is a process manager: a daemon that keeps jobs' processes
// alive and serves an HTTP and WebSocket API and a dashboard, a
// foreman-like Procfile runner, and a command-line client for the daemon.
//
// Run "ganger help" for the list of commands and "ganger COMMAND --help"
// for one command's flags.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ganger/ganger"
)

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the command failed (a server error, an I/O error)
	exitUsage = 2 // bad command line
)

// command is one subcommand of ganger.
type command struct {
	name    string
	summary string // one line for "ganger help"
	run     func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands lists the subcommands in the order "ganger help" shows them.
// It is filled in by init to break the cycle help → commands → help.
var commands []command

func init() {
	commands = []command{
		{"daemon", "run the ganger daemon", cmdDaemon},
		{"start", "run the jobs of a Procfile in the foreground", noStdin(cmdStart)},
		{"run", "run one command with a Procfile's environment", noStdin(cmdRun)},
		{"check", "validate a Procfile and .env files", noStdin(cmdCheck)},
		{"export", "export a Procfile to another process manager's format", noStdin(cmdExport)},
		{"ps", "list the daemon's jobs: state, readiness, restarts, last exit", cmdPs},
		{"status", "show a job's processes slot by slot", cmdStatus},
		{"load", "load jobs from a JSON or TOML file into the daemon", cmdLoad},
		{"unload", "stop a job and remove it from the daemon", cmdUnload},
		{"scale", "change the number of processes of jobs", cmdScale},
		{"start-job", "start a job", cmdStartJob},
		{"stop-job", "stop a job's processes and keep it stopped", cmdStopJob},
		{"restart", "restart a job's processes one at a time (rolling)", cmdRestart},
		{"reload", "the same as restart", cmdReload},
		{"kill", "send a signal to a job's processes or to one process", cmdKill},
		{"commit", "run one extra, never restarted process of a job", cmdCommit},
		{"logs", "print (and follow) the captured output of jobs", cmdLogs},
		{"events", "print the daemon's events as they happen", cmdEvents},
		{"stats", "print the resource usage of jobs' processes", cmdStats},
		{"version", "print ganger's version", cmdVersion},
		{"help", "print help about ganger or one of its commands", cmdHelp},
	}
}

func noStdin(f func(args []string, stdout, stderr io.Writer) int) func([]string, io.Reader, io.Writer, io.Writer) int {
	return func(args []string, _ io.Reader, stdout, stderr io.Writer) int { return f(args, stdout, stderr) }
}

func lookupCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// run runs ganger with the arguments after the program name and returns
// the exit status.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		return cmdVersion(nil, stdin, stdout, stderr)
	}
	cmd := lookupCommand(args[0])
	if cmd == nil {
		fmt.Fprintf(stderr, "ganger: unknown command %q\nRun 'ganger help' for usage.\n", args[0])
		return exitUsage
	}
	return cmd.run(args[1:], stdin, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "ganger %s: a process manager\n\nUsage:\n  ganger COMMAND [flags] [arguments]\n\nCommands:\n", ganger.Version)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, "\nFlags come after the command. Run 'ganger COMMAND --help' for a command's flags.\n"+
		"Client commands talk to the daemon at --address (default $GANGER_ADDRESS or "+defaultAddress+")\n"+
		"with --token (default $GANGER_TOKEN).\n")
}

func cmdHelp(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		usage(stdout)
		return exitOK
	case 1:
		cmd := lookupCommand(args[0])
		if cmd == nil {
			fmt.Fprintf(stderr, "ganger: unknown command %q\nRun 'ganger help' for usage.\n", args[0])
			return exitUsage
		}
		if cmd.name == "help" {
			fmt.Fprint(stdout, "usage: ganger help [COMMAND]\n\nPrint the list of commands, or one command's help.\n")
			return exitOK
		}
		// Every command prints its help on stdout for --help and exits 0.
		return cmd.run([]string{"--help"}, strings.NewReader(""), stdout, stderr)
	default:
		fmt.Fprint(stderr, "usage: ganger help [COMMAND]\n")
		return exitUsage
	}
}

func cmdVersion(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "", "Print ganger's version.", stdout, stderr)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError("version takes no arguments")
	}
	fmt.Fprintf(stdout, "ganger %s\n", ganger.Version)
	return exitOK
}

// flagSet is a command's flag.FlagSet and where its --help goes.
type flagSet struct {
	*flag.FlagSet
	name, argsUsage, description string
	stdout                       io.Writer
}

// newFlagSet returns a command's FlagSet. A usage error prints the error,
// the usage line and a pointer to --help on stderr; --help prints the usage
// line, the description and every flag on stdout.
func newFlagSet(name, argsUsage, description string, stdout, stderr io.Writer) *flagSet {
	fs := &flagSet{
		FlagSet: flag.NewFlagSet("ganger "+name, flag.ContinueOnError),
		name:    name, argsUsage: argsUsage, description: description, stdout: stdout,
	}
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\nRun 'ganger %s --help' for more.\n", fs.usageLine(), name)
	}
	return fs
}

func (fs *flagSet) usageLine() string {
	line := "usage: ganger " + fs.name
	if fs.hasFlags() {
		line += " [flags]"
	}
	if fs.argsUsage != "" {
		line += " " + fs.argsUsage
	}
	return line
}

// help prints the whole help of the command on stdout.
func (fs *flagSet) help() {
	w := fs.stdout
	fmt.Fprintln(w, fs.usageLine())
	if fs.description != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(fs.description))
	}
	if fs.hasFlags() {
		fmt.Fprint(w, "\nFlags:\n")
		errOut := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(errOut)
	}
}

func (fs *flagSet) hasFlags() bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parse parses args, allowing flags after positional arguments too
// ("ganger logs web -f"), up to a "--". It returns ok=false with the exit
// status when the command must stop: 0 after --help (the help went to
// stdout), 2 after a bad flag (the error and usage went to stderr).
func (fs *flagSet) parse(args []string) (code int, ok bool) {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			fs.help()
			return exitOK, false
		}
	}
	var positional []string
	rest := args
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.help()
				return exitOK, false
			}
			return exitUsage, false // flag has printed the error and the usage
		}
		left := fs.Args()
		if len(left) == 0 {
			break
		}
		if consumed := len(rest) - len(left); consumed > 0 && rest[consumed-1] == "--" {
			positional = append(positional, left...) // everything after "--"
			break
		}
		positional = append(positional, left[0])
		rest = left[1:]
	}
	if err := fs.Parse(append([]string{"--"}, positional...)); err != nil {
		return exitUsage, false
	}
	return exitOK, true
}

// usageError prints "ganger: msg" and the usage line on stderr and returns
// the usage exit status.
func (fs *flagSet) usageError(format string, args ...any) int {
	fmt.Fprintf(fs.Output(), "ganger: %s\n", fmt.Sprintf(format, args...))
	fs.Usage()
	return exitUsage
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// configError returns a config error's message: every problem, one per
// line, as conf reports them.
func configError(err error) string {
	var e *ganger.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
