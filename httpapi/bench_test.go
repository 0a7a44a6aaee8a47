package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"

	"github.com/ganger/ganger/manager"
)

// BenchmarkGetJob: GET /jobs/default/web through the whole handler stack
// (middleware, router, a manager round trip, JSON), over loopback with a
// keep-alive client.
func BenchmarkGetJob(b *testing.B) {
	e := newEnv(b)
	e.load(b, `{"name":"web","cmd":"sleep 30","graceful_timeout":1}`)
	e.waitRunning(b, "default.web", 1)
	req, err := http.NewRequest("GET", e.url+"/jobs/default/web", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		res, err := e.client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
}

// BenchmarkGetJobHandler: GET /jobs/default/web of a 10-process job
// through the handler stack alone (middleware, router, the manager, and
// the JSON answer, cached while the job's revision stays), with no
// connection: what ganger adds to net/http's own cost per request.
func BenchmarkGetJobHandler(b *testing.B) {
	e := newEnv(b)
	e.load(b, `{"name":"web","cmd":"sleep 30","graceful_timeout":1,"numprocesses":10}`)
	e.waitRunning(b, "default.web", 10)
	h := e.srv.Config.Handler
	req := httptest.NewRequest("GET", "/jobs/default/web", nil)
	req.Host = "127.0.0.1:5000"
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkExitEventLatency: from a commit of `true` (the manager spawns
// it before Commit returns) to its exit event arriving on a /channel
// client. ns/op is the whole round; commit-ns/op the Commit call alone,
// so their difference is the process's run plus the exit's way to the
// client (reap, output drain, publish, WebSocket write).
func BenchmarkExitEventLatency(b *testing.B) {
	e := newEnv(b)
	e.load(b, `{"name":"t","cmd":"true","numprocesses":0}`)
	w := e.channel(b)
	w.sub("EVENTS:job.default.t.exit")
	ctx := context.Background()
	var commit time.Duration
	for b.Loop() {
		start := time.Now()
		pid, err := e.m.Commit(ctx, "default.t", manager.CommitOptions{})
		if err != nil {
			b.Fatal(err)
		}
		commit += time.Since(start)
		for {
			rctx, cancel := context.WithTimeout(ctx, await.Scale(10*time.Second))
			_, data, err := w.c.Read(rctx)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			var m msg
			if err := json.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
			if m.Data["event"] == "exit" && m.Data["pid"] == float64(pid) {
				break
			}
		}
	}
	b.ReportMetric(float64(commit.Nanoseconds())/float64(b.N), "commit-ns/op")
}
