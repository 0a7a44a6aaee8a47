package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

//go:embed static
var static embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	ctype string
	body  []byte
	etag  string
	gz    []byte // gzip-compressed body; nil when compressing does not pay
	gzTag string
}

// types are the content types of the files we ship; mime.TypeByExtension
// depends on the host's tables, which differ between systems.
var types = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".json": "application/json",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

// contentSecurityPolicy allows only the daemon's own scripts, styles and
// connections ('self' covers the same-origin WebSocket), which is all the
// page needs, and forbids framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; manifest-src 'self'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// assets loads every embedded file once, on first use.
var assets = sync.OnceValue(func() map[string]*asset {
	root, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	m := map[string]*asset{}
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(root, p)
		if err != nil {
			return err
		}
		m[p] = newAsset(p, body)
		return nil
	})
	if err != nil {
		panic(err) // reading an embed.FS cannot fail
	}
	return m
})

func newAsset(name string, body []byte) *asset {
	ext := path.Ext(name)
	ctype := types[ext]
	if ctype == "" {
		ctype = mime.TypeByExtension(ext)
	}
	if ctype == "" {
		ctype = http.DetectContentType(body)
	}
	sum := sha256.Sum256(body)
	tag := hex.EncodeToString(sum[:12])
	a := &asset{ctype: ctype, body: body, etag: `"` + tag + `"`}
	if strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "svg") || strings.Contains(ctype, "json") {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if buf.Len() < len(body)*9/10 {
			a.gz, a.gzTag = buf.Bytes(), `"`+tag+`-gz"`
		}
	}
	return a
}

// Handler returns the handler of the dashboard's files. It serves
// index.html for the root, each file under its name, and 404 for anything
// else. The path may keep the /ui prefix or have it stripped.
func Handler() http.Handler { return handler{} }

type handler struct{}

func (handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name, ok := fileName(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if name == "index.html" && !strings.HasSuffix(r.URL.Path, "index.html") {
		// The page uses relative URLs, so it must be served from a path
		// ending in a slash: /ui becomes /ui/.
		if p := requestPath(r); !strings.HasSuffix(p, "/") {
			target := p + "/"
			if r.URL.RawQuery != "" {
				target += "?" + r.URL.RawQuery
			}
			http.Redirect(w, r, target, http.StatusMovedPermanently)
			return
		}
	}
	a := assets()[name]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	body, etag := a.body, a.etag
	if a.gz != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			body, etag = a.gz, a.gzTag
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// fileName maps a request path to an embedded file's name: "" and "/"
// (and "/ui", "/ui/") to index.html, "/app.js" and "/ui/app.js" to app.js.
// It reports false for paths that try to leave the root.
func fileName(p string) (string, bool) {
	if strings.Contains(p, "..") || strings.Contains(p, "\\") {
		return "", false
	}
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "ui" {
		p = ""
	}
	p = strings.TrimPrefix(p, "ui/")
	if p == "" {
		p = "index.html"
	}
	return p, true
}

// requestPath is the path the client asked for, before any prefix was
// stripped by a mounting router.
func requestPath(r *http.Request) string {
	if r.RequestURI != "" {
		if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != "" {
			return u.Path
		}
	}
	if r.URL.Path == "" {
		return "/"
	}
	return r.URL.Path
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			q, err := strconv.ParseFloat(v, 64)
			return err == nil && q > 0
		}
		return true
	}
	return false
}
