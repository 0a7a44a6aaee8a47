package conf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ganger/ganger"
)

// ProcfileEntry is one "name: command" line of a Procfile.
type ProcfileEntry struct {
	Name    string // a valid job name (ganger.ValidName)
	Command string // the command, trimmed; run through a shell like foreman does
	Line    int    // the 1-based line number it was read from
}

// ParseProcfile reads a foreman-compatible Procfile: one "name: command"
// line per process type, in file order. Blank lines and lines whose first
// non-blank character is '#' are skipped. A name must match
// ^[A-Za-z0-9_][A-Za-z0-9_-]*$ (spaces around it are allowed) and a
// command must not be empty. filename is only used in errors.
//
// Any other line is an EINVALID error "file:line: …"; so are a name defined
// twice (naming both lines) and a file without entries. A read error is
// returned wrapped.
func ParseProcfile(r io.Reader, filename string) ([]ProcfileEntry, error) {
	var (
		entries []ProcfileEntry
		first   = map[string]int{} // name → line it was defined on
		br      = bufio.NewReader(r)
	)
	for lineno := 1; ; lineno++ {
		raw, err := br.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("reading %s: %w", filename, err)
		}
		if raw == "" && err != nil {
			break
		}
		if lineno == 1 {
			raw = strings.TrimPrefix(raw, "\uFEFF") // a byte order mark
		}
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' {
			continue
		}
		name, cmd, ok := strings.Cut(line, ":")
		name, cmd = strings.TrimSpace(name), strings.TrimSpace(cmd)
		switch {
		case !ok:
			return nil, ganger.Errorf(ganger.EINVALID, "%s:%d: invalid line %q: want \"name: command\"", filename, lineno, line)
		case !ganger.ValidName(name):
			return nil, ganger.Errorf(ganger.EINVALID, "%s:%d: invalid process name %q: %s", filename, lineno, name, nameRule)
		case cmd == "":
			return nil, ganger.Errorf(ganger.EINVALID, "%s:%d: empty command for %q", filename, lineno, name)
		}
		if prev, dup := first[name]; dup {
			return nil, ganger.Errorf(ganger.EINVALID, "%s:%d: duplicate process name %q (first defined on line %d)", filename, lineno, name, prev)
		}
		first[name] = lineno
		entries = append(entries, ProcfileEntry{Name: name, Command: cmd, Line: lineno})
	}
	if len(entries) == 0 {
		return nil, ganger.Errorf(ganger.EINVALID, "%s: no processes defined (want lines \"name: command\")", filename)
	}
	return entries, nil
}

// LoadProcfile reads and parses the Procfile at path (see ParseProcfile).
func LoadProcfile(path string) ([]ProcfileEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading Procfile: %w", err)
	}
	defer f.Close()
	return ParseProcfile(f, path)
}
