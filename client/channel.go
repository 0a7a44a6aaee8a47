package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/coder/websocket"
)

// readLimit bounds one message from the server: an output event carries
// up to 32 KiB of text, which JSON escaping may multiply.
const readLimit = 4 << 20

// Channel is one /channel WebSocket: subscriptions to events, output and
// stats, and commands. It is meant to be used by one goroutine at a time
// (Close may be called from any).
type Channel struct {
	conn  *websocket.Conn
	queue []queued // messages read while waiting for an answer
	seq   int      // command identities
}

type queued struct {
	ev  *Event
	err error
}

// envelope is a message of the server.
type envelope struct {
	Event string          `json:"event"`
	Topic string          `json:"topic"`
	Data  json.RawMessage `json:"data"`
}

// Dial opens a /channel WebSocket to the daemon.
func (c *Client) Dial(ctx context.Context) (*Channel, error) {
	h := http.Header{}
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	conn, resp, err := websocket.Dial(ctx, c.base+"/channel", &websocket.DialOptions{
		HTTPClient: c.http,
		HTTPHeader: h,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			var body []byte
			if resp.Body != nil {
				body, _ = io.ReadAll(resp.Body)
			}
			return nil, errorFromBody(resp.StatusCode, body)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &UnreachableError{Address: c.address, Err: err}
	}
	conn.SetReadLimit(readLimit)
	return &Channel{conn: conn}, nil
}

// Close closes the WebSocket.
func (ch *Channel) Close() error {
	return ch.conn.Close(websocket.StatusNormalClosure, "")
}

func (ch *Channel) send(ctx context.Context, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := ch.conn.Write(ctx, websocket.MessageText, data); err != nil {
		return fmt.Errorf("writing to the channel: %w", err)
	}
	return nil
}

// Subscribe subscribes to a topic ("EVENTS", "EVENTS:<pattern>",
// "STREAM:<pid>", "STREAM:<pid>.<label>", "STATS:<pid>",
// "STATS:<session>.<job>") and waits for the server's answer. A refused
// subscription is an *Error with the server's reason. Events that arrive
// while it waits are kept for Next.
func (ch *Channel) Subscribe(ctx context.Context, topic string) error {
	return ch.subscription(ctx, "SUB", topic)
}

// Unsubscribe ends a subscription made with Subscribe and waits for the
// server's answer.
func (ch *Channel) Unsubscribe(ctx context.Context, topic string) error {
	return ch.subscription(ctx, "UNSUB", topic)
}

func (ch *Channel) subscription(ctx context.Context, event, topic string) error {
	msg := map[string]any{"event": event, "data": map[string]any{"topic": topic}}
	if err := ch.send(ctx, msg); err != nil {
		return err
	}
	// The server answers SUB and UNSUB in order, so the next answer is
	// this one's.
	for {
		env, err := ch.read(ctx)
		if err != nil {
			return err
		}
		switch env.Event {
		case "gaffer:subscription_success":
			return nil
		case "gaffer:subscription_error":
			e := wsError(env.Data)
			if e.Code == "" {
				e.Code = "subscription_error"
			}
			return e
		default:
			ch.enqueue(env)
		}
	}
}

// Command runs a /channel command (see the API's list: "jobs", "info",
// "scale", …) with positional args and returns its result. A failed
// command is an *Error whose Status is the server's errno.
func (ch *Channel) Command(ctx context.Context, name string, args []any, kwargs map[string]any) (json.RawMessage, error) {
	ch.seq++
	id := "c" + strconv.Itoa(ch.seq)
	if args == nil {
		args = []any{}
	}
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	msg := map[string]any{"event": "CMD", "data": map[string]any{
		"identity": id, "name": name, "args": args, "kwargs": kwargs,
	}}
	if err := ch.send(ctx, msg); err != nil {
		return nil, err
	}
	for {
		env, err := ch.read(ctx)
		if err != nil {
			return nil, err
		}
		if env.Event != "gaffer:command_success" && env.Event != "gaffer:command_error" {
			ch.enqueue(env)
			continue
		}
		var d struct {
			ID     string          `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  struct {
				Errno  int    `json:"errno"`
				Error  string `json:"error"`
				Reason string `json:"reason"`
			} `json:"error"`
		}
		if err := json.Unmarshal(env.Data, &d); err != nil {
			return nil, fmt.Errorf("decoding command answer: %w", err)
		}
		if d.ID != id {
			continue // an answer to an abandoned command
		}
		if env.Event == "gaffer:command_error" {
			return nil, &Error{Status: d.Error.Errno, Code: d.Error.Error, Reason: d.Error.Reason}
		}
		return d.Result, nil
	}
}

// Next returns the next event of the channel's subscriptions, blocking
// until one arrives, ctx ends or the connection closes. When the server
// reports a problem with the stream (it dropped events for a reader that
// fell behind: Code "overflow"), Next returns it as an *Error; the channel
// stays usable and Next may be called again.
func (ch *Channel) Next(ctx context.Context) (*Event, error) {
	for {
		if len(ch.queue) > 0 {
			q := ch.queue[0]
			ch.queue = ch.queue[1:]
			return q.ev, q.err
		}
		env, err := ch.read(ctx)
		if err != nil {
			return nil, err
		}
		ch.enqueue(env)
	}
}

// enqueue keeps an unsolicited message for Next: events, and stream
// errors. Stray answers (a late subscription answer) are dropped.
func (ch *Channel) enqueue(env *envelope) {
	switch env.Event {
	case "gaffer:event":
		ev, err := decodeEvent(env.Data)
		if err != nil {
			ch.queue = append(ch.queue, queued{err: err})
			return
		}
		if ev.Topic == "" {
			ev.Topic = env.Topic
		}
		ch.queue = append(ch.queue, queued{ev: ev})
	case "gaffer:error":
		ch.queue = append(ch.queue, queued{err: wsError(env.Data)})
	}
}

// ErrClosed is returned by a Channel once the server closed the connection
// normally.
var ErrClosed = errors.New("the daemon closed the connection")

func (ch *Channel) read(ctx context.Context) (*envelope, error) {
	for {
		typ, data, err := ch.conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure || websocket.CloseStatus(err) == websocket.StatusGoingAway {
				return nil, ErrClosed
			}
			return nil, fmt.Errorf("reading from the channel: %w", err)
		}
		if typ != websocket.MessageText {
			continue
		}
		var env envelope
		if err := json.Unmarshal(data, &env); err != nil {
			return nil, fmt.Errorf("decoding a channel message: %w", err)
		}
		return &env, nil
	}
}

// wsError turns the data of an error message into an *Error.
func wsError(data json.RawMessage) *Error {
	var d struct {
		Errno  int    `json:"errno"`
		Error  string `json:"error"`
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(data, &d)
	return &Error{Status: d.Errno, Code: d.Error, Reason: d.Reason}
}

func decodeEvent(data json.RawMessage) (*Event, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var f map[string]any
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding an event: %w", err)
	}
	ev := &Event{Fields: f}
	ev.Topic, _ = f["topic"].(string)
	ev.Type, _ = f["event"].(string)
	ev.Name, _ = f["name"].(string)
	ev.Pid = ev.Int("pid")
	ev.OSPid = ev.Int("os_pid")
	ev.Stream, _ = f["stream"].(string)
	ev.Data, _ = f["data"].(string)
	return ev, nil
}

// Int returns an integer field of the event, 0 if absent or not a number.
func (e *Event) Int(key string) int {
	switch v := e.Fields[key].(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return int(n)
		}
		if f, err := v.Float64(); err == nil {
			return int(f)
		}
	case float64:
		return int(v)
	}
	return 0
}
