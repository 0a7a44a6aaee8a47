package manager

import (
	"encoding/json"
	"strconv"
	"sync/atomic"
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
)

// Event is one thing that happened, published on the events bus.
type Event struct {
	Type  string // one of the Event… constants
	Name  string // "<session>.<job>"
	Pid   int    // internal pid, 0 for job events
	OSPid int

	ExitStatus   int           // exit
	TermSignal   int           // exit
	Once         bool          // exit: the process was a commit
	Signal       int           // kill
	NumProcesses int           // scale
	RetryIn      time.Duration // flap
	Reason       string        // spawn_error
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
	case EventSpawnError:
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
// topic "<session>.<job>.<pid>.<label>"; at most 64 KiB.
type Chunk struct {
	Name   string // "<session>.<job>"
	Pid    int
	Stream string // the output label
	// Data is the raw bytes, shared by every receiver of the chunk: never
	// modify them, and do not use them after Release.
	Data []byte
	buf  *chunkBuf // Data's pooled buffer, if it has one
}

// Release tells the manager this receiver is done with Data, so that its
// buffer can be reused once every receiver is: a child writing fast then
// does not make the manager allocate (and the runtime zero, collect and
// return to the system) a new 64 KiB buffer per chunk. Calling it is
// optional, since an unreleased buffer is left to the garbage collector,
// but it must be called at most once per received Chunk.
func (c Chunk) Release() {
	if c.buf != nil && c.buf.refs.Add(-1) == 0 {
		c.buf.pool.put(c.buf.data)
	}
}

// chunkBuf counts the receivers of a published chunk still using its data.
type chunkBuf struct {
	refs atomic.Int64
	data []byte
	pool *bufPool
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
