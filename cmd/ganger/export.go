package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/ganger/ganger/export"
	"github.com/ganger/ganger/runner"
)

const exportHelp = `
Export the Procfile to another process manager. FORMAT is one of:

  systemd  <app>.target, and per entry <app>-<entry>.target and the
           template <app>-<entry>@.service, whose instance is the port
           (PORT=%i): "systemctl start <app>-web@5002" adds a process.
           Install with: ganger export systemd -o /etc/systemd/system,
           then systemctl daemon-reload and systemctl enable --now <app>.target.
           Needs -o.
  nomad    one Nomad job in JSON (<app>.nomad.json; stdout without -o), for
           "nomad job run -json": a group per entry with Count from the
           formation and a raw_exec task; PORT comes from a dynamic port.

Processes run "/bin/sh -c COMMAND" in the Procfile's folder with the .env
variables, and get the graceful timeout to stop after SIGTERM.`

func cmdExport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("export", "systemd|nomad", exportHelp, stdout, stderr)
	pf := addProcfileFlags(fs)
	var formation runner.Formation
	fs.Var(&formation, "c", "processes per entry: `name=N,...` (repeatable; all=N sets every other entry; default 1 each)")
	fs.Var(&formation, "formation", "same as -c `name=N,...`")
	port := fs.Int("p", runner.DefaultBasePort, "base `port` of $PORT (systemd instances)")
	fs.IntVar(port, "port", runner.DefaultBasePort, "same as -p `port`")
	timeout := fs.String("t", "10", "graceful `timeout` before SIGKILL: seconds or a duration (\"5s\")")
	fs.StringVar(timeout, "timeout", "10", "same as -t `timeout`")
	app := fs.String("a", "", "app `name`: unit prefix and Nomad job ID (default: the Procfile's folder name)")
	fs.StringVar(app, "app", "", "same as -a `name`")
	user := fs.String("u", "", "run the processes as `user` (default: the service manager's)")
	fs.StringVar(user, "user", "", "same as -u `user`")
	out := fs.String("o", "", "write the files into `dir`, created if needed (nomad: stdout when not given)")
	fs.StringVar(out, "output", "", "same as -o `dir`")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fs.usageError("export needs one format: systemd or nomad")
	}
	format := fs.Arg(0)
	var exporter func(export.App) ([]export.File, error)
	switch format {
	case "systemd":
		exporter = export.Systemd
		if *out == "" {
			return fs.usageError("export systemd needs -o DIR (e.g. /etc/systemd/system)")
		}
	case "nomad":
		exporter = export.Nomad
	default:
		return fs.usageError("unknown format %q: want systemd or nomad", format)
	}
	grace, err := runner.ParseDuration(*timeout)
	if err != nil {
		return fs.usageError("-t: %v", err)
	}
	if *port < 1 || *port > 65535 {
		return fs.usageError("-p: want a port from 1 to 65535, got %d", *port)
	}

	project, err := pf.load()
	if err == nil {
		err = formation.Check(project)
	}
	if err != nil {
		fmt.Fprintf(stderr, "ganger: %s\n", configError(err))
		return exitError
	}
	a := export.App{
		Name:            *app,
		Dir:             project.Dir,
		User:            *user,
		Env:             project.Env,
		GracefulTimeout: grace,
	}
	if a.Name == "" {
		a.Name = runner.SessionName(project.Dir)
	}
	for i, e := range project.Entries {
		a.Processes = append(a.Processes, export.Process{
			Name:    e.Name,
			Command: e.Command,
			Count:   formation.Count(e.Name),
			Port:    *port + runner.PortStep*i,
		})
	}
	files, err := exporter(a)
	if err != nil {
		fmt.Fprintf(stderr, "ganger: export %s: %v\n", format, err)
		return exitError
	}
	if *out == "" {
		for _, f := range files {
			stdout.Write(f.Data)
		}
		return exitOK
	}
	if err := export.Write(*out, files); err != nil {
		fmt.Fprintf(stderr, "ganger: export %s: %v\n", format, err)
		return exitError
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(*out, f.Name))
	}
	return exitOK
}
