package httpapi

import (
	"strconv"
	"testing"
)

// TestAnswerCacheBounded: past its limit the cache asks to be pruned once,
// pruning keeps the answers of live jobs only, and the limit follows what
// is left.
func TestAnswerCacheBounded(t *testing.T) {
	c := newAnswerCache()
	prunes := 0
	var live []string
	for i := range minAnswers + 10 {
		name := "default.j" + strconv.Itoa(i)
		if i%10 == 0 {
			live = append(live, name)
		}
		if c.put(name, i%2 == 0, 1, []byte("{}")) {
			prunes++
		}
	}
	if prunes != 1 {
		t.Fatalf("%d prunes asked for, want 1 (one until the prune is done)", prunes)
	}
	c.prune(live)
	if n := len(c.entries); n != len(live) {
		t.Errorf("%d answers after the prune, want %d (the live jobs')", n, len(live))
	}
	if _, ok := c.get(live[1], true, 1); !ok { // i even: redacted
		t.Errorf("the answer of live job %s was dropped", live[1])
	}
	if _, ok := c.get("default.j1", false, 1); ok {
		t.Error("the answer of a gone job was kept")
	}
	if c.limit != minAnswers {
		t.Errorf("limit %d, want %d", c.limit, minAnswers)
	}
	if c.put("default.new", false, 1, []byte("{}")) {
		t.Error("a prune asked for below the limit")
	}
	c.prune(nil) // the jobs could not be listed
	if n := len(c.entries); n != 0 {
		t.Errorf("%d answers after a prune without the list of jobs, want 0", n)
	}
}

// TestAnswerCacheKeys: an answer is found only for its job, redaction and
// revision.
func TestAnswerCacheKeys(t *testing.T) {
	c := newAnswerCache()
	c.put("default.web", false, 3, []byte(`{"new":true}`))
	if b, ok := c.get("default.web", false, 3); !ok || string(b) != `{"new":true}` {
		t.Errorf("answer %s, %v", b, ok)
	}
	if _, ok := c.get("default.web", true, 3); ok {
		t.Error("a redacted answer where only the full one was stored")
	}
	if _, ok := c.get("default.web", false, 4); ok {
		t.Error("an answer for another revision")
	}
	c.forget("default.web")
	if _, ok := c.get("default.web", false, 3); ok {
		t.Error("an answer after forget")
	}
}
