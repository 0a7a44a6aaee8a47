package manager

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// maxLine is the longest line kept whole; longer lines are split into
// continuation lines of this size.
const maxLine = 64 << 10

// maxChunk is the most output one published Chunk carries.
const maxChunk = 64 << 10

// LogLine is one captured output line of a process.
type LogLine struct {
	Pid    int       `json:"pid"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
	Data   string    `json:"data"`
}

// logChunk is one or more whole output lines of one stream of one process
// that arrived together. Every line in data ends in '\n' (a line cut at
// maxLine or at EOF gets one), so n is the number of '\n' in data.
type logChunk struct {
	pid    int
	stream string
	time   time.Time
	data   []byte
	n      int
}

// lines appends the chunk's lines to out as LogLines, invalid UTF-8
// replaced: the conversion happens when someone asks, not for every line
// a busy child writes.
func (c *logChunk) lines(out []LogLine, skip int) []LogLine {
	data := c.data
	for i := 0; len(data) > 0; i++ {
		j := bytes.IndexByte(data, '\n')
		if i >= skip {
			out = append(out, LogLine{Pid: c.pid, Stream: c.stream, Time: c.time, Data: strings.ToValidUTF8(string(data[:j]), "\uFFFD")})
		}
		data = data[j+1:]
	}
	return out
}

// ring keeps the last lines of a job's output, as the chunks they arrived
// in: at least the newest maxLines lines (plus the older rest of their
// oldest chunk) unless they take more than maxBytes, in which case whole
// oldest chunks go first. It is written by output reader goroutines and
// read by Logs callers, hence the mutex.
type ring struct {
	maxLines, maxBytes int
	bufs               *bufPool // where dropped chunks' buffers go

	// mu guards the following fields.
	mu     sync.Mutex
	chunks []logChunk // oldest first, from head on
	head   int
	lines  int // lines in chunks[head:]
	bytes  int // memory held by chunks[head:] (capacity, not length)
}

func newRing(maxLines, maxBytes int, bufs *bufPool) *ring {
	return &ring{maxLines: maxLines, maxBytes: maxBytes, bufs: bufs}
}

func (r *ring) add(c logChunk) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.maxLines <= 0 {
		r.bufs.put(c.data)
		return
	}
	r.chunks = append(r.chunks, c)
	r.lines += c.n
	r.bytes += cap(c.data)
	for r.head < len(r.chunks)-1 && (r.lines-r.chunks[r.head].n >= r.maxLines || r.bytes > r.maxBytes) {
		old := &r.chunks[r.head]
		r.lines -= old.n
		r.bytes -= cap(old.data)
		r.bufs.put(old.data)
		*old = logChunk{}
		r.head++
	}
	if r.head > 32 && r.head > len(r.chunks)/2 {
		n := copy(r.chunks, r.chunks[r.head:])
		clear(r.chunks[n:])
		r.chunks, r.head = r.chunks[:n], 0
	}
}

// last returns up to n of the newest lines (at most the ring's size; all
// of them for n <= 0), oldest first.
func (r *ring) last(n int) []LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	size := min(r.lines, r.maxLines)
	if n <= 0 || n > size {
		n = size
	}
	out := make([]LogLine, 0, n)
	skip := r.lines - n // lines to pass over, oldest first
	for i := r.head; i < len(r.chunks); i++ {
		c := &r.chunks[i]
		if skip >= c.n {
			skip -= c.n
			continue
		}
		out = c.lines(out, skip)
		skip = 0
	}
	return out
}

// lineSplitter cuts one output stream into chunks of whole lines. It is
// used by exactly one reader goroutine, then flushed by the loop once that
// reader is done.
type lineSplitter struct {
	pid   int
	label string
	bufs  *bufPool
	buf   []byte         // the start of an unfinished line, at most maxLine bytes
	emit  func(logChunk) // takes over the chunk's data
}

// write emits every whole line in buf+data, the lines of one read as one
// chunk, and keeps the unfinished rest. Lines longer than maxLine are cut
// into lines of maxLine.
func (s *lineSplitter) write(data []byte) {
	now := time.Now()
	if bytes.IndexByte(data, '\n') < 0 { // vectorised, unlike LastIndexByte
		s.pend(data, now)
		return
	}
	last := bytes.LastIndexByte(data, '\n')
	whole, rest := data[:last+1], data[last+1:]
	if len(s.buf) > 0 {
		i := bytes.IndexByte(whole, '\n')
		s.pend(whole[:i], now)
		s.emitBuf(now)
		whole = whole[i+1:]
	}
	if len(whole) > 0 {
		s.emitLines(whole, now)
	}
	s.pend(rest, now)
}

// pendSmall is the most an unfinished line grows to by appending; past it,
// it moves to a pooled buffer that holds a whole maxLine line. A child
// writing an endless line in reads of a few KiB would otherwise have each
// of its maxLine lines grow through allocations of 4, 8, 16 and 32 KiB.
const pendSmall = 4 << 10

// pend adds part of an unfinished line to buf, emitting maxLine bytes as
// a line of its own whenever more than that is pending.
func (s *lineSplitter) pend(data []byte, now time.Time) {
	for len(data) > 0 {
		if len(s.buf) == maxLine {
			s.emitBuf(now)
		}
		take := min(len(data), maxLine-len(s.buf))
		if need := len(s.buf) + take; need > cap(s.buf) && need > pendSmall {
			s.buf = append(s.bufs.get(), s.buf...) // big: no more growing
		}
		s.buf = append(s.buf, data[:take]...)
		data = data[take:]
	}
}

// emitLines emits whole, lines that all end in '\n', as chunks of at most
// maxLine bytes; a line longer than that is cut into lines of maxLine.
func (s *lineSplitter) emitLines(whole []byte, now time.Time) {
	for len(whole) > 0 {
		piece := whole[:min(len(whole), maxLine)]
		if len(piece) < len(whole) {
			piece = piece[:bytes.LastIndexByte(piece, '\n')+1]
		}
		if len(piece) == 0 { // a line longer than maxLine starts here
			i := bytes.IndexByte(whole, '\n')
			s.pend(whole[:i], now)
			s.emitBuf(now)
			whole = whole[i+1:]
			continue
		}
		data, _ := s.bufs.copyOf(piece)
		s.emit(logChunk{pid: s.pid, stream: s.label, time: now, data: data, n: bytes.Count(data, []byte{'\n'})})
		whole = whole[len(piece):]
	}
}

// emitBuf emits the pending line as a line of its own; the chunk takes
// over buf.
func (s *lineSplitter) emitBuf(now time.Time) {
	s.emit(logChunk{pid: s.pid, stream: s.label, time: now, data: append(s.buf, '\n'), n: 1})
	s.buf = nil
}

// flush emits an unfinished last line, if any.
func (s *lineSplitter) flush() {
	if len(s.buf) > 0 {
		s.emitBuf(time.Now())
	}
}

// bufSize is the capacity of a pooled buffer: a whole maxLine line and its
// '\n'.
const bufSize = maxLine + 1

// bufPool recycles the buffers of big output chunks. A child writing fast
// would otherwise have the manager allocate a 64 KiB buffer per read, and
// the runtime zero it, free it and hand the memory back to the OS, over
// and over. The ring returns a chunk's buffer when it drops the chunk.
// Safe for concurrent use; a nil *bufPool allocates and never recycles.
type bufPool struct{ p sync.Pool }

// get returns an empty buffer of capacity bufSize.
func (b *bufPool) get() []byte {
	if b != nil {
		if v, ok := b.p.Get().(*[]byte); ok {
			return (*v)[:0]
		}
	}
	return make([]byte, 0, bufSize)
}

// copyOf returns a copy of data, at most bufSize bytes: a big one in a
// pooled buffer (pooled reports which), a small one in a buffer of its own
// size, so that many small copies kept a while pin no bufSize each.
func (b *bufPool) copyOf(data []byte) (cp []byte, pooled bool) {
	if len(data) < bufSize/4 {
		return bytes.Clone(data), false
	}
	return append(b.get(), data...), true
}

// put recycles buf if it came from get.
func (b *bufPool) put(buf []byte) {
	if b != nil && cap(buf) == bufSize {
		buf = buf[:0]
		b.p.Put(&buf)
	}
}

// logFile appends a job's output lines to <dir>/<session>.<job>.log and
// rotates it past a size limit, keeping a few old files.
type logFile struct {
	path    string
	maxSize int64
	keep    int

	// mu guards the following fields.
	mu   sync.Mutex
	f    *os.File
	size int64
	err  error // last error, reported once
}

func openLogFile(dir, name string, maxSize int64, keep int) (*logFile, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("creating log dir: %w", err)
	}
	l := &logFile{path: filepath.Join(dir, name+".log"), maxSize: maxSize, keep: keep}
	if err := l.openLocked(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *logFile) openLocked() error {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("opening log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("opening log file: %w", err)
	}
	l.f, l.size = f, st.Size()
	return nil
}

// write appends the chunk's lines, each as "time pid stream | data",
// rotating between lines when the file would grow past maxSize.
func (l *logFile) write(c logChunk) {
	prefix := fmt.Appendf(nil, "%s %d %s | ", c.time.Format(time.RFC3339Nano), c.pid, c.stream)
	out := make([]byte, 0, len(c.data)+c.n*len(prefix))
	l.mu.Lock()
	defer l.mu.Unlock()
	for data := c.data; len(data) > 0 && l.f != nil; {
		i := bytes.IndexByte(data, '\n')
		line := len(prefix) + i + 1
		if l.size+int64(len(out)+line) > l.maxSize && l.size+int64(len(out)) > 0 {
			l.writeLocked(out)
			out = out[:0]
			l.rotateLocked()
			continue
		}
		out = append(append(out, prefix...), data[:i+1]...)
		data = data[i+1:]
	}
	l.writeLocked(out)
}

func (l *logFile) writeLocked(b []byte) {
	if l.f == nil || len(b) == 0 {
		return
	}
	n, err := l.f.Write(b)
	l.size += int64(n)
	if err != nil && l.err == nil {
		l.err = err
	}
}

func (l *logFile) rotateLocked() {
	l.f.Close()
	l.f = nil
	for i := l.keep - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", l.path, i), fmt.Sprintf("%s.%d", l.path, i+1))
	}
	if l.keep > 0 {
		os.Rename(l.path, l.path+".1")
	} else {
		os.Remove(l.path)
	}
	if err := l.openLocked(); err != nil && l.err == nil {
		l.err = err
	}
}

func (l *logFile) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
