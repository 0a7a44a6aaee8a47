package client

import (
	"encoding/json"
	"time"
)

// JobInfo describes a job (GET /jobs/{session}/{job}).
type JobInfo struct {
	Name string `json:"name"` // "<session>.<job>"
	// State sums up the job's slots: "stopped", "waiting", "starting",
	// "running", "degraded", "flapping", "gave_up" or "completed" (API.md
	// "Lifecycle and health").
	State        string `json:"state"`
	Active       bool   `json:"active"`
	Running      int    `json:"running"`     // processes running
	RunningOut   int    `json:"running_out"` // processes on their way out
	Ready        int    `json:"ready"`       // slots whose process is ready
	NumProcesses int    `json:"numprocesses"`
	Restarts     int    `json:"restarts"`  // respawns after a crash, since the job was loaded
	Processes    []int  `json:"processes"` // pids of the kept-alive processes
	// Slots are the job's slots, by slot number (more than NumProcesses
	// while a scale-down ends).
	Slots []SlotInfo `json:"slots"`
	// WaitingFor lists the depends_on conditions a started job waits for.
	WaitingFor []Dependency `json:"waiting_for"`
	// Config is the job's config as the server reports it, in the form
	// Load and Update accept.
	Config   json.RawMessage `json:"config"`
	Flapping FlapInfo        `json:"flapping"`
}

// LastExit returns the most recent exit among the job's slots, or nil if
// none of them has seen one.
func (j *JobInfo) LastExit() *ExitInfo {
	var last *ExitInfo
	for _, s := range j.Slots {
		if s.LastExit != nil && (last == nil || s.LastExit.Time > last.Time) {
			last = s.LastExit
		}
	}
	return last
}

// SlotInfo describes one slot of a job: the place of one kept-alive
// process, numbered from 1 (Procfile's web.1, web.2…).
type SlotInfo struct {
	Slot int `json:"slot"`
	// State is "waiting", "starting", "running", "stopping", "backoff",
	// "exited" or "fatal".
	State    string    `json:"state"`
	Pid      int       `json:"pid"`    // its process's pid; 0 when it has none
	OSPid    int       `json:"os_pid"` // its process's os pid; 0 when it has none
	Ready    bool      `json:"ready"`
	Restarts int       `json:"restarts"`  // respawns after a crash, since the job was loaded
	Since    float64   `json:"since"`     // when it entered its state, in Unix seconds
	LastExit *ExitInfo `json:"last_exit"` // how its last process ended; nil before the first exit
	// SpawnError says why its last start failed; "" after one that worked.
	SpawnError string `json:"spawn_error"`
}

// ExitInfo is how a process ended.
type ExitInfo struct {
	ExitStatus int `json:"exit_status"` // its code; 0 when a signal killed it
	TermSignal int `json:"term_signal"` // the signal that killed it, or 0
	// Reason is "exited", "signal", "stopped" (a user's stop, scale-down,
	// reload), "unhealthy", "oom" or "memory".
	Reason string  `json:"reason"`
	Time   float64 `json:"time"` // Unix seconds
}

// Dependency is one depends_on condition of a job.
type Dependency struct {
	Name      string `json:"name"`      // the full name of the job depended on
	Condition string `json:"condition"` // "started", "ready" or "completed"
}

// FlapInfo is a job's flapping state.
type FlapInfo struct {
	State   string `json:"state"` // "ok", "flapping" or "gave_up"
	Retries int    `json:"retries"`
}

// ProcessInfo describes one process (GET /{pid}).
type ProcessInfo struct {
	Pid   int    `json:"pid"`
	Name  string `json:"name"`
	OSPid int    `json:"os_pid"`
	Slot  int    `json:"slot"` // 1…numprocesses; 0 for a commit
	// State is its slot's state; a commit's is "starting", "running" or
	// "stopping".
	State          string            `json:"state"`
	Ready          bool              `json:"ready"`
	Restarts       int               `json:"restarts"` // its slot's restarts
	Cmd            string            `json:"cmd"`
	Args           []string          `json:"args"`
	Env            map[string]string `json:"env"`
	Cwd            string            `json:"cwd"`
	CreateTime     float64           `json:"create_time"` // Unix seconds
	Once           bool              `json:"once"`        // a commit
	Active         bool              `json:"active"`
	RedirectOutput []string          `json:"redirect_output"`
	RedirectInput  bool              `json:"redirect_input"`
	CustomStreams  []string          `json:"custom_streams"`
}

// ProcStats are one process's resource figures; nil where the server does
// not know them.
type ProcStats struct {
	Pid        int      `json:"pid"`
	OSPid      int      `json:"os_pid"`
	CPU        *float64 `json:"cpu"` // percent of one CPU
	Mem        *float64 `json:"mem"` // percent of the machine's memory
	RSS        *uint64  `json:"rss"` // bytes
	VMS        *uint64  `json:"vms"` // bytes
	CTime      *float64 `json:"ctime"`
	CreateTime *float64 `json:"create_time"` // Unix seconds
}

// JobStats are a job's resource figures: sums over its processes, extremes,
// and each process's figures.
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

// LogLine is one captured output line.
type LogLine struct {
	Pid    int       `json:"pid"`
	Stream string    `json:"stream"` // the output label, "stdout" or "stderr" by default
	Time   time.Time `json:"time"`
	Data   string    `json:"data"`
}

// CommitOptions tune a one-off run of a job (Commit). Zero values mean the
// job's own settings.
type CommitOptions struct {
	GracefulTimeout time.Duration
	Env             map[string]string
}

// Event is one event received on a Channel: a manager event (spawn, exit…),
// a captured output piece of a STREAM subscription, or a stats sample of a
// STATS subscription.
type Event struct {
	// Topic is the topic the event was delivered with.
	Topic string `json:"topic"`
	// Type is the event's "event" field ("spawn", "exit", …).
	Type  string `json:"event"`
	Name  string `json:"name"`
	Pid   int    `json:"pid"`
	OSPid int    `json:"os_pid"`
	// Stream and Data are set on output events: the label and the text.
	Stream string `json:"stream"`
	Data   string `json:"data"`
	// Fields holds every field of the event as sent, numbers as
	// json.Number.
	Fields map[string]any `json:"-"`
}
