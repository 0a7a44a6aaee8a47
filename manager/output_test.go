package manager

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/ganger/ganger/conf"
)

// TestLineSplitterAndRing feeds writes through a splitter into a ring and
// checks the lines Logs would answer: whole lines, lines split across
// writes, lines cut at maxLine, a trailing line flushed at EOF, invalid
// UTF-8 replaced, and only the newest lines kept.
func TestLineSplitterAndRing(t *testing.T) {
	long := strings.Repeat("x", maxLine)
	for _, tc := range []struct {
		name   string
		writes []string
		keep   int
		want   []string
		bytes  int // the ring's byte cap (memory held, not length); 0 means 1 MiB
	}{
		{"whole lines", []string{"a\nb\n"}, 10, []string{"a", "b"}, 0},
		{"split across writes", []string{"he", "llo\nwor", "ld\n"}, 10, []string{"hello", "world"}, 0},
		{"trailing line flushed", []string{"a\ntail"}, 10, []string{"a", "tail"}, 0},
		{"empty lines kept", []string{"\n\na\n"}, 10, []string{"", "", "a"}, 0},
		{"exactly maxLine", []string{long, "\n"}, 10, []string{long}, 0},
		{"maxLine plus one", []string{long + "y\n"}, 10, []string{long, "y"}, 0},
		{"long line over writes", []string{long[:100], long, "z\n"}, 10, []string{long, long[:100] + "z"}, 0},
		{"long lines in one write", []string{"a\n" + long + long + "\nb\n"}, 10, []string{"a", long, long, "b"}, 0},
		{"invalid utf-8", []string{"bad\xffutf\n"}, 10, []string{"bad\uFFFDutf"}, 0},
		{"newest kept", []string{"1\n2\n", "3\n4\n", "5\n"}, 3, []string{"3", "4", "5"}, 0},
		{"newest kept within a chunk", []string{"1\n2\n3\n4\n5\n"}, 2, []string{"4", "5"}, 0},
		{"many writes", manyLines(1000), 3, []string{"997", "998", "999"}, 0},
		{"byte cap drops the oldest chunks", []string{"aaaa\n", "bbbb\n", "cccc\n"}, 10, []string{"bbbb", "cccc"}, 2 * cap(bytes.Clone([]byte("bbbb\n")))},
		{"byte cap keeps the newest chunk", []string{"aaaa\nbbbb\n"}, 10, []string{"aaaa", "bbbb"}, 4},
		{"nothing kept", []string{"1\n"}, 0, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bufs := new(bufPool)
			r := newRing(tc.keep, cmp.Or(tc.bytes, 1<<20), bufs)
			s := &lineSplitter{pid: 7, label: "stdout", bufs: bufs, emit: r.add}
			for _, w := range tc.writes {
				s.write([]byte(w))
			}
			s.flush()
			var got []string
			for _, l := range r.last(0) {
				if l.Pid != 7 || l.Stream != "stdout" || l.Time.IsZero() {
					t.Fatalf("line %+v lacks its origin", l)
				}
				got = append(got, l.Data)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
				t.Fatalf("lines = %q, want %q", short(got), short(tc.want))
			}
			if n := len(r.last(1)); len(tc.want) > 0 && n != 1 {
				t.Fatalf("last(1) gave %d lines", n)
			}
		})
	}
}

func short(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > 20 {
			l = fmt.Sprintf("%.10s…(%d bytes)", l, len(l))
		}
		out[i] = l
	}
	return out
}

// manyLines returns n writes of one line each, "0\n" to "<n-1>\n".
func manyLines(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i) + "\n"
	}
	return out
}

// TestPublishedChunksAreOwned: a published chunk's bytes are a copy made
// for it: the source may change and later chunks may be published while a
// receiver still holds it, and its bytes stay as they were.
func TestPublishedChunksAreOwned(t *testing.T) {
	m := newManager(t, Options{})
	const topic = "s.j.1.stdout"
	a, b := m.SubscribeOutput(4, topic), m.SubscribeOutput(4, topic)
	defer a.Close()
	defer b.Close()
	data := bytes.Repeat([]byte("z"), maxChunk)
	m.publishChunk(Chunk{Name: "s.j", Pid: 1, Stream: "stdout"}, data, topic)
	data[0] = 'y'
	m.publishChunk(Chunk{Name: "s.j", Pid: 1, Stream: "stdout"}, data, topic)
	ca, cb := (<-a.C()).Event, (<-b.C()).Event
	if !bytes.Equal(ca.Data, cb.Data) || ca.Data[0] != 'z' || bytes.Count(ca.Data, []byte("z")) != maxChunk {
		t.Fatal("a held chunk changed with its source or a later chunk")
	}
}

// TestAnswersListsAreNeverNil: every list the manager answers with encodes
// as [], never null (API.md "Details that are easy to get wrong").
func TestAnswersListsAreNeverNil(t *testing.T) {
	m := newManager(t, Options{})
	nulls := func(what string, v any) {
		t.Helper()
		if b, _ := json.Marshal(v); bytes.Contains(b, []byte("null")) && !bytes.Contains(b, []byte(`"last_exit":null`)) {
			t.Errorf("%s: %s", what, b)
		}
	}
	sessions, _ := m.Sessions(bg)
	pids, _ := m.Pids(bg, "")
	jobs, _ := m.Jobs(bg, "")
	nulls("sessions", sessions)
	nulls("pids", pids)
	nulls("jobs", jobs)
	name := mustLoad(t, m, mkJob("quiet", "sleep", func(j *conf.Job) { j.Shell = false; j.Start = false; j.Port = 0 }))
	info, _ := m.JobInfo(bg, name)
	if info.Processes == nil || info.Slots == nil || info.WaitingFor == nil {
		t.Errorf("job info lists: processes %v, slots %v, waiting_for %v", info.Processes, info.Slots, info.WaitingFor)
	}
	st, _ := m.JobStats(bg, name)
	nulls("job stats", st.Stats)
	lines, _ := m.Logs(bg, name, 10)
	nulls("logs", lines)
	kept, _ := m.Pids(bg, name)
	nulls("job pids", kept)
}

// TestFollowBuffersAreShared: a big piece of output reaches every
// follower in one pooled buffer, which goes back to the pool only once
// each has released it; a release too many panics.
func TestFollowBuffersAreShared(t *testing.T) {
	m := newManager(t, Options{})
	const topic = "s.j.1.stdout"
	a, b := m.follows.Subscribe(4, topic), m.follows.Subscribe(4, topic)
	full := m.follows.Subscribe(1, topic) // takes one chunk, drops the next
	defer a.Close()
	defer b.Close()
	defer full.Close()
	data := bytes.Repeat([]byte("z"), maxChunk)
	m.publishFollow(data, topic)
	ca, cb, cf := (<-a.C()).Event, (<-b.C()).Event, (<-full.C()).Event
	if ca.buf == nil || cb.buf != ca.buf || cf.buf != ca.buf {
		t.Fatal("the followers do not share one pooled buffer")
	}
	if got := ca.buf.refs.Load(); got != 3 {
		t.Fatalf("%d receivers counted, want 3", got)
	}
	ca.release()
	cb.release()
	cf.release()
	if got := ca.buf.refs.Load(); got != 0 {
		t.Fatalf("%d receivers left after every release, want 0", got)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("a release too many did not panic")
			}
		}()
		ca.release()
	}()
	m.publishFollow(data, topic)
	m.publishFollow(data, topic) // full drops this one: only a and b count
	<-a.C()
	if c := (<-a.C()).Event; c.buf.refs.Load() != 2 {
		t.Errorf("%d receivers counted with one follower full, want 2", c.buf.refs.Load())
	}
	small := []byte("hello\n")
	m.publishFollow(small, topic)
	<-b.C()
	<-b.C()
	if c := (<-b.C()).Event; c.buf != nil || !bytes.Equal(c.data, small) {
		t.Errorf("a small piece: buffer %p, data %q", c.buf, c.data)
	}
}
