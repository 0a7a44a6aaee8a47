package manager

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"

	"github.com/ganger/ganger/pubsub"
)

// This file is the follower of one process's output (/{pid}/channel): the
// hot path of output, where a child writing fast must cost little more
// than reading its pipe and writing a socket. Its chunks travel on a bus
// of the manager's own, in pooled buffers that never leave the package: a
// follower gets their bytes only during a callback (Follow.Next), after
// which the manager takes them back. Subscribers of SubscribeOutput get
// copies of their own instead, which they may keep.

// maxBatch is the most output Follow.Next hands over at once when the
// follower is behind: fewer, larger writes let it catch up.
const maxBatch = 1 << 20

// ErrOutputLost is returned by Follow.Next once output was dropped because
// the follower read too slowly: its stream has a hole.
var ErrOutputLost = errors.New("output lost")

// followChunk is a piece of a process's output on the followers' bus.
type followChunk struct {
	data []byte
	buf  *sharedBuf // data's pooled buffer, or nil for a small plain copy
}

// release gives c's buffer back, if it has one. Once per received chunk.
func (c followChunk) release() {
	if c.buf != nil {
		c.buf.release()
	}
}

// sharedBuf is a pooled buffer that every follower a chunk reached reads;
// it goes back to the pool once each of them has released it. Its count
// starts biased far above any number of receivers, so that receivers
// releasing it while the publish is still delivering it cannot bring it to
// zero; once the publish has said how many got it, the bias comes off
// (published), and whoever brings the count to zero recycles it.
type sharedBuf struct {
	refs atomic.Int64
	data []byte
	pool *bufPool
}

const shareBias = 1 << 40

func newSharedBuf(data []byte, pool *bufPool) *sharedBuf {
	b := &sharedBuf{data: data, pool: pool}
	b.refs.Store(shareBias)
	return b
}

// published takes the bias off once got receivers have the buffer.
func (b *sharedBuf) published(got int) { b.drop(shareBias - int64(got)) }

// release is one receiver's end of the buffer.
func (b *sharedBuf) release() { b.drop(1) }

func (b *sharedBuf) drop(n int64) {
	switch left := b.refs.Add(-n); {
	case left == 0:
		b.pool.put(b.data)
	case left < 0:
		panic(fmt.Sprintf("manager: a shared output buffer released %d times too many", -left))
	}
}

// publishFollow hands data to the followers of topic: a big piece in a
// pooled buffer shared by all of them, a small one in a plain copy (a
// follower lagging behind many small chunks pins no pooled buffer each).
func (m *Manager) publishFollow(data []byte, topic string) {
	cp, pooled := m.bufs.copyOf(data)
	c := followChunk{data: cp}
	if pooled {
		c.buf = newSharedBuf(cp, m.bufs)
	}
	got := m.follows.Publish(c, topic)
	if c.buf != nil {
		c.buf.published(got)
	}
}

// Follow is a live view of one process's output that ends with its exit:
// see FollowProcess.
type Follow struct {
	out   *pubsub.Sub[followChunk]
	exit  *pubsub.Sub[Event]
	batch []byte
	ended bool
}

// FollowProcess follows a process's output (one label's when label is not
// "") until its exit, subscribed atomically with respect to the loop, so
// the exit comes after all output. buffer is how many chunks (each at most
// 64 KiB) the follower may fall behind before Next reports ErrOutputLost.
// ENOTFOUND if the process is gone or has no such label.
func (m *Manager) FollowProcess(ctx context.Context, pid int, label string, buffer int) (*Follow, error) {
	if buffer <= 0 {
		buffer = m.opts.EventBuffer
	}
	return call(ctx, m, func() (*Follow, error) {
		p, err := m.lookupProc(pid)
		if err != nil {
			return nil, err
		}
		if label != "" && p.splitters[label] == nil {
			return nil, notFound("process %d has no stream %q", pid, label)
		}
		return &Follow{
			out:  m.follows.Subscribe(buffer, OutputTopic(pid, label)),
			exit: m.events.Subscribe(4, "proc."+strconv.Itoa(pid)+"."+EventExit),
		}, nil
	})
}

// Next waits for the process's next output and hands it to handle, whose
// argument is valid only during the call (the manager reuses the memory
// afterwards); when the follower is behind, what is waiting is handed over
// at once, up to 1 MiB. It returns handle's error; io.EOF once the process
// has exited and every byte was handed over; an error wrapping
// ErrOutputLost if output was dropped because the follower was too slow;
// ctx's error.
func (f *Follow) Next(ctx context.Context, handle func(data []byte) error) error {
	if f.ended {
		return io.EOF
	}
	select {
	case msg, ok := <-f.out.C():
		if !ok {
			return io.EOF
		}
		return f.deliver(msg, handle)
	case <-f.exit.C():
		// The exit is published after every byte of output: what is left
		// is already buffered.
		for {
			select {
			case msg, ok := <-f.out.C():
				if !ok {
					f.ended = true
					return io.EOF
				}
				if err := f.deliver(msg, handle); err != nil {
					return err
				}
				continue
			default:
			}
			f.ended = true
			if n := f.out.Dropped(); n > 0 {
				return lost(n)
			}
			return io.EOF
		}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// deliver hands msg, and the chunks already waiting behind it, to handle.
func (f *Follow) deliver(msg pubsub.Message[followChunk], handle func([]byte) error) error {
	if msg.Dropped > 0 {
		return lost(msg.Dropped)
	}
	if len(f.out.C()) == 0 {
		defer msg.Event.release()
		return handle(msg.Event.data)
	}
	f.batch = append(f.batch[:0], msg.Event.data...)
	msg.Event.release()
	for len(f.batch) < maxBatch && len(f.out.C()) > 0 {
		next := <-f.out.C()
		if next.Dropped > 0 {
			// What came before the loss first; the loss on the next call.
			if err := handle(f.batch); err != nil {
				return err
			}
			return lost(next.Dropped)
		}
		f.batch = append(f.batch, next.Event.data...)
		next.Event.release()
	}
	return handle(f.batch)
}

func lost(n uint64) error {
	return fmt.Errorf("%w: %d chunks dropped because the follower read too slowly", ErrOutputLost, n)
}

// Exited returns a channel that receives the process's exit event: for a
// follower of its input only, which need not call Next.
func (f *Follow) Exited() <-chan pubsub.Message[Event] { return f.exit.C() }

// StopOutput ends the following of output (a follower of input only) and
// gives back what is buffered.
func (f *Follow) StopOutput() {
	f.out.Close()
	for msg := range f.out.C() {
		msg.Event.release()
	}
}

// Close ends the follow and gives back the output still buffered.
func (f *Follow) Close() {
	f.StopOutput()
	f.exit.Close()
}
