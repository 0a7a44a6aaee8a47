package runner

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var fixedNow = func() time.Time { return time.Date(2024, 5, 6, 12, 34, 56, 0, time.UTC) }

// op is one call on a Prefixer in a test case.
type op struct {
	pid    int
	stream string
	name   string
	data   string
	flush  bool // Flush(pid) instead of Write
	system string
}

func w(pid int, stream, name, data string) op {
	return op{pid: pid, stream: stream, name: name, data: data}
}
func flush(pid int, name string) op { return op{pid: pid, name: name, flush: true} }

func TestPrefixer(t *testing.T) {
	tests := []struct {
		name    string
		pad     []string
		maxLine int
		color   bool
		ops     []op
		want    string
	}{
		{
			name: "whole lines",
			ops:  []op{w(1, "stdout", "web.1", "hello\nworld\n")},
			want: "12:34:56 web.1  | hello\n12:34:56 web.1  | world\n",
		},
		{
			name: "padded to the widest name",
			pad:  []string{"web.1", "worker.1"},
			ops:  []op{w(1, "stdout", "web.1", "a\n"), w(2, "stdout", "worker.1", "b\n")},
			want: "12:34:56 web.1    | a\n12:34:56 worker.1 | b\n",
		},
		{
			name: "the column grows with a longer name",
			ops:  []op{w(1, "stdout", "a.1", "x\n"), w(2, "stdout", "longername.1", "y\n"), w(1, "stdout", "a.1", "z\n")},
			want: "12:34:56 a.1    | x\n12:34:56 longername.1 | y\n12:34:56 a.1          | z\n",
		},
		{
			name: "a line assembled from pieces",
			ops:  []op{w(1, "stdout", "web.1", "hel"), w(1, "stdout", "web.1", "lo wo"), w(1, "stdout", "web.1", "rld\nnext")},
			want: "12:34:56 web.1  | hello world\n",
		},
		{
			name: "partial line flushed at exit",
			ops:  []op{w(1, "stdout", "web.1", "done\nno newline"), flush(1, "web.1")},
			want: "12:34:56 web.1  | done\n12:34:56 web.1  | no newline\n",
		},
		{
			name: "flush prints every stream, stdout first",
			ops:  []op{w(1, "stdout", "web.1", "out"), w(1, "stderr", "web.1", "err"), flush(1, "web.1"), flush(1, "web.1")},
			want: "12:34:56 web.1  | out\n12:34:56 web.1  | err\n",
		},
		{
			name: "two processes never share a line",
			ops: []op{
				w(1, "stdout", "web.1", "aaa"), w(2, "stdout", "web.2", "bbb"),
				w(1, "stdout", "web.1", "AAA\n"), w(2, "stdout", "web.2", "BBB\n"),
			},
			want: "12:34:56 web.1  | aaaAAA\n12:34:56 web.2  | bbbBBB\n",
		},
		{
			name: "two streams of one process never share a line",
			ops: []op{
				w(1, "stdout", "web.1", "out-"), w(1, "stderr", "web.1", "err-"),
				w(1, "stderr", "web.1", "2\n"), w(1, "stdout", "web.1", "1\n"),
			},
			want: "12:34:56 web.1  | err-2\n12:34:56 web.1  | out-1\n",
		},
		{
			name:    "a long line is cut",
			maxLine: 4,
			ops:     []op{w(1, "stdout", "web.1", "abcdefghij\n")},
			want:    "12:34:56 web.1  | abcd\n12:34:56 web.1  | efgh\n12:34:56 web.1  | ij\n",
		},
		{
			name:    "a long partial line is printed before its newline",
			maxLine: 4,
			ops:     []op{w(1, "stdout", "web.1", "abc"), w(1, "stdout", "web.1", "def")},
			want:    "12:34:56 web.1  | abcd\n",
		},
		{
			name:    "a long line is not cut inside a UTF-8 sequence",
			maxLine: 4,
			ops:     []op{w(1, "stdout", "web.1", "abcé\n")}, // é is 2 bytes at offsets 3-4
			want:    "12:34:56 web.1  | abc\n12:34:56 web.1  | é\n",
		},
		{
			name: "CRLF line endings",
			ops:  []op{w(1, "stdout", "web.1", "dos\r\n")},
			want: "12:34:56 web.1  | dos\n",
		},
		{
			name: "empty lines are kept",
			ops:  []op{w(1, "stdout", "web.1", "\n\n")},
			want: "12:34:56 web.1  | \n12:34:56 web.1  | \n",
		},
		{
			name: "system lines",
			ops:  []op{{system: "web.1 exited with code 1, restarting"}},
			want: "12:34:56 system | web.1 exited with code 1, restarting\n",
		},
		{
			name:  "colour on",
			color: true,
			ops:   []op{w(1, "stdout", "web.1", "hi\n"), {system: "ok"}},
			want:  "\x1b[36m12:34:56 web.1  | \x1b[0mhi\n\x1b[1m12:34:56 system | \x1b[0mok\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			p := NewPrefixer(&buf, tt.color)
			p.Now = fixedNow
			p.MaxLine = tt.maxLine
			p.Pad(tt.pad...)
			for _, o := range tt.ops {
				switch {
				case o.system != "":
					p.System("%s", o.system)
				case o.flush:
					p.Flush(o.pid, Label{Name: o.name})
				default:
					p.Write(o.pid, o.stream, Label{Name: o.name}, []byte(o.data))
				}
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", quoteLines(got), quoteLines(tt.want))
			}
		})
	}
}

func quoteLines(s string) string {
	var b strings.Builder
	for l := range strings.SplitSeq(s, "\n") {
		fmt.Fprintf(&b, "\t%q\n", l)
	}
	return b.String()
}

func TestPrefixerColorsPerEntry(t *testing.T) {
	var buf bytes.Buffer
	p := NewPrefixer(&buf, true)
	p.Now = fixedNow
	for i := range len(palette) + 1 {
		p.Write(i, "stdout", Label{Name: "p", Color: i}, []byte("x\n"))
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	for i, l := range lines {
		want := "\x1b[" + palette[i%len(palette)] + "m"
		if !strings.HasPrefix(l, want) {
			t.Errorf("line %d = %q, want it to start with %q", i, l, want)
		}
	}
	if lines[0] == lines[1] {
		t.Errorf("two entries got the same colour: %q", lines[0])
	}
}

// lineWriter records each Write as one unit, to check that lines are
// written whole.
type lineWriter struct {
	mu     sync.Mutex
	writes []string
}

func (l *lineWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes = append(l.writes, string(b))
	return len(b), nil
}

// TestPrefixerConcurrentProcessesNeverMixed writes the output of several
// processes from several goroutines, in pieces cut at odd places, and
// checks that every line holds the bytes of exactly one process, whole.
func TestPrefixerConcurrentProcessesNeverMixed(t *testing.T) {
	const procs, lines = 6, 200
	var out lineWriter
	p := NewPrefixer(&out, false)
	p.Now = fixedNow
	var wg sync.WaitGroup
	for pid := 1; pid <= procs; pid++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var data []byte
			for i := range lines {
				data = fmt.Appendf(data, "%s-%03d\n", strings.Repeat(string(rune('a'+pid)), 10+pid*7), i)
			}
			label := Label{Name: fmt.Sprintf("p.%d", pid)}
			for len(data) > 0 {
				n := min(len(data), 1+(len(data)*pid)%13)
				p.Write(pid, "stdout", label, data[:n])
				data = data[n:]
			}
		}()
	}
	wg.Wait()
	if len(out.writes) != procs*lines {
		t.Fatalf("%d lines written, want %d", len(out.writes), procs*lines)
	}
	next := map[int]int{}
	for _, l := range out.writes {
		var pid int
		if _, err := fmt.Sscanf(l, "12:34:56 p.%d | ", &pid); err != nil {
			t.Fatalf("bad line %q: %v", l, err)
		}
		_, body, _ := strings.Cut(l, " | ")
		want := fmt.Sprintf("%s-%03d\n", strings.Repeat(string(rune('a'+pid)), 10+pid*7), next[pid])
		if body != want {
			t.Fatalf("line of p.%d = %q, want %q", pid, body, want)
		}
		next[pid]++
	}
}
