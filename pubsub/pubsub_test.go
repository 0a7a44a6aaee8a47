package pubsub

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ganger/ganger/internal/leakcheck"
)

// TestMain fails the run if any test leaves a goroutine of this package
// (or one started by it) behind.
func TestMain(m *testing.M) {
	leakcheck.Main(m, 5*time.Second, leakcheck.Filter{Code: []string{"ganger/ganger/pubsub"}})
}

// exitTopics are the topics the manager publishes one exit event on.
var exitTopics = []string{"exit", "job.default.web.exit", "proc.3.exit"}

// recv returns the next message of s, failing the test if none is ready.
func recv[T any](t *testing.T, s *Sub[T]) Message[T] {
	t.Helper()
	select {
	case m, ok := <-s.C():
		if !ok {
			t.Fatal("C closed, want a message")
		}
		return m
	default:
		t.Fatal("no message ready")
		panic("unreachable")
	}
}

// mustEmpty fails the test if s has a message ready.
func mustEmpty[T any](t *testing.T, s *Sub[T]) {
	t.Helper()
	select {
	case m, ok := <-s.C():
		if ok {
			t.Fatalf("got unexpected message %+v", m)
		}
		t.Fatal("C closed, want it open and empty")
	default:
	}
}

func wantEvent[T comparable](t *testing.T, s *Sub[T], topic string, ev T) {
	t.Helper()
	want := Message[T]{Topic: topic, Event: ev}
	if m := recv(t, s); m != want {
		t.Fatalf("got %+v, want %+v", m, want)
	}
}

func wantMarker[T comparable](t *testing.T, s *Sub[T], dropped uint64) {
	t.Helper()
	want := Message[T]{Dropped: dropped}
	if m := recv(t, s); m != want {
		t.Fatalf("got %+v, want overflow marker %+v", m, want)
	}
}

func TestDeliverOnceOnMostSpecificTopic(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		topics   []string
		want     string // "" for no delivery
	}{
		{"everything", []string{""}, exitTopics, "job.default.web.exit"},
		{"dot", []string{"."}, exitTopics, "job.default.web.exit"},
		{"type", []string{"exit"}, exitTopics, "exit"},
		{"job", []string{"job.default.web"}, exitTopics, "job.default.web.exit"},
		{"proc", []string{"proc.3"}, exitTopics, "proc.3.exit"},
		{"other proc", []string{"proc.4"}, exitTopics, ""},
		{"other job", []string{"job.default.api"}, exitTopics, ""},
		{"type and job", []string{"exit", "job.default.web"}, exitTopics, "job.default.web.exit"},
		{"all three", []string{"exit", "job", "proc.3.exit"}, exitTopics, "proc.3.exit"},
		{"more literals win", []string{"job.*.web.exit", "proc.3"}, exitTopics, "job.default.web.exit"},
		{"more literals win over order", []string{"proc.3.exit", "job.default"}, exitTopics, "proc.3.exit"},
		{"tie on literals: more stars win", []string{"proc.*.exit", "exit"}, []string{"proc.3.exit", "exit"}, "proc.3.exit"},
		{"tie on literals and stars: longer topic wins", []string{"proc", "job"}, exitTopics, "job.default.web.exit"},
		{"full tie: first topic wins", []string{"*.*.exit"}, []string{"proc.3.exit", "proc.4.exit"}, "proc.3.exit"},
		{"full tie: first topic wins, other order", []string{"*.*.exit"}, []string{"proc.4.exit", "proc.3.exit"}, "proc.4.exit"},
		{"same topic twice", []string{"exit"}, []string{"exit", "exit"}, "exit"},
		{"star pattern", []string{"*"}, exitTopics, "job.default.web.exit"},
		{"no patterns", nil, exitTopics, ""},
		{"no topics", []string{""}, nil, ""},
		{"many topics", []string{"t.8"}, []string{"t.0", "t.1", "t.2", "t.3", "t.4", "t.5", "t.6", "t.7", "t.8", "t.9"}, "t.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New[int]()
			s := b.Subscribe(8, tt.patterns...)
			defer s.Close()
			b.Publish(1, tt.topics...)
			if tt.want != "" {
				wantEvent(t, s, tt.want, 1)
			}
			mustEmpty(t, s)
		})
	}
}

func TestSubscribersIsolatedAndOrdered(t *testing.T) {
	b := New[int]()
	web := b.Subscribe(0, "job.default.web")
	all := b.Subscribe(0, "")
	procs := b.Subscribe(0, "proc")
	defer web.Close()
	defer all.Close()
	defer procs.Close()

	b.Publish(1, "load", "job.default.web.load")
	b.Publish(2, "spawn", "job.default.web.spawn", "proc.1.spawn")
	b.Publish(3, "load", "job.default.api.load")
	b.Publish(4, "exit", "job.default.web.exit", "proc.1.exit")

	wantEvent(t, web, "job.default.web.load", 1)
	wantEvent(t, web, "job.default.web.spawn", 2)
	wantEvent(t, web, "job.default.web.exit", 4)
	mustEmpty(t, web)

	wantEvent(t, all, "job.default.web.load", 1)
	wantEvent(t, all, "job.default.web.spawn", 2)
	wantEvent(t, all, "job.default.api.load", 3)
	wantEvent(t, all, "job.default.web.exit", 4)
	mustEmpty(t, all)

	wantEvent(t, procs, "proc.1.spawn", 2)
	wantEvent(t, procs, "proc.1.exit", 4)
	mustEmpty(t, procs)
}

func TestAddRemove(t *testing.T) {
	b := New[string]()
	s := b.Subscribe(8)
	defer s.Close()

	b.Publish("a", "exit")
	mustEmpty(t, s)

	s.Add("exit")
	s.Add("exit") // idempotent
	b.Publish("b", "exit")
	wantEvent(t, s, "exit", "b")
	mustEmpty(t, s)

	s.Add("proc.3")
	b.Publish("c", exitTopics...)
	wantEvent(t, s, "proc.3.exit", "c")
	mustEmpty(t, s)

	s.Remove("proc.3")
	s.Remove("proc.3")  // idempotent
	s.Remove("no.such") // never added
	b.Publish("d", exitTopics...)
	wantEvent(t, s, "exit", "d")
	mustEmpty(t, s)

	s.Remove("exit")
	b.Publish("e", exitTopics...)
	mustEmpty(t, s)
	if got := s.Patterns(); len(got) != 0 {
		t.Errorf("Patterns() = %q, want none", got)
	}
}

func TestPatterns(t *testing.T) {
	b := New[int]()
	s := b.Subscribe(1, "exit", "job.*.web", "exit")
	defer s.Close()
	if got, want := s.Patterns(), []string{"exit", "job.*.web"}; !slices.Equal(got, want) {
		t.Fatalf("Patterns() = %q, want %q", got, want)
	}

	s.Add(".")
	s.Add("") // same as "."
	s.Add("proc.")
	s.Add("proc") // same as "proc."
	if got, want := s.Patterns(), []string{"exit", "job.*.web", ".", "proc."}; !slices.Equal(got, want) {
		t.Fatalf("Patterns() = %q, want %q", got, want)
	}

	got := s.Patterns()
	got[0] = "changed" // the result is the caller's
	s.Remove("")       // removes "."
	s.Remove("proc")   // removes "proc."
	s.Remove("exit")
	if got, want := s.Patterns(), []string{"job.*.web"}; !slices.Equal(got, want) {
		t.Fatalf("Patterns() = %q, want %q", got, want)
	}
}

func TestOverflow(t *testing.T) {
	const buffer = 4
	b := New[int]()
	slow := b.Subscribe(buffer, "")
	other := b.Subscribe(100, "")
	defer slow.Close()
	defer other.Close()

	// Fill slow's buffer, then overflow it.
	for i := 1; i <= 10; i++ {
		b.Publish(i, "exit")
	}
	if got := slow.Dropped(); got != 6 {
		t.Errorf("slow.Dropped() = %d, want 6", got)
	}
	if got := other.Dropped(); got != 0 {
		t.Errorf("other.Dropped() = %d, want 0", got)
	}
	if got := b.Dropped(); got != 6 {
		t.Errorf("bus Dropped() = %d, want 6", got)
	}

	// The buffered events come first; the marker is not sent before an
	// event follows it.
	for i := 1; i <= buffer; i++ {
		wantEvent(t, slow, "exit", i)
	}
	mustEmpty(t, slow)

	// A publish after the reader made room: the marker, then the event.
	b.Publish(11, "exit")
	wantMarker(t, slow, 6)
	wantEvent(t, slow, "exit", 11)
	b.Publish(12, "exit")
	wantEvent(t, slow, "exit", 12)
	mustEmpty(t, slow)

	// The other subscriber got everything.
	for i := 1; i <= 12; i++ {
		wantEvent(t, other, "exit", i)
	}
	mustEmpty(t, other)

	// A second episode, with room made by reading only one event: the
	// marker counts only the drops since the previous marker.
	for i := 13; i <= 20; i++ {
		b.Publish(i, "exit")
	}
	wantEvent(t, slow, "exit", 13) // buffered: 13..16; dropped: 17..20
	b.Publish(21, "exit")
	b.Publish(22, "exit") // dropped again: the marker took the spare slot
	for i := 14; i <= 16; i++ {
		wantEvent(t, slow, "exit", i)
	}
	wantMarker(t, slow, 4)
	wantEvent(t, slow, "exit", 21)
	mustEmpty(t, slow)
	b.Publish(23, "exit")
	wantMarker(t, slow, 1)
	wantEvent(t, slow, "exit", 23)
	mustEmpty(t, slow)

	if got := slow.Dropped(); got != 11 {
		t.Errorf("slow.Dropped() = %d, want 11", got)
	}
	if got := b.Dropped(); got != 11 {
		t.Errorf("bus Dropped() = %d, want 11", got)
	}
}

func TestOverflowBufferOne(t *testing.T) {
	b := New[int]()
	s := b.Subscribe(1, "")
	defer s.Close()
	b.Publish(1, "a")
	b.Publish(2, "a")
	b.Publish(3, "a")
	wantEvent(t, s, "a", 1)
	mustEmpty(t, s)
	b.Publish(4, "a")
	wantMarker(t, s, 2)
	wantEvent(t, s, "a", 4)
	mustEmpty(t, s)
}

func TestOverflowNonMatchingPublishKeepsMarker(t *testing.T) {
	b := New[int]()
	s := b.Subscribe(1, "a")
	defer s.Close()
	b.Publish(1, "a")
	b.Publish(2, "a") // dropped
	wantEvent(t, s, "a", 1)
	b.Publish(3, "b") // not for s: no marker yet
	mustEmpty(t, s)
	b.Publish(4, "a")
	wantMarker(t, s, 1)
	wantEvent(t, s, "a", 4)
}

func TestDefaultBuffer(t *testing.T) {
	for _, buffer := range []int{0, -1} {
		b := New[int]()
		s := b.Subscribe(buffer, "")
		for i := range DefaultBuffer + 10 {
			b.Publish(i, "x")
		}
		if got := s.Dropped(); got != 10 {
			t.Errorf("Subscribe(%d): Dropped() = %d after %d publishes, want 10", buffer, got, DefaultBuffer+10)
		}
		s.Close()
	}
}

func TestClose(t *testing.T) {
	b := New[int]()
	s := b.Subscribe(4, "")
	keep := b.Subscribe(4, "")
	defer keep.Close()
	if got := b.Subscribers(); got != 2 {
		t.Fatalf("Subscribers() = %d, want 2", got)
	}
	b.Publish(1, "x")

	s.Close()
	s.Close() // idempotent
	if got := b.Subscribers(); got != 1 {
		t.Fatalf("Subscribers() after Close = %d, want 1", got)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	b.Publish(2, "x") // not delivered to s, and no panic

	// What was buffered before Close is still received, then C is closed.
	wantEvent(t, s, "x", 1)
	if m, ok := <-s.C(); ok {
		t.Fatalf("got %+v after Close, want C closed", m)
	}
	wantEvent(t, keep, "x", 1)
	wantEvent(t, keep, "x", 2)

	// Add and Remove after Close are harmless.
	s.Add("y")
	s.Remove("y")
	b.Publish(3, "y")
}

// TestConcurrentPublishAndClose runs publishers, readers and closers at once
// (under -race it also checks the locking), and then checks that each
// subscriber saw each publisher's events in order, and that every event was
// either received or counted as dropped by subscribers that lived throughout.
func TestConcurrentPublishAndClose(t *testing.T) {
	const (
		publishers = 8
		perPub     = 2000
		stayers    = 4 // subscribe first, read everything, close at the end
		churners   = 32
	)
	type ev struct{ pub, seq int }
	b := New[ev]()

	var wg sync.WaitGroup
	start := make(chan struct{})

	// checkOrder reads s until C is closed, checking per-publisher order,
	// and returns the number of events received plus the number reported
	// dropped by markers. It closes s itself after stopAfter events, or once
	// stop is closed, whichever comes first.
	stop := make(chan struct{})
	checkOrder := func(s *Sub[ev], stopAfter int) (received, marked uint64) {
		last := make([]int, publishers)
		for i := range last {
			last[i] = -1
		}
		stop := stop
		for {
			var m Message[ev]
			var ok bool
			select {
			case m, ok = <-s.C():
			case <-stop:
				s.Close()
				stop = nil
				continue
			}
			if !ok {
				return received, marked
			}
			if m.Dropped > 0 {
				marked += m.Dropped
				continue
			}
			if m.Event.seq <= last[m.Event.pub] {
				t.Errorf("publisher %d: got seq %d after %d", m.Event.pub, m.Event.seq, last[m.Event.pub])
			}
			last[m.Event.pub] = m.Event.seq
			received++
			if int(received) == stopAfter {
				go s.Close() // close while publishers run, racing another Close
				s.Close()
			}
		}
	}

	stay := make([]*Sub[ev], stayers)
	results := make([][2]uint64, stayers)
	for i := range stay {
		stay[i] = b.Subscribe(16+i*64, "")
		wg.Go(func() {
			r, m := checkOrder(stay[i], -1)
			results[i] = [2]uint64{r, m}
		})
	}
	for i := range churners {
		wg.Go(func() {
			<-start
			pattern := fmt.Sprintf("p.%d", i%publishers)
			if i%3 == 0 {
				pattern = ""
			}
			s := b.Subscribe(1+i%8, pattern)
			if i%2 == 0 {
				s.Add(fmt.Sprintf("p.%d", (i+1)%publishers))
			}
			checkOrder(s, 50+i*10)
			s.Close()
		})
	}

	var pubs sync.WaitGroup
	for p := range publishers {
		pubs.Go(func() {
			<-start
			topic := fmt.Sprintf("p.%d", p)
			for seq := range perPub {
				b.Publish(ev{p, seq}, "all", topic, topic+".x")
			}
		})
	}
	close(start)
	pubs.Wait()
	close(stop)
	wg.Wait()

	const total = publishers * perPub
	for i, s := range stay {
		received, marked := results[i][0], results[i][1]
		if received+s.Dropped() != total {
			t.Errorf("subscriber %d: received %d + dropped %d != published %d", i, received, s.Dropped(), total)
		}
		if marked > s.Dropped() {
			t.Errorf("subscriber %d: markers report %d dropped, Dropped() only %d", i, marked, s.Dropped())
		}
	}
	if got := b.Subscribers(); got != 0 {
		t.Errorf("Subscribers() = %d after every Close, want 0", got)
	}
	t.Logf("bus dropped %d events", b.Dropped())
}

// TestConcurrentAddRemove changes patterns while publishing.
func TestConcurrentAddRemove(t *testing.T) {
	b := New[int]()
	s := b.Subscribe(1024)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range s.C() {
		}
	})
	var pubs sync.WaitGroup
	for range 4 {
		pubs.Go(func() {
			for i := range 2000 {
				b.Publish(i, "a.b.c", "d")
				_ = s.Patterns()
			}
		})
	}
	pubs.Go(func() {
		for i := range 2000 {
			s.Add("a")
			s.Add(fmt.Sprint("d.", i%3))
			s.Remove("a")
		}
	})
	pubs.Wait()
	s.Close()
	wg.Wait()
}

// TestNoGoroutines checks that the bus itself starts no goroutines: inside
// a synctest bubble, Test would fail on any goroutine left blocked, and the
// count is checked directly as well.
func TestNoGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		before := runtime.NumGoroutine()
		b := New[int]()
		s1 := b.Subscribe(2, "")
		s2 := b.Subscribe(0, "job")
		for i := range 10 {
			b.Publish(i, "job.default.web.exit")
		}
		if n := runtime.NumGoroutine(); n != before {
			t.Errorf("%d goroutines running, want %d", n, before)
		}
		s1.Close()
		s2.Close()
	})
}

func TestPublishDoesNotAllocate(t *testing.T) {
	b := New[int]()
	subs := []*Sub[int]{
		b.Subscribe(4, "job.default.web"),
		b.Subscribe(4, "exit", "proc"),
		b.Subscribe(4, "job.default.api"),
		b.Subscribe(1, ""),
	}
	defer func() {
		for _, s := range subs {
			s.Close()
		}
	}()
	allocs := testing.AllocsPerRun(1000, func() {
		b.Publish(1, "exit", "job.default.web.exit", "proc.3.exit")
		for _, s := range subs[:2] {
			<-s.C()
		}
		// subs[2] matches nothing; subs[3] is full: the publish drops for it.
	})
	if allocs != 0 {
		t.Errorf("Publish allocates %v times, want 0", allocs)
	}
}
