package manager

import (
	"slices"
	"strconv"
	"time"

	"github.com/ganger/ganger"
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
	s.order = slices.DeleteFunc(s.order, func(n string) bool { return n == name })
}

// job is a process template, its slots and its processes. Loop-owned.
type job struct {
	session  string
	name     string
	fullName string
	cfg      conf.Job
	active   bool    // the job should run
	removed  bool    // unloaded: its processes are ending
	rev      uint64  // set by every change of what JobInfo says (changed)
	revs     *uint64 // the manager's revision counter, shared by its jobs

	slots    []*slot       // slot n at index n-1; nil holes, and slots past numprocesses while a scale-down ends
	procs    map[int]*proc // every process of the job not yet gone, commits included, by pid
	restarts int           // respawns after a crash, since the job was loaded

	waitingFor  []Dependency // the conditions its waiting slots wait for
	rollout     *rollout     // a rolling replacement in progress
	stopHeld    bool         // stopping everything: its processes wait for its dependents' to end
	goneWaiters []func()     // called once no process of the job is left

	// ring and logf receive the output of the job's processes; they are
	// set when the job is loaded and never replaced, so reader goroutines
	// may use them without the loop (each guards itself with a mutex).
	ring *ring
	logf *logFile
}

// changed records that something JobInfo reports of j changed: j takes
// the manager's next revision, so no two descriptions of any job (nor of
// a job unloaded and loaded again under its name) share a revision.
func (j *job) changed() {
	*j.revs++
	j.rev = *j.revs
}

func (j *job) closeLog() {
	if j.logf != nil {
		j.logf.close()
		j.logf = nil
	}
}

// slot returns slot n, or nil.
func (j *job) slot(n int) *slot {
	if n < 1 || n > len(j.slots) {
		return nil
	}
	return j.slots[n-1]
}

// liveSlots returns the slots 1…numprocesses, in order, creating any
// that are missing (as exited).
func (j *job) liveSlots(now time.Time) []*slot {
	for len(j.slots) < j.cfg.NumProcesses {
		j.slots = append(j.slots, nil)
	}
	out := make([]*slot, 0, j.cfg.NumProcesses)
	for i := range j.cfg.NumProcesses {
		if j.slots[i] == nil {
			j.slots[i] = &slot{n: i + 1, state: SlotExited, since: now}
		}
		out = append(out, j.slots[i])
	}
	return out
}

// allSlots returns every slot, those a scale-down is removing included.
func (j *job) allSlots() []*slot {
	out := make([]*slot, 0, len(j.slots))
	for _, s := range j.slots {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// keptPids returns the pids of the slots' processes that are not stopping,
// by slot.
func (j *job) keptPids() []int {
	pids := []int{}
	for _, s := range j.allSlots() {
		if s.n <= j.cfg.NumProcesses && s.live() {
			pids = append(pids, s.proc.pid)
		}
	}
	return pids
}

// allPids returns the pids of every process of the job, oldest first.
func (j *job) allPids() []int {
	pids := make([]int, 0, len(j.procs))
	for pid := range j.procs {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}

// state sums up the job's slots (API.md "Lifecycle and health").
func (j *job) state() string {
	if !j.active {
		return JobStopped
	}
	var n, waiting, starting, running, backoff, fatal, exited, failed int
	for _, s := range j.slots {
		if s == nil || s.n > j.cfg.NumProcesses {
			continue
		}
		n++
		switch s.state {
		case SlotWaiting:
			waiting++
		case SlotStarting, SlotStopping: // stopping: replaced, a new process follows
			starting++
		case SlotRunning:
			running++
		case SlotBackoff:
			backoff++
		case SlotFatal:
			fatal++
		case SlotExited:
			exited++
			if s.lastExit == nil || !s.lastExit.success {
				failed++
			}
		}
	}
	switch {
	case n == 0:
		return JobRunning
	case waiting == n:
		return JobWaiting
	case fatal == n:
		return JobGaveUp
	case backoff == n:
		return JobFlapping
	case exited == n && failed == 0:
		return JobCompleted
	case starting+running+waiting+backoff == 0:
		return JobStopped // every slot exited or fatal, some with a failure
	case backoff+fatal+failed > 0:
		return JobDegraded
	case starting+waiting > 0:
		return JobStarting
	default:
		return JobRunning
	}
}

// flapInfo sums up the slots' flapping.
func (j *job) flapInfo() FlapInfo {
	fi := FlapInfo{State: "ok"}
	for _, s := range j.allSlots() {
		fi.Retries = max(fi.Retries, s.hist.retries)
		switch {
		case s.gaveUp:
			fi.State = "gave_up"
		case s.flapping && fi.State == "ok":
			fi.State = "flapping"
		}
	}
	return fi
}

// info describes j. Loop only.
func (j *job) info() JobInfo {
	info := JobInfo{
		Name: j.fullName, State: j.state(), Active: j.active,
		NumProcesses: j.cfg.NumProcesses, Restarts: j.restarts, Processes: j.keptPids(),
		Slots: []SlotInfo{}, WaitingFor: slices.Clone(j.waitingFor),
		Config: j.cfg.Clone(), Flapping: j.flapInfo(), Revision: j.rev,
	}
	if info.WaitingFor == nil {
		info.WaitingFor = []Dependency{}
	}
	for _, p := range j.procs {
		switch {
		case p.stopping:
			info.RunningOut++
		case !p.leaderDone && !p.once:
			info.Running++
		}
	}
	for _, s := range j.allSlots() {
		si := s.info()
		if si.Ready && s.n <= j.cfg.NumProcesses {
			info.Ready++
		}
		info.Slots = append(info.Slots, si)
	}
	return info
}

// info describes s.
func (s *slot) info() SlotInfo {
	si := SlotInfo{Slot: s.n, State: s.state, Restarts: s.restarts, Since: unixSeconds(s.since), SpawnError: s.spawnErr}
	if s.proc != nil {
		si.Pid, si.OSPid = s.proc.pid, s.proc.osPid
	}
	si.Ready = s.state == SlotRunning
	if s.lastExit != nil {
		e := *s.lastExit
		si.LastExit = &e
	}
	return si
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// apply performs the actions a transition of slot s of job j returned,
// in order, then notes the change (JobInfo's revision, a rolling
// replacement waiting for s, jobs waiting for j).
func (m *Manager) apply(j *job, s *slot, acts []action) {
	j.changed()
	for _, a := range acts {
		switch a.kind {
		case actSpawn:
			m.spawnSlot(j, s, a.restart)
		case actStop:
			m.stopSlotProcess(j, s)
		case actArm:
			m.armSlot(j, s, a.timer, a.delay)
		case actDisarm:
			m.disarmSlot(s)
		case actProbe:
			if s.proc != nil {
				m.startProbe(s.proc, a.probe)
			}
		case actPublish:
			ev := a.event
			ev.Name, ev.Slot = j.fullName, s.n
			if s.proc != nil && ev.Type != EventBackoff && ev.Type != EventFlap && ev.Type != EventGiveUp {
				ev.Pid, ev.OSPid = s.proc.pid, s.proc.osPid
			}
			m.countEvent(ev)
			m.publish(ev)
		case actLog:
			m.log.Info("slot "+j.fullName+"."+strconv.Itoa(s.n)+": "+a.reason, "job", j.fullName, "slot", s.n)
		case actRemove:
			m.removeSlot(j, s)
		}
	}
	m.slotChanged(j, s)
}

// countEvent keeps the metrics of the events that have a counter.
func (m *Manager) countEvent(ev Event) {
	switch ev.Type {
	case EventFlap:
		m.flaps.Add(1)
	case EventGiveUp:
		m.giveups.Add(1)
	}
}

// spawnSlot starts a process in slot s; the slot's spawned or
// spawnFailed transition follows at once.
func (m *Manager) spawnSlot(j *job, s *slot, restart bool) {
	if !j.active || j.removed || m.shutting || s.proc != nil {
		return
	}
	if restart {
		s.restarts++
		j.restarts++
		m.restarts.Add(1)
	}
	p, err := m.spawn(j, s, spawnOptions{})
	if err != nil {
		s.spawnErr = err.Error()
		m.apply(j, s, s.spawnFailed(j.cfg, m.now()))
		return
	}
	s.spawnErr = ""
	m.rolloutSpawned(j, s, p)
	m.apply(j, s, s.spawned(p, j.cfg, m.now()))
}

// stopSlotProcess starts the graceful stop of s's process; a scale-down
// publishes reap first.
func (m *Manager) stopSlotProcess(j *job, s *slot) {
	p := s.proc
	if p == nil {
		return
	}
	if s.intent == stopToRemove {
		m.publish(Event{Type: EventReap, Name: j.fullName, Pid: p.pid, OSPid: p.osPid, Slot: s.n})
	}
	m.stopProcess(p)
}

// armSlot arms s's timer; a timer armed before is dropped.
func (m *Manager) armSlot(j *job, s *slot, kind timerKind, d time.Duration) {
	m.disarmSlot(s)
	s.timer = m.after(d, msgSlotTimer{j: j, s: s, kind: kind, gen: s.timerGen})
}

// disarmSlot drops s's timer; a message it already sent is stale.
func (m *Manager) disarmSlot(s *slot) {
	s.timerGen++
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
}

// removeSlot forgets s, which a scale-down removed and whose process is
// gone.
func (m *Manager) removeSlot(j *job, s *slot) {
	m.disarmSlot(s)
	if j.slot(s.n) == s {
		j.slots[s.n-1] = nil
	}
	for len(j.slots) > 0 && j.slots[len(j.slots)-1] == nil {
		j.slots = j.slots[:len(j.slots)-1]
	}
	if r := j.rollout; r != nil && r.slot == s.n {
		m.rolloutNext(j) // the slot it was replacing is gone: the rollout is done
	}
}

// slotChanged is called after every transition of a slot of j.
func (m *Manager) slotChanged(j *job, s *slot) {
	m.rolloutProgress(j, s)
	m.checkWaiting()
}

// activate starts a job at a user's request: every slot that has no
// process gets one (or waits for the job's dependencies), and every
// slot's crash history is reset.
func (m *Manager) activate(j *job) {
	j.changed()
	if !j.active {
		j.active = true
		j.stopHeld = false
		m.publish(Event{Type: EventStart, Name: j.fullName})
	}
	waiting := m.unmetDependencies(j)
	j.waitingFor = waiting
	if len(waiting) > 0 {
		if !slices.Contains(m.waiting, j) {
			m.waiting = append(m.waiting, j)
		}
		m.publish(Event{Type: EventWaiting, Name: j.fullName, WaitingFor: slices.Clone(waiting)})
	}
	now := m.now()
	for _, s := range j.liveSlots(now) {
		m.apply(j, s, s.start(now, len(waiting) > 0))
	}
}

// deactivate stops a job at a user's request: nothing respawns and no
// timer is left. With hold, processes keep running until releaseStop
// (stopping everything: dependents go first).
func (m *Manager) deactivate(j *job, hold bool) {
	j.changed()
	m.cancelRollout(j)
	j.waitingFor = nil
	if j.active {
		j.active = false
		m.publish(Event{Type: EventStop, Name: j.fullName})
	}
	j.stopHeld = hold
	m.anyHeld = m.anyHeld || hold
	now := m.now()
	for _, s := range j.allSlots() {
		if hold && s.proc != nil {
			m.disarmSlot(s)
			continue
		}
		m.apply(j, s, s.stop(stopToExit, now))
	}
}

// releaseStop stops the processes of a held job.
func (m *Manager) releaseStop(j *job) {
	j.stopHeld = false
	now := m.now()
	for _, s := range j.allSlots() {
		if s.proc != nil {
			m.apply(j, s, s.stop(stopToExit, now))
		}
	}
}

// stopCommits asks every running commit of j to stop.
func (m *Manager) stopCommits(j *job) {
	for _, pid := range j.allPids() {
		if p := j.procs[pid]; p.once {
			m.stopProcess(p)
		}
	}
}

// scaleTo changes the number of slots of j. A scale-down stops the
// highest slots first; a scale-up adds slots, started at once if the job
// is (or waiting with it).
func (m *Manager) scaleTo(j *job, n int) {
	old := j.cfg.NumProcesses
	j.cfg.NumProcesses = n
	j.changed()
	now := m.now()
	for _, s := range slices.Backward(j.allSlots()) {
		if s.n > n {
			m.apply(j, s, s.stop(stopToRemove, now))
		}
	}
	for _, s := range j.liveSlots(now) {
		if s.n <= old {
			continue // kept as it is
		}
		s.keep(j.active) // one a scale-down was removing is taken back
		if j.active && s.proc == nil {
			m.apply(j, s, s.start(now, len(j.waitingFor) > 0))
		}
	}
}

// jobEmptied is called when the last process of j is gone.
func (m *Manager) jobEmptied(j *job) {
	waiters := j.goneWaiters
	j.goneWaiters = nil
	for _, w := range waiters {
		w()
	}
	m.releaseHeldStops()
}

// whenGone calls f once j has no process left (at once if it has none).
func (m *Manager) whenGone(j *job, f func()) {
	if len(j.procs) == 0 {
		f()
		return
	}
	j.goneWaiters = append(j.goneWaiters, f)
}

// jobs returns every job in load order.
func (m *Manager) jobs() []*job {
	var out []*job
	for _, s := range m.sessionsInOrder() {
		out = append(out, s.jobsInOrder()...)
	}
	return out
}

// lookupFull finds a job by its full name, or nil.
func (m *Manager) lookupFull(full string) *job {
	s, jn, err := ganger.ParseJobName(full)
	if err != nil {
		return nil
	}
	if sess := m.sessions[s]; sess != nil {
		return sess.jobs[jn]
	}
	return nil
}
