package pubsub

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		topic   string
		want    bool
	}{
		{"exact", "job.default.web", "job.default.web", true},
		{"prefix", "job.default.web", "job.default.web.exit", true},
		{"prefix of segment is not a match", "job.default.web", "job.default.webapp.exit", false},
		{"prefix of last segment is not a match", "job.default.web", "job.default.webapp", false},
		{"topic is a prefix of a segment", "job.default.webapp", "job.default.web", false},
		{"one segment", "exit", "exit", true},
		{"one segment mismatch", "exit", "spawn", false},
		{"one segment prefix", "job", "job.default.web.exit", true},
		{"different first segment", "proc", "job.default.web.exit", false},
		{"empty matches everything", "", "job.default.web.exit", true},
		{"empty matches one segment", "", "exit", true},
		{"empty matches empty topic", "", "", true},
		{"dot matches everything", ".", "job.default.web.exit", true},
		{"dot matches one segment", ".", "exit", true},
		{"dots match everything", "...", "proc.3.exit", true},
		{"star in the middle", "job.*.web.exit", "job.x.web.exit", true},
		{"star in the middle mismatch", "job.*.web.exit", "job.x.api.exit", false},
		{"star matches exactly one segment", "job.*.exit", "job.default.web.exit", false},
		{"star first", "*.default.web", "job.default.web.exit", true},
		{"star first mismatch", "*.default.web", "job.other.web.exit", false},
		{"star last", "proc.*", "proc.3.exit", true},
		{"star last exact length", "proc.3.*", "proc.3.exit", true},
		{"star needs a segment", "proc.3.exit.*", "proc.3.exit", false},
		{"star alone", "*", "exit", true},
		{"star alone on long topic", "*", "job.default.web.exit", true},
		{"stars only", "*.*.*.*", "job.default.web.exit", true},
		{"too many stars", "*.*.*.*.*", "job.default.web.exit", false},
		{"star matches empty segment", "a.*.c", "a..c", true},
		{"pattern longer than topic", "job.default.web.exit", "job.default", false},
		{"pattern one longer than topic", "job.default.web.exit", "job.default.web", false},
		{"pattern longer than one-segment topic", "exit.now", "exit", false},
		{"trailing dot ignored", "job.default.", "job.default.web", true},
		{"leading dot ignored", ".job.default", "job.default.web", true},
		{"trailing dot does not join segments", "job.default.", "job.defaultx", false},
		{"empty segment in pattern", "a..c", "a..c.d", true},
		{"empty segment in pattern mismatch", "a..c", "a.b.c", false},
		{"case sensitive", "job.Default", "job.default.web", false},
		{"literal star in topic", "job.*", "job.*", true},
		{"empty topic", "exit", "", false},
		{"star against empty topic", "*", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compile(tt.pattern)
			if got := p.match(tt.topic); got != tt.want {
				t.Errorf("compiled %q: match(%q) = %v, want %v", tt.pattern, tt.topic, got, tt.want)
			}
		})
	}
}

func TestCompile(t *testing.T) {
	tests := []struct {
		pattern     string
		key         string
		segs        int
		lits, stars int
	}{
		{"", "", 0, 0, 0},
		{".", "", 0, 0, 0},
		{"exit", "exit", 1, 1, 0},
		{"job.default.web", "job.default.web", 3, 3, 0},
		{"job.*.web.exit", "job.*.web.exit", 4, 3, 1},
		{".job.*.", "job.*", 2, 1, 1},
		{"*.*", "*.*", 2, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			p := compile(tt.pattern)
			if p.raw != tt.pattern || p.key != tt.key || len(p.segs) != tt.segs || p.lits != tt.lits || p.stars != tt.stars {
				t.Errorf("compile(%q) = raw %q key %q %d segs %d lits %d stars; want key %q %d segs %d lits %d stars",
					tt.pattern, p.raw, p.key, len(p.segs), p.lits, p.stars, tt.key, tt.segs, tt.lits, tt.stars)
			}
		})
	}
}

// refMatch is the obvious, allocating definition of a pattern match.
func refMatch(pattern, topic string) bool {
	pattern = strings.Trim(pattern, ".")
	if pattern == "" {
		return true
	}
	ps, ts := strings.Split(pattern, "."), strings.Split(topic, ".")
	if len(ps) > len(ts) {
		return false
	}
	for i, p := range ps {
		if p != "*" && p != ts[i] {
			return false
		}
	}
	return true
}

func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"job.default.web", "job.default.web.exit"},
		{"job.default.web", "job.default.webapp.exit"},
		{"job.*.web.exit", "job.x.web.exit"},
		{"", "exit"},
		{".", "a..b"},
		{"a..b.", "a..b.c"},
		{"*.*", "a"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, topic string) {
		want := refMatch(pattern, topic)
		p := compile(pattern)
		if got := p.match(topic); got != want {
			t.Errorf("compiled %q: match(%q) = %v, want %v", pattern, topic, got, want)
		}
	})
}

func TestMatchDoesNotAllocate(t *testing.T) {
	p := compile("job.*.web")
	allocs := testing.AllocsPerRun(100, func() {
		p.match("job.default.web.exit")
	})
	if allocs != 0 {
		t.Errorf("match allocates %v times per call, want 0", allocs)
	}
}
