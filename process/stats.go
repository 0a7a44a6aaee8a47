package process

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"github.com/shirou/gopsutil/v4/mem"
	gps "github.com/shirou/gopsutil/v4/process"
)

// Stats is a sample of the resource usage of a process's leader (not of
// its children or the rest of its group).
type Stats struct {
	CPU        float64 // percent of one core since the previous Stats call (first call: since start)
	Mem        float64 // percent of total memory
	RSS, VMS   uint64  // bytes
	CTime      float64 // user+system CPU seconds
	CreateTime float64 // unix seconds (fractional)
}

// sampler remembers the previous CPU sample.
type sampler struct {
	pid      int
	created  int64   // the leader's start, unix ms; 0 until the first sample
	lastCPU  float64 // CPU seconds at lastTime
	lastTime time.Time
}

// Stats samples the leader's resource usage now. It returns an error
// wrapping ErrGone when the leader no longer exists (or its pid now belongs
// to another process). A leader that exited but was not reaped yet reports
// zero memory.
func (p *Process) Stats() (Stats, error) {
	p.statsMu.Lock()
	defer p.statsMu.Unlock()
	st, err := p.sampler.sampleLocked()
	if err != nil {
		return Stats{}, fmt.Errorf("sampling process %d: %w", p.pid, err)
	}
	return st, nil
}

// sampleLocked reads /proc for one sample; statsMu must be held.
func (s *sampler) sampleLocked() (Stats, error) {
	now := time.Now()
	// A fresh gopsutil Process each time: it caches the start time, which
	// is what tells the leader from a later process with the same pid.
	proc, err := gps.NewProcess(int32(s.pid))
	if err != nil {
		return Stats{}, gone(err)
	}
	created, err := proc.CreateTime()
	if err != nil {
		return Stats{}, gone(err)
	}
	if s.created == 0 {
		s.created = created
	} else if created != s.created {
		return Stats{}, fmt.Errorf("%w: pid %d was reused", ErrGone, s.pid)
	}
	times, err := proc.Times()
	if err != nil {
		return Stats{}, gone(err)
	}
	mi, err := proc.MemoryInfo()
	if err != nil {
		return Stats{}, gone(err)
	}
	st := Stats{
		RSS:        mi.RSS,
		VMS:        mi.VMS,
		CTime:      times.User + times.System,
		CreateTime: float64(created) / 1e3,
	}
	if vm, err := mem.VirtualMemory(); err == nil && vm.Total > 0 {
		st.Mem = 100 * float64(mi.RSS) / float64(vm.Total)
	}
	since, before := s.lastTime, s.lastCPU
	if since.IsZero() {
		since, before = time.UnixMilli(created), 0
	}
	if d := now.Sub(since).Seconds(); d > 0 && st.CTime > before {
		st.CPU = 100 * (st.CTime - before) / d
	}
	s.lastTime, s.lastCPU = now, st.CTime
	return st, nil
}

// gone adds ErrGone to an error of gopsutil that means the process is not
// there any more.
func gone(err error) error {
	if errors.Is(err, gps.ErrorProcessNotRunning) || errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%w: %w", ErrGone, err)
	}
	return err
}
