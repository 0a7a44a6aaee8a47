package pubsub

import (
	"slices"
	"sync"
	"sync/atomic"
)

// DefaultBuffer is the number of events a subscriber may leave unread before
// further events are dropped for it, when Subscribe is given a buffer <= 0.
const DefaultBuffer = 256

// Message is what a subscriber receives.
type Message[T any] struct {
	// Topic is the topic the event was delivered on: of the published topics
	// that matched one of the subscriber's patterns, the most specific (see
	// the package documentation). It is "" for an overflow marker.
	Topic string
	// Event is the published event; the zero value for an overflow marker.
	Event T
	// Dropped, when > 0, makes this Message an overflow marker: this many
	// events for this subscriber were dropped just before this point because
	// its buffer was full.
	Dropped uint64
}

// Bus is an in-process topic bus carrying events of type T. The zero Bus is
// not usable; create one with New. A Bus starts no goroutines and needs no
// closing.
type Bus[T any] struct {
	dropped atomic.Uint64

	// subs is the current set of subscribers, replaced (never modified in
	// place) under mu, so that Publish reads it without locking.
	subs atomic.Pointer[[]*Sub[T]]
	mu   sync.Mutex // serializes writers of subs
}

// New returns an empty Bus.
func New[T any]() *Bus[T] {
	b := &Bus[T]{}
	b.subs.Store(new([]*Sub[T]))
	return b
}

// maxStackTopics is how many topics a Publish handles without allocating.
const maxStackTopics = 8

// Publish delivers ev to every subscriber with a pattern that matches at
// least one of topics, at most once per subscriber, on the most specific
// matching topic. It never blocks on a subscriber: when a subscriber's buffer
// is full the event is dropped for it and counted, and the subscriber gets an
// overflow marker before its next event. It returns how many subscribers
// the event was queued for. Publish is safe for concurrent use.
func (b *Bus[T]) Publish(ev T, topics ...string) int {
	if len(topics) == 0 {
		return 0
	}
	subs := *b.subs.Load()
	if len(subs) == 0 {
		return 0
	}
	var buf [maxStackTopics]topicInfo
	infos := buf[:0]
	if len(topics) > maxStackTopics {
		infos = make([]topicInfo, 0, len(topics))
	}
	for _, t := range topics {
		infos = append(infos, infoOf(t))
	}
	queued := 0
	for _, s := range subs {
		if ti := s.choose(topics, infos); ti >= 0 && s.deliver(topics[ti], ev) {
			queued++
		}
	}
	return queued
}

// Subscribe returns a subscription to the topics matching any of patterns
// (see the package documentation). With no patterns it receives nothing
// until Add is called. buffer is how many events it may leave unread before
// events are dropped for it; buffer <= 0 means DefaultBuffer. The caller
// must Close it when done.
func (b *Bus[T]) Subscribe(buffer int, patterns ...string) *Sub[T] {
	if buffer <= 0 {
		buffer = DefaultBuffer
	}
	s := &Sub[T]{
		bus:    b,
		buffer: buffer,
		// One slot more than buffer, kept for the overflow marker.
		ch:   make(chan Message[T], buffer+1),
		done: make(chan struct{}),
	}
	var ps []compiled
	for _, raw := range patterns {
		ps = addPattern(ps, raw)
	}
	s.pats.Store(&ps)

	b.mu.Lock()
	old := *b.subs.Load()
	subs := make([]*Sub[T], len(old), len(old)+1)
	copy(subs, old)
	subs = append(subs, s)
	b.subs.Store(&subs)
	b.mu.Unlock()
	return s
}

func (b *Bus[T]) remove(s *Sub[T]) {
	b.mu.Lock()
	defer b.mu.Unlock()
	old := *b.subs.Load()
	i := slices.Index(old, s)
	if i < 0 {
		return
	}
	subs := make([]*Sub[T], 0, len(old)-1)
	subs = append(subs, old[:i]...)
	subs = append(subs, old[i+1:]...)
	b.subs.Store(&subs)
}

// Dropped returns the total number of events dropped across all
// subscribers, closed ones included, since the Bus was created.
func (b *Bus[T]) Dropped() uint64 { return b.dropped.Load() }

// Subscribers returns the number of open subscriptions.
func (b *Bus[T]) Subscribers() int { return len(*b.subs.Load()) }

// Sub is a subscription returned by Bus.Subscribe. Its methods are safe for
// concurrent use.
type Sub[T any] struct {
	bus     *Bus[T]
	buffer  int                        // events allowed in ch; cap(ch) is buffer+1
	ch      chan Message[T]            // closed by Close, under mu
	done    chan struct{}              // closed by Close, under mu
	pats    atomic.Pointer[[]compiled] // replaced (never modified in place) under mu
	dropped atomic.Uint64              // total ever dropped, for Dropped

	// mu guards the following fields, and sending on and closing ch.
	mu      sync.Mutex
	closed  bool
	pending uint64 // dropped since the last overflow marker
}

// C returns the channel on which the subscription's messages arrive. It is
// closed by Close (after any messages still buffered are received).
func (s *Sub[T]) C() <-chan Message[T] { return s.ch }

// Done returns a channel that is closed by Close.
func (s *Sub[T]) Done() <-chan struct{} { return s.done }

// Dropped returns the total number of events dropped for this subscriber.
func (s *Sub[T]) Dropped() uint64 { return s.dropped.Load() }

// Add adds pattern to the subscription. Adding a pattern it already has
// (after trimming leading and trailing dots, so "" and "." are the same)
// does nothing. Publishes that start after Add returns see the pattern.
func (s *Sub[T]) Add(pattern string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.pats.Load()
	ps := addPattern(slices.Clip(old), pattern)
	if len(ps) != len(old) {
		s.pats.Store(&ps)
	}
}

// Remove removes pattern from the subscription; removing one it does not
// have does nothing. Publishes that start after Remove returns do not see
// the pattern.
func (s *Sub[T]) Remove(pattern string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.pats.Load()
	key := compile(pattern).key
	i := slices.IndexFunc(old, func(p compiled) bool { return p.key == key })
	if i < 0 {
		return
	}
	ps := slices.Concat(old[:i], old[i+1:])
	s.pats.Store(&ps)
}

// Patterns returns the subscription's patterns in the order they were
// added, each spelled as when it was first added.
func (s *Sub[T]) Patterns() []string {
	ps := *s.pats.Load()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.raw
	}
	return out
}

// Close ends the subscription: it stops deliveries, closes Done and then C,
// and removes the subscription from its Bus. Messages already buffered in C
// can still be received. Close is idempotent and safe to call concurrently
// with Publish and with itself.
func (s *Sub[T]) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	close(s.ch)
	s.mu.Unlock()
	s.bus.remove(s)
}

// addPattern returns ps with raw appended, unless ps has it already. It may
// append to ps in place; callers sharing ps must clip it first.
func addPattern(ps []compiled, raw string) []compiled {
	p := compile(raw)
	if slices.ContainsFunc(ps, func(q compiled) bool { return q.key == p.key }) {
		return ps
	}
	return append(ps, p)
}

// choose returns the index in topics of the topic s receives the event on,
// or -1 if none of s's patterns matches any of topics. Of the matching
// (pattern, topic) pairs it picks the one whose pattern has the most literal
// segments, then the most "*" segments, then whose topic has the most
// segments, then the earliest topic. infos[i] describes topics[i].
func (s *Sub[T]) choose(topics []string, infos []topicInfo) int {
	ps := *s.pats.Load()
	best, bl, bs, bn := -1, 0, 0, 0
	for ti, t := range topics {
		info := &infos[ti]
		n := info.n
		for k := range ps {
			p := &ps[k]
			if len(p.segs) > n || p.firstLit && p.first != info.first {
				continue // quick reject
			}
			if best >= 0 && !moreSpecific(p.lits, p.stars, n, bl, bs, bn) {
				continue // cannot win; skip the match
			}
			if p.match(t) {
				best, bl, bs, bn = ti, p.lits, p.stars, n
			}
		}
	}
	return best
}

// moreSpecific reports whether a (pattern, topic) pair with pattern literal
// and star counts l, s and topic segment count n beats one with bl, bs, bn.
// Equal pairs do not beat each other, so the earliest topic wins a tie.
func moreSpecific(l, s, n, bl, bs, bn int) bool {
	if l != bl {
		return l > bl
	}
	if s != bs {
		return s > bs
	}
	return n > bn
}

// deliver sends ev on topic to s without blocking, preceded by an overflow
// marker if events were dropped since the last one. An event is only sent
// while fewer than s.buffer messages are queued, which keeps the last slot
// of ch free for the marker: whenever an event fits, marker and event fit.
// It reports whether ev was queued (false: dropped, or s is closed).
func (s *Sub[T]) deliver(topic string, ev T) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	// Only this goroutine (holding mu) sends on ch, so len(ch) can only
	// shrink under us and the sends below cannot block.
	if len(s.ch) >= s.buffer {
		s.dropLocked()
		return false
	}
	if s.pending > 0 {
		s.ch <- Message[T]{Dropped: s.pending}
		s.pending = 0
	}
	s.ch <- Message[T]{Topic: topic, Event: ev}
	return true
}

func (s *Sub[T]) dropLocked() {
	s.pending++
	s.dropped.Add(1)
	s.bus.dropped.Add(1)
}
