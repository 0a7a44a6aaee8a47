package runner

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
)

// DefaultProcfile and DefaultEnvFile are what start, run, check and export
// read when no -f or -e is given.
const (
	DefaultProcfile = "Procfile"
	DefaultEnvFile  = ".env"
	// DefaultBasePort is foreman's base for $PORT.
	DefaultBasePort = 5000
	// PortStep separates the ports of two Procfile entries: the n-th
	// process of the i-th entry gets base + PortStep*i + n.
	PortStep = 100
)

// Project is a Procfile and the environment read from its .env files.
type Project struct {
	// Procfile is the path the entries were read from, as given.
	Procfile string
	// Dir is the absolute directory of the Procfile: the processes' working
	// directory, and where the default .env is looked for (as foreman does).
	Dir string
	// Entries are the Procfile's entries in file order.
	Entries []conf.ProcfileEntry
	// Env is the variables of the .env files; a later file wins.
	Env map[string]string
	// EnvFiles are the .env files actually read, in order.
	EnvFiles []string
	// Settings are what the ganger.toml beside the Procfile adds to its
	// entries (none without one); SettingsFile is its path, or "".
	Settings     []conf.JobSettings
	SettingsFile string
}

// SettingsFileName is the file beside a Procfile whose [[job]] tables add
// settings (probes, depends_on, restart…) to its entries by name.
const SettingsFileName = "ganger.toml"

// LoadProject reads the Procfile at procfile (DefaultProcfile when "") and
// the .env files envFiles. With no envFiles, the .env next to the Procfile
// is read if it exists; a file named explicitly must exist. Values in a
// .env file may refer to variables of the OS environment and of the files
// read before it. Errors name the file and line ("Procfile:3: …").
func LoadProject(procfile string, envFiles []string) (*Project, error) {
	if procfile == "" {
		procfile = DefaultProcfile
	}
	entries, err := conf.LoadProcfile(procfile)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(procfile)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", procfile, err)
	}
	p := &Project{Procfile: procfile, Dir: filepath.Dir(abs), Entries: entries}
	p.Env, p.EnvFiles, err = loadEnv(envFiles, filepath.Join(filepath.Dir(procfile), DefaultEnvFile))
	if err != nil {
		return nil, err
	}
	if err := p.loadSettings(filepath.Join(filepath.Dir(procfile), SettingsFileName)); err != nil {
		return nil, err
	}
	return p, nil
}

// loadSettings reads the ganger.toml at path, if there is one: each of its
// jobs must be an entry of the Procfile.
func (p *Project) loadSettings(path string) error {
	settings, err := conf.LoadJobSettings(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range settings {
		if _, _, ok := p.Entry(s.Name); !ok {
			errs = append(errs, fmt.Errorf("%s: job %q is not an entry of %s (have %s)", path, s.Name, p.Procfile, strings.Join(p.Names(), ", ")))
		}
	}
	if len(errs) > 0 {
		return ganger.Errorf(ganger.EINVALID, "%s", errors.Join(errs...))
	}
	p.Settings, p.SettingsFile = settings, path
	return nil
}

// settingsOf returns the ganger.toml settings of entry name, if any.
func (p *Project) settingsOf(name string) (conf.JobSettings, bool) {
	for _, s := range p.Settings {
		if s.Name == name {
			return s, true
		}
	}
	return conf.JobSettings{}, false
}

// LoadEnv reads .env files as LoadProject does, for commands that may run
// without a Procfile: with no files given, def is read if it exists.
func LoadEnv(files []string, def string) (env map[string]string, read []string, err error) {
	return loadEnv(files, def)
}

func loadEnv(files []string, def string) (map[string]string, []string, error) {
	env := map[string]string{}
	lookup := func(k string) (string, bool) {
		if v, ok := env[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	}
	explicit := len(files) > 0
	if !explicit {
		files = []string{def}
	}
	var read []string
	for _, f := range files {
		vars, err := conf.LoadDotenv(f, lookup)
		if err != nil {
			if !explicit && errors.Is(err, fs.ErrNotExist) {
				continue // a missing default .env is fine
			}
			return nil, nil, err
		}
		for k, v := range vars {
			env[k] = v
		}
		read = append(read, f)
	}
	return env, read, nil
}

// Entry returns the entry called name and its index, or false.
func (p *Project) Entry(name string) (conf.ProcfileEntry, int, bool) {
	for i, e := range p.Entries {
		if e.Name == name {
			return e, i, true
		}
	}
	return conf.ProcfileEntry{}, -1, false
}

// Names returns the entries' names in file order.
func (p *Project) Names() []string {
	names := make([]string, len(p.Entries))
	for i, e := range p.Entries {
		names[i] = e.Name
	}
	return names
}

// SessionName turns a folder's base name into a valid session (and app)
// name: characters a name may not hold become '_', a leading '-' gets a '_'
// before it, and an empty result is "default". "my.app" gives "my_app".
func SessionName(dir string) string {
	base := filepath.Base(dir)
	if base == "/" || base == "." {
		return ganger.DefaultSession
	}
	var b strings.Builder
	for _, r := range base {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if strings.HasPrefix(s, "-") {
		s = "_" + s
	}
	if !ganger.ValidName(s) {
		return ganger.DefaultSession
	}
	return s
}

// Formation is how many processes each entry runs: the -c flag,
// "web=2,worker=1", where "all=N" sets the count of every entry not named.
// The zero value runs one process of each entry.
type Formation struct {
	All    int // used when HasAll and an entry is not in Counts
	HasAll bool
	Counts map[string]int
}

// Parse reads "name=N,name=N" (spaces allowed around the parts) into f.
// It may be called again on the same Formation, for a repeated -c flag:
// later values win.
func (f *Formation) Parse(s string) error {
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, num, ok := strings.Cut(part, "=")
		name, num = strings.TrimSpace(name), strings.TrimSpace(num)
		if !ok {
			return fmt.Errorf("invalid formation %q: want name=N", part)
		}
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 {
			return fmt.Errorf("invalid formation %q: want a count >= 0", part)
		}
		if name == "all" {
			f.All, f.HasAll = n, true
			continue
		}
		if !ganger.ValidName(name) {
			return fmt.Errorf("invalid formation %q: %q is not a valid process name", part, name)
		}
		if f.Counts == nil {
			f.Counts = map[string]int{}
		}
		f.Counts[name] = n
	}
	return nil
}

// String gives the formation back in the -c form.
func (f *Formation) String() string {
	var parts []string
	if f.HasAll {
		parts = append(parts, "all="+strconv.Itoa(f.All))
	}
	names := make([]string, 0, len(f.Counts))
	for n := range f.Counts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		parts = append(parts, n+"="+strconv.Itoa(f.Counts[n]))
	}
	return strings.Join(parts, ",")
}

// Set implements flag.Value, so -c may be repeated.
func (f *Formation) Set(s string) error { return f.Parse(s) }

// Count returns how many processes entry name runs.
func (f *Formation) Count(name string) int {
	if n, ok := f.Given(name); ok {
		return n
	}
	return 1
}

// Given returns the count the formation gives entry name, by name or by
// all=N, and whether it gives one.
func (f *Formation) Given(name string) (int, bool) {
	if n, ok := f.Counts[name]; ok {
		return n, true
	}
	if f.HasAll {
		return f.All, true
	}
	return 0, false
}

// Check reports names of the formation that are not entries of p.
func (f *Formation) Check(p *Project) error {
	var unknown []string
	for n := range f.Counts {
		if _, _, ok := p.Entry(n); !ok {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("formation: no process %s in %s (have %s)",
			strings.Join(quoteAll(unknown), ", "), p.Procfile, strings.Join(p.Names(), ", "))
	}
	return nil
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strconv.Quote(x)
	}
	return out
}

// JobOptions shape the jobs built from a Project.
type JobOptions struct {
	Formation       Formation
	BasePort        int           // DefaultBasePort when 0
	GracefulTimeout time.Duration // conf.DefaultGracefulTimeout when 0
	// Only limits the jobs to these entries (all when empty); ports keep
	// following the entries' positions in the whole Procfile.
	Only []string
}

// Jobs builds one job per Procfile entry (or per entry of o.Only), in file
// order: the command run through /bin/sh -c in the Procfile's directory,
// the OS environment plus the .env variables, Port = base + 100*i so the
// manager gives slot n PORT = base + 100*i + n - 1, the job defaults of
// API.md, then the entry's ganger.toml settings, then the formation's
// count when it gives one (else the settings', else 1). It returns an
// error for an unknown name in o.Only or the formation, invalid settings,
// a depends_on cycle, or ports above 65535.
func (p *Project) Jobs(o JobOptions) ([]conf.Job, error) {
	if err := o.Formation.Check(p); err != nil {
		return nil, err
	}
	base := o.BasePort
	if base == 0 {
		base = DefaultBasePort
	}
	grace := o.GracefulTimeout
	if grace == 0 {
		grace = conf.DefaultGracefulTimeout
	}
	want := map[string]bool{}
	for _, n := range o.Only {
		if _, _, ok := p.Entry(n); !ok {
			return nil, fmt.Errorf("no process %q in %s (have %s)", n, p.Procfile, strings.Join(p.Names(), ", "))
		}
		want[n] = true
	}
	var jobs []conf.Job
	for i, e := range p.Entries {
		if len(want) > 0 && !want[e.Name] {
			continue
		}
		j := conf.DefaultJob()
		j.Name = e.Name
		j.Cmd = e.Command
		j.Shell = true
		j.Cwd = p.Dir
		for k, v := range p.Env {
			j.Env[k] = v
		}
		j.NumProcesses = 1
		j.GracefulTimeout = grace
		j.Port = base + PortStep*i
		if s, ok := p.settingsOf(e.Name); ok {
			var err error
			if j, err = s.Apply(j); err != nil {
				return nil, err
			}
		}
		if n, ok := o.Formation.Given(e.Name); ok {
			j.NumProcesses = n
		}
		if base < 1 || j.Port+max(j.NumProcesses-1, 0) > 65535 {
			return nil, fmt.Errorf("port %d for %s is out of range: choose a smaller base port (-p)", j.Port+max(j.NumProcesses-1, 0), e.Name)
		}
		if err := j.Validate(); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", p.Procfile, e.Line, err)
		}
		jobs = append(jobs, j)
	}
	if err := conf.CheckDependencyCycles(jobs); err != nil {
		return nil, err
	}
	return jobs, nil
}

// ParseDuration reads a graceful timeout: a number of seconds ("5", "0.5")
// or a Go duration ("5s", "1m30s"). It must not be negative.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		d = time.Duration(f * float64(time.Second))
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("invalid duration %q: want seconds (\"5\") or a duration (\"5s\")", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	return d, nil
}
