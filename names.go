package ganger

import "strings"

// DefaultSession is the session a bare job name belongs to.
const DefaultSession = "default"

// MaxNameLen is the longest session or job name (API.md "Names"): a job's
// log file, <session>.<job>.log, must fit a file name.
const MaxNameLen = 100

// nameRule is what ValidName accepts, as a regexp for messages.
const nameRule = `^[A-Za-z0-9_][A-Za-z0-9_-]*$`

// ValidName reports whether s is a valid session or job name: letters,
// digits, '_' and '-', not starting with '-', at most MaxNameLen bytes.
// Every request checks names, so this is a loop, not a regexp.
func ValidName(s string) bool {
	if s == "" || len(s) > MaxNameLen || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// ParseJobName splits a job's name into session and job. It accepts
// "<session>.<job>", "<session>/<job>" and a bare "<job>" (which means
// "default.<job>"). It returns an EBADREQUEST error for anything else.
func ParseJobName(s string) (session, job string, err error) {
	session, job = DefaultSession, s
	if i := strings.IndexAny(s, "./"); i >= 0 {
		session, job = s[:i], s[i+1:]
	}
	if !ValidName(session) || !ValidName(job) {
		return "", "", Errorf(EBADREQUEST, "invalid job name %q: want <session>.<job> with names matching %s, at most %d characters each", s, nameRule, MaxNameLen)
	}
	return session, job, nil
}

// JobName returns the full name "<session>.<job>".
func JobName(session, job string) string { return session + "." + job }
