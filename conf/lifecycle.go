package conf

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ganger/ganger"
)

// This file holds the lifecycle and health settings of a job (API.md
// "Lifecycle and health"): backoff, probes and dependencies.

// Backoff paces the respawns of a slot after crashes (any exit the restart
// policy respawns): the first delay is Initial, each next one Factor times
// the last, capped at Max, and back to Initial once a process has run
// ResetAfter.
type Backoff struct {
	// Enabled turns backoff on (default true). JSON and TOML
	// `"backoff": false` turns it off: a crashed slot is respawned at once;
	// an object (or true) turns it on, each field left out taking its
	// default.
	Enabled bool
	// Initial is the first delay (default 100ms, >= 0).
	Initial time.Duration
	// Max caps the delay (default 30s, >= Initial).
	Max time.Duration
	// Factor multiplies the delay after each crash (default 2, finite and
	// >= 1; 1 keeps it at Initial).
	Factor float64
	// ResetAfter is how long a process must run for the next delay to
	// start again from Initial (default 30s, >= 0).
	ResetAfter time.Duration
}

// Defaults of the lifecycle settings (see DefaultBackoff and DefaultProbe).
const (
	DefaultBackoffInitial        = 100 * time.Millisecond
	DefaultBackoffMax            = 30 * time.Second
	DefaultBackoffFactor         = 2.0
	DefaultBackoffResetAfter     = 30 * time.Second
	DefaultProbeInterval         = time.Second
	DefaultProbeTimeout          = time.Second
	DefaultProbeInitialDelay     = time.Duration(0)
	DefaultProbeFailureThreshold = 3
	DefaultProbeSuccessThreshold = 1
)

// DefaultBackoff returns the default backoff settings: enabled, 100ms
// first, doubling up to 30s, reset after 30s of uptime.
func DefaultBackoff() Backoff {
	return Backoff{
		Enabled:    true,
		Initial:    DefaultBackoffInitial,
		Max:        DefaultBackoffMax,
		Factor:     DefaultBackoffFactor,
		ResetAfter: DefaultBackoffResetAfter,
	}
}

func (b Backoff) equal(o Backoff) bool {
	if !b.Enabled || !o.Enabled {
		return b.Enabled == o.Enabled
	}
	return b == o
}

func (b Backoff) problems() []problem {
	if !b.Enabled {
		return nil
	}
	var ps []problem
	add := func(field, format string, args ...any) {
		ps = append(ps, fieldProblem(field, format, args...))
	}
	if b.Initial < 0 {
		add("backoff.initial", "must be >= 0, got %s", b.Initial)
	}
	if b.Max < b.Initial {
		add("backoff.max", "must be >= backoff.initial (%s), got %s", b.Initial, b.Max)
	}
	switch {
	case math.IsNaN(b.Factor) || math.IsInf(b.Factor, 0):
		add("backoff.factor", "must be a finite number, got %v", b.Factor)
	case b.Factor < 1:
		add("backoff.factor", "must be >= 1, got %v", b.Factor)
	}
	if b.ResetAfter < 0 {
		add("backoff.reset_after", "must be >= 0, got %s", b.ResetAfter)
	}
	return ps
}

// Probe kinds, as Probe.Kind returns them.
const (
	ProbeExec = "exec" // run a command; exit status 0 passes
	ProbeHTTP = "http" // GET a URL; a 2xx or 3xx answer passes
	ProbeTCP  = "tcp"  // connect to host:port; a connection passes
	ProbeLog  = "log"  // an output line of the process matches a regexp (readiness only)
)

// Probe is a health probe (API.md "Lifecycle and health"). Exactly one of
// Exec, HTTP, TCP and Log is set: it is the probe's kind and its target.
// $NAME and ${NAME} in the target are expanded from the process
// environment at run time, as in a job's args, so the target is checked
// here only for its form: an exec command must split into words (see
// SplitCommand), an http URL must start with http:// or https:// and name
// a host, a tcp address must be host:port (each part may be or contain a
// $NAME), and a log pattern must be a valid Go regexp.
type Probe struct {
	// Exec is a command line, run with the job's env, cwd and user; exit
	// status 0 passes.
	Exec string
	// HTTP is a URL to GET, such as "http://127.0.0.1:$PORT/health"; a 2xx
	// or 3xx status passes.
	HTTP string
	// TCP is an address to connect to, such as "127.0.0.1:$PORT".
	TCP string
	// Log is a regexp that an output line of the process must match
	// (readiness only).
	Log string
	// Interval is the time between probes (default 1s, > 0).
	Interval time.Duration
	// Timeout bounds one probe (default 1s, > 0).
	Timeout time.Duration
	// InitialDelay is the wait before the first probe (default 0, >= 0).
	InitialDelay time.Duration
	// FailureThreshold is the number of consecutive failures that count
	// (default 3, >= 1).
	FailureThreshold int
	// SuccessThreshold is the number of consecutive passes that make a
	// process ready (default 1, >= 1). A liveness probe accepts it and has
	// no use for it.
	SuccessThreshold int
}

// DefaultProbe returns a Probe with the default settings and no kind set.
func DefaultProbe() Probe {
	return Probe{
		Interval:         DefaultProbeInterval,
		Timeout:          DefaultProbeTimeout,
		InitialDelay:     DefaultProbeInitialDelay,
		FailureThreshold: DefaultProbeFailureThreshold,
		SuccessThreshold: DefaultProbeSuccessThreshold,
	}
}

// Kind returns the probe's kind: ProbeExec, ProbeHTTP, ProbeTCP or
// ProbeLog, whichever target is set (the first of them in that order if an
// invalid Probe sets several), or "" if none is.
func (p Probe) Kind() string {
	kind, _ := p.kind()
	return kind
}

// Target returns the target of the probe's kind (see Kind): the command,
// URL, address or regexp, as written. It is "" if no kind is set.
func (p Probe) Target() string {
	_, target := p.kind()
	return target
}

func (p Probe) kind() (kind, target string) {
	if ks := p.kinds(); len(ks) > 0 {
		return ks[0].name, ks[0].target
	}
	return "", ""
}

type probeKind struct{ name, target string }

// kinds returns the kinds that are set, in the order exec, http, tcp, log.
func (p Probe) kinds() []probeKind {
	var ks []probeKind
	for _, k := range []probeKind{{ProbeExec, p.Exec}, {ProbeHTTP, p.HTTP}, {ProbeTCP, p.TCP}, {ProbeLog, p.Log}} {
		if k.target != "" {
			ks = append(ks, k)
		}
	}
	return ks
}

func (p *Probe) clone() *Probe {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

func (p *Probe) equal(o *Probe) bool {
	if p == nil || o == nil {
		return p == o
	}
	return *p == *o
}

func (p *Probe) jsonForm() *probeJSON {
	if p == nil {
		return nil
	}
	return &probeJSON{
		Exec:             p.Exec,
		HTTP:             p.HTTP,
		TCP:              p.TCP,
		Log:              p.Log,
		Interval:         seconds(p.Interval),
		Timeout:          seconds(p.Timeout),
		InitialDelay:     seconds(p.InitialDelay),
		FailureThreshold: p.FailureThreshold,
		SuccessThreshold: p.SuccessThreshold,
	}
}

// problems checks the probe found in the job's field (readiness or
// liveness); readiness says whether a log probe is allowed.
func (p Probe) problems(field string, readiness bool) []problem {
	var ps []problem
	add := func(field, format string, args ...any) {
		ps = append(ps, fieldProblem(field, format, args...))
	}
	ks := p.kinds()
	if len(ks) != 1 {
		names := make([]string, len(ks))
		for i, k := range ks {
			names[i] = k.name
		}
		add(field, "want exactly one of exec, http, tcp, log, got %s", andList(names))
	}
	for _, k := range ks {
		f := field + "." + k.name
		if strings.ContainsRune(k.target, 0) {
			add(f, "must not contain a NUL byte")
			continue
		}
		switch k.name {
		case ProbeExec:
			words, err := SplitCommand(k.target)
			if err != nil {
				add(f, "%s in %q", ganger.ErrorMessage(err), k.target)
			} else if len(words) == 0 || words[0] == "" {
				add(f, "empty program name in %q", k.target)
			}
		case ProbeHTTP:
			if msg := checkHTTPTarget(k.target); msg != "" {
				add(f, "%s", msg)
			}
		case ProbeTCP:
			if msg := checkTCPTarget(k.target); msg != "" {
				add(f, "%s", msg)
			}
		case ProbeLog:
			if !readiness {
				add(f, "a log probe is for readiness only")
			} else if _, err := regexp.Compile(k.target); err != nil {
				msg := err.Error()
				if se, ok := errors.AsType[*syntax.Error](err); ok {
					msg = se.Code.String() // the rest repeats the pattern
				}
				add(f, "invalid regexp %q: %s", k.target, msg)
			}
		}
	}
	if p.Interval <= 0 {
		add(field+".interval", "must be > 0, got %s", p.Interval)
	}
	if p.Timeout <= 0 {
		add(field+".timeout", "must be > 0, got %s", p.Timeout)
	}
	if p.InitialDelay < 0 {
		add(field+".initial_delay", "must be >= 0, got %s", p.InitialDelay)
	}
	if p.FailureThreshold < 1 {
		add(field+".failure_threshold", "must be >= 1, got %d", p.FailureThreshold)
	}
	if p.SuccessThreshold < 1 {
		add(field+".success_threshold", "must be >= 1, got %d", p.SuccessThreshold)
	}
	return ps
}

// andList writes names as "none", "a", "a and b" or "a, b and c".
func andList(names []string) string {
	switch len(names) {
	case 0:
		return "none"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// hasBlank reports whether s has a space or a control character.
func hasBlank(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f })
}

// checkHTTPTarget checks an http probe's URL template without parsing it
// strictly ($PORT is not a valid port until it is expanded). It returns
// what is wrong, or "".
func checkHTTPTarget(s string) string {
	rest, ok := "", false
	for _, scheme := range []string{"http://", "https://"} {
		if len(s) >= len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			rest, ok = s[len(scheme):], true
		}
	}
	switch {
	case !ok:
		return fmt.Sprintf("want a URL starting with http:// or https://, got %q", s)
	case hasBlank(s):
		return fmt.Sprintf("must not contain blanks or control characters, got %q", s)
	}
	host := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		host = rest[:i]
	}
	if host == "" {
		return fmt.Sprintf("want a host after the scheme, got %q", s)
	}
	return ""
}

// checkTCPTarget checks a tcp probe's host:port template: the port is a
// number from 1 to 65535 unless it contains a $NAME. It returns what is
// wrong, or "".
func checkTCPTarget(s string) string {
	if hasBlank(s) {
		return fmt.Sprintf("must not contain blanks or control characters, got %q", s)
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil || port == "" {
		return fmt.Sprintf("want host:port, got %q", s)
	}
	if !strings.Contains(port, "$") {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Sprintf("invalid port %q in %q: want 1 to 65535 or a variable such as $PORT", port, s)
		}
	}
	return ""
}

// Dependency is one depends_on entry resolved against the job's session.
type Dependency struct {
	// Job is the full name "<session>.<job>" of the job depended on.
	Job string
	// Condition is DependStarted, DependReady or DependCompleted.
	Condition string
}

// Dependencies returns j.DependsOn resolved: a bare name means a job of
// j.Session (of ganger.DefaultSession when j.Session is ""), "s.j" or
// "s/j" a job of session s. The list is sorted by Job (then Condition, if
// two entries name the same job) and never nil; an entry whose name is
// invalid (which Validate rejects) is left out.
func (j Job) Dependencies() []Dependency {
	session := cmp.Or(j.Session, ganger.DefaultSession)
	deps := make([]Dependency, 0, len(j.DependsOn))
	for k, c := range j.DependsOn {
		s, n, ok := resolveDependency(k, session)
		if !ok {
			continue
		}
		deps = append(deps, Dependency{Job: ganger.JobName(s, n), Condition: c})
	}
	slices.SortFunc(deps, func(a, b Dependency) int {
		return cmp.Or(strings.Compare(a.Job, b.Job), strings.Compare(a.Condition, b.Condition))
	})
	return deps
}

// resolveDependency splits a depends_on key into session and job, a bare
// name going to session. ok is false for an invalid name.
func resolveDependency(key, session string) (s, job string, ok bool) {
	s, job, err := ganger.ParseJobName(key)
	if err != nil {
		return "", "", false
	}
	if !strings.ContainsAny(key, "./") {
		s = session
	}
	return s, job, true
}

// dependsOnProblems checks j.DependsOn: valid names and conditions, no
// dependency on the job itself and no two entries naming the same job.
// While j.Session is "" (the caller decides, as for a request body) only a
// bare name is known to be in the job's session, so "s.name" is taken for
// another job and duplicates are not looked for; the manager validates the
// job again once its session is set.
func (j Job) dependsOnProblems() []problem {
	var ps []problem
	add := func(format string, args ...any) {
		ps = append(ps, fieldProblem("depends_on", format, args...))
	}
	seen := map[string]string{} // full name → the key that named it first
	for _, k := range slices.Sorted(maps.Keys(j.DependsOn)) {
		switch c := j.DependsOn[k]; c {
		case DependStarted, DependReady, DependCompleted:
		default:
			add("condition of %q: want %q, %q or %q, got %q", k, DependStarted, DependReady, DependCompleted, c)
		}
		s, n, ok := resolveDependency(k, j.Session)
		if !ok {
			_, _, err := ganger.ParseJobName(k)
			add("%s", ganger.ErrorMessage(err))
			continue
		}
		if n == j.Name && s == j.Session { // a bare name, or j's own session named
			add("the job depends on itself (%q)", k)
			continue
		}
		if j.Session == "" {
			continue
		}
		full := ganger.JobName(s, n)
		if first, dup := seen[full]; dup {
			add("%q and %q name the same job %s", first, k, full)
		}
		seen[full] = k
	}
	return ps
}

// CheckDependencyCycles returns an EINVALID error naming every cycle among
// the depends_on edges of jobs, one line each, such as
// `field "depends_on": cycle default.a -> default.b -> default.a`, or nil
// if there is none. A job's full name is "<session>.<name>", its session
// being ganger.DefaultSession when "". Jobs not in the list are not
// followed: a dependency that is not loaded is waited for, not a cycle. A
// job that depends on itself is a cycle too (Validate also rejects it).
func CheckDependencyCycles(jobs []Job) error {
	return invalid(cycleErrors(jobs))
}

// cycleErrors returns one error per dependency cycle among jobs.
func cycleErrors(jobs []Job) []error {
	cycles := dependencyCycles(jobs)
	errs := make([]error, len(cycles))
	for i, c := range cycles {
		errs[i] = fmt.Errorf("field \"depends_on\": cycle %s", c)
	}
	return errs
}

// dependencyCycles returns the cycles among jobs' depends_on edges, each
// as "a -> b -> a": a depth-first walk in name order reports one cycle per
// edge that leads back to a job on the walk's path.
func dependencyCycles(jobs []Job) []string {
	edges := map[string][]string{} // full name → the loaded jobs it depends on
	for _, j := range jobs {
		name := ganger.JobName(cmp.Or(j.Session, ganger.DefaultSession), j.Name)
		if _, ok := edges[name]; !ok {
			edges[name] = nil // loaded, even without dependencies
		}
		for _, d := range j.Dependencies() {
			edges[name] = append(edges[name], d.Job)
		}
	}
	for name, deps := range edges {
		slices.Sort(deps)
		edges[name] = slices.Compact(deps)
	}
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var (
		path   []string
		cycles []string
		visit  func(string)
	)
	visit = func(n string) {
		state[n] = onPath
		path = append(path, n)
		for _, d := range edges[n] {
			if _, loaded := edges[d]; !loaded {
				continue
			}
			switch state[d] {
			case onPath:
				i := slices.Index(path, d)
				cycles = append(cycles, strings.Join(append(slices.Clone(path[i:]), d), " -> "))
			case unseen:
				visit(d)
			}
		}
		path = path[:len(path)-1]
		state[n] = done
	}
	for _, n := range slices.Sorted(maps.Keys(edges)) {
		if state[n] == unseen {
			visit(n)
		}
	}
	return cycles
}
