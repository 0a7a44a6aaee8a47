package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/coder/websocket"
	"github.com/go-chi/chi/v5"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/manager"
)

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
		f.StopOutput()
	}
	c := a.accept(w, r)
	if c == nil {
		return
	}
	defer c.CloseNow()
	ctx, cancel := a.socketContext(r, c)
	defer cancel()

	// The client's frames go to the process's input; a failure, or a
	// frame on a read-only socket, ends the socket with its error. Either,
	// or the client's going away, ends the following of output (nextCtx),
	// not the socket's context: the error is still to be written.
	fail := make(chan error, 1)
	nextCtx, stopNext := context.WithCancel(ctx)
	defer stopNext()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer stopNext()
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			if mode&modeWrite == 0 {
				err = badRequest("this channel is read-only (mode=1)")
			} else {
				err = a.m.Send(ctx, info.Pid, stream, b)
			}
			if err != nil {
				fail <- err
				return
			}
		}
	}()
	defer wg.Wait()
	defer cancel()

	var end error
	if mode&modeRead != 0 {
		write := func(data []byte) error { return a.writeMessage(ctx, c, websocket.MessageBinary, data) }
		for end == nil {
			end = f.Next(nextCtx, write)
		}
	} else {
		select {
		case <-f.Exited():
			end = io.EOF
		case <-nextCtx.Done():
			end = nextCtx.Err()
		}
	}
	select {
	case err := <-fail:
		code := websocket.StatusPolicyViolation
		if ganger.ErrorCode(err) == ganger.EINTERNAL {
			code = websocket.StatusInternalError
		}
		a.closeWithError(ctx, c, code, err)
		return
	default:
	}
	switch {
	case end == io.EOF:
		c.Close(websocket.StatusNormalClosure, "process exited")
	case errors.Is(end, manager.ErrOutputLost):
		a.closeWithError(ctx, c, websocket.StatusInternalError, ganger.Errorf(ganger.EINTERNAL, "%s", end))
	}
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
