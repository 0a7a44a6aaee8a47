package manager

import (
	"sort"
	"time"

	"github.com/ganger/ganger/conf"
)

// session groups jobs. Loop-owned.
type session struct {
	name  string
	jobs  map[string]*job
	order []string // job names in load order
}

func (s *session) jobsInOrder() []*job {
	out := make([]*job, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, s.jobs[n])
	}
	return out
}

func (s *session) remove(name string) {
	delete(s.jobs, name)
	for i, n := range s.order {
		if n == name {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
}

// job is a process template and the processes kept alive from it. Loop-owned.
type job struct {
	session  string
	name     string
	fullName string
	cfg      conf.Job
	active   bool // the job should run
	rev      uint64

	running map[int]*proc // kept-alive processes not asked to stop, by pid
	slots   map[int]*proc // slot → the process occupying it (running, or stopping for a replacement)
	all     map[int]*proc // every process of the job not yet gone, commits included

	flap         flapState
	respawnTimer *time.Timer
	removed      bool
	goneWaiters  []func(error) // called once no process of the job is left

	ring *ring
	logf *logFile
}

func (j *job) closeLog() {
	if j.logf != nil {
		j.logf.close()
		j.logf = nil
	}
}

// state is the job's state as the API reports it.
func (j *job) state() string {
	switch {
	case j.flap.state == flapGaveUp:
		return "gave_up"
	case j.flap.state == flapFlapping:
		return "flapping"
	case j.active:
		return "running"
	default:
		return "stopped"
	}
}

// runningPids returns the pids of the kept-alive processes, oldest first.
func (j *job) runningPids() []int {
	pids := make([]int, 0, len(j.running))
	for pid := range j.running {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids
}

// allPids returns the pids of every process of the job, oldest first.
func (j *job) allPids() []int {
	pids := make([]int, 0, len(j.all))
	for pid := range j.all {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids
}

// ensure spawns processes until the job has as many as it should.
func (m *Manager) ensure(j *job) {
	if !j.active || j.removed || j.flap.state != flapOK || m.shutting || j.respawnTimer != nil {
		return
	}
	for slot := 0; len(j.slots) < j.cfg.NumProcesses; slot++ {
		if j.slots[slot] != nil {
			continue
		}
		if _, err := m.spawn(j, slot, spawnOptions{}); err != nil {
			if m.recordCrash(j) {
				j.respawnTimer = m.after(respawnDelay, msgRespawn{j})
			}
			return
		}
	}
}

// respawnDelay spaces retries after a failed spawn.
const respawnDelay = 100 * time.Millisecond

// stopJobProcs asks every kept-alive process of j to stop; with hold, each
// keeps its slot so a replacement starts once it is gone.
func (m *Manager) stopJobProcs(j *job, hold bool) {
	for _, pid := range j.runningPids() {
		m.stopProc(j.running[pid], hold)
	}
}

// stopCommits asks every running commit of j to stop.
func (m *Manager) stopCommits(j *job) {
	for _, pid := range j.allPids() {
		if p := j.all[pid]; p.once {
			m.stopProc(p, false)
		}
	}
}

// deactivate stops a job at a user's request: no respawn, no pending retry.
func (m *Manager) deactivate(j *job) {
	j.rev++
	m.cancelFlapTimers(j)
	j.flap.state = flapOK
	if j.active {
		j.active = false
		m.publish(Event{Type: EventStop, Name: j.fullName})
	}
	m.stopJobProcs(j, false)
}

// activate starts a job at a user's request, resetting its flapping history.
func (m *Manager) activate(j *job) {
	j.rev++
	m.cancelFlapTimers(j)
	j.flap = flapState{}
	if !j.active {
		j.active = true
		m.publish(Event{Type: EventStart, Name: j.fullName})
	}
	m.ensure(j)
}

// scaleTo changes the number of processes a job keeps alive; a scale-down
// stops the oldest processes first.
func (m *Manager) scaleTo(j *job, n int) {
	j.rev++
	j.cfg.NumProcesses = n
	m.publish(Event{Type: EventScale, Name: j.fullName, NumProcesses: n})
	if extra := len(j.running) - n; extra > 0 {
		for _, pid := range j.runningPids()[:extra] {
			p := j.running[pid]
			m.publish(Event{Type: EventReap, Name: j.fullName, Pid: p.pid, OSPid: p.osPid})
			m.stopProc(p, false)
		}
	}
	m.ensure(j)
}

// jobGone is called when the last process of j is gone.
func (m *Manager) jobGone(j *job) {
	waiters := j.goneWaiters
	j.goneWaiters = nil
	for _, w := range waiters {
		w(nil)
	}
}

// whenGone calls f once j has no process left (at once if it has none).
func (m *Manager) whenGone(j *job, f func(error)) {
	if len(j.all) == 0 {
		f(nil)
		return
	}
	j.goneWaiters = append(j.goneWaiters, f)
}
