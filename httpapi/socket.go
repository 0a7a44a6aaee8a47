package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/coder/websocket"

	"github.com/ganger/ganger"
)

// acceptWriter keeps websocket.Accept's plain-text error answers (bad
// handshake, refused Origin) from reaching the client, so that accept can
// answer them with the JSON error body instead. It unwraps to the real
// writer, through which Accept hijacks the connection.
type acceptWriter struct {
	http.ResponseWriter
	status int // the error status Accept chose, 0 if none
}

func (w *acceptWriter) WriteHeader(code int) {
	if code >= 400 {
		w.status = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *acceptWriter) Write(b []byte) (int, error) {
	if w.status != 0 {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *acceptWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accept upgrades the request to a WebSocket with the default origin check
// (the request's own host, plus AllowedOrigins) and the read limit of
// /channel messages. On failure it has answered with the JSON error body
// and returns nil.
func (a *api) accept(w http.ResponseWriter, r *http.Request) *websocket.Conn {
	// net/http clears the connection's deadlines (a server's ReadTimeout,
	// WriteTimeout) when it is hijacked; writes then set their own.
	aw := &acceptWriter{ResponseWriter: w}
	c, err := websocket.Accept(aw, r, &websocket.AcceptOptions{OriginPatterns: a.o.AllowedOrigins})
	if err != nil {
		status := aw.status
		if status == 0 {
			status = http.StatusBadRequest
		}
		code := ganger.EBADREQUEST
		switch status {
		case http.StatusForbidden:
			code = ganger.EFORBIDDEN
		case http.StatusInternalServerError, http.StatusNotImplemented:
			code = ganger.EINTERNAL
		}
		reason := strings.TrimPrefix(err.Error(), "failed to accept WebSocket connection: ")
		a.log.Debug("websocket refused", "path", r.URL.Path, "status", status, "err", err)
		a.writeJSON(w, status, errorBody{Error: code, Reason: reason, Errno: status})
		return nil
	}
	c.SetReadLimit(maxMessageBytes)
	return c
}

// socketContext returns the context of a WebSocket's goroutines: done when
// the handler returns or the server shuts down, in which case the socket is
// first closed with StatusGoingAway.
func (a *api) socketContext(r *http.Request, c *websocket.Conn) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(r.Context())
	stop := make(chan struct{})
	go func() {
		select {
		case <-a.shutdown:
			c.Close(websocket.StatusGoingAway, "server shutting down")
			cancel()
		case <-ctx.Done():
		}
		close(stop)
	}()
	return ctx, func() { cancel(); <-stop }
}

// writeMessage writes one message within the write timeout. A client
// that does not read for that long is disconnected (coder/websocket closes
// the connection when a write's context expires).
func (a *api) writeMessage(ctx context.Context, c *websocket.Conn, typ websocket.MessageType, b []byte) error {
	ctx, cancel := context.WithTimeout(ctx, a.o.WriteTimeout)
	defer cancel()
	return c.Write(ctx, typ, b)
}

// closedNormally reports whether err is the end of a socket that needs no
// log line: the peer closed it, or we did.
func closedNormally(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return true
	}
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway, websocket.StatusNoStatusRcvd:
		return true
	}
	return false
}
