package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/client"
	"github.com/ganger/ganger/conf"
)

// ps and status show what the daemon's lifecycle knows of each job: ps one
// line per job, status one line per slot.

// ---- ps

func cmdPs(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("ps", "[JOB…]", `
List the daemon's jobs (or the named ones), one line each:
  STATE      the job's state: running, starting, waiting (for its
             dependencies), degraded (some processes crashing, others up),
             flapping (every process crashing), gave_up, completed or stopped
  READY      processes ready / processes wanted
  RESTARTS   respawns after a crash since the job was loaded
  LAST EXIT  how its most recent process exit ended: ok (code 0), code 3,
             SIGKILL, and why when the process did not end by itself:
             SIGTERM (stopped), code 1 (unhealthy), SIGKILL (oom)
  UPTIME     of its oldest process
  PIDS       its processes, as ganger numbers them (kill, send, logs)
  CPU, MEM   its processes' total CPU (percent of one CPU) and memory (RSS)
A "-" where nothing applies. "ganger status JOB" shows each process.`, stdout, stderr)
	cf := addClientFlags(fs)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	names, code, ok := jobArgs(fs, true)
	if !ok {
		return code
	}
	c, ctx := cf.client(), context.Background()
	if len(names) == 0 {
		var err error
		if names, err = c.Jobs(ctx, ""); err != nil {
			return fail(stderr, err)
		}
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTATE\tREADY\tRESTARTS\tLAST EXIT\tUPTIME\tPIDS\tCPU\tMEM")
	status := exitOK
	for _, name := range names {
		info, err := c.Job(ctx, name)
		if err != nil {
			if client.IsNotFound(err) && fs.NArg() == 0 {
				continue // unloaded since it was listed
			}
			tw.Flush()
			status = fail(stderr, err)
			continue
		}
		cpu, mem, uptime := "-", "-", "-"
		if st, err := c.JobStats(ctx, name); err == nil {
			if st.CPU != nil {
				cpu = fmt.Sprintf("%.1f%%", *st.CPU)
			}
			if st.RSS != nil {
				mem = humanBytes(*st.RSS)
			}
			uptime = oldestUptime(st.Stats, info.Processes, now)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%s\t%s\t%s\t%s\t%s\n", info.Name, info.State,
			info.Ready, info.NumProcesses, info.Restarts, exitText(info.LastExit(), time.Time{}),
			uptime, joinInts(info.Processes), cpu, mem)
	}
	tw.Flush()
	return status
}

// oldestUptime returns the uptime of the oldest of the kept-alive
// processes pids among stats, or "-".
func oldestUptime(stats []client.ProcStats, pids []int, now time.Time) string {
	var oldest *float64
	for _, p := range stats {
		if p.CreateTime != nil && slices.Contains(pids, p.Pid) && (oldest == nil || *p.CreateTime < *oldest) {
			oldest = p.CreateTime
		}
	}
	return fmtUptime(oldest, now)
}

// exitText says how a process ended: "ok" (code 0), "code 3" or
// "SIGKILL", then in parentheses the reason when the process did not end
// by itself ("SIGTERM (stopped)", "code 1 (unhealthy)") and, unless now is
// zero, how long ago ("code 3 (12s ago)"). "-" for no exit.
func exitText(e *client.ExitInfo, now time.Time) string {
	if e == nil {
		return "-"
	}
	var s string
	switch {
	case e.TermSignal != 0:
		s = signalText(e.TermSignal)
	case e.ExitStatus == 0:
		s = "ok"
	default:
		s = "code " + strconv.Itoa(e.ExitStatus)
	}
	var notes []string
	if e.Reason != "" && e.Reason != "exited" && e.Reason != "signal" {
		notes = append(notes, e.Reason)
	}
	if !now.IsZero() && e.Time > 0 {
		notes = append(notes, humanDuration(client.Uptime(e.Time, now))+" ago")
	}
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, ", ") + ")"
	}
	return s
}

// signalText names a signal "SIGTERM", or "signal 34" for one without a
// name.
func signalText(n int) string {
	name := conf.SignalName(syscall.Signal(n))
	if _, err := strconv.Atoi(name); err == nil {
		return "signal " + name
	}
	return "SIG" + name
}

// ---- status

func cmdStatus(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", "[JOB…]", `
Show each JOB (every job without one) process by process: a line that sums
the job up (its state, processes ready / wanted, restarts, what it waits
for), then one line per slot, the place of one process:
  NAME       the job's name and the slot's number: web.1, web.2…
  STATE      waiting (for a dependency), starting (not ready yet), running
             (ready), stopping, backoff (crashed, respawned after a
             delay), exited (not respawned) or fatal (gave up)
  PID        its process's pid in the system
  READY      yes once its process is ready
  RESTARTS   its respawns after a crash since the job was loaded
  LAST EXIT  how its last process ended (ok, code 3, SIGKILL), why when it
             did not end by itself (stopped, unhealthy), and how long ago
  SINCE      how long it has been in its state
A "-" where nothing applies.`, stdout, stderr)
	cf := addClientFlags(fs)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	names, code, ok := jobArgs(fs, true)
	if !ok {
		return code
	}
	c, ctx := cf.client(), context.Background()
	if len(names) == 0 {
		var err error
		if names, err = c.Jobs(ctx, ""); err != nil {
			return fail(stderr, err)
		}
	}
	status := exitOK
	first := true
	for _, name := range names {
		info, err := c.Job(ctx, name)
		if err != nil {
			if client.IsNotFound(err) && fs.NArg() == 0 {
				continue // unloaded since it was listed
			}
			status = fail(stderr, err)
			continue
		}
		if !first {
			fmt.Fprintln(stdout)
		}
		first = false
		writeStatus(stdout, info, time.Now())
	}
	return status
}

// writeStatus writes a job's summary line and the table of its slots.
func writeStatus(w io.Writer, info *client.JobInfo, now time.Time) {
	summary := fmt.Sprintf("%s: %s, %d/%d ready, %s", info.Name, info.State, info.Ready, info.NumProcesses,
		plural(info.Restarts, "restart"))
	if len(info.WaitingFor) > 0 {
		deps := make([]string, len(info.WaitingFor))
		for i, d := range info.WaitingFor {
			deps[i] = d.Name + " (" + d.Condition + ")"
		}
		summary += ", waiting for " + strings.Join(deps, ", ")
	}
	switch info.Flapping.State {
	case "flapping":
		summary += ", flapping detected (retry " + strconv.Itoa(info.Flapping.Retries) + ")"
	case "gave_up":
		summary += ", gave up after " + plural(info.Flapping.Retries, "retry")
	}
	fmt.Fprintln(w, summary)
	if len(info.Slots) == 0 {
		return
	}
	_, short, err := ganger.ParseJobName(info.Name)
	if err != nil {
		short = info.Name
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tREADY\tRESTARTS\tLAST EXIT\tSINCE")
	for _, s := range info.Slots {
		pid, ready, since := "-", "no", "-"
		if s.OSPid != 0 {
			pid = strconv.Itoa(s.OSPid)
		}
		if s.Ready {
			ready = "yes"
		}
		if s.Since > 0 {
			since = humanDuration(client.Uptime(s.Since, now))
		}
		last := exitText(s.LastExit, now)
		if s.SpawnError != "" {
			last = "could not start"
		}
		fmt.Fprintf(tw, "%s.%d\t%s\t%s\t%s\t%d\t%s\t%s\n", short, s.Slot, s.State, pid, ready, s.Restarts, last, since)
	}
	tw.Flush()
	for _, s := range info.Slots {
		if s.SpawnError != "" {
			fmt.Fprintf(w, "%s.%d could not start: %s\n", short, s.Slot, s.SpawnError)
		}
	}
}

// plural returns "1 restart", "2 restarts"; "retry" becomes "retries".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if w, ok := strings.CutSuffix(word, "y"); ok {
		return strconv.Itoa(n) + " " + w + "ies"
	}
	return strconv.Itoa(n) + " " + word + "s"
}
