package conf

import (
	"strings"

	"github.com/ganger/ganger"
)

// SplitCommand splits s into words the way a POSIX shell splits a simple
// command, without running anything or expanding anything:
//
//   - spaces, tabs and newlines separate words;
//   - single quotes keep everything up to the next single quote literally;
//   - inside double quotes a backslash escapes only \" \\ \$ \` (and a
//     newline, which it removes); any other backslash is kept;
//   - outside quotes a backslash makes the next character literal, and a
//     backslash before a newline removes both; a trailing lone backslash is
//     kept, as sh does;
//   - quotes glue to adjacent text (a"b"'c' is one word abc) and an empty
//     pair of quotes is an empty word.
//
// Variables ($VAR) are left as written (see Expand), and shell operators
// (|, &&, ;, >, #) are ordinary characters: use a job's shell option for
// those. An unterminated quote is an EINVALID error. An empty or blank s
// gives no words.
func SplitCommand(s string) ([]string, error) {
	words := []string{}
	var (
		cur    strings.Builder
		inWord bool
	)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\r':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case '\\':
			if i+1 == len(s) {
				cur.WriteByte('\\')
				inWord = true
				continue
			}
			i++
			if s[i] == '\n' {
				continue // line continuation
			}
			cur.WriteByte(s[i])
			inWord = true
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, ganger.Errorf(ganger.EINVALID, "unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case '"':
			inWord = true
			closed := false
			for i++; i < len(s); i++ {
				c := s[i]
				if c == '"' {
					closed = true
					break
				}
				if c == '\\' && i+1 < len(s) {
					switch s[i+1] {
					case '"', '\\', '$', '`':
						cur.WriteByte(s[i+1])
						i++
						continue
					case '\n':
						i++
						continue
					}
				}
				cur.WriteByte(c)
			}
			if !closed {
				return nil, ganger.Errorf(ganger.EINVALID, "unterminated double quote")
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// Expand replaces each $NAME and ${NAME} in s, where NAME is an identifier
// ([A-Za-z_][A-Za-z0-9_]*) that lookup finds, by lookup's value. Anything
// else is left exactly as written: $$, $1, $?, a lone $, ${} or ${1}, and
// names lookup does not find ($unset, ${unset}), so shell code survives.
// A nil lookup finds nothing.
func Expand(s string, lookup func(string) (string, bool)) string {
	if lookup == nil || !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '$')
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteString(s[i : i+j])
		i += j
		repl, n := expandVar(s[i:], lookup)
		b.WriteString(repl)
		i += n
	}
	return b.String()
}

// expandVar expands the reference at the start of s, which begins with '$'.
// It returns the text to write in its place and how many bytes of s it
// stands for; a reference that is not expanded is returned as written.
func expandVar(s string, lookup func(string) (string, bool)) (string, int) {
	if len(s) >= 2 && s[1] == '$' {
		return "$$", 2 // the shell's pid: never let the second $ start a name
	}
	if len(s) >= 2 && s[1] == '{' {
		end := strings.IndexByte(s, '}')
		if end < 0 || identLen(s[2:end]) != end-2 || end == 2 {
			return "$", 1
		}
		if v, ok := lookupVar(lookup, s[2:end]); ok {
			return v, end + 1
		}
		return s[:end+1], end + 1
	}
	n := identLen(s[1:])
	if n == 0 {
		return "$", 1
	}
	if v, ok := lookupVar(lookup, s[1:1+n]); ok {
		return v, 1 + n
	}
	return s[:1+n], 1 + n
}

func lookupVar(lookup func(string) (string, bool), name string) (string, bool) {
	if lookup == nil {
		return "", false
	}
	return lookup(name)
}

// identLen returns the length of the identifier at the start of s.
func identLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return i
	}
	return len(s)
}

// isIdent reports whether s is an identifier as Expand understands it.
func isIdent(s string) bool { return s != "" && identLen(s) == len(s) }
