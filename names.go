package ganger

import (
	"regexp"
	"strings"
)

// DefaultSession is the session a bare job name belongs to.
const DefaultSession = "default"

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]*$`)

// ValidName reports whether s is a valid session or job name.
func ValidName(s string) bool { return nameRE.MatchString(s) }

// ParseJobName splits a job's name into session and job. It accepts
// "<session>.<job>", "<session>/<job>" and a bare "<job>" (which means
// "default.<job>"). It returns an EBADREQUEST error for anything else.
func ParseJobName(s string) (session, job string, err error) {
	session, job = DefaultSession, s
	if i := strings.IndexAny(s, "./"); i >= 0 {
		session, job = s[:i], s[i+1:]
	}
	if !ValidName(session) || !ValidName(job) {
		return "", "", Errorf(EBADREQUEST, "invalid job name %q: want <session>.<job> with names matching %s", s, nameRE)
	}
	return session, job, nil
}

// JobName returns the full name "<session>.<job>".
func JobName(session, job string) string { return session + "." + job }
