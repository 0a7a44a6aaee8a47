package export

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Systemd exports a as systemd units, in foreman's templated layout:
//
//	<app>.target               wants every <app>-<entry>.target; WantedBy=multi-user.target
//	<app>-<entry>.target       PartOf=<app>.target; wants one instance per process
//	<app>-<entry>@.service     the template; the instance is the port: PORT=%i
//
// so `systemctl start <app>.target` starts the whole formation and
// `systemctl start <app>-web@5002` one more web process. Each service runs
// `/bin/sh -c '<command>'` in a.Dir with a.Env, Restart=on-failure,
// KillMode=control-group and TimeoutStopSec= from the graceful timeout.
func Systemd(a App) ([]File, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	var files []File
	var targets []string
	for _, p := range a.Processes {
		unit := a.Name + "-" + p.Name
		targets = append(targets, unit+".target")

		var instances []string
		for n := range p.Count {
			instances = append(instances, unit+"@"+strconv.Itoa(p.Port+n)+".service")
		}
		var b strings.Builder
		fmt.Fprintf(&b, "# %s\n[Unit]\n", header)
		fmt.Fprintf(&b, "Description=%s: %s processes\n", a.Name, p.Name)
		fmt.Fprintf(&b, "PartOf=%s.target\n", a.Name)
		if len(instances) > 0 {
			fmt.Fprintf(&b, "Wants=%s\n", strings.Join(instances, " "))
		}
		files = append(files,
			File{unit + ".target", []byte(b.String())},
			File{unit + "@.service", systemdService(a, p)})
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n[Unit]\n", header)
	fmt.Fprintf(&b, "Description=%s (exported by ganger)\n", a.Name)
	fmt.Fprintf(&b, "Wants=%s\n", strings.Join(targets, " "))
	b.WriteString("\n[Install]\nWantedBy=multi-user.target\n")
	files = append([]File{{a.Name + ".target", []byte(b.String())}}, files...)
	return files, nil
}

func systemdService(a App, p Process) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n", header)
	b.WriteString("[Unit]\n")
	fmt.Fprintf(&b, "Description=%s: %s on port %%i\n", a.Name, p.Name)
	fmt.Fprintf(&b, "PartOf=%s-%s.target\n", a.Name, p.Name)
	b.WriteString("After=network.target\n")
	b.WriteString("\n[Service]\n")
	b.WriteString("Type=simple\n")
	if a.User != "" {
		fmt.Fprintf(&b, "User=%s\n", a.User)
	}
	// WorkingDirectory= takes the rest of the line as the path: no quotes,
	// but specifiers are expanded.
	fmt.Fprintf(&b, "WorkingDirectory=%s\n", strings.ReplaceAll(a.Dir, "%", "%%"))
	keys := make([]string, 0, len(a.Env))
	for k := range a.Env {
		if k != "PORT" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "Environment=%s\n", systemdQuote(k+"="+a.Env[k], false))
	}
	b.WriteString("Environment=PORT=%i\n")
	fmt.Fprintf(&b, "ExecStart=/bin/sh -c %s\n", systemdQuote(p.Command, true))
	b.WriteString("Restart=on-failure\n")
	b.WriteString("RestartSec=1s\n")
	b.WriteString("KillMode=control-group\n")
	if a.GracefulTimeout > 0 {
		fmt.Fprintf(&b, "TimeoutStopSec=%s\n", systemdTimespan(a.GracefulTimeout))
	} else {
		// TimeoutStopSec=0 would mean "wait forever": kill at once instead.
		b.WriteString("KillSignal=SIGKILL\n")
	}
	fmt.Fprintf(&b, "SyslogIdentifier=%s-%s.%%i\n", a.Name, p.Name)
	return []byte(b.String())
}

// systemdQuote quotes s as one word of a unit file setting: double quotes,
// with the C-style escapes systemd undoes (\\, \", \n, \t, \xNN for other
// control characters), '%' doubled since specifiers are expanded inside
// quotes too, and, for Exec lines (exec), '$' doubled since systemd
// substitutes $VAR there itself. A plain word (letters, digits and
// /._-=:,+@) is left unquoted.
func systemdQuote(s string, exec bool) string {
	plain := s != ""
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-=:,+@", c)
		if !ok {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '"':
			b.WriteString(`\"`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '%':
			b.WriteString("%%")
		case c == '$' && exec:
			b.WriteString("$$")
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// systemdTimespan formats d for a time-span setting: whole seconds as "10",
// anything finer in milliseconds ("1500ms"), rounding up so the time never
// shrinks.
func systemdTimespan(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return strconv.FormatInt(int64(ms), 10) + "ms"
}
