package httpapi

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/manager"
	"github.com/ganger/ganger/pubsub"
)

// Manager is what the API needs of the process manager; *manager.Manager
// implements it.
type Manager interface {
	Load(ctx context.Context, session string, cfg conf.Job) (string, error)
	Unload(ctx context.Context, name string) error
	Update(ctx context.Context, name string, cfg conf.Job) error
	StartJob(ctx context.Context, name string) error
	StopJob(ctx context.Context, name string) error
	ReloadJob(ctx context.Context, name string) error
	Scale(ctx context.Context, name string, op manager.ScaleOp) (int, error)
	Commit(ctx context.Context, name string, o manager.CommitOptions) (int, error)
	SignalJob(ctx context.Context, name string, sig syscall.Signal) error
	SignalProcess(ctx context.Context, pid int, sig syscall.Signal) error
	StopProcess(ctx context.Context, pid int) error
	StopAll(ctx context.Context) error
	KillAll(ctx context.Context, sig syscall.Signal) error
	Send(ctx context.Context, pid int, stream string, data []byte) error

	Sessions(ctx context.Context) ([]string, error)
	Jobs(ctx context.Context, session string) ([]string, error)
	JobInfo(ctx context.Context, name string) (manager.JobInfo, error)
	JobRevision(ctx context.Context, name string) (uint64, error)
	JobStats(ctx context.Context, name string) (manager.JobStats, error)
	Pids(ctx context.Context, name string) ([]int, error)
	ProcessInfo(ctx context.Context, pid int) (manager.ProcessInfo, error)
	ProcessStats(ctx context.Context, pid int) (manager.ProcStats, error)
	Logs(ctx context.Context, name string, n int) ([]manager.LogLine, error)

	Subscribe(ctx context.Context, buffer int, patterns ...string) (*pubsub.Sub[manager.Event], error)
	SubscribeOutput(buffer int, patterns ...string) *pubsub.Sub[manager.Chunk]
	FollowProcess(ctx context.Context, pid int, label string, buffer int) (*manager.Follow, error)

	Metrics() manager.Metrics
	DroppedEvents() (events, output uint64)
}

// Options configure the API handler.
type Options struct {
	// Manager is the process manager the API drives (required).
	Manager Manager
	// Version is reported by GET / and /version; "" means ganger.Version.
	Version string
	// Tokens are the API tokens; none means no authentication.
	Tokens []conf.Token
	// AllowedOrigins are extra WebSocket Origin host patterns (coder/websocket
	// OriginPatterns, path.Match syntax); the request's own host is always
	// allowed. They also admit cross-origin mutating REST requests.
	AllowedOrigins []string
	// AllowedHosts are extra Host names accepted when LoopbackOnly is set.
	AllowedHosts []string
	// LoopbackOnly is true when every listener is loopback or a unix socket:
	// the Host header must then name a loopback host (localhost, 127.0.0.1,
	// [::1], any port) or one of AllowedHosts, a defence against DNS
	// rebinding. Other hosts are answered 421.
	LoopbackOnly bool
	// UI, when not nil, is served under /ui/ with the prefix "/ui" stripped.
	UI http.Handler
	// Logger receives request logs; nil means slog.Default().
	Logger *slog.Logger

	// ClientBuffer is how many events a /channel client may leave unread
	// (per kind: events, output) before it gets an overflow error; 0 means
	// DefaultClientBuffer.
	ClientBuffer int
	// FollowBuffer is how many output chunks (each at most 64 KiB, so the
	// default bounds a lagging follower at 128 MiB) a /{pid}/channel
	// follower may fall behind before its output is cut with "output
	// lost"; 0 means DefaultFollowBuffer. The child is never slowed down
	// for a follower: a lagging one is buffered, up to here.
	FollowBuffer int
	// WriteTimeout bounds every WebSocket write; a client that does not
	// read for this long is disconnected. 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration
}

// Defaults of Options.
const (
	DefaultClientBuffer = 256
	DefaultFollowBuffer = 2048
	DefaultWriteTimeout = 10 * time.Second
	// MaxBodyBytes is the largest request body accepted (413 beyond).
	MaxBodyBytes = 1 << 20
	// MaxSubscriptions is how many topics one /channel connection may hold
	// at once: every publish matches each subscriber's patterns, so one
	// client's ten thousand would slow every event for everyone.
	MaxSubscriptions = 256
	// maxMessageBytes is the read limit of a /channel message.
	maxMessageBytes = 64 << 10
	// maxPooledBuffer is the largest JSON answer buffer writeJSON keeps.
	maxPooledBuffer = 64 << 10
)

// api is the handler New returns.
type api struct {
	m           Manager
	o           Options
	log         *slog.Logger
	router      chi.Router
	tokens      []token
	metricDescs *metricDescs // of /metrics' series
	clients     atomic.Int64 // open /channel clients
	bufs        sync.Pool    // *bytes.Buffer for JSON answers (writeJSON)
	answers     *answerCache // encoded job answers by revision (jobView)

	// jsonHeader holds the header values of every JSON answer, made once
	// and shared (never modified): net/http copies them when the header
	// is written, and Header.Set would allocate them per answer.
	jsonHeader struct{ contentType, nosniff []string }

	reqPrefix string        // names this API's request IDs (requestID)
	reqSeq    atomic.Uint64 // the last request ID's sequence number

	// shutdown is closed by closeSockets (Server.Shutdown): WebSocket
	// handlers, which Shutdown does not wait for, end on it.
	shutdown     chan struct{}
	shutdownOnce sync.Once
}

// New returns the HTTP handler of the REST and WebSocket API described in
// API.md.
func New(o Options) http.Handler {
	if o.Version == "" {
		o.Version = ganger.Version
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ClientBuffer <= 0 {
		o.ClientBuffer = DefaultClientBuffer
	}
	if o.FollowBuffer <= 0 {
		o.FollowBuffer = DefaultFollowBuffer
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	a := &api{m: o.Manager, o: o, log: o.Logger, shutdown: make(chan struct{}), reqPrefix: newRequestPrefix(), answers: newAnswerCache()}
	a.jsonHeader.contentType = []string{"application/json"}
	a.jsonHeader.nosniff = []string{"nosniff"}
	a.tokens = newTokens(o.Tokens)
	a.metricDescs = newMetricDescs()
	a.router = a.routes()
	return a
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.router.ServeHTTP(w, r) }

// closeSockets ends every open WebSocket with StatusGoingAway.
func (a *api) closeSockets() { a.shutdownOnce.Do(func() { close(a.shutdown) }) }

// NewServer returns an http.Server for h with timeouts suited to the API:
// headers and bodies must arrive promptly and idle connections are closed,
// but there is no WriteTimeout, since streams set a deadline per write.
// When h comes from New, Server.Shutdown also closes its WebSockets.
func NewServer(h http.Handler) *http.Server {
	s := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	if a, ok := h.(*api); ok {
		s.RegisterOnShutdown(a.closeSockets)
		s.ErrorLog = slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)
	}
	return s
}

// routes builds the chi tree; it mirrors API.md's REST table. It is one
// flat router, every route written out whole, with the checks of a part
// of the tree applied by Group: nested routers would build the route
// pattern and path values once per level of every request.
func (a *api) routes() chi.Router {
	r := chi.NewRouter()
	// With tokens, everything but /ping needs one: a route or method that
	// does not exist too, so that nobody learns the tree without one.
	r.NotFound(a.authenticate(a.adapt(func(w http.ResponseWriter, r *http.Request) error {
		return notFound("no such route: %s %s", r.Method, r.URL.Path)
	})).ServeHTTP)
	r.MethodNotAllowed(a.authenticate(a.methodNotAllowed(r)).ServeHTTP)

	r.Use(a.recoverer, a.checkHost, middleware.GetHead)
	r.Get("/ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "OK")
	})
	if a.o.UI != nil {
		r.Get("/ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently).ServeHTTP)
		r.Mount("/ui/", http.StripPrefix("/ui", a.o.UI))
	}

	r.Group(func(r chi.Router) {
		r.Use(a.logMutations, a.authenticate, a.authorize, a.crossOrigin, a.checkBody)

		r.Get("/", a.adapt(a.version))
		r.Get("/version", a.adapt(a.version))
		r.Get("/metrics", a.serveMetrics)
		r.Get("/sessions", a.adapt(a.listSessions))
		r.Get("/pids", a.adapt(a.listPids))
		r.Get("/channel", a.serveChannel)
		withSlash(r.Get, "/jobs", a.adapt(a.listJobs))

		r.Group(func(r chi.Router) {
			r.Use(a.sessionCtx)
			withSlash(r.Get, "/jobs/{session}", a.adapt(a.sessionJobs))
			withSlash(r.Post, "/jobs/{session}", a.adapt(a.createJob))
		})

		r.Group(func(r chi.Router) {
			r.Use(a.sessionCtx, a.jobCtx)
			const job = "/jobs/{session}/{job}"
			withSlash(r.Head, job, a.adapt(a.headJob))
			withSlash(r.Get, job, a.adapt(a.getJob))
			withSlash(r.Put, job, a.adapt(a.updateJob))
			withSlash(r.Delete, job, a.adapt(a.deleteJob))
			r.Get(job+"/stats", a.adapt(a.jobStats))
			r.Get(job+"/numprocesses", a.adapt(a.getNumProcesses))
			r.Post(job+"/numprocesses", a.adapt(a.scaleJob))
			r.Post(job+"/signal", a.adapt(a.signalJob))
			r.Get(job+"/state", a.adapt(a.getState))
			r.Post(job+"/state", a.adapt(a.setState))
			r.Get(job+"/pids", a.adapt(a.jobPids))
			r.Post(job+"/commit", a.adapt(a.commitJob))
			r.Get(job+"/logs", a.adapt(a.jobLogs))
		})

		// A pid is digits only, so /foo is no route (404), and a pid too
		// large for an int is no process (404).
		r.Group(func(r chi.Router) {
			r.Use(a.processCtx)
			const proc = "/{pid:[0-9]+}"
			withSlash(r.Head, proc, a.adapt(a.getProcess))
			withSlash(r.Get, proc, a.adapt(a.getProcess))
			withSlash(r.Delete, proc, a.adapt(a.stopProcess))
			r.Post(proc+"/signal", a.adapt(a.signalProcess))
			r.Get(proc+"/stats", a.adapt(a.processStats))
			r.Get(proc+"/channel", a.serveProcessChannel)
			r.Get(proc+"/channel/{stream}", a.serveProcessChannel)
		})
	})
	return r
}

// withSlash registers h for pattern with and without a trailing slash:
// the collections and items of the tree answer either way.
func withSlash(register func(string, http.HandlerFunc), pattern string, h http.HandlerFunc) {
	register(pattern, h)
	register(pattern+"/", h)
}

// methodNotAllowed returns the 405 handler of router: the JSON error body
// and an Allow header found by probing router with the path (chi's own
// list is not given to a custom handler).
func (a *api) methodNotAllowed(router chi.Router) http.HandlerFunc {
	return a.adapt(func(w http.ResponseWriter, r *http.Request) error {
		path := cmp.Or(r.URL.RawPath, r.URL.Path) // as chi routes it
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete} {
			if router.Match(chi.NewRouteContext(), m, path) {
				allow = append(allow, m)
			}
		}
		if slices.Contains(allow, http.MethodGet) && !slices.Contains(allow, http.MethodHead) {
			allow = append(allow, http.MethodHead) // middleware.GetHead serves it
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return withStatus(http.StatusMethodNotAllowed, ganger.EBADREQUEST, "method %s not allowed on %s", r.Method, r.URL.Path)
	})
}
