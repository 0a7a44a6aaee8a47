package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
)

// token is a configured API token with its secret hashed, so that
// comparing takes the same time whatever the length of what a client sent.
type token struct {
	conf.Token
	sum [sha256.Size]byte
}

func newTokens(ts []conf.Token) []token {
	out := make([]token, 0, len(ts))
	for _, t := range ts {
		t.Sessions = slices.Clone(t.Sessions)
		out = append(out, token{Token: t, sum: sha256.Sum256([]byte(t.Token))})
	}
	return out
}

// identity is who makes a request. The zero identity (no tokens
// configured) may do everything.
type identity struct {
	name     string   // the token's Name, for logs; "" without auth
	readOnly bool     // role read
	sessions []string // the sessions it is limited to; nil means all
}

// canWrite reports whether id may change state.
func (id identity) canWrite() bool { return !id.readOnly }

// canSession reports whether id may see and act on session s.
func (id identity) canSession(s string) bool {
	return id.sessions == nil || slices.Contains(id.sessions, s)
}

// canJob reports whether id may see and act on the job with the full
// name name.
func (id identity) canJob(name string) bool {
	if id.sessions == nil {
		return true
	}
	s, _, err := ganger.ParseJobName(name)
	return err == nil && id.canSession(s)
}

// checkSession returns an EFORBIDDEN error unless id may use session s.
func (id identity) checkSession(s string) error {
	if !id.canSession(s) {
		return forbidden("this token may not use session %q", s)
	}
	return nil
}

// checkJob returns an EFORBIDDEN error unless id may use the job with the
// full name name.
func (id identity) checkJob(name string) error {
	if !id.canJob(name) {
		return forbidden("this token may not use job %q", name)
	}
	return nil
}

// checkWrite returns an EFORBIDDEN error unless id may change state.
func (id identity) checkWrite() error {
	if !id.canWrite() {
		return forbidden("this token is read-only")
	}
	return nil
}

// hidesEnv reports whether env values are hidden from id: a read-only
// token sees the names of the variables, with empty values.
func (id identity) hidesEnv() bool { return id.readOnly }

// lookup finds the token whose secret is s, comparing against every token
// in constant time.
func (a *api) lookup(s string) *token {
	sum := sha256.Sum256([]byte(s))
	var found *token
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:]) == 1 {
			found = &a.tokens[i]
		}
	}
	return found
}

// requestToken returns the token a request carries: an Authorization
// Bearer header, an X-Api-Key header or, for a WebSocket handshake only, a
// token query parameter.
func requestToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, t, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(t)
		}
	}
	if t := r.Header.Get("X-Api-Key"); t != "" {
		return t
	}
	if isHandshake(r) {
		return r.URL.Query().Get("token")
	}
	return ""
}

// channelPath matches the paths of the API's WebSockets: /channel and
// /{pid}/channel[/{stream}].
var channelPath = regexp.MustCompile(`^/(channel|[0-9]+/channel(/[^/]+)?)/?$`)

// isHandshake reports whether r is a real WebSocket handshake of one of the
// API's WebSockets (RFC 6455 section 4.1: a GET with Connection: Upgrade,
// Upgrade: websocket, a key and version 13): the only request that may
// carry its token in ?token=, since a browser cannot set headers on one. A
// plain request with an Upgrade header is not one.
func isHandshake(r *http.Request) bool {
	return r.Method == http.MethodGet && isWebSocket(r) &&
		headerHasToken(r.Header, "Connection", "upgrade") &&
		r.Header.Get("Sec-WebSocket-Key") != "" &&
		r.Header.Get("Sec-WebSocket-Version") == "13" &&
		channelPath.MatchString(r.URL.Path)
}

// headerHasToken reports whether a comma-separated header of h lists
// token, case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for part := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

func isWebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

type ctxKey int

const (
	identityKey ctxKey = iota
	processKey
	logKey
)

// identityOf returns who makes the request (set by authenticate).
func identityOf(ctx context.Context) identity {
	id, _ := ctx.Value(identityKey).(identity)
	return id
}

// authenticate resolves the request's token to an identity: 401 when
// tokens are configured and the request has none or an unknown one.
// Without tokens it stores nothing: identityOf's default is full access.
func (a *api) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(a.tokens) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		s := requestToken(r)
		if s == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ganger"`)
			a.writeError(w, r, ganger.Errorf(ganger.EUNAUTHORIZED, "a token is required: send \"Authorization: Bearer <token>\" or \"X-Api-Key: <token>\""))
			return
		}
		t := a.lookup(s)
		if t == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ganger", error="invalid_token"`)
			a.writeError(w, r, ganger.Errorf(ganger.EUNAUTHORIZED, "unknown token"))
			return
		}
		id := identity{name: t.Name, readOnly: t.Role != conf.RoleAdmin}
		if len(t.Sessions) > 0 {
			id.sessions = t.Sessions
		}
		if li := logInfoOf(r.Context()); li != nil {
			li.token = id.name
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey, id)))
	})
}

// authorize refuses state changes to read-only tokens (403). Which
// sessions a token may use is checked where the session is known
// (sessionCtx, jobCtx, processCtx, the list handlers and /channel).
func (a *api) authorize(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mutating(r.Method) {
			if err := identityOf(r.Context()).checkWrite(); err != nil {
				a.writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// mutating reports whether a method changes state.
func mutating(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}
