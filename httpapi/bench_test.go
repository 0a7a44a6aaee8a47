package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
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

// BenchmarkFollowOutput: a child writes 64 MiB to stdout while one
// /{pid}/channel?mode=1 follower receives every byte: one op is the whole
// transfer, from the commit until the follower has the last byte.
func BenchmarkFollowOutput(b *testing.B) {
	e := newEnv(b)
	const size = 64 << 20
	e.load(b, fmt.Sprintf(`{"name":"out","cmd":"sh","args":["-c","read x; head -c %d /dev/zero"],"redirect_input":true,"numprocesses":0,"flapping":false}`, size))
	buf := make([]byte, 1<<20)
	b.SetBytes(size)
	for b.Loop() {
		pid := int(e.call(b, "POST", "/jobs/default/out/commit", "", 200)["pid"].(float64))
		ctx, cancel := context.WithTimeout(context.Background(), await.Scale(time.Minute))
		c, _, err := e.dial(b, fmt.Sprintf("/%d/channel?mode=3", pid), nil)
		if err != nil {
			b.Fatal(err)
		}
		c.SetReadLimit(-1)
		if err := c.Write(ctx, websocket.MessageText, []byte("go\n")); err != nil {
			b.Fatal(err)
		}
		var total int64
		for {
			typ, rd, err := c.Reader(ctx)
			if err != nil {
				break
			}
			n, _ := io.CopyBuffer(io.Discard, rd, buf)
			if typ == websocket.MessageBinary {
				total += n
			}
		}
		cancel()
		c.CloseNow()
		if total != size {
			b.Fatalf("the follower got %d bytes, want %d", total, size)
		}
	}
}
