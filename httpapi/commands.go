package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"syscall"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/manager"
)

// writeCommands are the /channel commands that change state: a read-only
// token gets command_error 403 for them.
var writeCommands = map[string]struct{}{
	"load": {}, "unload": {}, "reload": {}, "update": {}, "start_job": {}, "stop_job": {},
	"scale": {}, "stopall": {}, "killall": {}, "commit": {}, "stop_process": {}, "kill": {}, "send": {},
}

// readCommands are the /channel commands any token may run.
var readCommands = map[string]struct{}{
	"sessions": {}, "jobs": {}, "pids": {}, "info": {}, "stats": {}, "process_info": {}, "process_stats": {},
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

// exec runs a /channel command for the client's token. Its result is the
// body the equivalent REST call answers.
func (cl *channelConn) exec(d cmdData) (any, error) {
	if _, w := writeCommands[d.Name]; w {
		if err := cl.id.checkWrite(); err != nil {
			return nil, err
		}
	} else if _, r := readCommands[d.Name]; !r {
		return nil, badRequest("unknown command %q", d.Name)
	}
	a := args{cmd: d.Name, raw: d.Args, kw: d.Kwargs}
	if len(a.kw) > 0 && d.Name != "load" && d.Name != "commit" {
		return nil, badRequest("%s: takes positional args only, not kwargs", d.Name)
	}
	ctx, m, id := cl.ctx, cl.a.m, cl.id

	// job reads argument i as a job name the token may use.
	job := func(i int) (string, error) {
		s, err := a.str(i, "job name")
		if err != nil {
			return "", err
		}
		sess, j, err := ganger.ParseJobName(s)
		if err != nil {
			return "", err
		}
		name := ganger.JobName(sess, j)
		if !id.canJob(name) {
			return "", forbidden("this token may not use job %q", name)
		}
		return name, nil
	}
	// proc reads argument i as a pid of a process the token may use.
	proc := func(i int) (int, error) {
		pid, err := a.pid(i)
		if err != nil {
			return 0, err
		}
		return pid, cl.checkPid(ctx, pid)
	}
	oneJob := func(f func(context.Context, string) error) (any, error) {
		if err := a.want(1, 1); err != nil {
			return nil, err
		}
		name, err := job(0)
		if err != nil {
			return nil, err
		}
		return okBody, f(ctx, name)
	}

	switch d.Name {
	case "sessions":
		if err := a.want(0, 0); err != nil {
			return nil, err
		}
		ss, err := m.Sessions(ctx)
		if err != nil {
			return nil, err
		}
		out := []string{}
		for _, s := range ss {
			if id.canSession(s) {
				out = append(out, s)
			}
		}
		return map[string][]string{"sessions": out}, nil

	case "jobs":
		if err := a.want(0, 1); err != nil {
			return nil, err
		}
		sess := ""
		if a.has(0) {
			var err error
			if sess, err = a.str(0, "session"); err != nil {
				return nil, err
			}
			if err := id.checkSession(sess); err != nil {
				return nil, err
			}
		}
		jobs, err := m.Jobs(ctx, sess)
		if err != nil {
			return nil, err
		}
		out := []string{}
		for _, j := range jobs {
			if id.canJob(j) {
				out = append(out, j)
			}
		}
		return map[string][]string{"jobs": out}, nil

	case "pids":
		if err := a.want(0, 1); err != nil {
			return nil, err
		}
		if a.has(0) {
			name, err := job(0)
			if err != nil {
				return nil, err
			}
			pids, err := m.Pids(ctx, name)
			return map[string][]int{"pids": nonNil(pids)}, err
		}
		pids, err := cl.a.pidsFor(ctx, id)
		return map[string][]int{"pids": pids}, err

	case "info":
		if err := a.want(1, 1); err != nil {
			return nil, err
		}
		name, err := job(0)
		if err != nil {
			return nil, err
		}
		info, err := m.JobInfo(ctx, name)
		if err != nil {
			return nil, err
		}
		if id.hidesEnv() {
			info = redactJob(info)
		}
		info.Processes = nonNil(info.Processes)
		return info, nil

	case "stats":
		if err := a.want(1, 1); err != nil {
			return nil, err
		}
		name, err := job(0)
		if err != nil {
			return nil, err
		}
		st, err := m.JobStats(ctx, name)
		st.Stats = nonNil(st.Stats)
		return st, err

	case "process_info":
		if err := a.want(1, 1); err != nil {
			return nil, err
		}
		pid, err := a.pid(0)
		if err != nil {
			return nil, err
		}
		info, err := m.ProcessInfo(ctx, pid)
		if err != nil {
			return nil, err
		}
		if !id.canJob(info.Name) {
			return nil, forbidden("this token may not use process %d", pid)
		}
		if id.hidesEnv() {
			info = redactProcess(info)
		}
		info.Args, info.RedirectOutput, info.CustomStreams = nonNil(info.Args), nonNil(info.RedirectOutput), nonNil(info.CustomStreams)
		return info, nil

	case "process_stats":
		if err := a.want(1, 1); err != nil {
			return nil, err
		}
		pid, err := proc(0)
		if err != nil {
			return nil, err
		}
		st, err := m.ProcessStats(ctx, pid)
		return map[string]manager.ProcStats{"stats": st}, err

	case "load":
		if err := a.want(1, 2); err != nil {
			return nil, err
		}
		var opts struct {
			Session string `json:"session"`
		}
		if err := a.object(1, &opts); err != nil {
			return nil, err
		}
		cfg, err := parseJob(a.raw[0], opts.Session)
		if err != nil {
			return nil, err
		}
		sess := opts.Session
		if sess == "" {
			sess = cfg.Session
		}
		if sess == "" {
			sess = ganger.DefaultSession
		}
		if !ganger.ValidName(sess) {
			return nil, badRequest("invalid session name %q", sess)
		}
		if err := id.checkSession(sess); err != nil {
			return nil, err
		}
		name, err := m.Load(ctx, sess, cfg)
		if err != nil {
			return nil, err
		}
		return loaded{true, name}, nil

	case "unload":
		return oneJob(cl.a.unload)
	case "reload":
		return oneJob(m.ReloadJob)
	case "start_job":
		return oneJob(m.StartJob)
	case "stop_job":
		return oneJob(m.StopJob)

	case "update":
		if err := a.want(2, 2); err != nil {
			return nil, err
		}
		name, err := job(0)
		if err != nil {
			return nil, err
		}
		sess, _, _ := ganger.ParseJobName(name)
		cfg, err := parseJob(a.raw[1], sess)
		if err != nil {
			return nil, err
		}
		return okBody, m.Update(ctx, name, cfg)

	case "scale":
		if err := a.want(2, 2); err != nil {
			return nil, err
		}
		name, err := job(0)
		if err != nil {
			return nil, err
		}
		v, err := a.value(1)
		if err != nil {
			return nil, err
		}
		op, err := parseScale(v)
		if err != nil {
			return nil, err
		}
		n, err := m.Scale(ctx, name, op)
		return numProcesses{n}, err

	case "commit":
		if err := a.want(1, 2); err != nil {
			return nil, err
		}
		name, err := job(0)
		if err != nil {
			return nil, err
		}
		var body commitBody
		if err := a.object(1, &body); err != nil {
			return nil, err
		}
		o, err := body.options()
		if err != nil {
			return nil, err
		}
		pid, err := m.Commit(ctx, name, o)
		return map[string]int{"pid": pid}, err

	case "stopall":
		if err := a.want(0, 0); err != nil {
			return nil, err
		}
		if id.sessions != nil {
			return nil, forbidden("stopall: this token is limited to some sessions")
		}
		return okBody, m.StopAll(ctx)

	case "killall":
		if err := a.want(0, 1); err != nil {
			return nil, err
		}
		if id.sessions != nil {
			return nil, forbidden("killall: this token is limited to some sessions")
		}
		sig := syscall.SIGTERM
		if a.has(0) {
			var err error
			if sig, err = a.signal(0); err != nil {
				return nil, err
			}
		}
		return okBody, m.KillAll(ctx, sig)

	case "stop_process":
		if err := a.want(1, 1); err != nil {
			return nil, err
		}
		pid, err := proc(0)
		if err != nil {
			return nil, err
		}
		return okBody, m.StopProcess(ctx, pid)

	case "kill":
		if err := a.want(2, 2); err != nil {
			return nil, err
		}
		sig, err := a.signal(1)
		if err != nil {
			return nil, err
		}
		// A number is a pid, a string a job name.
		if v, _ := a.value(0); v != nil {
			if _, isName := v.(string); isName {
				name, err := job(0)
				if err != nil {
					return nil, err
				}
				return okBody, m.SignalJob(ctx, name, sig)
			}
		}
		pid, err := proc(0)
		if err != nil {
			return nil, err
		}
		return okBody, m.SignalProcess(ctx, pid, sig)

	case "send":
		if err := a.want(2, 3); err != nil {
			return nil, err
		}
		pid, err := proc(0)
		if err != nil {
			return nil, err
		}
		data, err := a.str(1, "data")
		if err != nil {
			return nil, err
		}
		stream := ""
		if a.has(2) {
			if stream, err = a.str(2, "stream"); err != nil {
				return nil, err
			}
		}
		return okBody, m.Send(ctx, pid, stream, []byte(data))
	}
	return nil, badRequest("unknown command %q", d.Name) // unreachable: the tables above
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

// checkPid checks that a process exists and the token may use it.
func (cl *channelConn) checkPid(ctx context.Context, pid int) error {
	if cl.id.sessions == nil {
		return nil // the manager call answers ENOTFOUND itself
	}
	info, err := cl.a.m.ProcessInfo(ctx, pid)
	if err != nil {
		return err
	}
	if !cl.id.canJob(info.Name) {
		return forbidden("this token may not use process %d", pid)
	}
	return nil
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
