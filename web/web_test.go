package web_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ganger/ganger/web"
)

// get serves one request through h and returns the recorded answer.
func get(t *testing.T, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	r := res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatalf("gzip body: %v", err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return string(b)
}

func TestHandler(t *testing.T) {
	// Mounted both ways: with the /ui prefix stripped (httpapi's
	// http.StripPrefix("/ui", …)) and with the prefix kept.
	stripped := http.StripPrefix("/ui", web.Handler())
	prefixed := web.Handler()

	tests := []struct {
		name     string
		h        http.Handler
		method   string
		target   string
		status   int
		ctype    string // prefix of the Content-Type
		contains string
	}{
		{"index stripped", stripped, "GET", "/ui/", 200, "text/html", `<script src="app.js"`},
		{"index prefixed", prefixed, "GET", "/ui/", 200, "text/html", `id="log-view"`},
		{"index at root", prefixed, "GET", "/", 200, "text/html", `id="event-feed"`},
		{"index by name", stripped, "GET", "/ui/index.html", 200, "text/html", "<title>ganger</title>"},
		{"app.js stripped", stripped, "GET", "/ui/app.js", 200, "text/javascript", "/channel"},
		{"app.js prefixed", prefixed, "GET", "/ui/app.js", 200, "text/javascript", "STREAM:"},
		{"app.js at root", prefixed, "GET", "/app.js", 200, "text/javascript", "'use strict'"},
		{"style.css", stripped, "GET", "/ui/style.css", 200, "text/css", "prefers-color-scheme: dark"},
		{"favicon", stripped, "GET", "/ui/favicon.svg", 200, "image/svg+xml", "<svg"},
		{"head", stripped, "HEAD", "/ui/app.js", 200, "text/javascript", ""},
		{"unknown file", stripped, "GET", "/ui/nope.js", 404, "", ""},
		{"unknown prefixed", prefixed, "GET", "/ui/static/app.js", 404, "", ""},
		{"dot dot", prefixed, "GET", "/ui/../web.go", 404, "", ""},
		{"post", stripped, "POST", "/ui/app.js", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, tt.h, tt.method, tt.target, nil)
			if res.StatusCode != tt.status {
				t.Fatalf("%s %s: status %d, want %d", tt.method, tt.target, res.StatusCode, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.ctype) {
				t.Errorf("Content-Type %q, want %s…", ct, tt.ctype)
			}
			if res.Header.Get("ETag") == "" || res.Header.Get("Cache-Control") == "" {
				t.Errorf("no cache headers: ETag %q, Cache-Control %q", res.Header.Get("ETag"), res.Header.Get("Cache-Control"))
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", res.Header.Get("X-Content-Type-Options"))
			}
			if b := body(t, res); !strings.Contains(b, tt.contains) {
				t.Errorf("body does not contain %q", tt.contains)
			}
		})
	}
}

// TestHandlerRedirectsToSlash: the page uses relative URLs, so /ui must
// become /ui/ whichever way the handler is mounted.
func TestHandlerRedirectsToSlash(t *testing.T) {
	for name, h := range map[string]http.Handler{
		"stripped": http.StripPrefix("/ui", web.Handler()),
		"prefixed": web.Handler(),
	} {
		t.Run(name, func(t *testing.T) {
			res := get(t, h, "GET", "/ui?x=1", nil)
			if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/ui/?x=1" {
				t.Fatalf("GET /ui: %d Location %q, want 301 to /ui/?x=1", res.StatusCode, res.Header.Get("Location"))
			}
		})
	}
}

func TestHandlerRevalidates(t *testing.T) {
	h := web.Handler()
	res := get(t, h, "GET", "/app.js", nil)
	etag := res.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) {
		t.Fatalf("ETag %q, want a quoted strong tag", etag)
	}
	res = get(t, h, "GET", "/app.js", http.Header{"If-None-Match": {etag}})
	if res.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional GET: status %d, want 304", res.StatusCode)
	}
}

func TestHandlerGzip(t *testing.T) {
	h := web.Handler()
	plain := get(t, h, "GET", "/app.js", nil)
	zipped := get(t, h, "GET", "/app.js", http.Header{"Accept-Encoding": {"br, gzip"}})
	if zipped.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", zipped.Header.Get("Content-Encoding"))
	}
	if !strings.Contains(zipped.Header.Get("Vary"), "Accept-Encoding") {
		t.Errorf("Vary %q, want Accept-Encoding", zipped.Header.Get("Vary"))
	}
	if zipped.Header.Get("ETag") == plain.Header.Get("ETag") {
		t.Errorf("gzip and identity answers share the ETag %s", plain.Header.Get("ETag"))
	}
	if a, b := body(t, plain), body(t, zipped); a != b {
		t.Errorf("gzip body differs from the plain one (%d vs %d bytes)", len(b), len(a))
	}
	refused := get(t, h, "GET", "/app.js", http.Header{"Accept-Encoding": {"gzip;q=0"}})
	if refused.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0: Content-Encoding %q, want none", refused.Header.Get("Content-Encoding"))
	}
}

// TestAssetsSelfContained: nothing is fetched from outside the daemon.
func TestAssetsSelfContained(t *testing.T) {
	h := web.Handler()
	for _, f := range []string{"/", "/app.js", "/style.css", "/favicon.svg"} {
		// The SVG namespace is a name, not a fetch.
		b := strings.ReplaceAll(body(t, get(t, h, "GET", f, nil)), "http://www.w3.org/2000/svg", "")
		for _, bad := range []string{"http://", "https://", "@import", "url("} {
			if i := strings.Index(b, bad); i >= 0 {
				t.Errorf("%s refers to %q: …%s…", f, bad, b[max(0, i-30):min(len(b), i+50)])
			}
		}
	}
}
