package main

import (
	"fmt"

	"io"
	"sort"
	"strings"

	"github.com/ganger/ganger/runner"
)

const checkHelp = `
Validate a Procfile, its .env files and the ganger.toml beside it, and
print the entries found. A line that is not "name: command", a bad name, a
duplicate name, an empty Procfile or a malformed .env line is reported with
its file and line number ("ganger: Procfile:3: ..."), as is every problem
of ganger.toml's job settings (a field, a value, a depends_on cycle), and
the exit status is 1.

Only the names of the .env variables are printed, never their values.`

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check", "", checkHelp, stdout, stderr)
	pf := addProcfileFlags(fs)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError("check takes no arguments")
	}
	project, err := pf.load()
	if err == nil {
		_, err = project.Jobs(runner.JobOptions{}) // applies and checks ganger.toml
	}
	if err != nil {
		fmt.Fprintf(stderr, "ganger: %s\n", configError(err))
		return exitError
	}
	fmt.Fprintf(stdout, "valid procfile detected (%s)\n", strings.Join(project.Names(), ", "))
	width := 0
	for _, e := range project.Entries {
		width = max(width, len(e.Name))
	}
	for _, e := range project.Entries {
		fmt.Fprintf(stdout, "  %-*s  %s\n", width+1, e.Name+":", e.Command)
	}
	if project.SettingsFile != "" {
		var named []string
		for _, st := range project.Settings {
			named = append(named, st.Name)
		}
		fmt.Fprintf(stdout, "job settings from %s for %s\n", project.SettingsFile, strings.Join(named, ", "))
	}
	if len(project.EnvFiles) == 0 {
		fmt.Fprintln(stdout, "no .env file")
		return exitOK
	}
	names := make([]string, 0, len(project.Env))
	for k := range project.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(stdout, "environment from %s: %d variables (%s)\n",
		strings.Join(project.EnvFiles, ", "), len(names), strings.Join(names, ", "))
	return exitOK
}
