package pubsub

import "strings"

// compiled is a subscription pattern split into segments once, when it is
// added, so that matching at publish time neither splits nor allocates.
type compiled struct {
	raw   string   // as given to Subscribe or Add
	key   string   // normalized: leading and trailing dots trimmed
	segs  []string // key split on "."; nil for the match-everything pattern
	lits  int      // number of literal (non-"*") segments
	stars int      // number of "*" segments
	// first is the first segment when it is a literal, for a quick reject;
	// firstLit reports whether it is.
	first    string
	firstLit bool
}

func compile(raw string) compiled {
	p := compiled{raw: raw, key: strings.Trim(raw, ".")}
	if p.key == "" {
		return p
	}
	p.segs = strings.Split(p.key, ".")
	p.first, p.firstLit = p.segs[0], p.segs[0] != "*"
	for _, s := range p.segs {
		if s == "*" {
			p.stars++
		} else {
			p.lits++
		}
	}
	return p
}

// match reports whether p matches topic.
//
// Topics and patterns are lists of segments separated by dots. A pattern
// matches a topic when the pattern's segments are a prefix of the topic's
// segments, where a "*" segment matches exactly one segment of any value.
// Leading and trailing dots of a pattern are ignored, so the patterns "" and
// "." have no segments and match every topic:
//
//	"job.default.web" matches "job.default.web.exit" and "job.default.web"
//	"job.default.web" does not match "job.default.webapp.exit"
//	"job.*.web.exit" matches "job.x.web.exit"
func (p *compiled) match(topic string) bool {
	if p.stars == 0 {
		// All literal: one prefix comparison that ends on a segment boundary.
		k := p.key
		return len(topic) >= len(k) && topic[:len(k)] == k &&
			(len(topic) == len(k) || k == "" || topic[len(k)] == '.')
	}
	i := 0
	for _, s := range p.segs {
		var ok bool
		if i, ok = matchSegment(s, topic, i); !ok {
			return false
		}
	}
	return true
}

// matchSegment reports whether the pattern segment s matches the segment of
// topic that starts at byte i, and returns where the next segment starts:
// len(topic)+1 once the topic's last segment is consumed. It walks topic in
// place instead of splitting it.
func matchSegment(s, topic string, i int) (int, bool) {
	if i > len(topic) {
		return i, false // the pattern is longer than the topic
	}
	rest := topic[i:]
	if s == "*" {
		if j := strings.IndexByte(rest, '.'); j >= 0 {
			return i + j + 1, true
		}
		return len(topic) + 1, true
	}
	if len(rest) < len(s) || rest[:len(s)] != s {
		return i, false
	}
	if len(rest) == len(s) {
		return len(topic) + 1, true
	}
	if rest[len(s)] != '.' {
		return i, false // s is only a prefix of the topic's segment
	}
	return i + len(s) + 1, true
}

// topicInfo is what Publish computes once per topic for the matching of
// every subscriber's patterns.
type topicInfo struct {
	first string // the first segment
	n     int    // the number of segments
}

func infoOf(topic string) topicInfo {
	first, _, _ := strings.Cut(topic, ".")
	return topicInfo{first: first, n: strings.Count(topic, ".") + 1}
}
