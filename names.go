package ganger

import (
	"regexp"
	"strings"
)

// DefaultSession is the session a bare job name belongs to.
const DefaultSession = "default"

// MaxNameLen is the longest session or job name (API.md "Names"): a job's
// log file, <session>.<job>.log, must fit a file name.
const MaxNameLen = 100

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`)

// ValidName reports whether s is a valid session or job name: letters,
// digits, '_' and '-', not starting with '-', at most MaxNameLen bytes.
func ValidName(s string) bool { return len(s) <= MaxNameLen && nameRE.MatchString(s) }

// ParseJobName splits a job's name into session and job. It accepts
// "<session>.<job>", "<session>/<job>" and a bare "<job>" (which means
// "default.<job>"). It returns an EBADREQUEST error for anything else.
func ParseJobName(s string) (session, job string, err error) {
	session, job = DefaultSession, s
	if i := strings.IndexAny(s, "./"); i >= 0 {
		session, job = s[:i], s[i+1:]
	}
	if !ValidName(session) || !ValidName(job) {
		return "", "", Errorf(EBADREQUEST, "invalid job name %q: want <session>.<job> with names matching %s, at most %d characters each", s, nameRE, MaxNameLen)
	}
	return session, job, nil
}

// JobName returns the full name "<session>.<job>".
func JobName(session, job string) string { return session + "." + job }
