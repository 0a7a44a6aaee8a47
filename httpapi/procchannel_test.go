package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"

	"github.com/coder/websocket"

	"github.com/ganger/ganger/httpapi"
)

// procSocket dials /{pid}/channel… and fails the test on error.
func (e *env) procSocket(t *testing.T, path string) *websocket.Conn {
	t.Helper()
	c, _, err := e.dial(t, path, nil)
	if err != nil {
		t.Fatalf("dialing %s: %v", path, err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func writeFrame(t *testing.T, c *websocket.Conn, typ websocket.MessageType, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(5*time.Second))
	defer cancel()
	if err := c.Write(ctx, typ, []byte(s)); err != nil {
		t.Fatalf("writing: %v", err)
	}
}

// readAll reads binary frames until the socket closes; text frames are
// returned apart.
func readAll(t *testing.T, c *websocket.Conn, d time.Duration) (out []byte, texts []string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(d))
	defer cancel()
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("socket still open after %v; got %q %q", await.Scale(d), out, texts)
			}
			return out, texts, err
		}
		if typ == websocket.MessageBinary {
			out = append(out, b...)
		} else {
			texts = append(texts, string(b))
		}
	}
}

func TestProcessChannelEcho(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"cat","cmd":"cat","redirect_input":true,"graceful_timeout":1}`)
	pid := e.waitRunning(t, "default.cat", 1)[0]
	c := e.procSocket(t, fmt.Sprintf("/%d/channel", pid))

	writeFrame(t, c, websocket.MessageBinary, "hello\n")
	writeFrame(t, c, websocket.MessageText, "world\n")
	var got []byte
	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(5*time.Second))
	defer cancel()
	for string(got) != "hello\nworld\n" {
		typ, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("reading after %q: %v", got, err)
		}
		if typ != websocket.MessageBinary {
			t.Fatalf("got a text frame %q", b)
		}
		got = append(got, b...)
	}

	// Stopping the process closes the socket normally.
	e.call(t, "DELETE", fmt.Sprintf("/%d", pid), "", 202)
	_, texts, err := readAll(t, c, 10*time.Second)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure || len(texts) != 0 {
		t.Errorf("close %v, texts %q", err, texts)
	}
}

// TestProcessChannelDrainsOnExit: every byte a process wrote arrives, in
// order, before the normal close that follows its exit.
func TestProcessChannelDrainsOnExit(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"seq","cmd":"sh","args":["-c","read x; seq 1 30000; echo err >&2"],"redirect_input":true,"numprocesses":0}`)
	pid := int(e.call(t, "POST", "/jobs/default/seq/commit", "", 200)["pid"].(float64))
	c := e.procSocket(t, fmt.Sprintf("/%d/channel", pid))
	writeFrame(t, c, websocket.MessageText, "go\n")
	out, texts, err := readAll(t, c, 20*time.Second)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("close: %v", err)
	}
	if len(texts) != 0 {
		t.Errorf("text frames %q", texts)
	}
	var want bytes.Buffer
	for i := 1; i <= 30000; i++ {
		fmt.Fprintf(&want, "%d\n", i)
	}
	// stdout and stderr are separate pipes: stderr's line may come anywhere.
	got := bytes.Replace(out, []byte("err\n"), nil, 1)
	if !bytes.Equal(got, want.Bytes()) || len(out) != want.Len()+4 {
		t.Errorf("got %d bytes, want %d (+4 of stderr)", len(out), want.Len())
	}
}

func TestProcessChannelModes(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"cat","cmd":"cat","redirect_input":true,"graceful_timeout":1}`)
	e.load(t, `{"name":"sleep","cmd":"sleep 30","graceful_timeout":1}`)
	cat := e.waitRunning(t, "default.cat", 1)[0]
	sleep := e.waitRunning(t, "default.sleep", 1)[0]

	t.Run("mode 1 refuses writes", func(t *testing.T) {
		c := e.procSocket(t, fmt.Sprintf("/%d/channel?mode=1", cat))
		writeFrame(t, c, websocket.MessageBinary, "x\n")
		_, texts, err := readAll(t, c, 5*time.Second)
		if websocket.CloseStatus(err) != websocket.StatusPolicyViolation || len(texts) != 1 || !strings.Contains(texts[0], `"error":`) {
			t.Errorf("close %v, texts %q", err, texts)
		}
	})

	t.Run("mode 1 reads", func(t *testing.T) {
		r := e.procSocket(t, fmt.Sprintf("/%d/channel?mode=1", cat))
		w := e.procSocket(t, fmt.Sprintf("/%d/channel?mode=2", cat))
		writeFrame(t, w, websocket.MessageBinary, "via mode 2\n")
		ctx, cancel := context.WithTimeout(context.Background(), await.Scale(5*time.Second))
		defer cancel()
		var got []byte
		for string(got) != "via mode 2\n" {
			_, b, err := r.Read(ctx)
			if err != nil {
				t.Fatalf("reading after %q: %v", got, err)
			}
			got = append(got, b...)
		}
	})

	t.Run("write to a process without stdin", func(t *testing.T) {
		c := e.procSocket(t, fmt.Sprintf("/%d/channel", sleep))
		writeFrame(t, c, websocket.MessageText, "x")
		_, texts, err := readAll(t, c, 5*time.Second)
		if websocket.CloseStatus(err) == websocket.StatusNormalClosure || len(texts) != 1 {
			t.Fatalf("close %v, texts %q", err, texts)
		}
		var body map[string]string
		if json.Unmarshal([]byte(texts[0]), &body) != nil || body["error"] == "" {
			t.Errorf("error frame %q", texts[0])
		}
	})

	t.Run("refused before the upgrade", func(t *testing.T) {
		for _, c := range []struct {
			path   string
			status int
		}{
			{"/999999/channel", 404},
			{fmt.Sprintf("/%d/channel/nosuch", cat), 404},
			{fmt.Sprintf("/%d/channel?mode=0", cat), 400},
			{"/abc/channel", 404},
		} {
			_, res, err := e.dial(t, c.path, nil)
			if err == nil || res == nil || res.StatusCode != c.status {
				t.Errorf("%s: %v %v, want %d", c.path, err, res, c.status)
				continue
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: Content-Type %q", c.path, ct)
			}
		}
	})
}

// TestProcessChannelStreams: /{pid}/channel/{stream} reads one label and
// writes to the named custom stream.
func TestProcessChannelStreams(t *testing.T) {
	e := newEnv(t)
	e.load(t, `{"name":"ctl","cmd":"sh","args":["-c","read x <&3; echo \"got $x\" >&3; echo out; echo err >&2; exec sleep 30"],"custom_streams":["ctl"],"graceful_timeout":1}`)
	pid := e.waitRunning(t, "default.ctl", 1)[0]
	p := strconv.Itoa(pid)
	ctl := e.procSocket(t, "/"+p+"/channel/ctl")
	errs := e.procSocket(t, "/"+p+"/channel/stderr?mode=1")
	writeFrame(t, ctl, websocket.MessageText, "hi\n")

	ctx, cancel := context.WithTimeout(context.Background(), await.Scale(5*time.Second))
	defer cancel()
	for _, c := range []struct {
		conn *websocket.Conn
		want string
	}{{ctl, "got hi\n"}, {errs, "err\n"}} {
		var got []byte
		for string(got) != c.want {
			_, b, err := c.conn.Read(ctx)
			if err != nil || !strings.HasPrefix(c.want, string(got)+string(b)) {
				t.Fatalf("got %q then %q, %v; want %q", got, b, err, c.want)
			}
			got = append(got, b...)
		}
	}
}

// TestProcessChannelReadToken: a read-only token may read (mode=1) but
// not open a writing socket.
func TestProcessChannelReadToken(t *testing.T) {
	e := newAuthEnv(t)
	e.token = "adm-secret"
	e.load(t, `{"name":"cat","cmd":"cat","redirect_input":true,"graceful_timeout":1}`)
	pid := e.waitRunning(t, "default.cat", 1)[0]
	e.token = "read-secret"
	_, res, err := e.dial(t, fmt.Sprintf("/%d/channel", pid), nil)
	if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("read token, mode 3: %v %v", err, res)
	}
	e.procSocket(t, fmt.Sprintf("/%d/channel?mode=1", pid))
}

// TestProcessChannelLaggingFollower: a follower that reads nothing until
// the process is gone still gets every byte, in order (batched into
// fewer frames); one whose backlog passes FollowBuffer gets "output lost"
// and a 1011 close, and the process was never held back.
func TestProcessChannelLaggingFollower(t *testing.T) {
	for _, tc := range []struct {
		name   string
		buffer int // FollowBuffer; 0 for the default
		script string
		lost   bool
	}{
		{"buffered", 0, "read x; seq 1 2000000", false},
		{"lost", 4, "read x; head -c 100000000 /dev/zero", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, withOptions(func(o *httpapi.Options) { o.FollowBuffer = tc.buffer }))
			body, _ := json.Marshal(map[string]any{"name": "w", "cmd": "sh", "args": []string{"-c", tc.script},
				"redirect_input": true, "redirect_output": []string{"out"}, "numprocesses": 0})
			e.load(t, string(body))
			pid := int(e.call(t, "POST", "/jobs/default/w/commit", "", 200)["pid"].(float64))
			c := e.procSocket(t, fmt.Sprintf("/%d/channel", pid))
			c.SetReadLimit(-1)
			writeFrame(t, c, websocket.MessageText, "go\n")
			await.Until(t, 60*time.Second, "the writer's exit", func() bool {
				return e.do(t, request{method: "GET", path: fmt.Sprintf("/%d", pid)}).status == http.StatusNotFound
			})
			out, texts, err := readAll(t, c, 60*time.Second)
			if tc.lost {
				if websocket.CloseStatus(err) != websocket.StatusInternalError || len(texts) != 1 || !strings.Contains(texts[0], "output lost") {
					t.Fatalf("close %v, texts %q, want 1011 and output lost", err, texts)
				}
				return
			}
			if websocket.CloseStatus(err) != websocket.StatusNormalClosure || len(texts) != 0 {
				t.Fatalf("close %v, texts %q", err, texts)
			}
			var want bytes.Buffer
			for i := 1; i <= 2000000; i++ {
				want.WriteString(strconv.Itoa(i))
				want.WriteByte('\n')
			}
			if !bytes.Equal(out, want.Bytes()) {
				t.Fatalf("got %d bytes, want %d, in order", len(out), want.Len())
			}
		})
	}
}
