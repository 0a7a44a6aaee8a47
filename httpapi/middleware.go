package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/manager"
)

// recoverer turns a handler's panic into a logged error and a JSON 500
// answer. It plays the part of chi's middleware.Recoverer, which answers
// with an empty body and prints to stderr instead of the logger.
func (a *api) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rv := recover()
			if rv == nil {
				return
			}
			if rv == http.ErrAbortHandler {
				panic(rv) // the server aborts the answer on purpose
			}
			a.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path,
				"request_id", a.requestID(r), "panic", fmt.Sprint(rv), "stack", string(debug.Stack()))
			if !isWebSocket(r) {
				a.writeJSON(w, http.StatusInternalServerError, errorOf(fmt.Errorf("panic: %v", rv)))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// checkHost refuses, on loopback-only listeners, requests whose Host is
// not a loopback name or one of AllowedHosts: a page whose DNS name was
// rebound to 127.0.0.1 sends its own name, and gets 421.
func (a *api) checkHost(next http.Handler) http.Handler {
	if !a.o.LoopbackOnly {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.hostAllowed(r.Host) {
			a.writeError(w, r, withStatus(http.StatusMisdirectedRequest, ganger.EFORBIDDEN,
				"host %q is not served here: use localhost or 127.0.0.1, or add it to allowed_hosts", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *api) hostAllowed(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if conf.LoopbackHost(host) {
		return true
	}
	for _, h := range a.o.AllowedHosts {
		if strings.EqualFold(h, host) || strings.EqualFold(h, hostport) {
			return true
		}
	}
	return false
}

// crossOrigin refuses state changes that a browser sends from another
// origin (Sec-Fetch-Site or Origin, see http.CrossOriginProtection) unless
// the origin matches AllowedOrigins. Requests without those headers (curl,
// the CLI) pass. Body-less POSTs need this: they need no Content-Type,
// which is the other barrier against cross-site requests.
func (a *api) crossOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := cop.Check(r); err != nil && !originAllowed(r.Header.Get("Origin"), a.o.AllowedOrigins) {
			a.writeError(w, r, forbidden("cross-origin request refused: %v", err))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// originAllowed matches an Origin header against host patterns the way
// coder/websocket's OriginPatterns do: a pattern with "://" against
// "scheme://host", any other against the host, case-insensitively.
func originAllowed(origin string, patterns []string) bool {
	if origin == "" || len(patterns) == 0 {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}

// checkBody caps request bodies at MaxBodyBytes (413) and requires a JSON
// Content-Type on state-changing requests that carry a body, or that name
// a type at all (415). A body-less POST or DELETE needs no Content-Type.
func (a *api) checkBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			a.writeError(w, r, ganger.Errorf(ganger.ETOOLARGE, "request body too large: the limit is %d bytes", MaxBodyBytes))
			return
		}
		if mutating(r.Method) {
			ct := r.Header.Get("Content-Type")
			if ct != "" || r.ContentLength != 0 {
				mt, _, err := mime.ParseMediaType(ct)
				if err != nil || mt != "application/json" {
					a.writeError(w, r, withStatus(http.StatusUnsupportedMediaType, ganger.EBADREQUEST,
						"unsupported Content-Type %q: send application/json", ct))
					return
				}
			}
		}
		if r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// logInfo carries what logMutations logs and later middleware learns.
type logInfo struct {
	token string // the token's name
	id    string // the request ID, once a line needed it
}

// newRequestPrefix returns 8 random hex digits, so the request IDs of two
// runs of the daemon differ.
func newRequestPrefix() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestID names a request in the log lines about it: the client's
// X-Request-Id if it sent one, else a new "<prefix>-<sequence>" of this
// API. It is made when a line needs it, so a request that logs nothing
// (most GETs) pays nothing; a mutation keeps one ID for all its lines.
func (a *api) requestID(r *http.Request) string {
	li := logInfoOf(r.Context())
	if li != nil && li.id != "" {
		return li.id
	}
	id := r.Header.Get(middleware.RequestIDHeader)
	if id == "" {
		id = a.reqPrefix + "-" + strconv.FormatUint(a.reqSeq.Add(1), 10)
	}
	if li != nil {
		li.id = id
	}
	return id
}

func logInfoOf(ctx context.Context) *logInfo {
	li, _ := ctx.Value(logKey).(*logInfo)
	return li
}

// logMutations logs every state-changing request once it is answered:
// method, path, token name (never the token), status and duration.
func (a *api) logMutations(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !mutating(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		li := &logInfo{}
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r.WithContext(context.WithValue(r.Context(), logKey, li)))
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		a.log.Info("api call", "method", r.Method, "path", r.URL.Path, "token", li.token,
			"status", status, "duration", time.Since(start), "request_id", a.requestID(r))
	})
}

// sessionCtx checks the {session} of a route: a valid name (400) the
// token may use (403).
func (a *api) sessionCtx(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := chi.URLParam(r, "session")
		if !ganger.ValidName(s) {
			a.writeError(w, r, badRequest("invalid session name %q", s))
			return
		}
		if err := identityOf(r.Context()).checkSession(s); err != nil {
			a.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// jobCtx checks the {job} of a route. Whether the job exists is left to
// the manager call of the handler, which answers 404 in the same round
// trip.
func (a *api) jobCtx(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j := chi.URLParam(r, "job")
		if !ganger.ValidName(j) {
			a.writeError(w, r, badRequest("invalid job name %q", j))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// jobOf returns the full name of the job a route names, which sessionCtx
// and jobCtx have checked.
func jobOf(r *http.Request) string {
	return ganger.JobName(chi.URLParam(r, "session"), chi.URLParam(r, "job"))
}

// processCtx loads the process of a {pid} route: 404 if there is none,
// 403 if it belongs to a session the token may not use.
func (a *api) processCtx(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pid, err := strconv.Atoi(chi.URLParam(r, "pid"))
		if err != nil || pid <= 0 {
			a.writeError(w, r, notFound("process %q not found", chi.URLParam(r, "pid")))
			return
		}
		info, err := a.processFor(r.Context(), identityOf(r.Context()), pid)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), processKey, info)))
	})
}

func processOf(r *http.Request) manager.ProcessInfo {
	return r.Context().Value(processKey).(manager.ProcessInfo)
}
