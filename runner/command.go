package runner

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"sort"
	"syscall"

	"github.com/ganger/ganger/process"
)

// Command is one program run in the foreground by `ganger run`.
type Command struct {
	// Args is the command. With Shell, Args[0] is a shell command line run
	// through /bin/sh -c; otherwise Args[0] is found with process.LookPath
	// in the PATH of Env (absolute entries only), or relative to Dir when
	// it has a slash.
	Args  []string
	Shell bool
	// Env is the complete environment.
	Env map[string]string
	Dir string

	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Terminal says the signals SIGINT and SIGQUIT come from a terminal,
	// which also sends them to the command (same process group): they are
	// not forwarded then, so the command does not get them twice.
	Terminal bool
}

// Exec runs c and returns its exit status: its code, or 128+n when a
// signal n ended it; 127 when the program does not exist and 126 when it
// cannot be executed (with the error). Signals received on sigs are
// forwarded to the command (see Command.Terminal). Exec is for a program
// that runs no Reaper: it waits for its child with os/exec.
func Exec(c Command, sigs <-chan os.Signal) (int, error) {
	if len(c.Args) == 0 {
		return 2, errors.New("no command given")
	}
	env := make([]string, 0, len(c.Env))
	for k, v := range c.Env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)

	var cmd *exec.Cmd
	if c.Shell {
		cmd = exec.Command("/bin/sh", "-c", c.Args[0])
	} else {
		path, err := process.LookPath(c.Args[0], c.Dir, env)
		if err != nil {
			return 127, err
		}
		cmd = exec.Command(path, c.Args[1:]...)
		cmd.Args[0] = c.Args[0]
	}
	cmd.Env, cmd.Dir = env, c.Dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr
	if err := cmd.Start(); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 127, err
		}
		return 126, err // found but not runnable (as sh reports it)
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	for {
		select {
		case sig := <-sigs:
			if c.Terminal && (sig == os.Interrupt || sig == syscall.SIGQUIT) {
				continue // the terminal sent it to the command too
			}
			_ = cmd.Process.Signal(sig)
		case err := <-waited:
			return exitStatus(cmd, err)
		}
	}
}

func exitStatus(cmd *exec.Cmd, err error) (int, error) {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 1, err
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return cmd.ProcessState.ExitCode(), nil
}
