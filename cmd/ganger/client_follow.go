package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ganger/ganger/client"
)

// logs and events follow the daemon over the /channel WebSocket until
// Ctrl-C (or SIGTERM), which ends them with status 0.

// followContext returns a context that ends on SIGINT or SIGTERM.
func followContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

// followEnded returns the exit status once Next failed: 0 after a signal,
// 1 (with a message) when the connection was lost.
func followEnded(ctx context.Context, stderr io.Writer, err error) int {
	if ctx.Err() != nil {
		return exitOK
	}
	if errors.Is(err, client.ErrClosed) {
		return fail(stderr, errors.New("the daemon closed the connection"))
	}
	return fail(stderr, fmt.Errorf("lost the connection to the daemon: %w", err))
}

// isOverflow reports whether err is the server telling that events were
// dropped (the stream goes on).
func isOverflow(err error) bool {
	var e *client.Error
	return errors.As(err, &e) && e.Code == "overflow"
}

// ---- events

func cmdEvents(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("events", "[PATTERN]", `
Print the daemon's events as they happen, until interrupted. PATTERN is a
topic pattern: a dot-separated prefix of topics such as "exit",
"job.default.web" or "proc.3", where * matches one segment
("job.*.web.exit"); without it, every event is printed. Each line shows the
time, the event type, the job, and the other fields as key=value; with
--json, each event is printed as it arrives, one JSON object per line.`, stdout, stderr)
	cf := addClientFlags(fs)
	asJSON := fs.Bool("json", false, "print each event as a JSON object")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() > 1 {
		return fs.usageError("want at most one PATTERN")
	}
	topic := "EVENTS"
	if fs.NArg() == 1 {
		topic += ":" + fs.Arg(0)
	}
	ctx, stop := followContext()
	defer stop()
	ch, err := cf.client().Dial(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return exitOK
		}
		return fail(stderr, err)
	}
	defer ch.Close()
	if err := ch.Subscribe(ctx, topic); err != nil {
		if ctx.Err() != nil {
			return exitOK
		}
		return fail(stderr, err)
	}
	for {
		ev, err := ch.Next(ctx)
		if isOverflow(err) {
			fmt.Fprintf(stderr, "ganger: %v\n", err)
			continue
		}
		if err != nil {
			return followEnded(ctx, stderr, err)
		}
		if *asJSON {
			b, _ := json.Marshal(ev.Fields)
			fmt.Fprintf(stdout, "%s\n", b)
			continue
		}
		fmt.Fprintln(stdout, formatEvent(ev, time.Now()))
	}
}

// formatEvent renders an event on one line: "15:04:05 exit default.web
// pid=1 os_pid=4242 exit_status=0 …", the remaining fields sorted by name.
func formatEvent(ev *client.Event, now time.Time) string {
	var b strings.Builder
	b.WriteString(now.Format("15:04:05"))
	b.WriteString(" " + ev.Type)
	if ev.Name != "" {
		b.WriteString(" " + ev.Name)
	}
	if ev.Pid != 0 {
		fmt.Fprintf(&b, " pid=%d os_pid=%d", ev.Pid, ev.OSPid)
	}
	keys := make([]string, 0, len(ev.Fields))
	for k := range ev.Fields {
		switch k {
		case "topic", "event", "name", "pid", "os_pid":
		default:
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := ev.Fields[k]
		var s string
		switch v := v.(type) {
		case string:
			s = v
			if s == "" || strings.ContainsAny(s, " \t\n\"=") {
				s = strconv.Quote(s)
			}
		case json.Number:
			s = v.String()
		default:
			j, _ := json.Marshal(v)
			s = string(j)
		}
		fmt.Fprintf(&b, " %s=%s", k, s)
	}
	return b.String()
}

// ---- logs

func cmdLogs(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("logs", "[JOB…]", `
Print the last captured output lines of the daemon's jobs (or of the named
ones), oldest first, each as "HH:MM:SS <job>[<pid>] <stream> | <line>".
With -f, keep printing new output, of processes spawned later too, until
interrupted.`, stdout, stderr)
	cf := addClientFlags(fs)
	follow := fs.Bool("f", false, "follow: keep printing new output")
	lines := fs.Int("n", 100, "print the last `N` lines (0: every line the daemon keeps)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if *lines < 0 {
		return fs.usageError("-n: want a number >= 0")
	}
	names, code, ok := jobArgs(fs, true)
	if !ok {
		return code
	}
	ctx, stop := followContext()
	defer stop()
	c := cf.client()
	all := len(names) == 0
	if all {
		var err error
		if names, err = c.Jobs(ctx, ""); err != nil {
			return fail(stderr, err)
		}
	}

	// Subscribe before reading the history, so that nothing falls between
	// them (a line may show twice instead).
	var f *follower
	if *follow {
		var err error
		f, err = newFollower(ctx, c, names, all, stdout)
		if err != nil {
			if ctx.Err() != nil {
				return exitOK
			}
			return fail(stderr, err)
		}
		defer f.ch.Close()
	}

	type line struct {
		job string
		client.LogLine
	}
	var history []line
	for _, name := range names {
		ls, err := c.Logs(ctx, name, *lines)
		if err != nil {
			if all && client.IsNotFound(err) {
				continue
			}
			if ctx.Err() != nil {
				return exitOK
			}
			return fail(stderr, err)
		}
		for _, l := range ls {
			history = append(history, line{name, l})
		}
	}
	sort.SliceStable(history, func(i, j int) bool { return history[i].Time.Before(history[j].Time) })
	if *lines > 0 && len(history) > *lines {
		history = history[len(history)-*lines:]
	}
	for _, l := range history {
		fmt.Fprintln(stdout, formatLogLine(l.Time, l.job, l.Pid, l.Stream, l.Data))
	}
	if f == nil {
		return exitOK
	}
	return f.run(ctx, stderr)
}

func formatLogLine(t time.Time, job string, pid int, stream, data string) string {
	return fmt.Sprintf("%s %s[%d] %s | %s", t.Local().Format("15:04:05"), job, pid, stream, data)
}

// follower prints the live output of some jobs' processes (all jobs' when
// all), subscribing to each new process as its spawn event arrives.
type follower struct {
	ch      *client.Channel
	jobs    []string
	all     bool
	out     io.Writer
	partial map[string]string // "<pid> <stream>" → an unfinished line
	exited  map[int]time.Time // processes gone, to unsubscribe from later
}

func newFollower(ctx context.Context, c *client.Client, jobs []string, all bool, out io.Writer) (*follower, error) {
	ch, err := c.Dial(ctx)
	if err != nil {
		return nil, err
	}
	f := &follower{ch: ch, jobs: jobs, all: all, out: out, partial: map[string]string{}, exited: map[int]time.Time{}}
	var topics []string
	if all {
		topics = []string{"EVENTS:spawn", "EVENTS:exit"}
	} else {
		for _, j := range jobs {
			topics = append(topics, "EVENTS:job."+j+".spawn", "EVENTS:job."+j+".exit")
		}
	}
	for _, t := range topics {
		if err := ch.Subscribe(ctx, t); err != nil {
			ch.Close()
			return nil, err
		}
	}
	// The processes already running, commits included.
	pids, err := c.Pids(ctx, "")
	if err != nil {
		ch.Close()
		return nil, err
	}
	for _, pid := range pids {
		if !all {
			info, err := c.Process(ctx, pid)
			if err != nil || !slices.Contains(jobs, info.Name) {
				continue // gone since, or another job's
			}
		}
		if err := f.subscribe(ctx, pid); err != nil {
			ch.Close()
			return nil, err
		}
	}
	return f, nil
}

// subscribe follows a process's output; one that is already gone is
// skipped.
func (f *follower) subscribe(ctx context.Context, pid int) error {
	err := f.ch.Subscribe(ctx, "STREAM:"+strconv.Itoa(pid))
	var e *client.Error
	if errors.As(err, &e) {
		return nil // the process is gone (or hidden from this token)
	}
	return err
}

// unsubscribeExited drops the subscriptions of processes gone a while
// ago (their last output may arrive just after their exit event).
func (f *follower) unsubscribeExited(ctx context.Context, now time.Time) error {
	for pid, t := range f.exited {
		if now.Sub(t) < 5*time.Second {
			continue
		}
		delete(f.exited, pid)
		err := f.ch.Unsubscribe(ctx, "STREAM:"+strconv.Itoa(pid))
		var e *client.Error
		if err != nil && !errors.As(err, &e) {
			return err
		}
	}
	return nil
}

func (f *follower) run(ctx context.Context, stderr io.Writer) int {
	for {
		ev, err := f.ch.Next(ctx)
		if isOverflow(err) {
			fmt.Fprintf(stderr, "ganger: %v\n", err)
			continue
		}
		if err == nil {
			err = f.handle(ctx, ev)
		}
		if err != nil {
			return followEnded(ctx, stderr, err)
		}
	}
}

func (f *follower) handle(ctx context.Context, ev *client.Event) error {
	now := time.Now()
	switch ev.Type {
	case "spawn":
		if !f.all && !slices.Contains(f.jobs, ev.Name) {
			return nil
		}
		if err := f.unsubscribeExited(ctx, now); err != nil {
			return err
		}
		return f.subscribe(ctx, ev.Pid)
	case "exit":
		f.exited[ev.Pid] = now
		prefix := strconv.Itoa(ev.Pid) + " "
		for key, rest := range f.partial {
			if strings.HasPrefix(key, prefix) {
				fmt.Fprintln(f.out, formatLogLine(now, ev.Name, ev.Pid, strings.TrimPrefix(key, prefix), rest))
				delete(f.partial, key)
			}
		}
	case "output":
		key := strconv.Itoa(ev.Pid) + " " + ev.Stream
		text := f.partial[key] + ev.Data
		for {
			i := strings.IndexByte(text, '\n')
			if i < 0 {
				break
			}
			fmt.Fprintln(f.out, formatLogLine(now, ev.Name, ev.Pid, ev.Stream, strings.TrimSuffix(text[:i], "\r")))
			text = text[i+1:]
		}
		if text == "" {
			delete(f.partial, key)
		} else {
			f.partial[key] = text
		}
	}
	return nil
}
