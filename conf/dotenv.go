package conf

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ganger/ganger"
)

// ParseDotenv reads a .env file as foreman and the dotenv libraries do:
//
//	# a comment
//	KEY=value                 unquoted: trimmed; " #…" starts a comment
//	export KEY = value        "export " and spaces around '=' are allowed
//	KEY='literal $text'       single quotes: nothing is interpreted
//	KEY="a\tb\n${OTHER}"      double quotes: \n \t \r \" \\ \$ escapes
//	KEY="first line
//	second line"              quoted values may span lines
//
// Unquoted and double-quoted values expand $NAME and ${NAME}, looking a
// name up first among the keys defined earlier in the same file, then with
// lookup (which may be nil); a name found in neither is left as written,
// as Expand does. A key is an identifier ([A-Za-z_][A-Za-z0-9_]*); a later
// definition of a key replaces an earlier one.
//
// A malformed line (no '=', a bad key, an unterminated quote, text after a
// closing quote) is an EINVALID error "file:line: …"; nothing is skipped
// silently. filename is only used in errors.
func ParseDotenv(r io.Reader, filename string, lookup func(string) (string, bool)) (map[string]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", filename, err)
	}
	text := strings.TrimPrefix(string(data), "\uFEFF")
	text = strings.ReplaceAll(text, "\r\n", "\n")
	p := dotenvParser{
		file:  filename,
		lines: strings.Split(text, "\n"),
		vars:  map[string]string{},
	}
	p.lookup = func(name string) (string, bool) {
		if v, ok := p.vars[name]; ok {
			return v, true
		}
		if lookup != nil {
			return lookup(name)
		}
		return "", false
	}
	for p.i = 0; p.i < len(p.lines); p.i++ {
		if err := p.line(); err != nil {
			return nil, err
		}
	}
	return p.vars, nil
}

// LoadDotenv reads and parses the .env file at path (see ParseDotenv).
func LoadDotenv(path string, lookup func(string) (string, bool)) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading env file: %w", err)
	}
	defer f.Close()
	return ParseDotenv(f, path, lookup)
}

type dotenvParser struct {
	file   string
	lines  []string
	i      int // index of the current line; a quoted value may advance it
	vars   map[string]string
	lookup func(string) (string, bool)
}

func (p *dotenvParser) errorf(lineno int, format string, args ...any) error {
	return ganger.Errorf(ganger.EINVALID, "%s:%d: %s", p.file, lineno, fmt.Sprintf(format, args...))
}

// line parses the definition starting on line p.i.
func (p *dotenvParser) line() error {
	lineno := p.i + 1
	line := strings.TrimLeft(p.lines[p.i], " \t")
	if strings.TrimSpace(line) == "" || line[0] == '#' {
		return nil
	}
	if rest, ok := strings.CutPrefix(line, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
		line = strings.TrimLeft(rest, " \t")
	}
	key, raw, ok := strings.Cut(line, "=")
	if !ok {
		return p.errorf(lineno, "invalid line %q: want KEY=value", strings.TrimSpace(line))
	}
	key = strings.TrimSpace(key)
	if !isIdent(key) {
		return p.errorf(lineno, "invalid key %q: want letters, digits and '_', not starting with a digit", key)
	}
	value := strings.TrimLeft(raw, " \t")
	var (
		v   string
		err error
	)
	switch {
	case strings.HasPrefix(value, "'"):
		v, err = p.quoted(lineno, value[1:], '\'')
	case strings.HasPrefix(value, `"`):
		v, err = p.quoted(lineno, value[1:], '"')
	default:
		v = p.unquoted(raw)
	}
	if err != nil {
		return err
	}
	p.vars[key] = v
	return nil
}

// unquoted returns an unquoted value: up to a '#' that follows a blank,
// trimmed, with variables expanded.
func (p *dotenvParser) unquoted(raw string) string {
	for i := 1; i < len(raw); i++ {
		if raw[i] == '#' && (raw[i-1] == ' ' || raw[i-1] == '\t') {
			raw = raw[:i]
			break
		}
	}
	return Expand(strings.TrimSpace(raw), p.lookup)
}

// quoted returns a quoted value whose text after the opening quote starts
// with s, reading further lines until the closing quote. After it, only
// blanks and a comment may follow.
func (p *dotenvParser) quoted(lineno int, s string, quote byte) (string, error) {
	kind := "double"
	if quote == '\'' {
		kind = "single"
	}
	var b strings.Builder
	for {
		end, ok := p.scanQuoted(&b, s, quote)
		if ok {
			rest := strings.TrimSpace(s[end+1:])
			if rest != "" && rest[0] != '#' {
				return "", p.errorf(p.i+1, "unexpected text %q after the closing quote", rest)
			}
			return b.String(), nil
		}
		if p.i+1 >= len(p.lines) {
			return "", p.errorf(lineno, "unterminated %s-quoted value", kind)
		}
		b.WriteByte('\n')
		p.i++
		s = p.lines[p.i]
	}
}

// scanQuoted appends the value text in s up to the closing quote to b. It
// returns the index of the closing quote, or false if s ends first.
func (p *dotenvParser) scanQuoted(b *strings.Builder, s string, quote byte) (int, bool) {
	if quote == '\'' {
		end := strings.IndexByte(s, '\'')
		if end < 0 {
			b.WriteString(s)
			return 0, false
		}
		b.WriteString(s[:end])
		return end, true
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return i, true
		case '\\':
			if i+1 == len(s) {
				b.WriteByte('\\') // at the end of a line: kept, the newline follows
				continue
			}
			i++
			switch e := s[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '"', '\\', '$':
				b.WriteByte(e)
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
		case '$':
			repl, n := expandVar(s[i:], p.lookup)
			b.WriteString(repl)
			i += n - 1
		default:
			b.WriteByte(c)
		}
	}
	return 0, false
}
