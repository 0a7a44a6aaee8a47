// Package pubsub is ganger's in-process topic bus: publishers hand it events
// of any type T on one or more dot-separated topics, and it fans them out to
// subscribers whose patterns match. It owns only the subscriptions and their
// buffers; it starts no goroutines and needs no shutdown.
//
// # Topics and patterns
//
// Topics and patterns are lists of segments separated by dots. A pattern
// matches a topic when its segments are a prefix of the topic's segments, a
// "*" segment matching exactly one segment of any value (see
// Example_patterns). So
// "job.default.web" matches "job.default.web" and "job.default.web.exit" but
// not "job.default.webapp.exit", "job.*.web.exit" matches "job.x.web.exit",
// and "" or "." matches every topic.
//
// # Delivery
//
// One Publish carries one event on several topics (the manager publishes an
// exit on "exit", "job.default.web.exit" and "proc.3.exit"). A subscriber
// receives each event at most once, however many of its patterns and of the
// topics match. Message.Topic is the most specific match: of the matching
// (pattern, topic) pairs, the one whose pattern has the most literal (non-"*")
// segments wins; ties go to the pattern with more "*" segments, then to the
// topic with more segments, then to the topic published first. A subscriber
// to "" and "job" given the exit above thus sees it on "job.default.web.exit".
//
// # Concurrency guarantees
//
//   - Every method of Bus and Sub is safe for concurrent use.
//   - Publish never blocks on a subscriber. Its cost is one pass over the
//     subscribers, matching pre-split patterns without allocating, plus a
//     short per-subscriber lock for each one that receives the event.
//   - Each subscriber sees events in the order of the Publish calls that
//     produced them, when those calls are ordered in time (one returns before
//     the next starts, e.g. because one goroutine makes them). Events of
//     concurrent Publish calls may reach different subscribers in different
//     orders.
//   - A Subscribe, Add or Remove that returns before a Publish starts is seen
//     by that Publish.
//   - Each subscriber has a bounded buffer. When it is full, events for that
//     subscriber are dropped and counted (Sub.Dropped, Bus.Dropped), and no
//     other subscriber is affected. A drop is never silent: at the next
//     Publish that reaches the subscriber while it has room, it first
//     receives an overflow marker, a Message with Topic "" and Dropped set to
//     the number of events lost since the previous marker, and then the new
//     event. A slot of the buffer is kept for the marker, so it always fits.
//     A subscriber that wants to know about drops before the next event can
//     poll Sub.Dropped.
//   - Close may race with Publish: nothing is sent after Close, which closes
//     Done and then C. Messages already buffered can still be received.
//
// # Usage
//
//	bus := pubsub.New[Event]()
//	sub := bus.Subscribe(0, "job.default.web") // 0: DefaultBuffer
//	defer sub.Close()
//	go func() {
//		for m := range sub.C() {
//			if m.Dropped > 0 {
//				// resync from a snapshot: m.Dropped events were lost
//				continue
//			}
//			handle(m.Topic, m.Event)
//		}
//	}()
//	bus.Publish(ev, "exit", "job.default.web.exit", "proc.3.exit")
package pubsub
