package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/go-chi/chi/v5"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/manager"
)

// DefaultLogLines is how many lines GET /jobs/{s}/{j}/logs returns without
// ?lines=.
const DefaultLogLines = 100

type ok struct {
	OK bool `json:"ok"`
}

var okBody = ok{OK: true}

// loaded answers the creation of a job.
type loaded struct {
	OK   bool   `json:"ok"`
	Name string `json:"name"`
}

// readBody reads a request body (capped by checkBody): 413 beyond the cap.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, ganger.Errorf(ganger.ETOOLARGE, "request body too large: the limit is %d bytes", mbe.Limit)
		}
		return nil, badRequest("reading the request body: %v", err)
	}
	return b, nil
}

// decodeStrict decodes one JSON value from b into v: numbers as
// json.Number, unknown fields and trailing data refused (400).
func decodeStrict(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return badRequest("missing JSON body")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("malformed JSON: unexpected data after the JSON value")
	}
	return nil
}

// readJSON reads and strictly decodes a request body into v.
func readJSON(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeStrict(b, v)
}

// readJob reads a job config body for session s: conf.ParseJob's checks
// (400 invalid_config naming the field) plus a "session" that must match.
func readJob(r *http.Request, s string) (conf.Job, error) {
	b, err := readBody(r)
	if err != nil {
		return conf.Job{}, err
	}
	return parseJob(b, s)
}

func parseJob(b []byte, s string) (conf.Job, error) {
	cfg, err := conf.ParseJob(b)
	if err != nil {
		return conf.Job{}, err
	}
	if cfg.Session != "" && s != "" && cfg.Session != s {
		return conf.Job{}, ganger.Errorf(ganger.EINVALID, "field \"session\": %q does not match the session %q", cfg.Session, s)
	}
	return cfg, nil
}

func (a *api) version(w http.ResponseWriter, r *http.Request) error {
	a.writeJSON(w, http.StatusOK, map[string]string{"name": "ganger", "version": a.o.Version})
	return nil
}

func (a *api) listSessions(w http.ResponseWriter, r *http.Request) error {
	ss, err := a.sessionsFor(r.Context(), identityOf(r.Context()))
	if err != nil {
		return err
	}
	a.writeJSON(w, http.StatusOK, map[string][]string{"sessions": ss})
	return nil
}

func (a *api) listJobs(w http.ResponseWriter, r *http.Request) error {
	jobs, err := a.jobsFor(r.Context(), identityOf(r.Context()), "")
	if err != nil {
		return err
	}
	a.writeJSON(w, http.StatusOK, map[string][]string{"jobs": jobs})
	return nil
}

func (a *api) sessionJobs(w http.ResponseWriter, r *http.Request) error {
	s := chi.URLParam(r, "session")
	jobs, err := a.jobsFor(r.Context(), identityOf(r.Context()), s)
	if err != nil {
		return err
	}
	a.writeJSON(w, http.StatusOK, struct {
		Session string   `json:"sessionid"`
		Jobs    []string `json:"jobs"`
	}{s, jobs})
	return nil
}

func (a *api) createJob(w http.ResponseWriter, r *http.Request) error {
	s := chi.URLParam(r, "session")
	cfg, err := readJob(r, s)
	if err != nil {
		return err
	}
	name, err := a.m.Load(r.Context(), s, cfg)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/jobs/"+url.PathEscape(s)+"/"+url.PathEscape(cfg.Name))
	a.writeJSON(w, http.StatusCreated, loaded{true, name})
	return nil
}

func (a *api) headJob(w http.ResponseWriter, r *http.Request) error {
	if _, err := a.m.JobInfo(r.Context(), jobOf(r)); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *api) getJob(w http.ResponseWriter, r *http.Request) error {
	b, err := a.jobView(r.Context(), identityOf(r.Context()), jobOf(r))
	if err != nil {
		return err
	}
	a.writeBody(w, http.StatusOK, b)
	return nil
}

func (a *api) updateJob(w http.ResponseWriter, r *http.Request) error {
	cfg, err := readJob(r, chi.URLParam(r, "session"))
	if err != nil {
		return err
	}
	if err := a.m.Update(r.Context(), jobOf(r), cfg); err != nil {
		return err
	}
	a.writeJSON(w, http.StatusOK, okBody)
	return nil
}

func (a *api) deleteJob(w http.ResponseWriter, r *http.Request) error {
	err := a.m.Unload(r.Context(), jobOf(r))
	a.answers.forget(jobOf(r))
	if err != nil {
		return err
	}
	a.writeJSON(w, http.StatusOK, okBody)
	return nil
}

func (a *api) jobStats(w http.ResponseWriter, r *http.Request) error {
	st, err := a.jobStatsView(r.Context(), identityOf(r.Context()), jobOf(r))
	if err != nil {
		return err
	}
	a.writeJSON(w, http.StatusOK, st)
	return nil
}

type numProcesses struct {
	N int `json:"numprocesses"`
}

func (a *api) getNumProcesses(w http.ResponseWriter, r *http.Request) error {
	info, err := a.m.JobInfo(r.Context(), jobOf(r))
	if err != nil {
		return err
	}
	a.writeJSON(w, http.StatusOK, numProcesses{info.NumProcesses})
	return nil
}

func (a *api) scaleJob(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Scale any `json:"scale"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	if body.Scale == nil {
		return badRequest("field \"scale\" is required: an integer or \"+N\", \"-N\", \"=N\"")
	}
	op, err := parseScale(body.Scale)
	if err != nil {
		return err
	}
	n, err := a.m.Scale(r.Context(), jobOf(r), op)
	if err != nil {
		return err
	}
	a.writeJSON(w, http.StatusOK, numProcesses{n})
	return nil
}

// readSignal reads a {"signal": name|number} body.
func readSignal(r *http.Request) (syscall.Signal, error) {
	var body struct {
		Signal any `json:"signal"`
	}
	if err := readJSON(r, &body); err != nil {
		return 0, err
	}
	if body.Signal == nil {
		return 0, badRequest("field \"signal\" is required: a name such as \"HUP\" or a number")
	}
	return conf.ParseSignal(body.Signal)
}

func (a *api) signalJob(w http.ResponseWriter, r *http.Request) error {
	sig, err := readSignal(r)
	if err != nil {
		return err
	}
	if err := a.m.SignalJob(r.Context(), jobOf(r), sig); err != nil {
		return err
	}
	a.writeJSON(w, http.StatusAccepted, okBody)
	return nil
}

func (a *api) getState(w http.ResponseWriter, r *http.Request) error {
	info, err := a.m.JobInfo(r.Context(), jobOf(r))
	if err != nil {
		return err
	}
	a.writeJSON(w, http.StatusOK, map[string]bool{"active": info.Active})
	return nil
}

// jobActions are the actions of POST /jobs/{s}/{j}/state, by name.
var jobActions = map[string]func(Manager, context.Context, string) error{
	"start":   Manager.StartJob,
	"stop":    Manager.StopJob,
	"reload":  Manager.ReloadJob,
	"restart": Manager.ReloadJob, // a rolling reload, as ganger restart
}

// actionNames lists jobActions for error texts.
const actionNames = `"start", "stop", "reload" or "restart"`

// parseAction reads a state body: {"action":"start"|"stop"|"reload"|
// "restart"} or gaffer's bare 1, 0 or 2.
func parseAction(b []byte) (string, error) {
	t := bytes.TrimSpace(b)
	if len(t) > 0 && t[0] == '{' {
		var body struct {
			Action string `json:"action"`
		}
		if err := decodeStrict(t, &body); err != nil {
			return "", err
		}
		if _, ok := jobActions[body.Action]; ok {
			return body.Action, nil
		}
		if body.Action == "" {
			return "", badRequest("field \"action\" is required: %s", actionNames)
		}
		return "", badRequest("field \"action\": unknown action %q: want %s", body.Action, actionNames)
	}
	var n json.Number
	if err := decodeStrict(t, &n); err != nil {
		return "", badRequest("want {\"action\": %s} or 1, 0, 2", actionNames)
	}
	switch n {
	case "1":
		return "start", nil
	case "0":
		return "stop", nil
	case "2":
		return "reload", nil
	}
	return "", badRequest("unknown state %s: want 1 (start), 0 (stop) or 2 (reload)", n)
}

func (a *api) setState(w http.ResponseWriter, r *http.Request) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	action, err := parseAction(b)
	if err != nil {
		return err
	}
	if err := jobActions[action](a.m, r.Context(), jobOf(r)); err != nil {
		return err
	}
	a.writeJSON(w, http.StatusAccepted, okBody)
	return nil
}

func (a *api) jobPids(w http.ResponseWriter, r *http.Request) error {
	pids, err := a.pidsFor(r.Context(), identityOf(r.Context()), jobOf(r))
	if err != nil {
		return err
	}
	a.writeJSON(w, http.StatusOK, map[string][]int{"pids": pids})
	return nil
}

// commitBody is the optional body of a commit.
type commitBody struct {
	GracefulTimeout any               `json:"graceful_timeout"`
	Env             map[string]string `json:"env"`
}

func (c commitBody) options() (manager.CommitOptions, error) {
	o := manager.CommitOptions{Env: c.Env}
	if c.GracefulTimeout != nil {
		d, err := conf.ParseDuration(c.GracefulTimeout)
		if err == nil && d < 0 {
			err = fmt.Errorf("must be >= 0, got %s", d)
		}
		if err != nil {
			return o, badRequest("field \"graceful_timeout\": %v", err)
		}
		o.GracefulTimeout = &d
	}
	return o, nil
}

func (a *api) commitJob(w http.ResponseWriter, r *http.Request) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var body commitBody
	if len(bytes.TrimSpace(b)) > 0 {
		if err := decodeStrict(b, &body); err != nil {
			return err
		}
	}
	o, err := body.options()
	if err != nil {
		return err
	}
	pid, err := a.m.Commit(r.Context(), jobOf(r), o)
	if err != nil {
		return err
	}
	a.writeJSON(w, http.StatusOK, map[string]int{"pid": pid})
	return nil
}

func (a *api) jobLogs(w http.ResponseWriter, r *http.Request) error {
	n := DefaultLogLines
	if s := r.URL.Query().Get("lines"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return badRequest("invalid lines %q: want an integer >= 0 (0 for every line kept)", s)
		}
		n = v
	}
	lines, err := a.m.Logs(r.Context(), jobOf(r), n)
	if err != nil {
		return err
	}
	a.writeJSON(w, http.StatusOK, struct {
		Name  string            `json:"name"`
		Lines []manager.LogLine `json:"lines"`
	}{jobOf(r), lines})
	return nil
}

func (a *api) listPids(w http.ResponseWriter, r *http.Request) error {
	pids, err := a.pidsFor(r.Context(), identityOf(r.Context()), "")
	if err != nil {
		return err
	}
	a.writeJSON(w, http.StatusOK, map[string][]int{"pids": pids})
	return nil
}

func (a *api) getProcess(w http.ResponseWriter, r *http.Request) error {
	a.writeJSON(w, http.StatusOK, processView(identityOf(r.Context()), processOf(r)))
	return nil
}

func (a *api) stopProcess(w http.ResponseWriter, r *http.Request) error {
	if err := a.m.StopProcess(r.Context(), processOf(r).Pid); err != nil {
		return err
	}
	a.writeJSON(w, http.StatusAccepted, okBody)
	return nil
}

func (a *api) signalProcess(w http.ResponseWriter, r *http.Request) error {
	sig, err := readSignal(r)
	if err != nil {
		return err
	}
	if err := a.m.SignalProcess(r.Context(), processOf(r).Pid, sig); err != nil {
		return err
	}
	a.writeJSON(w, http.StatusAccepted, okBody)
	return nil
}

func (a *api) processStats(w http.ResponseWriter, r *http.Request) error {
	st, err := a.m.ProcessStats(r.Context(), processOf(r).Pid)
	if err != nil {
		return err
	}
	a.writeJSON(w, http.StatusOK, map[string]manager.ProcStats{"stats": st})
	return nil
}

// parseScale reads the scale forms of the API: an int n (n>0 adds n, n<0
// removes -n) or a string "+2", "-1", "=4" or "4" (which sets 4). Anything
// else is a bad_request error.
func parseScale(v any) (manager.ScaleOp, error) {
	bad := badRequest("invalid scale %v: want an integer or \"+N\", \"-N\", \"=N\"", v)
	switch v := v.(type) {
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			return manager.ScaleOp{}, bad
		}
		return intScale(int(n)), nil
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return manager.ScaleOp{}, bad
		}
		op := byte('=')
		if strings.ContainsRune("+-=", rune(s[0])) {
			op, s = s[0], s[1:]
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return manager.ScaleOp{}, bad
		}
		return manager.ScaleOp{Op: op, N: n}, nil
	}
	return manager.ScaleOp{}, bad
}

func intScale(n int) manager.ScaleOp {
	if n < 0 {
		return manager.ScaleOp{Op: '-', N: -n}
	}
	return manager.ScaleOp{Op: '+', N: n}
}
