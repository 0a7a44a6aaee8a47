package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"strconv"
	"syscall"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/manager"
)

// command is a /channel command: whether it changes state (a read-only
// token gets command_error 403), how many positional arguments it takes,
// whether it also takes its options object as kwargs, and the method that
// runs it, whose result is the body the equivalent REST call answers.
type command struct {
	write    bool
	min, max int // positional arguments
	kwargs   bool
	run      func(*channelConn, args) (any, error)
}

// channelCommands are the /channel commands of API.md, by name. Adding a
// command is adding a row here and its method below.
var channelCommands = map[string]command{
	"sessions":      {run: (*channelConn).cmdSessions},
	"jobs":          {max: 1, run: (*channelConn).cmdJobs},
	"pids":          {max: 1, run: (*channelConn).cmdPids},
	"info":          {min: 1, max: 1, run: (*channelConn).cmdInfo},
	"stats":         {min: 1, max: 1, run: (*channelConn).cmdStats},
	"process_info":  {min: 1, max: 1, run: (*channelConn).cmdProcessInfo},
	"process_stats": {min: 1, max: 1, run: (*channelConn).cmdProcessStats},

	"load":         {write: true, min: 1, max: 2, kwargs: true, run: (*channelConn).cmdLoad},
	"update":       {write: true, min: 2, max: 2, run: (*channelConn).cmdUpdate},
	"unload":       {write: true, min: 1, max: 1, run: (*channelConn).cmdUnload},
	"start_job":    {write: true, min: 1, max: 1, run: onJob(Manager.StartJob)},
	"stop_job":     {write: true, min: 1, max: 1, run: onJob(Manager.StopJob)},
	"reload":       {write: true, min: 1, max: 1, run: onJob(Manager.ReloadJob)},
	"restart":      {write: true, min: 1, max: 1, run: onJob(Manager.ReloadJob)}, // a rolling reload
	"scale":        {write: true, min: 2, max: 2, run: (*channelConn).cmdScale},
	"commit":       {write: true, min: 1, max: 2, kwargs: true, run: (*channelConn).cmdCommit},
	"stopall":      {write: true, run: (*channelConn).cmdStopAll},
	"killall":      {write: true, max: 1, run: (*channelConn).cmdKillAll},
	"stop_process": {write: true, min: 1, max: 1, run: (*channelConn).cmdStopProcess},
	"kill":         {write: true, min: 2, max: 2, run: (*channelConn).cmdKill},
	"send":         {write: true, min: 2, max: 3, run: (*channelConn).cmdSend},
}

// exec runs a /channel command for the connection's token.
func (cl *channelConn) exec(d cmdData) (any, error) {
	c, ok := channelCommands[d.Name]
	if !ok {
		return nil, badRequest("unknown command %q", d.Name)
	}
	if c.write {
		if err := cl.id.checkWrite(); err != nil {
			return nil, err
		}
	}
	arg := args{cmd: d.Name, raw: d.Args, kw: d.Kwargs}
	if len(arg.kw) > 0 && !c.kwargs {
		return nil, badRequest("%s: takes positional args only, not kwargs", d.Name)
	}
	if err := arg.want(c.min, c.max); err != nil {
		return nil, err
	}
	return c.run(cl, arg)
}

// args are a command's positional arguments (and kwargs, accepted for the
// options object of load and commit).
type args struct {
	cmd string
	raw []json.RawMessage
	kw  map[string]json.RawMessage
}

// want checks the number of positional arguments.
func (a args) want(min, max int) error {
	if n := len(a.raw); n < min || n > max {
		switch {
		case min == max:
			return badRequest("%s: want %d argument(s), got %d", a.cmd, min, n)
		default:
			return badRequest("%s: want %d to %d arguments, got %d", a.cmd, min, max, n)
		}
	}
	return nil
}

func (a args) has(i int) bool {
	return i < len(a.raw) && !bytes.Equal(bytes.TrimSpace(a.raw[i]), []byte("null"))
}

// value decodes argument i as any JSON value (numbers as json.Number).
func (a args) value(i int) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(a.raw[i]))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, badRequest("%s: argument %d: %s", a.cmd, i+1, ganger.ErrorMessage(jsonError(err)))
	}
	return v, nil
}

func (a args) str(i int, what string) (string, error) {
	var s string
	if err := json.Unmarshal(a.raw[i], &s); err != nil {
		return "", badRequest("%s: argument %d (%s): want a string", a.cmd, i+1, what)
	}
	return s, nil
}

// pid reads argument i as a pid: a JSON integer or a string of digits.
func (a args) pid(i int) (int, error) {
	v, err := a.value(i)
	if err != nil {
		return 0, err
	}
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	}
	n, err := strconv.Atoi(s)
	if err != nil || !isDigits(s) {
		return 0, badRequest("%s: argument %d (pid): want a process id, got %s", a.cmd, i+1, a.raw[i])
	}
	return n, nil
}

// object decodes the options object at argument i, or kwargs when the
// argument is absent, strictly into v.
func (a args) object(i int, v any) error {
	var raw []byte
	switch {
	case a.has(i) && len(a.kw) > 0:
		return badRequest("%s: give options as argument %d or as kwargs, not both", a.cmd, i+1)
	case a.has(i):
		raw = a.raw[i]
	case len(a.kw) > 0:
		raw, _ = json.Marshal(a.kw)
	default:
		return nil
	}
	if err := decodeStrict(raw, v); err != nil {
		return badRequest("%s: options: %s", a.cmd, ganger.ErrorMessage(err))
	}
	return nil
}

// signal reads argument i as a signal name or number.
func (a args) signal(i int) (syscall.Signal, error) {
	v, err := a.value(i)
	if err != nil {
		return 0, err
	}
	sig, err := conf.ParseSignal(v)
	if err != nil {
		return 0, badRequest("%s: %s", a.cmd, ganger.ErrorMessage(err))
	}
	return sig, nil
}

// job reads argument i as the full name of a job the token may use.
func (cl *channelConn) job(arg args, i int) (string, error) {
	s, err := arg.str(i, "job name")
	if err != nil {
		return "", err
	}
	sess, j, err := ganger.ParseJobName(s)
	if err != nil {
		return "", err
	}
	name := ganger.JobName(sess, j)
	return name, cl.id.checkJob(name)
}

// proc reads argument i as the pid of a process the token may use.
func (cl *channelConn) proc(arg args, i int) (int, error) {
	pid, err := arg.pid(i)
	if err != nil {
		return 0, err
	}
	return pid, cl.a.checkProcess(cl.ctx, cl.id, pid)
}

// onJob makes the command of a manager method that takes one job.
func onJob(f func(Manager, context.Context, string) error) func(*channelConn, args) (any, error) {
	return func(cl *channelConn, arg args) (any, error) {
		name, err := cl.job(arg, 0)
		if err != nil {
			return nil, err
		}
		return okBody, f(cl.a.m, cl.ctx, name)
	}
}

func (cl *channelConn) cmdSessions(args) (any, error) {
	ss, err := cl.a.sessionsFor(cl.ctx, cl.id)
	return map[string][]string{"sessions": ss}, err
}

func (cl *channelConn) cmdJobs(arg args) (any, error) {
	sess := ""
	if arg.has(0) {
		var err error
		if sess, err = arg.str(0, "session"); err != nil {
			return nil, err
		}
	}
	jobs, err := cl.a.jobsFor(cl.ctx, cl.id, sess)
	return map[string][]string{"jobs": jobs}, err
}

func (cl *channelConn) cmdPids(arg args) (any, error) {
	name := ""
	if arg.has(0) {
		var err error
		if name, err = cl.job(arg, 0); err != nil {
			return nil, err
		}
	}
	pids, err := cl.a.pidsFor(cl.ctx, cl.id, name)
	return map[string][]int{"pids": pids}, err
}

func (cl *channelConn) cmdInfo(arg args) (any, error) {
	name, err := cl.job(arg, 0)
	if err != nil {
		return nil, err
	}
	b, err := cl.a.jobView(cl.ctx, cl.id, name)
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

func (cl *channelConn) cmdStats(arg args) (any, error) {
	name, err := cl.job(arg, 0)
	if err != nil {
		return nil, err
	}
	return cl.a.jobStatsView(cl.ctx, cl.id, name)
}

func (cl *channelConn) cmdProcessInfo(arg args) (any, error) {
	pid, err := arg.pid(0)
	if err != nil {
		return nil, err
	}
	info, err := cl.a.processFor(cl.ctx, cl.id, pid)
	if err != nil {
		return nil, err
	}
	return processView(cl.id, info), nil
}

func (cl *channelConn) cmdProcessStats(arg args) (any, error) {
	pid, err := cl.proc(arg, 0)
	if err != nil {
		return nil, err
	}
	st, err := cl.a.m.ProcessStats(cl.ctx, pid)
	return map[string]manager.ProcStats{"stats": st}, err
}

func (cl *channelConn) cmdLoad(arg args) (any, error) {
	var opts struct {
		Session string `json:"session"`
	}
	if err := arg.object(1, &opts); err != nil {
		return nil, err
	}
	cfg, err := parseJob(arg.raw[0], opts.Session)
	if err != nil {
		return nil, err
	}
	sess := cmp.Or(opts.Session, cfg.Session, ganger.DefaultSession)
	if !ganger.ValidName(sess) {
		return nil, badRequest("invalid session name %q", sess)
	}
	if err := cl.id.checkSession(sess); err != nil {
		return nil, err
	}
	name, err := cl.a.m.Load(cl.ctx, sess, cfg)
	if err != nil {
		return nil, err
	}
	return loaded{true, name}, nil
}

func (cl *channelConn) cmdUpdate(arg args) (any, error) {
	name, err := cl.job(arg, 0)
	if err != nil {
		return nil, err
	}
	sess, _, _ := ganger.ParseJobName(name)
	cfg, err := parseJob(arg.raw[1], sess)
	if err != nil {
		return nil, err
	}
	return okBody, cl.a.m.Update(cl.ctx, name, cfg)
}

func (cl *channelConn) cmdUnload(arg args) (any, error) {
	name, err := cl.job(arg, 0)
	if err != nil {
		return nil, err
	}
	err = cl.a.m.Unload(cl.ctx, name)
	cl.a.answers.forget(name)
	return okBody, err
}

func (cl *channelConn) cmdScale(arg args) (any, error) {
	name, err := cl.job(arg, 0)
	if err != nil {
		return nil, err
	}
	v, err := arg.value(1)
	if err != nil {
		return nil, err
	}
	op, err := parseScale(v)
	if err != nil {
		return nil, err
	}
	n, err := cl.a.m.Scale(cl.ctx, name, op)
	return numProcesses{n}, err
}

func (cl *channelConn) cmdCommit(arg args) (any, error) {
	name, err := cl.job(arg, 0)
	if err != nil {
		return nil, err
	}
	var body commitBody
	if err := arg.object(1, &body); err != nil {
		return nil, err
	}
	o, err := body.options()
	if err != nil {
		return nil, err
	}
	pid, err := cl.a.m.Commit(cl.ctx, name, o)
	return map[string]int{"pid": pid}, err
}

func (cl *channelConn) cmdStopAll(args) (any, error) {
	if cl.id.sessions != nil {
		return nil, forbidden("stopall: this token is limited to some sessions")
	}
	return okBody, cl.a.m.StopAll(cl.ctx)
}

func (cl *channelConn) cmdKillAll(arg args) (any, error) {
	if cl.id.sessions != nil {
		return nil, forbidden("killall: this token is limited to some sessions")
	}
	sig := syscall.SIGTERM
	if arg.has(0) {
		var err error
		if sig, err = arg.signal(0); err != nil {
			return nil, err
		}
	}
	return okBody, cl.a.m.KillAll(cl.ctx, sig)
}

func (cl *channelConn) cmdStopProcess(arg args) (any, error) {
	pid, err := cl.proc(arg, 0)
	if err != nil {
		return nil, err
	}
	return okBody, cl.a.m.StopProcess(cl.ctx, pid)
}

// cmdKill signals a process (a pid argument) or every process of a job (a
// job name).
func (cl *channelConn) cmdKill(arg args) (any, error) {
	sig, err := arg.signal(1)
	if err != nil {
		return nil, err
	}
	if v, _ := arg.value(0); v != nil {
		if _, isName := v.(string); isName {
			name, err := cl.job(arg, 0)
			if err != nil {
				return nil, err
			}
			return okBody, cl.a.m.SignalJob(cl.ctx, name, sig)
		}
	}
	pid, err := cl.proc(arg, 0)
	if err != nil {
		return nil, err
	}
	return okBody, cl.a.m.SignalProcess(cl.ctx, pid, sig)
}

func (cl *channelConn) cmdSend(arg args) (any, error) {
	pid, err := cl.proc(arg, 0)
	if err != nil {
		return nil, err
	}
	data, err := arg.str(1, "data")
	if err != nil {
		return nil, err
	}
	stream := ""
	if arg.has(2) {
		if stream, err = arg.str(2, "stream"); err != nil {
			return nil, err
		}
	}
	return okBody, cl.a.m.Send(cl.ctx, pid, stream, []byte(data))
}
