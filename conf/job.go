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
}

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
		Args:            []string{},
		Env:             map[string]string{},
		OSEnv:           true,
		NumProcesses:    DefaultNumProcesses,
		GracefulTimeout: DefaultGracefulTimeout,
		StopSignal:      DefaultStopSignal,
		RedirectOutput:  []string{"stdout", "stderr"},
		CustomStreams:   []string{},
		Flapping:        DefaultFlapping(),
		Start:           true,
	}
}

// Clone returns a deep copy of j: its slices and map are not shared.
func (j Job) Clone() Job {
	c := j
	c.Args = slices.Clone(j.Args)
	c.Env = maps.Clone(j.Env)
	c.RedirectOutput = slices.Clone(j.RedirectOutput)
	c.CustomStreams = slices.Clone(j.CustomStreams)
	return c
}

// Equal reports whether j and o configure the same job: every field equal,
// nil and empty slices and maps alike, and the flapping settings compared
// only when flapping is enabled (a disabled one ignores them). The daemon's
// reload leaves a job running when its old and new configs are Equal.
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
		j.Port == o.Port
}

func (f Flapping) equal(o Flapping) bool {
	if !f.Enabled || !o.Enabled {
		return f.Enabled == o.Enabled
	}
	return f == o
}

// nameRule says what a valid session, job or label name looks like.
const nameRule = "want letters, digits, '_' and '-', not starting with '-'"

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

// JobJSON is the API and config form of a Job, keys in API.md's order:
// what MarshalJSON writes. An answer that embeds a Job can carry its
// JobJSON instead, which encoding/json writes in the same pass as the
// rest, rather than calling MarshalJSON and re-reading its output.
type JobJSON struct {
	Session         string            `json:"session,omitempty"`
	Name            string            `json:"name"`
	Cmd             string            `json:"cmd"`
	Args            []string          `json:"args"`
	Env             map[string]string `json:"env"`
	OSEnv           bool              `json:"os_env"`
	Cwd             string            `json:"cwd"`
	Shell           bool              `json:"shell"`
	UID             string            `json:"uid"`
	GID             string            `json:"gid"`
	NumProcesses    int               `json:"numprocesses"`
	GracefulTimeout json.Number       `json:"graceful_timeout"`
	StopSignal      string            `json:"stop_signal"`
	RedirectOutput  []string          `json:"redirect_output"`
	RedirectInput   bool              `json:"redirect_input"`
	CustomStreams   []string          `json:"custom_streams"`
	Flapping        any               `json:"flapping"` // false or a FlappingJSON
	Start           bool              `json:"start"`
	Priority        int               `json:"priority"`
	Port            *int              `json:"port"`
}

// FlappingJSON is the API and config form of a job's flapping settings.
type FlappingJSON struct {
	Attempts int         `json:"attempts"`
	Window   json.Number `json:"window"`
	RetryIn  json.Number `json:"retry_in"`
	MaxRetry int         `json:"max_retry"`
}

// MarshalJSON encodes j in the API and config form: API.md's snake_case
// keys, durations as seconds (exact decimals such as 10 or 0.5), the stop
// signal by name ("TERM"), flapping as an object or false, port null when
// 0, session left out when empty, lists and env never null.
// ParseJob(MarshalJSON(j)) gives back a Job Equal to j.
func (j Job) MarshalJSON() ([]byte, error) { return json.Marshal(j.JSON()) }

// JSON returns j in the API and config form (see MarshalJSON).
func (j Job) JSON() JobJSON {
	v := JobJSON{
		Session:         j.Session,
		Name:            j.Name,
		Cmd:             j.Cmd,
		Args:            nonNil(j.Args),
		Env:             j.Env,
		OSEnv:           j.OSEnv,
		Cwd:             j.Cwd,
		Shell:           j.Shell,
		UID:             j.UID,
		GID:             j.GID,
		NumProcesses:    j.NumProcesses,
		GracefulTimeout: seconds(j.GracefulTimeout),
		StopSignal:      SignalName(j.StopSignal),
		RedirectOutput:  nonNil(j.RedirectOutput),
		RedirectInput:   j.RedirectInput,
		CustomStreams:   nonNil(j.CustomStreams),
		Flapping:        false,
		Start:           j.Start,
		Priority:        j.Priority,
	}
	if v.Env == nil {
		v.Env = map[string]string{}
	}
	if f := j.Flapping; f.Enabled {
		v.Flapping = FlappingJSON{
			Attempts: f.Attempts,
			Window:   seconds(f.Window),
			RetryIn:  seconds(f.RetryIn),
			MaxRetry: f.MaxRetry,
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

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
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
