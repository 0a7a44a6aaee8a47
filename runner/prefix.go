package runner

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DefaultMaxLine is the longest line a Prefixer prints whole; the rest of a
// longer line follows on continuation lines with the same prefix.
const DefaultMaxLine = 64 << 10

// SystemName is the prefix name of ganger's own lines.
const SystemName = "system"

// palette are the prefix colours given to Procfile entries in turn, as
// foreman does: cyan, yellow, green, magenta, red, blue, then bright ones.
var palette = []string{"36", "33", "32", "35", "31", "34", "96", "93", "92", "95", "91", "94"}

// Label names the source of a line: "web.1", and the colour slot of its
// Procfile entry (its index; -1 for no colour).
type Label struct {
	Name  string
	Color int
}

type streamKey struct {
	pid    int
	stream string
}

// Prefixer writes output as whole lines, each prefixed "HH:MM:SS name | "
// with the names padded to one width. It keeps a partial line per process
// and stream until its newline arrives (or Flush), so the bytes of two
// processes or two streams never share a line; a line longer than MaxLine
// is cut into several (never inside a UTF-8 sequence). Each line is one
// Write to the underlying writer. A Prefixer is safe for concurrent use.
type Prefixer struct {
	// Now is the clock of the timestamps (time.Now when nil).
	Now func() time.Time
	// MaxLine overrides DefaultMaxLine when > 0.
	MaxLine int

	w     io.Writer
	color bool

	// mu guards the following fields and serializes writes to w.
	mu      sync.Mutex
	width   int
	partial map[streamKey][]byte
	line    []byte // scratch buffer for one output line
}

// NewPrefixer returns a Prefixer writing to w, with ANSI colours when color.
func NewPrefixer(w io.Writer, color bool) *Prefixer {
	return &Prefixer{w: w, color: color, width: len(SystemName), partial: map[streamKey][]byte{}}
}

// Pad widens the name column to fit each of names (it never shrinks).
func (p *Prefixer) Pad(names ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, n := range names {
		p.width = max(p.width, utf8.RuneCountInString(n))
	}
}

// Write adds output of process pid on stream, printing every line it
// completes under label.
func (p *Prefixer) Write(pid int, stream string, label Label, data []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	key := streamKey{pid, stream}
	buf := p.partial[key]
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			buf = append(buf, data...)
			break
		}
		if len(buf) == 0 {
			p.emitLongLocked(label, data[:i])
		} else {
			buf = append(buf, data[:i]...)
			p.emitLongLocked(label, buf)
			buf = buf[:0]
		}
		data = data[i+1:]
	}
	// Print the head of a partial line that grew too long.
	for limit := p.maxLine(); len(buf) >= limit; {
		n := cutPoint(buf, limit)
		p.emitLocked(label, buf[:n])
		buf = append(buf[:0], buf[n:]...)
	}
	if len(buf) == 0 {
		delete(p.partial, key)
		return
	}
	p.partial[key] = buf
}

// Flush prints the partial lines left of process pid (on every stream), as
// when it exited without a final newline, and forgets them.
func (p *Prefixer) Flush(pid int, label Label) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var keys []streamKey
	for k := range p.partial {
		if k.pid == pid {
			keys = append(keys, k)
		}
	}
	// A stable order: stdout, stderr, then other labels by name.
	rank := func(s string) int {
		switch s {
		case "stdout":
			return 0
		case "stderr":
			return 1
		}
		return 2
	}
	slices.SortFunc(keys, func(a, b streamKey) int {
		return cmp.Or(cmp.Compare(rank(a.stream), rank(b.stream)), strings.Compare(a.stream, b.stream))
	})
	for _, k := range keys {
		p.emitLongLocked(label, p.partial[k])
		delete(p.partial, k)
	}
}

// System prints one of ganger's own lines under the name "system".
func (p *Prefixer) System(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range strings.SplitSeq(msg, "\n") {
		p.emitLocked(Label{Name: SystemName, Color: -1}, []byte(l))
	}
}

func (p *Prefixer) maxLine() int {
	if p.MaxLine > 0 {
		return p.MaxLine
	}
	return DefaultMaxLine
}

// cutPoint returns where to cut b, at most n bytes in, without splitting a
// UTF-8 sequence (unless b holds no valid one there).
func cutPoint(b []byte, n int) int {
	if n >= len(b) {
		return len(b)
	}
	for i := n; i > n-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return n
}

// emitLongLocked writes a whole line, cut into several when it is longer
// than the limit. p.mu must be held.
func (p *Prefixer) emitLongLocked(label Label, data []byte) {
	limit := p.maxLine()
	for len(data) > limit {
		n := cutPoint(data, limit)
		p.emitLocked(label, data[:n])
		data = data[n:]
	}
	p.emitLocked(label, data)
}

// emitLocked writes one prefixed line. p.mu must be held.
func (p *Prefixer) emitLocked(label Label, data []byte) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	data = bytes.TrimSuffix(data, []byte{'\r'})
	name := label.Name
	p.width = max(p.width, utf8.RuneCountInString(name))
	pad := p.width - utf8.RuneCountInString(name)

	b := p.line[:0]
	if p.color {
		b = append(b, "\x1b["...)
		if label.Color >= 0 {
			b = append(b, palette[label.Color%len(palette)]...)
		} else {
			b = append(b, '1') // system lines: bold
		}
		b = append(b, 'm')
	}
	b = now().AppendFormat(b, "15:04:05")
	b = append(b, ' ')
	b = append(b, name...)
	for range pad {
		b = append(b, ' ')
	}
	b = append(b, " | "...)
	if p.color {
		b = append(b, "\x1b[0m"...)
	}
	b = append(b, data...)
	b = append(b, '\n')
	p.line = b
	p.w.Write(b) // best effort: a closed terminal must not stop the processes
}
