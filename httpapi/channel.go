package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/manager"
	"github.com/ganger/ganger/pubsub"
)

// Messages of the /channel protocol (API.md "WebSocket").
const (
	evSub      = "SUB"
	evUnsub    = "UNSUB"
	evCmd      = "CMD"
	evNop      = "NOP"
	evEvent    = "gaffer:event"
	evSubOK    = "gaffer:subscription_success"
	evSubError = "gaffer:subscription_error"
	evCmdOK    = "gaffer:command_success"
	evCmdError = "gaffer:command_error"
	evError    = "gaffer:error"
)

// statsInterval is how often STATS subscriptions are sampled.
const statsInterval = time.Second

// outQueue is the size of a client's queue of replies (acks, command
// results, stats, errors). Events do not go through it: they wait in the
// client's pubsub subscriptions, whose buffers are Options.ClientBuffer.
const outQueue = 64

// inMessage is a message from a client.
type inMessage struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

type subData struct {
	Topic string `json:"topic"`
}

type cmdData struct {
	Identity json.RawMessage            `json:"identity"`
	Name     string                     `json:"name"`
	Args     []json.RawMessage          `json:"args"`
	Kwargs   map[string]json.RawMessage `json:"kwargs"`
}

// channelConn is one /channel connection. Its goroutines: the handler's,
// which reads and handles messages (subscriptions checked at once,
// commands queued); run, which runs commands in order; write, the only
// writer of the socket, which also applies subscription changes; and, once
// a STATS topic is subscribed, sampleStats. All end with ctx.
type channelConn struct {
	a      *api
	c      *websocket.Conn
	id     identity
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	out      chan []byte                // replies, drained by write before any event
	cmds     chan cmdData               // commands, run in order by run
	subReqs  chan subRequest            // checked SUB/UNSUB, applied by write
	events   *pubsub.Sub[manager.Event] // every EVENTS pattern of the client
	kick     chan struct{}              // asks sampleStats to sample now
	statsRun sync.Once

	// Owned by write (and closeSubs, once write has ended).
	topics map[string]bool            // subscribed topics, canonical spelling
	output *pubsub.Sub[manager.Chunk] // STREAM patterns; made on the first

	// mu guards stats, shared by write and sampleStats.
	mu    sync.Mutex
	stats map[string]string // STATS topic → job name
}

// subRequest is a checked subscription change for the writer to apply.
type subRequest struct {
	s     subscription
	topic string // as the client spelled it, for the reply
	unsub bool
}

func (a *api) serveChannel(w http.ResponseWriter, r *http.Request) {
	c := a.accept(w, r)
	if c == nil {
		return
	}
	defer c.CloseNow()
	ctx, cancel := a.socketContext(r, c)
	defer cancel()

	events, err := a.m.Subscribe(ctx, a.o.ClientBuffer)
	if err != nil {
		a.log.Error("channel: subscribing to events", "err", err)
		c.Close(websocket.StatusInternalError, "internal error")
		return
	}
	a.clients.Add(1)
	defer a.clients.Add(-1)

	cl := &channelConn{
		a: a, c: c, id: identityOf(r.Context()), ctx: ctx, cancel: cancel,
		out:     make(chan []byte, outQueue),
		cmds:    make(chan cmdData, 16),
		events:  events,
		subReqs: make(chan subRequest),
		kick:    make(chan struct{}, 1),
		topics:  map[string]bool{},
		stats:   map[string]string{},
	}
	defer cl.closeSubs()
	cl.wg.Add(2)
	go cl.write()
	go cl.run()
	err = cl.read()
	cancel()
	cl.wg.Wait()
	if !closedNormally(err) {
		a.log.Debug("channel closed", "err", err)
	}
}

// closeSubs ends the client's subscriptions, once write has ended.
func (cl *channelConn) closeSubs() {
	cl.events.Close()
	if cl.output != nil {
		cl.output.Close()
	}
}

// read reads and handles messages until the connection ends.
func (cl *channelConn) read() error {
	for {
		_, b, err := cl.c.Read(cl.ctx)
		if err != nil {
			return err
		}
		cl.handle(b)
	}
}

// send queues a reply; it waits while the queue is full (the writer times
// the client out if it does not read).
func (cl *channelConn) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		cl.a.log.Error("channel: encoding a reply", "err", err)
		return
	}
	select {
	case cl.out <- b:
	case <-cl.ctx.Done():
	}
}

func (cl *channelConn) sendError(code, format string, args ...any) {
	cl.send(message{Event: evError, Data: map[string]string{"error": code, "reason": fmt.Sprintf(format, args...)}})
}

// message is a message to a client.
type message struct {
	Event string `json:"event"`
	Topic string `json:"topic,omitempty"`
	Data  any    `json:"data,omitempty"`
}

// handle handles one message. A malformed one is answered with
// gaffer:error; the connection stays open.
func (cl *channelConn) handle(b []byte) {
	var m inMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		cl.sendError(ganger.EBADREQUEST, "%s", ganger.ErrorMessage(jsonError(err)))
		return
	}
	switch m.Event {
	case evNop:
	case evSub, evUnsub:
		var d subData
		if err := decodeStrict(m.Data, &d); err != nil || d.Topic == "" {
			cl.sendError(ganger.EBADREQUEST, "%s: want {\"topic\": \"EVENTS\"|\"EVENTS:<pattern>\"|\"STATS:…\"|\"STREAM:…\"}", m.Event)
			return
		}
		if m.Event == evSub {
			cl.subscribe(d.Topic)
		} else {
			cl.unsubscribe(d.Topic)
		}
	case evCmd:
		var d cmdData
		if err := decodeStrict(m.Data, &d); err != nil {
			cl.sendError(ganger.EBADREQUEST, "CMD: %s", ganger.ErrorMessage(err))
			return
		}
		select {
		case cl.cmds <- d:
		case <-cl.ctx.Done():
		}
	default:
		cl.sendError(ganger.EBADREQUEST, "unknown event %q: want SUB, UNSUB, CMD or NOP", m.Event)
	}
}

func (cl *channelConn) subError(topic string, err error) {
	b := cl.subErrorMessage(topic, err)
	select {
	case cl.out <- b:
	case <-cl.ctx.Done():
	}
}

func (cl *channelConn) subErrorMessage(topic string, err error) []byte {
	if ganger.ErrorCode(err) == ganger.EINTERNAL {
		cl.a.log.Error("channel: subscribing", "topic", topic, "err", err)
	}
	b, _ := json.Marshal(message{Event: evSubError, Topic: topic, Data: map[string]string{"reason": errorOf(err).Reason}})
	return b
}

// subscribe checks a topic and hands it to the writer, which adds it and
// then replies: a client that has the success reply gets every event
// published from then on, and no event of the topic before the reply.
func (cl *channelConn) subscribe(topic string) {
	s, err := parseTopic(topic)
	if err != nil {
		cl.subError(topic, err)
		return
	}
	switch s.kind {
	case topicStats:
		err = cl.checkStats(&s)
	case topicStream:
		err = cl.checkStream(s)
	}
	if err != nil {
		cl.subError(topic, err)
		return
	}
	cl.request(subRequest{s: s, topic: topic})
}

func (cl *channelConn) request(r subRequest) {
	select {
	case cl.subReqs <- r:
	case <-cl.ctx.Done():
	}
}

// apply makes a subscription change and returns the reply. Writer only.
func (cl *channelConn) apply(r subRequest) []byte {
	s := r.s
	if r.unsub {
		if !cl.topics[s.topic] {
			return cl.subErrorMessage(r.topic, notFound("not subscribed to %q", r.topic))
		}
		delete(cl.topics, s.topic)
		switch s.kind {
		case topicEvents:
			cl.events.Remove(s.pattern)
		case topicStream:
			cl.output.Remove(s.pattern)
		case topicStats:
			cl.mu.Lock()
			delete(cl.stats, s.topic)
			cl.mu.Unlock()
		}
	} else if !cl.topics[s.topic] {
		if len(cl.topics) >= MaxSubscriptions {
			return cl.subErrorMessage(r.topic, ganger.Errorf(ganger.ECONFLICT,
				"too many subscriptions: a connection may hold %d topics; unsubscribe some, or use a pattern", MaxSubscriptions))
		}
		cl.topics[s.topic] = true
		switch s.kind {
		case topicEvents:
			cl.events.Add(s.pattern)
		case topicStream:
			if cl.output == nil {
				cl.output = cl.a.m.SubscribeOutput(cl.a.o.ClientBuffer, s.pattern)
			} else {
				cl.output.Add(s.pattern)
			}
		case topicStats:
			cl.mu.Lock()
			cl.stats[s.topic] = s.job
			cl.mu.Unlock()
			cl.statsRun.Do(func() {
				cl.wg.Add(1)
				go cl.sampleStats()
			})
			select {
			case cl.kick <- struct{}{}:
			default:
			}
		}
	}
	b, _ := json.Marshal(message{Event: evSubOK, Topic: r.topic})
	return b
}

// checkStats checks that a STATS target exists and may be seen, and fills
// in the job name of a process.
func (cl *channelConn) checkStats(s *subscription) error {
	if s.pid != 0 {
		info, err := cl.a.processFor(cl.ctx, cl.id, s.pid)
		s.job = info.Name
		return err
	}
	return cl.a.checkJobExists(cl.ctx, cl.id, s.job)
}

// checkStream checks that a STREAM target exists and may be seen.
func (cl *channelConn) checkStream(s subscription) error {
	if s.job != "" {
		return cl.a.checkJobExists(cl.ctx, cl.id, s.job)
	}
	info, err := cl.a.processFor(cl.ctx, cl.id, s.pid)
	if err != nil {
		return err
	}
	if s.label != "" && !hasLabel(info, s.label) {
		return notFound("process %d has no stream %q", s.pid, s.label)
	}
	return nil
}

// unsubscribe hands a topic to remove to the writer; removing one the
// client does not have is a subscription_error, success is answered with
// subscription_success. Events published before the removal and still
// buffered may follow the reply.
func (cl *channelConn) unsubscribe(topic string) {
	s, err := parseTopic(topic)
	if err != nil {
		cl.subError(topic, err)
		return
	}
	cl.request(subRequest{s: s, topic: topic, unsub: true})
}

// write is the connection's only writer: queued replies first, then
// subscription changes (applied, then answered) and events and output from
// the client's subscriptions, each write bounded by the write timeout. It
// ends the client when a write fails.
func (cl *channelConn) write() {
	defer cl.wg.Done()
	defer cl.cancel()
	evC := cl.events.C()
	var outC <-chan pubsub.Message[manager.Chunk]
	for {
		var b []byte
		select {
		case <-cl.ctx.Done():
			return
		case b := <-cl.out:
			if !cl.writeText(b) {
				return
			}
			continue
		case r := <-cl.subReqs:
			b = cl.apply(r)
			if cl.output != nil {
				outC = cl.output.C()
			}
		case m, ok := <-evC:
			if !ok {
				return
			}
			b = cl.eventMessage(m)
		case m, ok := <-outC:
			if !ok {
				return
			}
			b = cl.outputMessage(m)
		}
		// Replies queued meanwhile go first, so that, e.g., an error
		// answering a message precedes the events that follow it.
		if !cl.flush() {
			return
		}
		if b != nil && !cl.writeText(b) {
			return
		}
	}
}

// flush writes the queued replies.
func (cl *channelConn) flush() bool {
	for {
		select {
		case b := <-cl.out:
			if !cl.writeText(b) {
				return false
			}
		default:
			return true
		}
	}
}

func (cl *channelConn) writeText(b []byte) bool {
	err := cl.a.writeMessage(cl.ctx, cl.c, websocket.MessageText, b)
	if err != nil {
		if cl.ctx.Err() == nil {
			cl.a.log.Info("channel: disconnecting a client", "token", cl.id.name, "err", err)
		}
		return false
	}
	return true
}

func overflow(n uint64) []byte {
	b, _ := json.Marshal(message{Event: evError, Data: map[string]string{
		"error": "overflow", "reason": strconv.FormatUint(n, 10) + " events dropped"}})
	return b
}

// eventMessage encodes a bus event for the client, or returns nil for one
// it may not see.
func (cl *channelConn) eventMessage(m pubsub.Message[manager.Event]) []byte {
	if m.Dropped > 0 {
		return overflow(m.Dropped)
	}
	if !cl.id.canJob(m.Event.Name) {
		return nil
	}
	data := m.Event.Fields()
	data["topic"] = m.Topic
	b, _ := json.Marshal(message{Event: evEvent, Data: data})
	return b
}

// outputMessage encodes an output chunk as a STREAM event: the text with
// invalid UTF-8 replaced, on the most specific topic the client has.
func (cl *channelConn) outputMessage(m pubsub.Message[manager.Chunk]) []byte {
	if m.Dropped > 0 {
		return overflow(m.Dropped)
	}
	ch := m.Event
	topic := topicStream + ":" + strconv.Itoa(ch.Pid)
	switch {
	case cl.topics[topic+"."+ch.Stream]:
		topic += "." + ch.Stream
	case !cl.topics[topic] && cl.topics[topicStream+":"+ch.Name]:
		topic = topicStream + ":" + ch.Name
	}
	text := strings.ToValidUTF8(string(ch.Data), "\uFFFD")
	b, _ := json.Marshal(message{Event: evEvent, Data: map[string]any{
		"topic": topic, "event": "output", "name": ch.Name, "pid": ch.Pid,
		"stream": ch.Stream, "data": text,
	}})
	return b
}

// sampleStats sends a stats event per process of each STATS topic about
// once a second (and at once for a new topic). Samples are dropped rather
// than queued when the client's reply queue is full. A topic whose process
// or job is gone is no longer sampled.
func (cl *channelConn) sampleStats() {
	defer cl.wg.Done()
	t := time.NewTicker(statsInterval)
	defer t.Stop()
	for {
		select {
		case <-cl.ctx.Done():
			return
		case <-t.C:
		case <-cl.kick:
		}
		cl.mu.Lock()
		topics := make(map[string]string, len(cl.stats))
		for k, v := range cl.stats {
			topics[k] = v
		}
		cl.mu.Unlock()
		for topic, name := range topics {
			stats, err := cl.statsOf(topic, name)
			if ganger.ErrorCode(err) == ganger.ENOTFOUND {
				// Gone: stop sampling it (the topic stays subscribed).
				cl.mu.Lock()
				delete(cl.stats, topic)
				cl.mu.Unlock()
				continue
			}
			if err != nil {
				continue
			}
			for _, ps := range stats {
				b, _ := json.Marshal(message{Event: evEvent, Data: map[string]any{
					"topic": topic, "event": "stats", "name": name, "pid": ps.Pid, "os_pid": ps.OSPid,
					"cpu": ps.CPU, "mem": ps.Mem, "rss": ps.RSS, "vms": ps.VMS,
					"ctime": ps.CTime, "create_time": ps.CreateTime,
				}})
				select {
				case cl.out <- b:
				default:
				}
			}
		}
	}
}

// statsOf samples a STATS topic: one process, or every process of a job
// (so processes spawned later are included).
func (cl *channelConn) statsOf(topic, name string) ([]manager.ProcStats, error) {
	ctx, cancel := context.WithTimeout(cl.ctx, 5*time.Second)
	defer cancel()
	if arg := strings.TrimPrefix(topic, topicStats+":"); isDigits(arg) {
		pid, _ := strconv.Atoi(arg)
		ps, err := cl.a.m.ProcessStats(ctx, pid)
		return []manager.ProcStats{ps}, err
	}
	js, err := cl.a.m.JobStats(ctx, name)
	return js.Stats, err
}

// run runs the client's commands in the order they arrived.
func (cl *channelConn) run() {
	defer cl.wg.Done()
	for {
		select {
		case <-cl.ctx.Done():
			return
		case d := <-cl.cmds:
			cl.command(d)
		}
	}
}

// command runs one command and sends its result or error.
func (cl *channelConn) command(d cmdData) {
	id := d.Identity
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	res, err := cl.exec(d)
	if err != nil {
		body := errorOf(err)
		if body.Error == ganger.EINTERNAL && cl.ctx.Err() == nil {
			cl.a.log.Error("channel: command failed", "command", d.Name, "token", cl.id.name, "err", err)
		}
		cl.send(message{Event: evCmdError, Data: map[string]any{
			"id": id, "error": map[string]any{"errno": body.Errno, "reason": body.Reason}}})
		return
	}
	if channelCommands[d.Name].write {
		cl.a.log.Info("channel command", "command", d.Name, "token", cl.id.name)
	}
	cl.send(message{Event: evCmdOK, Data: map[string]any{"id": id, "result": res}})
}
