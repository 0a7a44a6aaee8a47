package manager

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// maxLine is the longest line kept whole; longer lines are split into
// continuation lines of this size.
const maxLine = 64 << 10

// LogLine is one captured output line of a process.
type LogLine struct {
	Pid    int       `json:"pid"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
	Data   string    `json:"data"`
}

// ring keeps the last lines of a job's output. It is written by output
// reader goroutines and read by Logs callers, hence the mutex.
type ring struct {
	// mu guards the following fields.
	mu    sync.Mutex
	lines []LogLine
	next  int
	full  bool
}

func newRing(n int) *ring { return &ring{lines: make([]LogLine, n)} }

func (r *ring) add(l LogLine) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) == 0 {
		return
	}
	r.lines[r.next] = l
	r.next++
	if r.next == len(r.lines) {
		r.next, r.full = 0, true
	}
}

// last returns up to n of the newest lines, oldest first.
func (r *ring) last(n int) []LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	size := r.next
	if r.full {
		size = len(r.lines)
	}
	if n <= 0 || n > size {
		n = size
	}
	out := make([]LogLine, 0, n)
	for i := size - n; i < size; i++ {
		j := i
		if r.full {
			j = (r.next + i) % len(r.lines)
		}
		out = append(out, r.lines[j])
	}
	return out
}

// lineSplitter cuts one output stream into lines. It is used by exactly one
// reader goroutine, then flushed by the loop once that reader is done.
type lineSplitter struct {
	pid   int
	label string
	buf   []byte
	emit  func(LogLine)
}

func (s *lineSplitter) write(data []byte) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.buf = append(s.buf, data...)
			for len(s.buf) >= maxLine {
				s.line(s.buf[:maxLine])
				s.buf = append(s.buf[:0], s.buf[maxLine:]...)
			}
			return
		}
		if len(s.buf) == 0 {
			s.line(data[:i])
		} else {
			s.buf = append(s.buf, data[:i]...)
			for len(s.buf) > maxLine {
				s.line(s.buf[:maxLine])
				s.buf = append(s.buf[:0], s.buf[maxLine:]...)
			}
			s.line(s.buf)
			s.buf = s.buf[:0]
		}
		data = data[i+1:]
	}
}

func (s *lineSplitter) flush() {
	if len(s.buf) > 0 {
		s.line(s.buf)
		s.buf = nil
	}
}

func (s *lineSplitter) line(b []byte) {
	s.emit(LogLine{Pid: s.pid, Stream: s.label, Time: time.Now(), Data: string(bytes.ToValidUTF8(b, []byte("\uFFFD")))})
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

func (l *logFile) write(line LogLine) {
	b := fmt.Appendf(nil, "%s %d %s | %s\n", line.Time.Format(time.RFC3339Nano), line.Pid, line.Stream, line.Data)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return
	}
	if l.size+int64(len(b)) > l.maxSize && l.size > 0 {
		l.rotateLocked()
		if l.f == nil {
			return
		}
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
