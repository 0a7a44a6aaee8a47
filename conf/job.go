package conf

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ganger/ganger"
)

// Job is one job's configuration: the "Job config" table of API.md. A Job
// from ParseJob or ParseConfig has its defaults filled in and is valid.
//
// Nil and empty slices and maps mean the same thing everywhere (Equal and
// MarshalJSON treat them alike); parsers always return empty, never nil.
type Job struct {
	// Session is the session the job belongs to. It is optional in a JSON
	// body and a [[job]] table; "" means the caller decides (ParseConfig
	// sets ganger.DefaultSession).
	Session string
	// Name is the job's name within its session (required).
	Name string
	// Cmd is the program. Unless Shell is set it is split like a shell
	// would (see SplitCommand) and the words after the first go before Args.
	Cmd string
	// Args are the arguments. JSON and TOML accept a list of strings or one
	// string, which is split with SplitCommand. $NAME and ${NAME} are
	// expanded from the process environment at spawn time (see Expand).
	Args []string
	// Env is the extra environment, applied over the daemon's when OSEnv.
	Env map[string]string
	// OSEnv starts the process environment from the daemon's (default true).
	OSEnv bool
	// Cwd is the working directory; "" means the daemon's. Its existence is
	// checked at spawn time, not here.
	Cwd string
	// Shell runs Cmd, with Args appended, through /bin/sh -c.
	Shell bool
	// UID and GID are a user and group name or number, as given (a JSON or
	// TOML number becomes its decimal string); "" inherits the daemon's.
	UID, GID string
	// NumProcesses is how many processes are kept alive (default 1, >= 0).
	NumProcesses int
	// GracefulTimeout is how long a stopping process gets between
	// StopSignal and SIGKILL (default 10s, >= 0). JSON and TOML take a
	// number of seconds or a duration string such as "10s".
	GracefulTimeout time.Duration
	// StopSignal starts a graceful stop (default SIGTERM). JSON and TOML
	// take a name ("TERM", "SIGTERM", "term") or a number.
	StopSignal syscall.Signal
	// RedirectOutput holds the labels stdout and stderr are captured under
	// (default ["stdout", "stderr"]); one label captures stdout only, the
	// same label twice merges both, and an empty list discards output.
	RedirectOutput []string
	// RedirectInput gives the process a stdin pipe clients may write to.
	RedirectInput bool
	// CustomStreams labels extra two-way pipes at fd 3, 4, …
	CustomStreams []string
	// Flapping configures restart-storm detection.
	Flapping Flapping
	// Start starts the job once it is loaded (default true).
	Start bool
	// Priority orders loading and starting at daemon start (ascending).
	Priority int
	// Port, when not 0, gives the n-th process PORT=Port+n.
	Port int
	// Restart says what happens when a slot's process ends by itself:
	// RestartAlways respawns it (the default, gaffer's behaviour),
	// RestartOnFailure only when its exit does not count as a success
	// (see SuccessExitCodes), RestartNever leaves the slot exited. It must
	// be one of the three ("" is invalid).
	Restart string
	// SuccessExitCodes are the exit codes that count as success for
	// RestartOnFailure and DependCompleted (default [0]; each 0 to 255, at
	// least one). The parsers return them sorted, without duplicates, and
	// never nil; Equal compares them as sets.
	SuccessExitCodes []int
	// Backoff paces the respawns of a slot after crashes (default
	// DefaultBackoff()).
	Backoff Backoff
	// MinUptime is how long a process without a readiness probe must run
	// to become ready; one that exits sooner counts as a crash for backoff
	// (default 1s, >= 0). JSON and TOML take seconds or a duration string.
	MinUptime time.Duration
	// Readiness is the probe a process must pass to become ready; nil
	// means none (MinUptime decides).
	Readiness *Probe
	// Liveness is the probe whose failures restart a ready process; nil
	// means none. It cannot be a log probe.
	Liveness *Probe
	// DependsOn maps each dependency, as written ("db", "other.db",
	// "other/db"), to the condition it must reach before the job starts:
	// DependStarted, DependReady or DependCompleted. JSON and TOML take an
	// object {"job": condition} or a list of jobs (each DependReady). The
	// parsers never return nil. See Dependencies for the resolved form.
	// Validate rejects an invalid name or condition, a dependency on the
	// job itself and two entries naming one job; while Session is "" only
	// a bare name is taken for the job's own session (so "default.web" is
	// checked once the session is set). Cycles through other jobs are
	// found by CheckDependencyCycles.
	DependsOn map[string]string
}

// Restart policies (Job.Restart).
const (
	RestartAlways    = "always"     // respawn whenever the process ends
	RestartOnFailure = "on-failure" // respawn unless it exited with a success code
	RestartNever     = "never"      // never respawn
)

// Dependency conditions (the values of Job.DependsOn).
const (
	DependStarted   = "started"   // the dependency has a spawned process
	DependReady     = "ready"     // all the dependency's slots are running
	DependCompleted = "completed" // the dependency ran and every slot exited with a success code
)

// Flapping configures restart-storm detection (API.md "Flapping"): when a
// job's processes exit unexpectedly Attempts times within Window, stop
// respawning and retry after RetryIn; give up after MaxRetry retries that
// flap again.
type Flapping struct {
	// Enabled turns detection on (default true). JSON and TOML
	// `"flapping": false` turns it off; an object turns it on, each field
	// left out taking its default.
	Enabled bool
	// Attempts is the number of unexpected exits that make a job flap
	// (default 5, >= 1).
	Attempts int
	// Window is the period Attempts are counted over (default 10s, > 0).
	Window time.Duration
	// RetryIn is the pause before respawning a flapping job (default 7s,
	// >= 0).
	RetryIn time.Duration
	// MaxRetry is the number of retries before giving up (default 5, >= 0).
	MaxRetry int
}

// Defaults of a job's fields (see DefaultJob and DefaultFlapping).
const (
	DefaultNumProcesses = 1
	// MaxNumProcesses bounds numprocesses, so a typo cannot fork-bomb the machine.
	MaxNumProcesses        = 10000
	DefaultGracefulTimeout = 10 * time.Second
	DefaultStopSignal      = syscall.SIGTERM
	DefaultFlapAttempts    = 5
	DefaultFlapWindow      = 10 * time.Second
	DefaultFlapRetryIn     = 7 * time.Second
	DefaultFlapMaxRetry    = 5
	DefaultRestart         = RestartAlways
	DefaultMinUptime       = time.Second
)

// DefaultFlapping returns the default flapping settings: enabled, 5
// attempts within 10s, retry in 7s, at most 5 retries.
func DefaultFlapping() Flapping {
	return Flapping{
		Enabled:  true,
		Attempts: DefaultFlapAttempts,
		Window:   DefaultFlapWindow,
		RetryIn:  DefaultFlapRetryIn,
		MaxRetry: DefaultFlapMaxRetry,
	}
}

// DefaultJob returns a Job with every default of API.md filled in and the
// required fields (Name, Cmd) empty.
func DefaultJob() Job {
	return Job{
		Args:             []string{},
		Env:              map[string]string{},
		OSEnv:            true,
		NumProcesses:     DefaultNumProcesses,
		GracefulTimeout:  DefaultGracefulTimeout,
		StopSignal:       DefaultStopSignal,
		RedirectOutput:   []string{"stdout", "stderr"},
		CustomStreams:    []string{},
		Flapping:         DefaultFlapping(),
		Start:            true,
		Restart:          DefaultRestart,
		SuccessExitCodes: []int{0},
		Backoff:          DefaultBackoff(),
		MinUptime:        DefaultMinUptime,
		DependsOn:        map[string]string{},
	}
}

// Clone returns a deep copy of j: its slices, maps and probes are not
// shared.
func (j Job) Clone() Job {
	c := j
	c.Args = slices.Clone(j.Args)
	c.Env = maps.Clone(j.Env)
	c.RedirectOutput = slices.Clone(j.RedirectOutput)
	c.CustomStreams = slices.Clone(j.CustomStreams)
	c.SuccessExitCodes = slices.Clone(j.SuccessExitCodes)
	c.Readiness = j.Readiness.clone()
	c.Liveness = j.Liveness.clone()
	c.DependsOn = maps.Clone(j.DependsOn)
	return c
}

// Equal reports whether j and o configure the same job: every field equal,
// nil and empty slices and maps alike, success exit codes compared as sets,
// probes by value, and the flapping and backoff settings compared only
// when enabled (a disabled one ignores them). The daemon's reload leaves a
// job running when its old and new configs are Equal.
func (j Job) Equal(o Job) bool {
	return j.Session == o.Session &&
		j.Name == o.Name &&
		j.Cmd == o.Cmd &&
		slices.Equal(j.Args, o.Args) &&
		maps.Equal(j.Env, o.Env) &&
		j.OSEnv == o.OSEnv &&
		j.Cwd == o.Cwd &&
		j.Shell == o.Shell &&
		j.UID == o.UID &&
		j.GID == o.GID &&
		j.NumProcesses == o.NumProcesses &&
		j.GracefulTimeout == o.GracefulTimeout &&
		j.StopSignal == o.StopSignal &&
		slices.Equal(j.RedirectOutput, o.RedirectOutput) &&
		j.RedirectInput == o.RedirectInput &&
		slices.Equal(j.CustomStreams, o.CustomStreams) &&
		j.Flapping.equal(o.Flapping) &&
		j.Start == o.Start &&
		j.Priority == o.Priority &&
		j.Port == o.Port &&
		j.Restart == o.Restart &&
		slices.Equal(codeSet(j.SuccessExitCodes), codeSet(o.SuccessExitCodes)) &&
		j.Backoff.equal(o.Backoff) &&
		j.MinUptime == o.MinUptime &&
		j.Readiness.equal(o.Readiness) &&
		j.Liveness.equal(o.Liveness) &&
		maps.Equal(j.DependsOn, o.DependsOn)
}

// codeSet returns codes sorted without duplicates, in a new slice.
func codeSet(codes []int) []int {
	return slices.Compact(slices.Sorted(slices.Values(codes)))
}

func (f Flapping) equal(o Flapping) bool {
	if !f.Enabled || !o.Enabled {
		return f.Enabled == o.Enabled
	}
	return f == o
}

// nameRule says what a valid session, job or label name looks like.
const nameRule = "want letters, digits, '_' and '-', not starting with '-', at most 100 characters"

// Validate checks j and reports all its problems at once: the error joins
// one line per problem, each naming its field (`field "numprocesses": must
// be >= 0, got -1`), and carries the code ganger.EINVALID. It returns nil
// for a valid job. It does not touch the file system: a missing cwd or
// program is a spawn error, not a config error.
func (j Job) Validate() error {
	return invalid(problemErrs(j.problems()))
}

// problem is one thing wrong with a job, tied to the field it is about so
// ParseJob can drop validation problems of fields that failed to decode.
type problem struct {
	field string
	err   error
}

func fieldProblem(field, format string, args ...any) problem {
	return problem{field, fmt.Errorf("field %q: %s", field, fmt.Sprintf(format, args...))}
}

func problemErrs(ps []problem) []error {
	errs := make([]error, 0, len(ps))
	for _, p := range ps {
		errs = append(errs, p.err)
	}
	return errs
}

// invalid joins errs into one EINVALID error, or returns nil if there are
// none. The message has one line per error.
func invalid(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return ganger.Errorf(ganger.EINVALID, "%s", errors.Join(errs...))
}

func (j Job) problems() []problem {
	var ps []problem
	add := func(field, format string, args ...any) {
		ps = append(ps, fieldProblem(field, format, args...))
	}

	if j.Session != "" && !ganger.ValidName(j.Session) {
		add("session", "invalid name %q: %s", j.Session, nameRule)
	}
	switch {
	case j.Name == "":
		add("name", "required")
	case !ganger.ValidName(j.Name):
		add("name", "invalid name %q: %s", j.Name, nameRule)
	}
	switch {
	case strings.TrimSpace(j.Cmd) == "":
		add("cmd", "required")
	case strings.ContainsRune(j.Cmd, 0):
		add("cmd", "must not contain a NUL byte")
	case !j.Shell:
		words, err := SplitCommand(j.Cmd)
		if err != nil {
			add("cmd", "%s in %q", ganger.ErrorMessage(err), j.Cmd)
		} else if len(words) == 0 || words[0] == "" {
			add("cmd", "empty program name in %q", j.Cmd)
		}
	}
	for i, a := range j.Args {
		if strings.ContainsRune(a, 0) {
			add("args", "argument %d contains a NUL byte", i)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(j.Env)) {
		switch {
		case k == "":
			add("env", "empty variable name")
		case strings.ContainsAny(k, "=\x00"):
			add("env", "invalid variable name %q: must not contain '=' or a NUL byte", k)
		case strings.ContainsRune(j.Env[k], 0):
			add("env", "value of %q contains a NUL byte", k)
		}
	}
	if strings.ContainsRune(j.Cwd, 0) {
		add("cwd", "must not contain a NUL byte")
	}
	if msg := checkID(j.UID, "user"); msg != "" {
		add("uid", "%s", msg)
	}
	if msg := checkID(j.GID, "group"); msg != "" {
		add("gid", "%s", msg)
	}
	if j.NumProcesses < 0 {
		add("numprocesses", "must be >= 0, got %d", j.NumProcesses)
	}
	if j.NumProcesses > MaxNumProcesses {
		add("numprocesses", "must be <= %d, got %d", MaxNumProcesses, j.NumProcesses)
	}
	if j.GracefulTimeout < 0 {
		add("graceful_timeout", "must be >= 0, got %s", j.GracefulTimeout)
	}
	if j.StopSignal < 1 || j.StopSignal > maxSignal {
		add("stop_signal", "invalid signal number %d: want 1 to %d", int(j.StopSignal), maxSignal)
	}
	if len(j.RedirectOutput) > 2 {
		add("redirect_output", "at most 2 labels (for stdout and stderr), got %d", len(j.RedirectOutput))
	}
	for _, l := range j.RedirectOutput {
		if !ganger.ValidName(l) {
			add("redirect_output", "invalid label %q: %s", l, nameRule)
		}
	}
	seen := map[string]bool{}
	for _, l := range j.CustomStreams {
		switch {
		case !ganger.ValidName(l):
			add("custom_streams", "invalid label %q: %s", l, nameRule)
		case l == "stdin":
			add("custom_streams", "label \"stdin\" is reserved for the process's standard input")
		case seen[l]:
			add("custom_streams", "duplicate label %q", l)
		case slices.Contains(j.RedirectOutput, l):
			add("custom_streams", "label %q is also a redirect_output label", l)
		}
		seen[l] = true
	}
	if f := j.Flapping; f.Enabled {
		if f.Attempts < 1 {
			add("flapping.attempts", "must be >= 1, got %d", f.Attempts)
		}
		if f.Window <= 0 {
			add("flapping.window", "must be > 0, got %s", f.Window)
		}
		if f.RetryIn < 0 {
			add("flapping.retry_in", "must be >= 0, got %s", f.RetryIn)
		}
		if f.MaxRetry < 0 {
			add("flapping.max_retry", "must be >= 0, got %d", f.MaxRetry)
		}
	}
	if j.Port < 0 || j.Port > 65535 {
		add("port", "must be 1 to 65535 (or 0 for none), got %d", j.Port)
	}
	switch j.Restart {
	case RestartAlways, RestartOnFailure, RestartNever:
	default:
		add("restart", "want %q, %q or %q, got %q", RestartAlways, RestartOnFailure, RestartNever, j.Restart)
	}
	if len(j.SuccessExitCodes) == 0 {
		add("success_exit_codes", "want at least one exit code")
	}
	for _, c := range j.SuccessExitCodes {
		if c < 0 || c > 255 {
			add("success_exit_codes", "exit code %d is out of range: want 0 to 255", c)
		}
	}
	ps = append(ps, j.Backoff.problems()...)
	if j.MinUptime < 0 {
		add("min_uptime", "must be >= 0, got %s", j.MinUptime)
	}
	if j.Readiness != nil {
		ps = append(ps, j.Readiness.problems("readiness", true)...)
	}
	if j.Liveness != nil {
		ps = append(ps, j.Liveness.problems("liveness", false)...)
	}
	ps = append(ps, j.dependsOnProblems()...)
	return ps
}

// checkID checks a uid or gid as given: "" (inherit), a number that is a
// valid id, or a name. It returns what is wrong, or "".
func checkID(s, what string) string {
	if s == "" {
		return ""
	}
	if strings.Trim(s, "0123456789") == "" {
		// (uid_t)-1 means "no change" to setuid(2): not a real id.
		if n, err := strconv.ParseUint(s, 10, 32); err != nil || n == 1<<32-1 {
			return fmt.Sprintf("invalid %s id %s: want 0 to %d", what, s, uint32(1<<32-2))
		}
		return ""
	}
	if s[0] == '-' || strings.ContainsAny(s, " \t\n\r:\x00") {
		return fmt.Sprintf("invalid %s %q: want a %s name or a non-negative number", what, s, what)
	}
	return ""
}

// jobJSON is the API and config form of a Job, keys in API.md's order:
// what MarshalJSON writes.
type jobJSON struct {
	Session          string            `json:"session,omitempty"`
	Name             string            `json:"name"`
	Cmd              string            `json:"cmd"`
	Args             []string          `json:"args"`
	Env              map[string]string `json:"env"`
	OSEnv            bool              `json:"os_env"`
	Cwd              string            `json:"cwd"`
	Shell            bool              `json:"shell"`
	UID              string            `json:"uid"`
	GID              string            `json:"gid"`
	NumProcesses     int               `json:"numprocesses"`
	GracefulTimeout  json.Number       `json:"graceful_timeout"`
	StopSignal       string            `json:"stop_signal"`
	RedirectOutput   []string          `json:"redirect_output"`
	RedirectInput    bool              `json:"redirect_input"`
	CustomStreams    []string          `json:"custom_streams"`
	Flapping         any               `json:"flapping"` // false or a flappingJSON
	Start            bool              `json:"start"`
	Priority         int               `json:"priority"`
	Port             *int              `json:"port"`
	Restart          string            `json:"restart"`
	SuccessExitCodes []int             `json:"success_exit_codes"`
	Backoff          any               `json:"backoff"` // false or a backoffJSON
	MinUptime        json.Number       `json:"min_uptime"`
	Readiness        *probeJSON        `json:"readiness"`
	Liveness         *probeJSON        `json:"liveness"`
	DependsOn        map[string]string `json:"depends_on"`
}

// flappingJSON is the API and config form of a job's flapping settings.
type flappingJSON struct {
	Attempts int         `json:"attempts"`
	Window   json.Number `json:"window"`
	RetryIn  json.Number `json:"retry_in"`
	MaxRetry int         `json:"max_retry"`
}

// backoffJSON is the API and config form of enabled backoff settings.
type backoffJSON struct {
	Initial    json.Number `json:"initial"`
	Max        json.Number `json:"max"`
	Factor     float64     `json:"factor"`
	ResetAfter json.Number `json:"reset_after"`
}

// probeJSON is the API and config form of a probe: its one kind key, then
// every setting.
type probeJSON struct {
	Exec             string      `json:"exec,omitempty"`
	HTTP             string      `json:"http,omitempty"`
	TCP              string      `json:"tcp,omitempty"`
	Log              string      `json:"log,omitempty"`
	Interval         json.Number `json:"interval"`
	Timeout          json.Number `json:"timeout"`
	InitialDelay     json.Number `json:"initial_delay"`
	FailureThreshold int         `json:"failure_threshold"`
	SuccessThreshold int         `json:"success_threshold"`
}

// MarshalJSON encodes j in the API and config form: API.md's snake_case
// keys, durations as seconds (exact decimals such as 10 or 0.5), the stop
// signal by name ("TERM"), flapping and backoff as an object or false,
// port null when 0, readiness and liveness null when absent, depends_on
// always an object {"job": condition}, session left out when empty, lists
// and objects never null. ParseJob(MarshalJSON(j)) gives back a Job Equal
// to j.
func (j Job) MarshalJSON() ([]byte, error) { return json.Marshal(j.jsonForm()) }

// jsonForm returns j in the API and config form (see MarshalJSON).
func (j Job) jsonForm() jobJSON {
	v := jobJSON{
		Session:          j.Session,
		Name:             j.Name,
		Cmd:              j.Cmd,
		Args:             nonNil(j.Args),
		Env:              j.Env,
		OSEnv:            j.OSEnv,
		Cwd:              j.Cwd,
		Shell:            j.Shell,
		UID:              j.UID,
		GID:              j.GID,
		NumProcesses:     j.NumProcesses,
		GracefulTimeout:  seconds(j.GracefulTimeout),
		StopSignal:       SignalName(j.StopSignal),
		RedirectOutput:   nonNil(j.RedirectOutput),
		RedirectInput:    j.RedirectInput,
		CustomStreams:    nonNil(j.CustomStreams),
		Flapping:         false,
		Start:            j.Start,
		Priority:         j.Priority,
		Restart:          j.Restart,
		SuccessExitCodes: nonNil(j.SuccessExitCodes),
		Backoff:          false,
		MinUptime:        seconds(j.MinUptime),
		Readiness:        j.Readiness.jsonForm(),
		Liveness:         j.Liveness.jsonForm(),
		DependsOn:        j.DependsOn,
	}
	if v.Env == nil {
		v.Env = map[string]string{}
	}
	if v.DependsOn == nil {
		v.DependsOn = map[string]string{}
	}
	if f := j.Flapping; f.Enabled {
		v.Flapping = flappingJSON{
			Attempts: f.Attempts,
			Window:   seconds(f.Window),
			RetryIn:  seconds(f.RetryIn),
			MaxRetry: f.MaxRetry,
		}
	}
	if b := j.Backoff; b.Enabled {
		v.Backoff = backoffJSON{
			Initial:    seconds(b.Initial),
			Max:        seconds(b.Max),
			Factor:     b.Factor,
			ResetAfter: seconds(b.ResetAfter),
		}
	}
	if j.Port != 0 {
		v.Port = &j.Port
	}
	return v
}

// UnmarshalJSON decodes a job config as ParseJob does (defaults, strict
// fields, validation), so a Job embedded in a larger JSON message decodes
// the same way as a request body.
func (j *Job) UnmarshalJSON(data []byte) error {
	job, err := ParseJob(data)
	if err != nil {
		return err
	}
	*j = job
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// seconds formats d as an exact decimal number of seconds ("10", "0.5",
// "0.000000001"), which parseDuration reads back to the same d.
func seconds(d time.Duration) json.Number {
	u := uint64(d)
	sign := ""
	if d < 0 {
		u = -u // two's complement: right for math.MinInt64 too
		sign = "-"
	}
	s := sign + strconv.FormatUint(u/1e9, 10)
	if frac := u % 1e9; frac != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%09d", frac), "0")
	}
	return json.Number(s)
}
