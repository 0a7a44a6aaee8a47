package httpapi

import (
	"strconv"
	"strings"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/manager"
)

// Topics of a /channel SUB or UNSUB (API.md "WebSocket").
const (
	topicEvents = "EVENTS"
	topicStats  = "STATS"
	topicStream = "STREAM"
)

// subscription is a parsed SUB/UNSUB topic.
type subscription struct {
	topic   string // canonical spelling, the key in channelConn.topics
	kind    string // topicEvents, topicStats or topicStream
	pattern string // events or output bus pattern
	job     string // STATS of a job: its full name
	pid     int    // STATS or STREAM of a process
	label   string // STREAM of one label
}

// parseTopic reads a topic: EVENTS, EVENTS:<pattern>, STATS:<pid>,
// STATS:<session>.<job>, STREAM:<pid>, STREAM:<pid>.<label>,
// STREAM:<session>.<job>.
func parseTopic(t string) (subscription, error) {
	kind, arg, _ := strings.Cut(t, ":")
	switch kind {
	case topicEvents:
		p := strings.Trim(arg, ".")
		return subscription{topic: topicEvents + ":" + p, kind: kind, pattern: p}, nil
	case topicStats:
		if pid, err := strconv.Atoi(arg); err == nil && isDigits(arg) {
			return subscription{topic: topicStats + ":" + strconv.Itoa(pid), kind: kind, pid: pid}, nil
		}
		s, j, err := ganger.ParseJobName(arg)
		if err != nil {
			return subscription{}, err
		}
		name := ganger.JobName(s, j)
		return subscription{topic: topicStats + ":" + name, kind: kind, job: name}, nil
	case topicStream:
		p, label, _ := strings.Cut(arg, ".")
		if !isDigits(p) {
			// STREAM:<session>.<job>: all output of a job, processes
			// spawned later included.
			sess, j, err := ganger.ParseJobName(arg)
			if err != nil || !strings.ContainsAny(arg, "./") {
				return subscription{}, badRequest("invalid topic %q: want STREAM:<pid>, STREAM:<pid>.<label> or STREAM:<session>.<job>", t)
			}
			name := ganger.JobName(sess, j)
			return subscription{topic: topicStream + ":" + name, kind: kind, job: name, pattern: manager.JobOutputTopic(name)}, nil
		}
		pid, err := strconv.Atoi(p)
		if err != nil || (label == "" && strings.Contains(arg, ".")) {
			return subscription{}, badRequest("invalid topic %q: want STREAM:<pid> or STREAM:<pid>.<label>", t)
		}
		s := subscription{topic: topicStream + ":" + strconv.Itoa(pid), kind: kind, pid: pid, label: label}
		if label != "" {
			s.topic += "." + label
		}
		s.pattern = manager.OutputTopic(pid, label)
		return s, nil
	}
	return subscription{}, badRequest("unknown topic %q: want EVENTS, EVENTS:<pattern>, STATS:<pid>, STATS:<session>.<job>, STREAM:<pid>, STREAM:<pid>.<label> or STREAM:<session>.<job>", t)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
