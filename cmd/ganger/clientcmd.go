package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/client"
	"github.com/ganger/ganger/conf"
)

// The client commands talk to a daemon over its REST API (and /channel for
// logs -f and events). They share --address and --token.

const defaultAddress = client.DefaultAddress

// clientFlags are the flags every client command has.
type clientFlags struct {
	address, token string
}

func addClientFlags(fs *flagSet) *clientFlags {
	cf := &clientFlags{}
	// The defaults from the environment are resolved after parsing, so
	// that --help never prints a token.
	fs.StringVar(&cf.address, "address", "", "the daemon's `address`: http://host:port, host:port or unix:/path\n(default $GANGER_ADDRESS, or "+defaultAddress+")")
	fs.StringVar(&cf.token, "token", "", "API `token` (default $GANGER_TOKEN)")
	return cf
}

func (cf *clientFlags) client() *client.Client {
	addr := firstNonEmpty(cf.address, os.Getenv("GANGER_ADDRESS"), defaultAddress)
	tok := firstNonEmpty(cf.token, os.Getenv("GANGER_TOKEN"))
	return client.New(addr, tok)
}

// firstNonEmpty returns the first non-empty string.
func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// fail prints "ganger: <err>" and returns the error exit status. The
// client's errors are already user-facing: a server's reason, or one line
// saying the daemon cannot be reached.
func fail(stderr io.Writer, err error) int {
	msg := err.Error()
	var e *ganger.Error
	if errors.As(err, &e) {
		msg = e.Message
	}
	fmt.Fprintf(stderr, "ganger: %s\n", msg)
	return exitError
}

// jobArg checks a job name argument and returns it in full form.
func jobArg(fs *flagSet, s string) (string, int, bool) {
	sess, job, err := ganger.ParseJobName(s)
	if err != nil {
		return "", fs.usageError("%s", ganger.ErrorMessage(err)), false
	}
	return ganger.JobName(sess, job), 0, true
}

// jobArgs checks every argument as a job name; at least one is needed
// unless optional.
func jobArgs(fs *flagSet, optional bool) ([]string, int, bool) {
	if fs.NArg() == 0 && !optional {
		return nil, fs.usageError("missing job name"), false
	}
	var out []string
	for _, a := range fs.Args() {
		name, code, ok := jobArg(fs, a)
		if !ok {
			return nil, code, false
		}
		out = append(out, name)
	}
	return out, 0, true
}

func joinInts(ns []int) string {
	if len(ns) == 0 {
		return "-"
	}
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// humanBytes formats a byte count with a binary unit: 512B, 1.5K, 12.3M.
func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	f, units := float64(n)/unit, "KMGTPE"
	i := 0
	for f >= unit && i < len(units)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f%c", f, units[i])
}

// humanDuration formats an uptime with its two largest units: 45s, 3m12s,
// 2h05m, 3d04h.
func humanDuration(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 0:
		return "0s"
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	default:
		return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
	}
}

// ---- load

func cmdLoad(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("load", "FILE|-", `
Load jobs into the daemon from FILE ("-" reads standard input): a JSON job
config, a JSON list of them, or TOML with [[job]] tables (a daemon config
file works; its other settings are ignored). The format is told by the
extension (.json, .toml) or else by the content. A job's "session" field
picks its session ("default" when absent). Jobs load in ascending priority;
each loaded job's name is printed.`, stdout, stderr)
	cf := addClientFlags(fs)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fs.usageError("want exactly one FILE (or - for standard input)")
	}
	file := fs.Arg(0)
	var (
		data []byte
		err  error
	)
	if file == "-" {
		data, err = io.ReadAll(stdin)
		file = "<stdin>"
	} else {
		data, err = os.ReadFile(file)
	}
	if err != nil {
		return fail(stderr, err)
	}
	jobs, err := parseJobsFile(file, data)
	if err != nil {
		return fail(stderr, err)
	}
	c, ctx := cf.client(), context.Background()
	status := exitOK
	for _, j := range jobs {
		name, err := c.Load(ctx, j.session, j.body)
		if err != nil {
			var ue *client.UnreachableError
			if errors.As(err, &ue) {
				return fail(stderr, err)
			}
			fail(stderr, fmt.Errorf("%s: %w", j.label, err))
			status = exitError
			continue
		}
		fmt.Fprintf(stdout, "loaded %s\n", name)
	}
	return status
}

// jobToLoad is one job of a file given to ganger load.
type jobToLoad struct {
	session  string
	label    string // for errors: the job's name, or its index
	priority int
	body     json.RawMessage // sent as is: the server validates it
}

// parseJobsFile reads a JSON or TOML jobs file and returns its jobs in
// ascending priority.
func parseJobsFile(file string, data []byte) ([]jobToLoad, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%s: empty file", file)
	}
	var jobs []jobToLoad
	var err error
	switch ext := strings.ToLower(filepath.Ext(file)); {
	case ext == ".json":
		jobs, err = parseJSONJobs(file, trimmed)
	case ext == ".toml":
		jobs, err = parseTOMLJobs(file, data)
	case trimmed[0] == '{' || json.Valid(trimmed):
		jobs, err = parseJSONJobs(file, trimmed)
	default:
		jobs, err = parseTOMLJobs(file, data)
	}
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(jobs, func(a, b jobToLoad) int { return a.priority - b.priority })
	return jobs, nil
}

func parseJSONJobs(file string, data []byte) ([]jobToLoad, error) {
	var list []json.RawMessage
	if data[0] == '[' {
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, fmt.Errorf("%s: %v", file, err)
		}
	} else {
		list = []json.RawMessage{data}
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: no job in the file", file)
	}
	out := make([]jobToLoad, 0, len(list))
	for i, raw := range list {
		// Only what is needed to route the request is read here.
		// Fields of the wrong type are left for the server to report.
		var head struct {
			Session  any `json:"session"`
			Name     any `json:"name"`
			Priority any `json:"priority"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("%s: job %d: want a JSON object: %v", file, i, err)
		}
		session, _ := head.Session.(string)
		j := jobToLoad{session: firstNonEmpty(session, ganger.DefaultSession), label: fmt.Sprintf("job %d", i), body: raw}
		if name, ok := head.Name.(string); ok && name != "" {
			j.label = name
		}
		if p, ok := head.Priority.(float64); ok {
			j.priority = int(p)
		}
		out = append(out, j)
	}
	return out, nil
}

func parseTOMLJobs(file string, data []byte) ([]jobToLoad, error) {
	cfg, err := conf.ParseConfig(data, file)
	if err != nil {
		return nil, errors.New(configError(err))
	}
	if len(cfg.Jobs) == 0 {
		return nil, fmt.Errorf("%s: no [[job]] table in the file", file)
	}
	out := make([]jobToLoad, 0, len(cfg.Jobs))
	for _, j := range cfg.Jobs {
		body, err := json.Marshal(j)
		if err != nil {
			return nil, err
		}
		out = append(out, jobToLoad{session: j.Session, label: ganger.JobName(j.Session, j.Name), priority: j.Priority, body: body})
	}
	return out, nil
}

// ---- unload, start-job, stop-job, restart, reload

func jobsCommand(name, summary string, do func(c *client.Client, ctx context.Context, job string) error) func([]string, io.Reader, io.Writer, io.Writer) int {
	return func(args []string, _ io.Reader, stdout, stderr io.Writer) int {
		fs := newFlagSet(name, "JOB…", summary, stdout, stderr)
		cf := addClientFlags(fs)
		if code, ok := fs.parse(args); !ok {
			return code
		}
		names, code, ok := jobArgs(fs, false)
		if !ok {
			return code
		}
		c, ctx := cf.client(), context.Background()
		status := exitOK
		for _, n := range names {
			if err := do(c, ctx, n); err != nil {
				status = fail(stderr, err)
				var ue *client.UnreachableError
				if errors.As(err, &ue) {
					break
				}
			}
		}
		return status
	}
}

var (
	cmdUnload = jobsCommand("unload", `
Stop every process of each JOB gracefully, then remove the job from the
daemon. Returns once the processes are gone.`, (*client.Client).Unload)
	cmdStartJob = jobsCommand("start-job", `
Start each JOB: spawn its processes (and reset its flapping history).`, (*client.Client).StartJob)
	cmdStopJob = jobsCommand("stop-job", `
Stop each JOB's processes gracefully and keep the job stopped until it is
started again.`, (*client.Client).StopJob)
	cmdRestart = jobsCommand("restart", `
Restart each JOB's processes, one slot at a time: stop the slot's process
gracefully, start a fresh one, and wait until it is ready before the next
slot, so a job of two processes or more always has one serving. A stopped
JOB is started. The command returns once the daemon has accepted the
restart; "ganger status JOB" shows its progress. If a new process does not
become ready in time (graceful_timeout plus its readiness probe's budget),
the restart stops there (an update_failed event) and the remaining old
processes keep running. "ganger reload" is the same.`, (*client.Client).RestartJob)
	cmdReload = jobsCommand("reload", `
The same as "ganger restart": replace each JOB's processes gracefully with
fresh ones, one slot at a time, each new one ready before the next is
replaced (start the job if it is stopped).`, (*client.Client).ReloadJob)
)

// ---- scale

// scaleRE splits JOB=N, JOB+N, JOB-N; a job name may hold '-' itself
// ("my-app-1" is my-app minus 1).
var scaleRE = regexp.MustCompile(`^([A-Za-z0-9_./-]+)([=+-])([0-9]+)$`)

func cmdScale(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("scale", "JOB=N|JOB+N|JOB-N…", `
Change the number of processes of jobs: JOB=N sets it, JOB+N adds N, JOB-N
removes N (never below 0). Prints each job's new number.`, stdout, stderr)
	cf := addClientFlags(fs)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		return fs.usageError("missing JOB=N, JOB+N or JOB-N")
	}
	type op struct{ job, scale string }
	var ops []op
	for _, a := range fs.Args() {
		m := scaleRE.FindStringSubmatch(a)
		if m == nil {
			return fs.usageError("invalid scale %q: want JOB=N, JOB+N or JOB-N", a)
		}
		name, code, ok := jobArg(fs, m[1])
		if !ok {
			return code
		}
		ops = append(ops, op{name, m[2] + m[3]})
	}
	c, ctx := cf.client(), context.Background()
	status := exitOK
	for _, o := range ops {
		n, err := c.Scale(ctx, o.job, o.scale)
		if err != nil {
			status = fail(stderr, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: %d\n", o.job, n)
	}
	return status
}

// ---- kill

func cmdKill(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("kill", "JOB|PID [SIGNAL]", `
Send SIGNAL (a name such as HUP or SIGHUP, or a number; default TERM) to
every process of JOB, or to the process PID (ganger's pid, as ps shows it;
a job whose name is a number is written <session>.<job>). The signal goes
to each process's whole process group.`, stdout, stderr)
	cf := addClientFlags(fs)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return fs.usageError("want JOB or PID, and optionally a SIGNAL")
	}
	sig := "TERM"
	if fs.NArg() == 2 {
		sig = fs.Arg(1)
	}
	if _, err := conf.ParseSignal(sig); err != nil {
		return fs.usageError("%s", ganger.ErrorMessage(err))
	}
	c, ctx := cf.client(), context.Background()
	target := fs.Arg(0)
	var err error
	if pid, perr := strconv.Atoi(target); perr == nil {
		if pid <= 0 {
			return fs.usageError("invalid pid %d", pid)
		}
		err = c.SignalProcess(ctx, pid, sig)
	} else {
		name, code, ok := jobArg(fs, target)
		if !ok {
			return code
		}
		err = c.SignalJob(ctx, name, sig)
	}
	if err != nil {
		return fail(stderr, err)
	}
	return exitOK
}

// ---- commit

func cmdCommit(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("commit", "JOB", `
Run one extra process of JOB, never restarted and not counted in its
numprocesses, and print its pid.`, stdout, stderr)
	cf := addClientFlags(fs)
	var env stringList
	fs.Var(&env, "env", "add `NAME=VALUE` to the process's environment (repeatable)")
	grace := fs.Duration("graceful-timeout", 0, "time between the stop signal and SIGKILL for this process (default the job's)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fs.usageError("want exactly one JOB")
	}
	name, code, ok := jobArg(fs, fs.Arg(0))
	if !ok {
		return code
	}
	opts := &client.CommitOptions{GracefulTimeout: *grace, Env: map[string]string{}}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fs.usageError("--env: want NAME=VALUE, got %q", kv)
		}
		opts.Env[k] = v
	}
	pid, err := cf.client().Commit(context.Background(), name, opts)
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintln(stdout, pid)
	return exitOK
}

// ---- stats

func cmdStats(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := newFlagSet("stats", "[JOB…]", `
Print the resource usage of every process of the daemon's jobs (or of the
named ones): CPU (percent of one CPU), memory (percent and RSS), virtual
size, CPU time and uptime. With --json, print each job's stats as the API
answers them, one JSON object per line.`, stdout, stderr)
	cf := addClientFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON")
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
	if !*asJSON {
		fmt.Fprintln(tw, "JOB\tPID\tOS_PID\tCPU\tMEM\tRSS\tVMS\tCPU_TIME\tUPTIME")
	}
	status := exitOK
	for _, name := range names {
		st, err := c.JobStats(ctx, name)
		if err != nil {
			if client.IsNotFound(err) && fs.NArg() == 0 {
				continue
			}
			tw.Flush()
			status = fail(stderr, err)
			continue
		}
		if *asJSON {
			b, _ := json.Marshal(st)
			fmt.Fprintf(stdout, "%s\n", b)
			continue
		}
		for _, p := range st.Stats {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Name, p.Pid, p.OSPid,
				fmtFloat(p.CPU, "%.1f%%"), fmtFloat(p.Mem, "%.1f%%"), fmtBytes(p.RSS), fmtBytes(p.VMS),
				fmtFloat(p.CTime, "%.2fs"), fmtUptime(p.CreateTime, now))
		}
	}
	tw.Flush()
	return status
}

func fmtFloat(f *float64, format string) string {
	if f == nil {
		return "-"
	}
	return fmt.Sprintf(format, *f)
}

func fmtBytes(n *uint64) string {
	if n == nil {
		return "-"
	}
	return humanBytes(*n)
}

func fmtUptime(createTime *float64, now time.Time) string {
	if createTime == nil {
		return "-"
	}
	return humanDuration(client.Uptime(*createTime, now))
}
