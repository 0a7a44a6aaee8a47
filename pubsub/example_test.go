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

func ExampleMatch() {
	fmt.Println(pubsub.Match("job.default.web", "job.default.web.exit"))
	fmt.Println(pubsub.Match("job.default.web", "job.default.webapp.exit"))
	fmt.Println(pubsub.Match("job.*.web.exit", "job.x.web.exit"))
	fmt.Println(pubsub.Match("", "proc.3.exit"))
	// Output:
	// true
	// false
	// true
	// true
}
