package manager

import (
	"time"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
)

// ErrClosed is returned by every method once the manager has shut down.
// Its kind is ganger.EUNAVAILABLE.
var ErrClosed = ganger.Errorf(ganger.EUNAVAILABLE, "the manager is shut down")

// Job states, as JobInfo.State reports them (API.md "Lifecycle and health").
const (
	JobStopped   = "stopped"   // not active, or every slot exited, some with a failure
	JobWaiting   = "waiting"   // every slot waits for a dependency
	JobStarting  = "starting"  // some slot starting, none in backoff or fatal
	JobRunning   = "running"   // every slot running
	JobDegraded  = "degraded"  // some slots in backoff or fatal, others starting or running
	JobFlapping  = "flapping"  // every slot in backoff
	JobGaveUp    = "gave_up"   // every slot fatal
	JobCompleted = "completed" // every slot exited with a success code
)

// Slot states, as SlotInfo.State and ProcessInfo.State report them.
const (
	SlotWaiting  = "waiting"  // the job is started, a dependency does not hold yet
	SlotStarting = "starting" // spawned, not ready yet
	SlotRunning  = "running"  // ready
	SlotStopping = "stopping" // a graceful stop was sent
	SlotBackoff  = "backoff"  // crashed; respawned after a delay
	SlotExited   = "exited"   // ended, not respawned
	SlotFatal    = "fatal"    // gave up
)

// Exit reasons, as ExitInfo.Reason and the exit event's reason report them.
const (
	ReasonExited    = "exited"    // the process ended by itself with a code
	ReasonSignal    = "signal"    // a signal it was not asked to stop with killed it
	ReasonStopped   = "stopped"   // a user's stop, scale-down, reload or shutdown
	ReasonUnhealthy = "unhealthy" // its liveness probe failed and it was restarted
)

// FlapInfo is a job's flapping state as the API reports it: "gave_up" if
// some slot gave up, else "flapping" if some slot is flapping, else "ok";
// Retries is the most retries any slot has made.
type FlapInfo struct {
	State   string `json:"state"` // "ok", "flapping" or "gave_up"
	Retries int    `json:"retries"`
}

// JobInfo describes a job: a plain value made by the loop, owned by the
// caller. Like every answer of the manager, its lists are never nil (they
// encode as [], as API.md wants).
type JobInfo struct {
	Name         string       `json:"name"`
	State        string       `json:"state"`
	Active       bool         `json:"active"`
	Running      int          `json:"running"`     // live kept-alive processes not asked to stop
	RunningOut   int          `json:"running_out"` // processes stopping (commits included)
	Ready        int          `json:"ready"`       // slots running
	NumProcesses int          `json:"numprocesses"`
	Restarts     int          `json:"restarts"`  // respawns after a crash, since the job was loaded
	Processes    []int        `json:"processes"` // pids of the kept-alive processes, by slot
	Slots        []SlotInfo   `json:"slots"`
	WaitingFor   []Dependency `json:"waiting_for"` // the conditions the job waits for
	Config       conf.Job     `json:"config"`
	Flapping     FlapInfo     `json:"flapping"`

	// Revision changes whenever anything else in this description changes
	// (it is the same for two JobInfos of the job only if they are equal),
	// so a caller may keep what it derives from a JobInfo by revision.
	Revision uint64 `json:"-"`
}

// SlotInfo describes one slot of a job. (The API answers with pid and
// os_pid null for a slot without a process.)
type SlotInfo struct {
	Slot       int       `json:"slot"`        // 1…numprocesses (higher while a scale-down ends)
	State      string    `json:"state"`       // one of the Slot… states
	Pid        int       `json:"pid"`         // its process's pid, 0 when it has none
	OSPid      int       `json:"os_pid"`      // its process's os pid, 0 when it has none
	Ready      bool      `json:"ready"`       // its process is ready (state running)
	Restarts   int       `json:"restarts"`    // respawns after a crash, since the job was loaded
	Since      float64   `json:"since"`       // when it entered its state, in Unix seconds
	LastExit   *ExitInfo `json:"last_exit"`   // how its last process ended; nil before the first exit
	SpawnError string    `json:"spawn_error"` // why its last start failed, "" after a start that worked
}

// ExitInfo is how a process ended.
type ExitInfo struct {
	ExitStatus int     `json:"exit_status"` // its code; 0 when a signal killed it
	TermSignal int     `json:"term_signal"` // the signal that killed it, or 0
	Reason     string  `json:"reason"`      // one of the Reason… values
	Time       float64 `json:"time"`        // when, in Unix seconds

	success bool // a success under the job's success_exit_codes
}

// Dependency is one depends_on condition of a job.
type Dependency struct {
	Name      string `json:"name"`      // the full name of the job depended on
	Condition string `json:"condition"` // conf.DependStarted, DependReady or DependCompleted
}

// ProcessInfo describes one process.
type ProcessInfo struct {
	Pid            int               `json:"pid"`
	Name           string            `json:"name"`
	OSPid          int               `json:"os_pid"`
	Slot           int               `json:"slot"`     // 1…numprocesses; 0 for a commit
	State          string            `json:"state"`    // its slot's state; a commit's is starting, running or stopping
	Ready          bool              `json:"ready"`    // it is ready (state running)
	Restarts       int               `json:"restarts"` // its slot's restarts
	Cmd            string            `json:"cmd"`
	Args           []string          `json:"args"`
	Env            map[string]string `json:"env"`
	Cwd            string            `json:"cwd"`
	CreateTime     float64           `json:"create_time"`
	Once           bool              `json:"once"`
	Active         bool              `json:"active"`
	RedirectOutput []string          `json:"redirect_output"`
	RedirectInput  bool              `json:"redirect_input"`
	CustomStreams  []string          `json:"custom_streams"`

	// Template is the argv as configured, before $NAME was expanded from
	// the environment: what Cmd and Args become for a reader who may not
	// see env values.
	Template []string `json:"-"`
}

// ScaleOp is a change of a job's process count: Op '+' adds N, '-'
// removes N, '=' sets N.
type ScaleOp struct {
	Op byte // '+', '-' or '='
	N  int
}

// CommitOptions tune a one-off run.
type CommitOptions struct {
	GracefulTimeout *time.Duration    // nil: the job's
	Env             map[string]string // over the job's environment
}

// Metrics are counters since the manager started.
type Metrics struct {
	Spawns, SpawnErrors, Exits, Restarts, Flaps, GiveUps uint64
}
