package conf

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/ganger/ganger"
)

// DefaultBind is the daemon's listen address when neither the config file
// nor the command line gives one.
const DefaultBind = "127.0.0.1:5000"

// Token roles.
const (
	RoleAdmin = "admin" // everything
	RoleRead  = "read"  // reads and subscriptions only
)

// Config is the daemon's config file (API.md "Config file (TOML)").
type Config struct {
	// Bind holds the listen addresses, each "host:port" or
	// "unix:/abs/path" (see ParseBind); [DefaultBind] when absent.
	Bind []string
	// LogDir, when set, also writes each job's output to
	// <LogDir>/<session>.<job>.log.
	LogDir string
	// AllowedOrigins are extra WebSocket Origin host patterns
	// (`allowed_origins`, path.Match syntax).
	AllowedOrigins []string
	// AllowedHosts are extra Host header names accepted on a loopback
	// listener (`allowed_hosts`).
	AllowedHosts []string
	// Auth holds the API tokens; none means no authentication.
	Auth Auth
	// Jobs are the [[job]] tables in file order, each with its defaults
	// filled in and its Session set (ganger.DefaultSession when absent).
	Jobs []Job
}

// Auth is the [auth] table: with any token set, every request but /ping
// needs one.
type Auth struct {
	Tokens []Token
}

// Token is one API token.
type Token struct {
	// Name identifies the token in logs instead of the secret; it defaults
	// to "token-<index>", the index of the token in the list (from 0).
	Name string
	// Token is the secret a client sends (non-empty, unique, no blanks).
	Token string
	// Role is RoleAdmin or RoleRead.
	Role string
	// Sessions limits the token to these sessions; empty means all.
	Sessions []string
}

// ParseConfig parses the daemon's TOML config file. filename is only used
// in errors.
//
// A TOML syntax error is reported as "file:line:col: …". Otherwise every
// problem found is reported together, one per line, each starting with
// "file: " and naming what it is about: an unknown key anywhere, by its
// path (`unknown key "auth.tokens[1].rol"`); a value of the wrong type; a
// [[job]] table that ParseJob would reject (prefixed "job[i] (name): ");
// two jobs with the same session and name; a depends_on cycle among the
// file's jobs (see CheckDependencyCycles); a bad bind address; a token
// that is empty, duplicated or has an unknown role. The error has the code
// ganger.EINVALID.
func ParseConfig(data []byte, filename string) (*Config, error) {
	if filename == "" {
		filename = "config"
	}
	doc, err := decodeTOML(data, filename)
	if err != nil {
		return nil, err
	}
	// The document is walked by hand rather than decoded into a struct and
	// checked with MetaData.Undecoded: the toml package matches struct
	// fields case-insensitively (so "Bind" would pass unnoticed) and names
	// keys inside arrays without their index.
	cp := configParser{c: &Config{Bind: []string{DefaultBind}}}
	cp.parse(doc)
	if len(cp.errs) > 0 {
		for i, err := range cp.errs {
			cp.errs[i] = fmt.Errorf("%s: %w", filename, err)
		}
		return nil, invalid(cp.errs)
	}
	return cp.c, nil
}

// decodeTOML decodes a TOML document into plain values (tables as
// map[string]any); a syntax error is an EINVALID error reading
// "file:line:col: …".
func decodeTOML(data []byte, filename string) (map[string]any, error) {
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, ganger.Errorf(ganger.EINVALID, "%s:%d:%d: %s", filename, pe.Position.Line, pe.Position.Col, lowerMessage(pe.Message))
		}
		return nil, ganger.Errorf(ganger.EINVALID, "%s: %v", filename, err)
	}
	return doc, nil
}

// LoadConfig reads and parses the config file at path (see ParseConfig).
// A read error is returned wrapped (errors.Is(err, fs.ErrNotExist) works).
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return ParseConfig(data, path)
}

// ParseBind checks a listen address and splits it into the network and
// address net.Listen takes: "host:port" (host may be empty for all
// interfaces, port 0 to 65535) gives "tcp"; "unix:/abs/path" gives "unix"
// and the path. Anything else is an EINVALID error.
func ParseBind(addr string) (network, address string, err error) {
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		if !path.IsAbs(p) || strings.ContainsRune(p, 0) {
			return "", "", ganger.Errorf(ganger.EINVALID, "invalid bind address %q: want unix:/absolute/path", addr)
		}
		return "unix", p, nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", ganger.Errorf(ganger.EINVALID, "invalid bind address %q: want host:port or unix:/absolute/path", addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", "", ganger.Errorf(ganger.EINVALID, "invalid bind address %q: port must be a number from 0 to 65535", addr)
	}
	return "tcp", addr, nil
}

type configParser struct {
	c    *Config
	errs []error
}

func (cp *configParser) errorf(format string, args ...any) {
	cp.errs = append(cp.errs, fmt.Errorf(format, args...))
}

// unknown reports the keys of m that are not in known, naming them under
// prefix ("auth.", "auth.tokens[1].").
func (cp *configParser) unknown(m map[string]any, prefix string, known ...string) {
	for _, k := range unknownKeys(m, func(k string) bool { return slices.Contains(known, k) }) {
		cp.errorf("unknown key %q", prefix+k)
	}
}

func (cp *configParser) parse(doc map[string]any) {
	cp.unknown(doc, "", "bind", "log_dir", "allowed_origins", "allowed_hosts", "auth", "job")
	if v, ok := doc["bind"]; ok {
		cp.bind(v)
	}
	if v, ok := doc["log_dir"]; ok {
		s, ok := v.(string)
		switch {
		case !ok:
			cp.errorf("log_dir: want a string, got %s", typeName(v))
		case strings.ContainsRune(s, 0):
			cp.errorf("log_dir: must not contain a NUL byte")
		default:
			cp.c.LogDir = s
		}
	}
	cp.c.AllowedOrigins = cp.patterns(doc, "allowed_origins", func(s string) bool {
		_, err := path.Match(s, "")
		return err == nil && !strings.ContainsAny(s, " \t\r\n")
	})
	cp.c.AllowedHosts = cp.patterns(doc, "allowed_hosts", func(s string) bool {
		return !strings.ContainsAny(s, " \t\r\n/")
	})
	if v, ok := doc["auth"]; ok {
		cp.auth(v)
	}
	if v, ok := doc["job"]; ok {
		cp.jobs(v)
	}
}

func (cp *configParser) bind(v any) {
	list, err := tomlStrings(v)
	if err != nil {
		cp.errorf("bind: %v", err)
		return
	}
	if len(list) == 0 {
		cp.errorf("bind: want at least one address")
		return
	}
	seen := map[string]bool{}
	for _, addr := range list {
		if _, _, err := ParseBind(addr); err != nil {
			cp.errorf("bind: %s", ganger.ErrorMessage(err))
		} else if seen[addr] {
			cp.errorf("bind: duplicate address %q", addr)
		}
		seen[addr] = true
	}
	cp.c.Bind = list
}

// patterns decodes an optional list of non-empty strings that ok accepts.
func (cp *configParser) patterns(doc map[string]any, key string, ok func(string) bool) []string {
	v, present := doc[key]
	if !present {
		return nil
	}
	list, err := tomlStrings(v)
	if err != nil {
		cp.errorf("%s: %v", key, err)
		return nil
	}
	for _, s := range list {
		if s == "" || !ok(s) {
			cp.errorf("%s: invalid entry %q", key, s)
		}
	}
	return list
}

func (cp *configParser) auth(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		cp.errorf("auth: want a table, got %s", typeName(v))
		return
	}
	cp.unknown(m, "auth.", "tokens")
	tv, ok := m["tokens"]
	if !ok {
		return
	}
	tables, ok := tomlTables(tv)
	if !ok {
		cp.errorf("auth.tokens: want a list of tables, got %s", typeName(tv))
		return
	}
	secrets := map[string]int{} // token → index of its first use
	names := map[string]int{}
	for i, t := range tables {
		where := fmt.Sprintf("auth.tokens[%d]", i)
		if t == nil {
			cp.errorf("%s: want a table", where)
			continue
		}
		cp.unknown(t, where+".", "name", "token", "role", "sessions")
		tok := Token{Name: fmt.Sprintf("token-%d", i), Sessions: []string{}}
		if v, ok := t["name"]; ok {
			if s, ok := v.(string); ok && s != "" {
				tok.Name = s
			} else {
				cp.errorf("%s.name: want a non-empty string", where)
			}
		}
		switch v, ok := t["token"].(string); {
		case !ok || v == "":
			cp.errorf("%s.token: required (a non-empty string)", where)
		case strings.ContainsFunc(v, func(r rune) bool { return r <= ' ' || r == 0x7f }):
			cp.errorf("%s.token: must not contain blanks or control characters", where)
		default:
			tok.Token = v
			if first, dup := secrets[v]; dup {
				cp.errorf("%s.token: same token as auth.tokens[%d]", where, first)
			} else {
				secrets[v] = i
			}
		}
		switch v, _ := t["role"].(string); v {
		case RoleAdmin, RoleRead:
			tok.Role = v
		default:
			cp.errorf("%s.role: want %q or %q", where, RoleAdmin, RoleRead)
		}
		if v, ok := t["sessions"]; ok {
			list, err := tomlStrings(v)
			if err != nil {
				cp.errorf("%s.sessions: %v", where, err)
			}
			for _, s := range list {
				if !ganger.ValidName(s) {
					cp.errorf("%s.sessions: invalid session name %q: %s", where, s, nameRule)
				}
			}
			if list != nil {
				tok.Sessions = list
			}
		}
		if first, dup := names[tok.Name]; dup {
			cp.errorf("%s.name: same name %q as auth.tokens[%d]", where, tok.Name, first)
		} else {
			names[tok.Name] = i
		}
		cp.c.Auth.Tokens = append(cp.c.Auth.Tokens, tok)
	}
}

func (cp *configParser) jobs(v any) {
	tables, ok := tomlTables(v)
	if !ok {
		cp.errorf("job: want an array of tables ([[job]]), got %s", typeName(v))
		return
	}
	seen := map[string]int{} // full name → index of its first job
	for i, t := range tables {
		where := fmt.Sprintf("job[%d]", i)
		if t == nil {
			cp.errorf("%s: want a table", where)
			continue
		}
		if name, ok := t["name"].(string); ok && name != "" {
			where += " (" + name + ")"
		}
		if v, ok := t["session"]; !ok || v == "" {
			// Set before validation, so that depends_on entries naming the
			// job itself ("default.web") or one job twice are caught there.
			t = maps.Clone(t)
			t["session"] = ganger.DefaultSession
		}
		j, errs := jobFromMap(t)
		if len(errs) > 0 {
			for _, err := range errs {
				cp.errorf("%s: %w", where, err)
			}
			continue
		}
		full := ganger.JobName(j.Session, j.Name)
		if first, dup := seen[full]; dup {
			cp.errorf("%s: duplicate job %q (also job[%d])", where, full, first)
			continue
		}
		seen[full] = i
		cp.c.Jobs = append(cp.c.Jobs, j)
	}
	cp.errs = append(cp.errs, cycleErrors(cp.c.Jobs)...)
}

// tomlStrings accepts a TOML array of strings, or one string as a list of
// one.
func tomlStrings(v any) ([]string, error) {
	if s, ok := v.(string); ok {
		return []string{s}, nil
	}
	return stringsValue(v)
}

// tomlTables accepts an array of tables ([[x]]) or an array of inline
// tables (x = [{…}]); an element that is not a table is nil.
func tomlTables(v any) ([]map[string]any, bool) {
	switch v := v.(type) {
	case []map[string]any:
		return v, true
	case []any:
		out := make([]map[string]any, len(v))
		for i, e := range v {
			out[i], _ = e.(map[string]any)
		}
		return out, true
	}
	return nil, false
}

// lowerMessage turns the toml package's "Key 'a' has already been
// defined." into our style: "key 'a' has already been defined".
func lowerMessage(s string) string {
	s = strings.TrimSuffix(s, ".")
	if len(s) > 1 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'a' && s[1] <= 'z' {
		s = string(s[0]+'a'-'A') + s[1:]
	}
	return s
}
