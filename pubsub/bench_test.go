package pubsub

import (
	"fmt"
	"sync"
	"testing"
)

// benchEvent stands in for the manager's events; the benchmarks publish a
// *benchEvent, so a Message is small to copy.
type benchEvent struct {
	Type string
	PID  int
}

// benchPublish publishes one exit event per iteration, on the three topics
// the manager uses, to subs subscribers made by pattern(i), each drained by
// its own goroutine.
func benchPublish(b *testing.B, subs int, pattern func(i int) string) {
	bus := New[*benchEvent]()
	var wg sync.WaitGroup
	all := make([]*Sub[*benchEvent], subs)
	for i := range all {
		s := bus.Subscribe(1024, pattern(i))
		all[i] = s
		wg.Go(func() {
			for range s.C() {
			}
		})
	}
	ev := &benchEvent{Type: "exit", PID: 3}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		bus.Publish(ev, "exit", "job.default.web.exit", "proc.3.exit")
	}
	b.StopTimer()
	for _, s := range all {
		s.Close()
	}
	wg.Wait()
	b.ReportMetric(float64(bus.Dropped())/float64(b.N), "drops/op")
}

// matching spreads 100 subscribers over patterns that all match an exit of
// default.web's process 3, of every specificity.
func matching(i int) string {
	return [...]string{"", "exit", "job.default.web", "job.*.web.exit", "proc.3", "job"}[i%6]
}

func BenchmarkPublish1Subscriber(b *testing.B) {
	benchPublish(b, 1, matching)
}

func BenchmarkPublish100Subscribers(b *testing.B) {
	benchPublish(b, 100, matching)
}

func BenchmarkPublish100NonMatchingSubscribers(b *testing.B) {
	benchPublish(b, 100, func(i int) string {
		return [...]string{
			fmt.Sprintf("job.default.api%d", i),
			fmt.Sprintf("proc.%d", 100+i),
			"spawn",
			"job.*.worker",
		}[i%4]
	})
}

func BenchmarkMatch(b *testing.B) {
	p := compile("job.*.web.exit")
	b.ReportAllocs()
	for b.Loop() {
		p.match("job.default.web.exit")
	}
}
