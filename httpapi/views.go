package httpapi

import (
	"context"
	"fmt"
	"slices"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/manager"
)

// What a token may see, and the answers that describe jobs and processes:
// one set of helpers for REST and /channel alike, so that both answer the
// same and hide the same.

// sessionsFor returns the sessions id may see, in load order.
func (a *api) sessionsFor(ctx context.Context, id identity) ([]string, error) {
	ss, err := a.m.Sessions(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		if id.canSession(s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// jobsFor returns the full names of the jobs id may see, of one session
// or, for session "", of every session. EFORBIDDEN for a session id may
// not use, ENOTFOUND for no such session.
func (a *api) jobsFor(ctx context.Context, id identity, session string) ([]string, error) {
	if session != "" {
		if err := id.checkSession(session); err != nil {
			return nil, err
		}
	}
	jobs, err := a.m.Jobs(ctx, session)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(jobs))
	for _, j := range jobs {
		if id.canJob(j) {
			out = append(out, j)
		}
	}
	return out, nil
}

// pidsFor returns the pids job keeps alive or, for job "", every pid
// (commits included) id may see. EFORBIDDEN for a job id may not use,
// ENOTFOUND for no such job.
func (a *api) pidsFor(ctx context.Context, id identity, job string) ([]int, error) {
	if job != "" {
		if err := id.checkJob(job); err != nil {
			return nil, err
		}
		pids, err := a.m.Pids(ctx, job)
		return pids, err
	}
	pids, err := a.m.Pids(ctx, "")
	if err != nil {
		return nil, err
	}
	if id.sessions == nil {
		return pids, nil
	}
	out := make([]int, 0, len(pids))
	for _, pid := range pids {
		info, err := a.m.ProcessInfo(ctx, pid)
		if err == nil && id.canJob(info.Name) {
			out = append(out, pid)
		}
	}
	return out, nil
}

// checkJobExists checks that a job exists and id may use it: EFORBIDDEN,
// ENOTFOUND.
func (a *api) checkJobExists(ctx context.Context, id identity, name string) error {
	if err := id.checkJob(name); err != nil {
		return err
	}
	_, err := a.m.JobInfo(ctx, name)
	return err
}

// jobView returns the encoded answer describing a job (GET
// /jobs/{s}/{j}, the info command), env values hidden from a read token:
// one manager call, and an encoding only when the job's revision is not
// the one of the cached answer (answerCache). The bytes are shared: the
// caller must not modify them. EFORBIDDEN for a job id may not use,
// ENOTFOUND for no such job.
func (a *api) jobView(ctx context.Context, id identity, name string) ([]byte, error) {
	if err := id.checkJob(name); err != nil {
		return nil, err
	}
	redacted := id.hidesEnv()
	rev, err := a.m.JobRevision(ctx, name) // cheaper than a JobInfo
	if err == nil {
		if b, ok := a.answers.get(name, redacted, rev); ok {
			return b, nil
		}
	}
	info, err := a.m.JobInfo(ctx, name)
	if err != nil {
		if ganger.ErrorCode(err) == ganger.ENOTFOUND {
			a.answers.forget(name)
		}
		return nil, err
	}
	if redacted {
		info = redactJob(info)
	}
	buf := a.getBuffer()
	defer a.putBuffer(buf)
	if err := encodeJSON(buf, newJobAnswer(info)); err != nil {
		return nil, fmt.Errorf("encoding job %s: %w", name, err)
	}
	b := slices.Clone(buf.Bytes())
	if a.answers.put(name, redacted, info.Revision, b) {
		a.pruneAnswers(ctx)
	}
	return b, nil
}

// jobAnswer is the JSON answer describing a job, keys in API.md's order:
// a manager.JobInfo whose slots have pid and os_pid null when they have no
// process.
type jobAnswer struct {
	Name         string               `json:"name"`
	State        string               `json:"state"`
	Active       bool                 `json:"active"`
	Running      int                  `json:"running"`
	RunningOut   int                  `json:"running_out"`
	Ready        int                  `json:"ready"`
	NumProcesses int                  `json:"numprocesses"`
	Restarts     int                  `json:"restarts"`
	Processes    []int                `json:"processes"`
	Slots        []slotAnswer         `json:"slots"`
	WaitingFor   []manager.Dependency `json:"waiting_for"`
	Config       conf.Job             `json:"config"`
	Flapping     manager.FlapInfo     `json:"flapping"`
}

// slotAnswer is a manager.SlotInfo in the API: pid and os_pid null when
// the slot has no process.
type slotAnswer struct {
	Slot       int               `json:"slot"`
	State      string            `json:"state"`
	Pid        *int              `json:"pid"`
	OSPid      *int              `json:"os_pid"`
	Ready      bool              `json:"ready"`
	Restarts   int               `json:"restarts"`
	Since      float64           `json:"since"`
	LastExit   *manager.ExitInfo `json:"last_exit"`
	SpawnError string            `json:"spawn_error"`
}

func newJobAnswer(info manager.JobInfo) jobAnswer {
	slots := make([]slotAnswer, len(info.Slots))
	for i := range info.Slots {
		s := &info.Slots[i]
		slots[i] = slotAnswer{Slot: s.Slot, State: s.State, Ready: s.Ready, Restarts: s.Restarts, Since: s.Since,
			LastExit: s.LastExit, SpawnError: s.SpawnError}
		if s.Pid != 0 {
			slots[i].Pid, slots[i].OSPid = &s.Pid, &s.OSPid
		}
	}
	return jobAnswer{
		Name: info.Name, State: info.State, Active: info.Active, Running: info.Running, RunningOut: info.RunningOut,
		Ready: info.Ready, NumProcesses: info.NumProcesses, Restarts: info.Restarts, Processes: info.Processes,
		Slots: slots, WaitingFor: info.WaitingFor, Config: info.Config, Flapping: info.Flapping,
	}
}

// pruneAnswers drops the cached answers of jobs that no longer exist.
func (a *api) pruneAnswers(ctx context.Context) {
	jobs, err := a.m.Jobs(ctx, "")
	if err != nil {
		jobs = nil // drop them all: they are made again when asked for
	}
	a.answers.prune(jobs)
}

// jobStatsView returns a job's stats. EFORBIDDEN for a job id may not
// use, ENOTFOUND for no such job.
func (a *api) jobStatsView(ctx context.Context, id identity, name string) (manager.JobStats, error) {
	if err := id.checkJob(name); err != nil {
		return manager.JobStats{}, err
	}
	st, err := a.m.JobStats(ctx, name)
	return st, err
}

// processFor returns the process pid if id may see it: ENOTFOUND if there
// is no such process, EFORBIDDEN if it belongs to a session id may not
// use.
func (a *api) processFor(ctx context.Context, id identity, pid int) (manager.ProcessInfo, error) {
	info, err := a.m.ProcessInfo(ctx, pid)
	if err != nil {
		return manager.ProcessInfo{}, err
	}
	if !id.canJob(info.Name) {
		return manager.ProcessInfo{}, forbidden("this token may not use process %d", pid)
	}
	return info, nil
}

// checkProcess returns processFor's errors, without a manager call when
// id may see every process (the caller's own manager call then answers
// ENOTFOUND).
func (a *api) checkProcess(ctx context.Context, id identity, pid int) error {
	if id.sessions == nil {
		return nil
	}
	_, err := a.processFor(ctx, id, pid)
	return err
}

// processView returns the answer describing a process (GET /{pid}, the
// process_info command): env values hidden from a read token, lists never
// null.
func processView(id identity, info manager.ProcessInfo) manager.ProcessInfo {
	if id.hidesEnv() {
		info = redactProcess(info)
	}
	return info
}

// redactJob hides the values of a job's env (names kept).
func redactJob(info manager.JobInfo) manager.JobInfo {
	info.Config = info.Config.Clone()
	for k := range info.Config.Env {
		info.Config.Env[k] = ""
	}
	return info
}

// redactProcess hides the values of a process's env (names kept).
func redactProcess(info manager.ProcessInfo) manager.ProcessInfo {
	env := make(map[string]string, len(info.Env))
	for k := range info.Env {
		env[k] = ""
	}
	info.Env = env
	// cmd and args as configured, $NAME unexpanded: an expanded value
	// may be a secret.
	if len(info.Template) > 0 {
		info.Cmd, info.Args = info.Template[0], slices.Clone(info.Template[1:])
	}
	return info
}

// hasLabel reports whether a process has an output or custom stream of
// that label.
func hasLabel(info manager.ProcessInfo, label string) bool {
	return slices.Contains(info.RedirectOutput, label) || slices.Contains(info.CustomStreams, label)
}
