package httpapi

import (
	"sync"
)

// minAnswers is the size up to which the answer cache grows before it is
// pruned of jobs that no longer exist.
const minAnswers = 256

// answerCache keeps the encoded answer describing a job (jobView) by job,
// redaction and revision: while a job's manager.JobInfo has the revision
// of its cached answer, the cached bytes are the answer. The manager never
// gives two descriptions the same revision, of one job or of two (a job
// unloaded and loaded again under its name included), so an entry can
// only ever match the description it was made from. It holds one entry
// per job and redaction, so a read token's answer and an admin's are
// never the same bytes. It is safe for concurrent use.
type answerCache struct {
	// mu guards the following fields.
	mu      sync.Mutex
	entries map[answerKey]answer
	limit   int  // len(entries) beyond which it is pruned
	pruning bool // a prune is under way
}

type answerKey struct {
	name     string // the job's full name
	redacted bool   // env values hidden (a read token's answer)
}

type answer struct {
	rev  uint64
	body []byte // never modified once stored
}

func newAnswerCache() *answerCache {
	return &answerCache{entries: map[answerKey]answer{}, limit: minAnswers}
}

// get returns the cached answer of job name for revision rev.
func (c *answerCache) get(name string, redacted bool, rev uint64) ([]byte, bool) {
	c.mu.Lock()
	e, ok := c.entries[answerKey{name, redacted}]
	c.mu.Unlock()
	if !ok || e.rev != rev {
		return nil, false
	}
	return e.body, true
}

// put stores body as the answer of job name for revision rev; body must
// not be modified afterwards. It reports whether the cache has outgrown
// its limit and should be pruned (the caller then calls prune).
func (c *answerCache) put(name string, redacted bool, rev uint64, body []byte) (prune bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries[answerKey{name, redacted}] = answer{rev, body}
	if len(c.entries) > c.limit && !c.pruning {
		c.pruning = true
		return true
	}
	return false
}

// forget drops the answers of job name, which is gone.
func (c *answerCache) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, answerKey{name, false})
	delete(c.entries, answerKey{name, true})
}

// prune keeps the answers of the jobs in live (the full names of every
// job, or nil when they could not be listed, which drops every answer)
// and sets the next limit from what is left.
func (c *answerCache) prune(live []string) {
	keep := make(map[string]bool, len(live))
	for _, name := range live {
		keep[name] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if !keep[k.name] {
			delete(c.entries, k)
		}
	}
	c.limit = max(minAnswers, 2*len(c.entries))
	c.pruning = false
}
