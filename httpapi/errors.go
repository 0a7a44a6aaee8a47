package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
)

// statusByCode is THE table mapping the error kinds of package ganger to
// HTTP statuses. Every error answer goes through statusOf, which reads it.
var statusByCode = map[string]int{
	ganger.EBADREQUEST:   http.StatusBadRequest,
	ganger.EINVALID:      http.StatusBadRequest,
	ganger.ENOTFOUND:     http.StatusNotFound,
	ganger.ECONFLICT:     http.StatusConflict,
	ganger.EUNAUTHORIZED: http.StatusUnauthorized,
	ganger.EFORBIDDEN:    http.StatusForbidden,
	ganger.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	ganger.EINTERNAL:     http.StatusInternalServerError,
	ganger.EUNAVAILABLE:  http.StatusServiceUnavailable,
}

// statusError is an error whose HTTP status is not the one of its kind's
// row in statusByCode: 405, 415 and 421 have no kind of their own in the
// contract's closed set, so they travel with the nearest kind
// (bad_request, forbidden) and their precise status, which the body's
// "errno" carries.
type statusError struct {
	status int
	err    *ganger.Error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

func withStatus(status int, code, format string, args ...any) error {
	return &statusError{status: status, err: ganger.Errorf(code, format, args...)}
}

// statusOf returns the HTTP status an error is answered with.
func statusOf(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.status
	}
	if s, ok := statusByCode[ganger.ErrorCode(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// errorBody is the JSON body of every error answer.
type errorBody struct {
	Error  string `json:"error"`
	Reason string `json:"reason"`
	Errno  int    `json:"errno"`
}

// errorOf returns the body an error is answered with. Errors without a
// kind are internal: their text stays in the log.
func errorOf(err error) errorBody {
	return errorBody{Error: ganger.ErrorCode(err), Reason: ganger.ErrorMessage(err), Errno: statusOf(err)}
}

// handlerFunc is an HTTP handler that returns its error instead of
// writing it; adapt turns it into an http.HandlerFunc.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// adapt is the one place where a handler's error becomes an answer.
func (a *api) adapt(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	}
}

// writeError answers err with the JSON error body. Internal errors are
// logged in full and answered with a generic reason.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
	body := errorOf(err)
	if body.Error == ganger.EINTERNAL {
		level := slog.LevelError
		if r.Context().Err() != nil {
			level = slog.LevelDebug // the client went away; nobody reads the answer
		}
		a.log.Log(r.Context(), level, "request failed",
			"method", r.Method, "path", r.URL.Path, "request_id", a.requestID(r), "err", err)
	}
	a.writeJSON(w, body.Errno, body)
}

// writeJSON writes v as a JSON answer with the given status. The answer
// is encoded whole before anything is sent, so an encoding error can still
// become a 500, in a buffer reused across requests.
func (a *api) writeJSON(w http.ResponseWriter, status int, v any) {
	buf := a.getBuffer()
	defer a.putBuffer(buf)
	if err := encodeJSON(buf, v); err != nil {
		// Only our own types are encoded here; this is a bug.
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal","reason":"internal error","errno":500}` + "\n")
	}
	a.writeBody(w, status, buf.Bytes())
}

// encodeJSON appends v to buf as one line of JSON, HTML left unescaped.
func encodeJSON(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// writeBody sends b, a whole JSON answer, with the given status.
func (a *api) writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h["Content-Type"] = a.jsonHeader.contentType
	h["X-Content-Type-Options"] = a.jsonHeader.nosniff
	w.WriteHeader(status)
	w.Write(b)
}

// getBuffer lends a buffer for an answer; putBuffer takes it back.
func (a *api) getBuffer() *bytes.Buffer {
	if buf, ok := a.bufs.Get().(*bytes.Buffer); ok {
		return buf
	}
	return new(bytes.Buffer)
}

// putBuffer returns buf to the pool unless an unusually large answer (a
// job's thousands of pids, say) grew it: the pool keeps only buffers worth
// keeping.
func (a *api) putBuffer(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBuffer {
		return
	}
	buf.Reset()
	a.bufs.Put(buf)
}

func badRequest(format string, args ...any) error {
	return ganger.Errorf(ganger.EBADREQUEST, format, args...)
}

func notFound(format string, args ...any) error {
	return ganger.Errorf(ganger.ENOTFOUND, format, args...)
}

func forbidden(format string, args ...any) error {
	return ganger.Errorf(ganger.EFORBIDDEN, format, args...)
}

// jsonError turns an encoding/json decoding error into a user-safe
// bad_request error that says where the problem is.
func jsonError(err error) error { return badRequest("%s", conf.JSONErrorMessage(err)) }
