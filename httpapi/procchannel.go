package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/manager"
	"github.com/ganger/ganger/pubsub"
)

type pubsubChunkMsg = pubsub.Message[manager.Chunk]

// Modes of /{pid}/channel.
const (
	modeRead  = 1
	modeWrite = 2
)

// serveProcessChannel serves /{pid}/channel[/{stream}]?mode=1|2|3: the
// process's output (all of it, or one label's) as binary frames of raw
// bytes in order, and the client's frames written to its stdin (or the
// named custom stream). It closes normally once the process has exited and
// every byte of its output was sent. Errors (a write to a process without
// that input, a frame on a read-only socket, lost output) arrive as a text
// frame {"error": …} before the socket closes.
func (a *api) serveProcessChannel(w http.ResponseWriter, r *http.Request) {
	info, id := processOf(r), identityOf(r.Context())
	mode := modeRead | modeWrite
	if s := r.URL.Query().Get("mode"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 3 {
			a.writeError(w, r, badRequest("invalid mode %q: want 1 (read), 2 (write) or 3 (both)", s))
			return
		}
		mode = n
	}
	if mode&modeWrite != 0 && !id.canWrite() {
		a.writeError(w, r, forbidden("this token is read-only: use mode=1"))
		return
	}
	stream := chi.URLParam(r, "stream")
	if stream != "" && !hasLabel(info, stream) {
		a.writeError(w, r, notFound("process %d has no stream %q", info.Pid, stream))
		return
	}
	// Subscribe before the upgrade, so an unknown process is a 404 and no
	// byte written after the upgrade is missed.
	f, err := a.m.FollowProcess(r.Context(), info.Pid, stream, a.o.FollowBuffer)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	defer f.Close()
	if mode&modeRead == 0 {
		f.Output.Close()
	}
	c := a.accept(w, r)
	if c == nil {
		return
	}
	defer c.CloseNow()
	ctx, cancel := a.socketContext(r, c)
	defer cancel()

	fail := make(chan error, 1)
	readDone := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(readDone)
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if mode&modeWrite == 0 {
				fail <- badRequest("this channel is read-only (mode=1)")
				return
			}
			if err := a.m.Send(ctx, info.Pid, stream, b); err != nil {
				fail <- err
				return
			}
		}
	}()
	defer wg.Wait()
	defer cancel()

	var outC <-chan pubsubChunkMsg
	if mode&modeRead != 0 {
		outC = f.Output.C()
	}
	// send writes m and whatever output is already waiting behind it as
	// one frame; false ends the socket.
	var batch []byte
	var send func(m pubsubChunkMsg) bool
	send = func(m pubsubChunkMsg) bool {
		if m.Dropped > 0 {
			a.closeWithError(ctx, c, websocket.StatusInternalError,
				ganger.Errorf(ganger.EINTERNAL, "output lost: %d chunks dropped because the client read too slowly", m.Dropped))
			return false
		}
		data, next := m.Event.Data, pubsubChunkMsg{}
		if len(outC) > 0 {
			batch, next = appendWaiting(append(batch[:0], data...), outC)
			data = batch
		}
		if err := a.writeMessage(ctx, c, websocket.MessageBinary, data); err != nil {
			return false
		}
		return next.Dropped == 0 || send(next)
	}
	for {
		select {
		case m, ok := <-outC:
			if !ok {
				outC = nil
				continue
			}
			if !send(m) {
				return
			}
		case <-f.Exit.C():
			// The exit is published after every byte of output: what is
			// left is already buffered.
			for outC != nil {
				select {
				case m, ok := <-outC:
					if !ok {
						outC = nil
					} else if !send(m) {
						return
					}
				default:
					if n := f.Output.Dropped(); n > 0 && mode&modeRead != 0 {
						send(pubsubChunkMsg{Dropped: n})
						return
					}
					outC = nil
				}
			}
			c.Close(websocket.StatusNormalClosure, "process exited")
			return
		case err := <-fail:
			code := websocket.StatusPolicyViolation
			if ganger.ErrorCode(err) == ganger.EINTERNAL {
				code = websocket.StatusInternalError
			}
			a.closeWithError(ctx, c, code, err)
			return
		case <-readDone:
			return
		case <-ctx.Done():
			return
		}
	}
}

// maxBatch is the most output one /{pid}/channel frame carries when the
// client is behind: fewer, larger frames let it catch up.
const maxBatch = 1 << 20

// appendWaiting appends the chunks already waiting in outC to batch, up
// to maxBatch bytes. It stops at a drop marker and returns it, so the
// caller sends what came before the loss first.
func appendWaiting(batch []byte, outC <-chan pubsubChunkMsg) ([]byte, pubsubChunkMsg) {
	for len(batch) < maxBatch {
		select {
		case m, ok := <-outC:
			if !ok {
				return batch, pubsubChunkMsg{}
			}
			if m.Dropped > 0 {
				return batch, m
			}
			batch = append(batch, m.Event.Data...)
		default:
			return batch, pubsubChunkMsg{}
		}
	}
	return batch, pubsubChunkMsg{}
}

// closeWithError sends {"error": reason} as a text frame, then closes.
func (a *api) closeWithError(ctx context.Context, c *websocket.Conn, code websocket.StatusCode, err error) {
	body := errorOf(err)
	if body.Error == ganger.EINTERNAL && ganger.ErrorMessage(err) == "internal error" {
		a.log.Error("process channel", "err", err)
	}
	b, _ := json.Marshal(map[string]string{"error": body.Reason})
	if a.writeMessage(ctx, c, websocket.MessageText, b) != nil {
		return
	}
	reason := body.Reason
	if len(reason) > 120 { // a close reason is at most 123 bytes
		reason = reason[:120]
	}
	c.Close(code, reason)
}
