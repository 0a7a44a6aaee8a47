package manager

import (
	"encoding/json"
	"strconv"
	"time"
)

// Event types, as in the API contract.
const (
	EventLoad        = "load"
	EventUnload      = "unload"
	EventUpdate      = "update"
	EventStart       = "start"
	EventStop        = "stop"
	EventScale       = "scale"
	EventSpawn       = "spawn"
	EventReap        = "reap"
	EventStopProcess = "stop_process"
	EventKill        = "kill"
	EventExit        = "exit"
	EventFlap        = "flap"
	EventGiveUp      = "giveup"
	EventSpawnError  = "spawn_error"
	EventReady       = "ready"
	EventUnready     = "unready"
	EventUnhealthy   = "unhealthy"
	EventBackoff     = "backoff"
	EventWaiting     = "waiting"
	EventUpdateFail  = "update_failed"
)

// Event is one thing that happened, published on the events bus.
type Event struct {
	Type  string // one of the Event… constants
	Name  string // "<session>.<job>"
	Pid   int    // internal pid, 0 for job events
	OSPid int
	Slot  int // process and slot events: 1…numprocesses, 0 for a commit

	ExitStatus   int           // exit
	TermSignal   int           // exit
	Once         bool          // exit: the process was a commit
	Signal       int           // kill
	NumProcesses int           // scale
	RetryIn      time.Duration // flap
	Delay        time.Duration // backoff
	WaitingFor   []Dependency  // waiting
	Reason       string        // exit, spawn_error, unhealthy, update_failed
}

// slotEvents are the event types that concern one slot: they carry "slot".
var slotEvents = map[string]bool{
	EventSpawn: true, EventReap: true, EventStopProcess: true, EventKill: true, EventExit: true,
	EventFlap: true, EventGiveUp: true, EventSpawnError: true, EventReady: true, EventUnready: true,
	EventUnhealthy: true, EventBackoff: true, EventUpdateFail: true,
}

// Fields returns the event as the flat JSON object of the contract.
func (e Event) Fields() map[string]any {
	f := map[string]any{"event": e.Type}
	if e.Name != "" {
		f["name"] = e.Name
	}
	if e.Pid != 0 {
		f["pid"] = e.Pid
		f["os_pid"] = e.OSPid
	}
	if slotEvents[e.Type] {
		f["slot"] = e.Slot
	}
	switch e.Type {
	case EventExit:
		f["exit_status"] = e.ExitStatus
		f["term_signal"] = e.TermSignal
		f["once"] = e.Once
	case EventKill:
		f["signal"] = e.Signal
	case EventScale:
		f["numprocesses"] = e.NumProcesses
	case EventFlap:
		f["retry_in"] = e.RetryIn.Seconds()
	case EventBackoff:
		f["delay"] = e.Delay.Seconds()
	case EventWaiting:
		w := e.WaitingFor
		if w == nil {
			w = []Dependency{}
		}
		f["waiting_for"] = w
	}
	if e.Reason != "" || e.Type == EventExit || e.Type == EventSpawnError || e.Type == EventUnhealthy || e.Type == EventUpdateFail {
		f["reason"] = e.Reason
	}
	return f
}

// MarshalJSON encodes the event as its Fields.
func (e Event) MarshalJSON() ([]byte, error) { return json.Marshal(e.Fields()) }

// topics returns the topics an event is published on.
func (e Event) topics() []string {
	t := make([]string, 1, 3)
	t[0] = e.Type
	if e.Name != "" {
		t = append(t, "job."+e.Name+"."+e.Type)
	}
	if e.Pid != 0 {
		t = append(t, "proc."+strconv.Itoa(e.Pid)+"."+e.Type)
	}
	return t
}

// Chunk is a piece of a process's output, published on the output bus on
// topic "<session>.<job>.<pid>.<label>"; at most 64 KiB. Its Data is a copy
// made for this chunk alone: every receiver may keep it as long as it
// likes, and nobody writes it (receivers share it, so they must not either).
type Chunk struct {
	Name   string // "<session>.<job>"
	Pid    int
	Slot   int    // the process's slot, 0 for a commit
	Stream string // the output label
	Data   []byte // the raw bytes
}

// OutputTopic returns the output-bus pattern for a process's output, or for
// one of its labels when label is not "".
func OutputTopic(pid int, label string) string {
	t := "*.*." + strconv.Itoa(pid)
	if label != "" {
		t += "." + label
	}
	return t
}

// JobOutputTopic returns the output-bus pattern for all output of a job.
func JobOutputTopic(name string) string { return name }
