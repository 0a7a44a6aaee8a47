package pubsub_test

import (
	"fmt"

	"github.com/ganger/ganger/pubsub"
)

type event struct {
	Type string
	PID  int
}

func Example() {
	bus := pubsub.New[event]()

	// Everything about the job default.web, and every exit.
	sub := bus.Subscribe(2, "job.default.web", "exit")
	defer sub.Close()

	// One event, published on three topics, arrives once, on the most
	// specific topic that matched.
	bus.Publish(event{"spawn", 1}, "spawn", "job.default.web.spawn", "proc.1.spawn")
	bus.Publish(event{"exit", 2}, "exit", "job.default.api.exit", "proc.2.exit")
	// The buffer (2) is full: these two are dropped for sub.
	bus.Publish(event{"exit", 3}, "exit", "job.default.api.exit", "proc.3.exit")
	bus.Publish(event{"exit", 4}, "exit", "job.default.api.exit", "proc.4.exit")

	for range 2 {
		m := <-sub.C()
		fmt.Println(m.Topic, m.Event.Type, m.Event.PID)
	}

	// With room again, the next event is preceded by an overflow marker.
	bus.Publish(event{"exit", 1}, "exit", "job.default.web.exit", "proc.1.exit")
	for range 2 {
		m := <-sub.C()
		if m.Dropped > 0 {
			fmt.Println("dropped", m.Dropped)
			continue
		}
		fmt.Println(m.Topic, m.Event.Type, m.Event.PID)
	}
	// Output:
	// job.default.web.spawn spawn 1
	// exit exit 2
	// dropped 2
	// job.default.web.exit exit 1
}

// Example_patterns shows which topics a pattern matches: a prefix of whole
// segments, "*" standing for exactly one segment, "" for everything.
func Example_patterns() {
	bus := pubsub.New[event]()
	patterns := []string{"job.default.web", "job.*.web.exit", "proc.*", ""}
	subs := make([]*pubsub.Sub[event], len(patterns))
	for i, p := range patterns {
		subs[i] = bus.Subscribe(0, p)
		defer subs[i].Close()
	}

	bus.Publish(event{"exit", 1}, "job.default.web.exit")
	bus.Publish(event{"exit", 2}, "job.default.webapp.exit") // not job.default.web: a segment is matched whole
	bus.Publish(event{"exit", 3}, "job.other.web.exit")
	bus.Publish(event{"spawn", 4}, "proc.4")
	bus.Publish(event{"spawn", 5}, "proc") // not proc.*: its "*" needs a segment

	for i, sub := range subs {
		fmt.Printf("%q:", patterns[i])
		for more := true; more; {
			select {
			case m := <-sub.C():
				fmt.Print(" ", m.Topic)
			default:
				more = false
			}
		}
		fmt.Println()
	}
	// Output:
	// "job.default.web": job.default.web.exit
	// "job.*.web.exit": job.default.web.exit job.other.web.exit
	// "proc.*": proc.4
	// "": job.default.web.exit job.default.webapp.exit job.other.web.exit proc.4 proc
}
