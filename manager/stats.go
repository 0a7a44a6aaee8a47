package manager

import (
	"context"
	"time"
)

// ProcStats are one process's resource figures; nil where unknown.
type ProcStats struct {
	Pid        int      `json:"pid"`
	OSPid      int      `json:"os_pid"`
	CPU        *float64 `json:"cpu"`
	Mem        *float64 `json:"mem"`
	RSS        *uint64  `json:"rss"`
	VMS        *uint64  `json:"vms"`
	CTime      *float64 `json:"ctime"`
	CreateTime *float64 `json:"create_time"`
}

// JobStats sums a job's processes' figures.
type JobStats struct {
	Name   string      `json:"name"`
	CPU    *float64    `json:"cpu"`
	Mem    *float64    `json:"mem"`
	RSS    *uint64     `json:"rss"`
	MaxCPU *float64    `json:"max_cpu"`
	MinCPU *float64    `json:"min_cpu"`
	MaxRSS *uint64     `json:"max_rss"`
	MinRSS *uint64     `json:"min_rss"`
	Stats  []ProcStats `json:"stats"`
}

type statTarget struct {
	pid, osPid int
	pr         osProcess
	created    time.Time
}

// sample reads a process's figures; it runs outside the loop.
func (t statTarget) sample() ProcStats {
	ps := ProcStats{Pid: t.pid, OSPid: t.osPid}
	st, err := t.pr.Stats()
	if err != nil {
		return ps
	}
	// The create time is the manager's own record of the spawn, as
	// ProcessInfo has it: /proc's is counted from a boot time known to the
	// second only.
	created := unixSeconds(t.created)
	ps.CPU, ps.Mem, ps.RSS, ps.VMS = &st.CPU, &st.Mem, &st.RSS, &st.VMS
	ps.CTime, ps.CreateTime = &st.CTime, &created
	return ps
}

// JobStats samples every process of a job (commits included). The
// sampling reads /proc outside the loop. ENOTFOUND.
func (m *Manager) JobStats(ctx context.Context, name string) (JobStats, error) {
	var targets []statTarget
	full, err := callJob(ctx, m, name, func(j *job) (string, error) {
		for _, pid := range j.allPids() {
			p := j.procs[pid]
			targets = append(targets, statTarget{p.pid, p.osPid, p.os, p.created})
		}
		return j.fullName, nil
	})
	if err != nil {
		return JobStats{}, err
	}
	js := JobStats{Name: full, Stats: make([]ProcStats, 0, len(targets))}
	var cpu, mem float64
	var rss uint64
	for _, t := range targets {
		ps := t.sample()
		js.Stats = append(js.Stats, ps)
		if ps.CPU == nil {
			continue
		}
		cpu, mem, rss = cpu+*ps.CPU, mem+*ps.Mem, rss+*ps.RSS
		if js.MaxCPU == nil || *ps.CPU > *js.MaxCPU {
			js.MaxCPU = ps.CPU
		}
		if js.MinCPU == nil || *ps.CPU < *js.MinCPU {
			js.MinCPU = ps.CPU
		}
		if js.MaxRSS == nil || *ps.RSS > *js.MaxRSS {
			js.MaxRSS = ps.RSS
		}
		if js.MinRSS == nil || *ps.RSS < *js.MinRSS {
			js.MinRSS = ps.RSS
		}
	}
	if js.MaxCPU != nil {
		js.CPU, js.Mem, js.RSS = &cpu, &mem, &rss
	}
	return js, nil
}

// ProcessStats samples one process. ENOTFOUND.
func (m *Manager) ProcessStats(ctx context.Context, pid int) (ProcStats, error) {
	t, err := call(ctx, m, func() (statTarget, error) {
		p, err := m.lookupProc(pid)
		if err != nil {
			return statTarget{}, err
		}
		return statTarget{p.pid, p.osPid, p.os, p.created}, nil
	})
	if err != nil {
		return ProcStats{}, err
	}
	return t.sample(), nil
}
