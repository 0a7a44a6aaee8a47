package manager

import (
	"container/heap"
	"time"
)

// The loop's timers: kill deadlines, backoff delays, flapping pauses,
// min_uptime, rollout deadlines and exec probe timeouts. They are one heap
// of deadlines owned by the loop and one time.Timer for the earliest, whose
// channel the loop selects on: a thousand processes reaching min_uptime
// together cost a thousand heap entries, not a thousand goroutines queuing
// to post a message. A fired timer's message is handled by the loop like
// any other (handleMsg); a stopped one is dropped when it comes up.

// timer is one deadline of the loop. Loop-owned.
type timer struct {
	when    time.Time
	msg     any
	stopped bool
	index   int // in the heap, -1 once out of it
}

// Stop cancels t, if it has not fired yet. It may be called on a nil timer.
func (t *timer) Stop() {
	if t != nil {
		t.stopped = true
	}
}

// timerHeap orders timers by deadline (container/heap).
type timerHeap []*timer

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when.Before(h[j].when) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *timerHeap) Push(x any) {
	t := x.(*timer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}

// timers is the loop's heap of deadlines and the one OS-level timer that
// wakes the loop for the earliest.
type timers struct {
	heap  timerHeap
	wake  *time.Timer // armed for heap[0], if any
	armed time.Time   // what wake is armed for
}

// after arranges for msg to reach the loop (handleMsg) after d. Loop only.
func (m *Manager) after(d time.Duration, msg any) *timer {
	t := &timer{when: m.now().Add(d), msg: msg}
	heap.Push(&m.timers.heap, t)
	m.rearm()
	return t
}

// timerC is the channel that fires when the earliest timer is due; nil
// (never) when there is none.
func (m *Manager) timerC() <-chan time.Time {
	if m.timers.wake == nil || len(m.timers.heap) == 0 {
		return nil
	}
	return m.timers.wake.C
}

// fireTimers handles the message of every timer that is due, then arms
// for the next.
func (m *Manager) fireTimers() {
	now := m.now()
	for len(m.timers.heap) > 0 {
		t := m.timers.heap[0]
		if t.stopped {
			heap.Pop(&m.timers.heap)
			continue
		}
		if t.when.After(now) {
			break
		}
		heap.Pop(&m.timers.heap)
		m.handleMsg(t.msg)
	}
	m.timers.armed = time.Time{}
	m.rearm()
}

// rearm points the wake timer at the earliest live deadline.
func (m *Manager) rearm() {
	h := &m.timers.heap
	for len(*h) > 0 && (*h)[0].stopped {
		heap.Pop(h)
	}
	if len(*h) == 0 {
		return
	}
	next := (*h)[0].when
	if !m.timers.armed.IsZero() && !next.Before(m.timers.armed) {
		return // already armed for this one or an earlier one
	}
	d := next.Sub(m.now())
	if m.timers.wake == nil {
		m.timers.wake = time.NewTimer(d)
	} else {
		m.timers.wake.Reset(d)
	}
	m.timers.armed = next
}
