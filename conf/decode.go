package conf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ganger/ganger"
)

// ParseJob decodes a job config from its JSON form (a request body) over
// DefaultJob and validates it. Every problem is reported at once, each
// naming its field: an unknown field (`unknown field "foo"`), a value of
// the wrong type (`field "numprocesses": want an integer, got a string`)
// and whatever Validate finds. `null` for a field means its default.
//
// The error has the code ganger.EINVALID, malformed JSON included.
func ParseJob(data []byte) (Job, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return Job{}, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Job{}, ganger.Errorf(ganger.EINVALID, "malformed JSON: unexpected data after the job config")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return Job{}, ganger.Errorf(ganger.EINVALID, "job config: want a JSON object, got %s", typeName(v))
	}
	j, errs := jobFromMap(m)
	if len(errs) > 0 {
		return Job{}, invalid(errs)
	}
	return j, nil
}

func jsonError(err error) error {
	if errors.Is(err, io.EOF) {
		return ganger.Errorf(ganger.EINVALID, "empty job config: want a JSON object")
	}
	return ganger.Errorf(ganger.EINVALID, "%s", JSONErrorMessage(err))
}

// JSONErrorMessage says what is wrong with JSON that encoding/json failed
// to decode, where it can: "malformed JSON at offset 12: …", "field
// \"scale\": want a number, got a JSON string", "unknown field \"foo\"",
// "malformed JSON: unexpected end of input". It is the one wording of
// JSON errors for config bodies and API requests alike; the caller gives
// the error its kind.
func JSONErrorMessage(err error) string {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at offset %d: %v", se.Offset, se)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %q: want %s, got a JSON %s", te.Field, jsonTypeName(te.Type.String()), te.Value)
		}
		return fmt.Sprintf("want %s, got a JSON %s", jsonTypeName(te.Type.String()), te.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	case errors.Is(err, io.ErrUnexpectedEOF), err.Error() == "unexpected EOF":
		return "malformed JSON: unexpected end of input"
	}
	return fmt.Sprintf("malformed JSON: %v", err)
}

// jsonTypeName names a Go type as the JSON a user should have sent.
func jsonTypeName(goType string) string {
	switch {
	case goType == "json.Number", strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"), strings.HasPrefix(goType, "float"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["), strings.HasPrefix(goType, "struct"), strings.Contains(goType, "."):
		return "an object"
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	}
	return "a " + goType
}

// jobField decodes one field of a job config from a decoded JSON or TOML
// value. The error it returns says what is wrong; the caller names the
// field.
type jobField struct {
	name string
	set  func(j *Job, v any) error
}

// jobFields lists the fields of a job config in API.md's order. The
// fields without set are objects, decoded by objectFields, since their
// errors name their own fields.
var jobFields = []jobField{
	{"session", func(j *Job, v any) (err error) { j.Session, err = stringValue(v); return }},
	{"name", func(j *Job, v any) (err error) { j.Name, err = stringValue(v); return }},
	{"cmd", func(j *Job, v any) (err error) { j.Cmd, err = stringValue(v); return }},
	{"args", func(j *Job, v any) (err error) { j.Args, err = argsValue(v); return }},
	{"env", func(j *Job, v any) (err error) { j.Env, err = envValue(v); return }},
	{"os_env", func(j *Job, v any) (err error) { j.OSEnv, err = boolValue(v); return }},
	{"cwd", func(j *Job, v any) (err error) { j.Cwd, err = stringValue(v); return }},
	{"shell", func(j *Job, v any) (err error) { j.Shell, err = boolValue(v); return }},
	{"uid", func(j *Job, v any) (err error) { j.UID, err = idValue(v); return }},
	{"gid", func(j *Job, v any) (err error) { j.GID, err = idValue(v); return }},
	{"numprocesses", func(j *Job, v any) (err error) { j.NumProcesses, err = intValue(v); return }},
	{"graceful_timeout", func(j *Job, v any) (err error) { j.GracefulTimeout, err = ParseDuration(v); return }},
	{"stop_signal", func(j *Job, v any) error {
		sig, err := ParseSignal(v)
		if err != nil {
			return errors.New(ganger.ErrorMessage(err))
		}
		j.StopSignal = sig
		return nil
	}},
	{"redirect_output", func(j *Job, v any) (err error) { j.RedirectOutput, err = stringsValue(v); return }},
	{"redirect_input", func(j *Job, v any) (err error) { j.RedirectInput, err = boolValue(v); return }},
	{"custom_streams", func(j *Job, v any) (err error) { j.CustomStreams, err = stringsValue(v); return }},
	{"flapping", nil},
	{"start", func(j *Job, v any) (err error) { j.Start, err = boolValue(v); return }},
	{"priority", func(j *Job, v any) (err error) { j.Priority, err = intValue(v); return }},
	{"port", func(j *Job, v any) (err error) { j.Port, err = intValue(v); return }},
	{"restart", func(j *Job, v any) (err error) { j.Restart, err = stringValue(v); return }},
	{"success_exit_codes", func(j *Job, v any) (err error) { j.SuccessExitCodes, err = exitCodesValue(v); return }},
	{"backoff", nil},
	{"min_uptime", func(j *Job, v any) (err error) { j.MinUptime, err = ParseDuration(v); return }},
	{"readiness", nil},
	{"liveness", nil},
	{"depends_on", func(j *Job, v any) (err error) { j.DependsOn, err = dependsOnValue(v); return }},
}

// objectFields decode the object fields of a job config (flapping,
// backoff, probes): each returns every problem found, each naming its
// field ("flapping.attempts", `unknown field "readiness.foo"`).
var objectFields = map[string]func(j *Job, v any) []error{
	"flapping":  func(j *Job, v any) (errs []error) { j.Flapping, errs = flappingValue(v); return },
	"backoff":   func(j *Job, v any) (errs []error) { j.Backoff, errs = backoffValue(v); return },
	"readiness": func(j *Job, v any) (errs []error) { j.Readiness, errs = probeValue("readiness", v); return },
	"liveness":  func(j *Job, v any) (errs []error) { j.Liveness, errs = probeValue("liveness", v); return },
}

// subField decodes one field of an object field of a job config into a T
// (a Flapping, a Backoff, a Probe). The error it returns says what is
// wrong; decodeObject names the field.
type subField[T any] struct {
	name string
	set  func(x *T, v any) error
}

var flappingFields = []subField[Flapping]{
	{"attempts", func(f *Flapping, v any) (err error) { f.Attempts, err = intValue(v); return }},
	{"window", func(f *Flapping, v any) (err error) { f.Window, err = ParseDuration(v); return }},
	{"retry_in", func(f *Flapping, v any) (err error) { f.RetryIn, err = ParseDuration(v); return }},
	{"max_retry", func(f *Flapping, v any) (err error) { f.MaxRetry, err = intValue(v); return }},
}

var backoffFields = []subField[Backoff]{
	{"initial", func(b *Backoff, v any) (err error) { b.Initial, err = ParseDuration(v); return }},
	{"max", func(b *Backoff, v any) (err error) { b.Max, err = ParseDuration(v); return }},
	{"factor", func(b *Backoff, v any) (err error) { b.Factor, err = floatValue(v); return }},
	{"reset_after", func(b *Backoff, v any) (err error) { b.ResetAfter, err = ParseDuration(v); return }},
}

var probeFields = []subField[Probe]{
	{ProbeExec, func(p *Probe, v any) (err error) { p.Exec, err = targetValue(v); return }},
	{ProbeHTTP, func(p *Probe, v any) (err error) { p.HTTP, err = targetValue(v); return }},
	{ProbeTCP, func(p *Probe, v any) (err error) { p.TCP, err = targetValue(v); return }},
	{ProbeLog, func(p *Probe, v any) (err error) { p.Log, err = targetValue(v); return }},
	{"interval", func(p *Probe, v any) (err error) { p.Interval, err = ParseDuration(v); return }},
	{"timeout", func(p *Probe, v any) (err error) { p.Timeout, err = ParseDuration(v); return }},
	{"initial_delay", func(p *Probe, v any) (err error) { p.InitialDelay, err = ParseDuration(v); return }},
	{"failure_threshold", func(p *Probe, v any) (err error) { p.FailureThreshold, err = intValue(v); return }},
	{"success_threshold", func(p *Probe, v any) (err error) { p.SuccessThreshold, err = intValue(v); return }},
}

// decodeObject decodes the members of m into x, over what x holds: the
// object field named field of a job config. It returns every problem,
// each naming its field: unknown keys first (`unknown field
// "flapping.attempt"`), then bad values in fields' order. A member that is
// null keeps its default.
func decodeObject[T any](field string, m map[string]any, fields []subField[T], x *T) []error {
	var errs []error
	for _, k := range unknownKeys(m, func(k string) bool {
		return slices.ContainsFunc(fields, func(f subField[T]) bool { return f.name == k })
	}) {
		errs = append(errs, fmt.Errorf("unknown field %q", field+"."+k))
	}
	for _, f := range fields {
		if v, ok := m[f.name]; ok && v != nil {
			if err := f.set(x, v); err != nil {
				errs = append(errs, fmt.Errorf("field %q: %w", field+"."+f.name, err))
			}
		}
	}
	return errs
}

// jobFromMap decodes a job config from a decoded JSON object (numbers as
// json.Number) or TOML table (int64, float64) over DefaultJob, then
// validates it. It returns every problem found: unknown fields first, then
// the fields' problems in API.md's order.
func jobFromMap(m map[string]any) (Job, []error) { return jobOver(DefaultJob(), m) }

// jobOver decodes the fields of m over j (the other fields keep j's
// values), then validates the result, as jobFromMap does.
func jobOver(j Job, m map[string]any) (Job, []error) {
	j = j.Clone()
	var errs []error
	for _, k := range unknownKeys(m, func(k string) bool {
		return slices.ContainsFunc(jobFields, func(f jobField) bool { return f.name == k })
	}) {
		errs = append(errs, fmt.Errorf("unknown field %q", k))
	}
	failed := map[string]bool{}
	for _, f := range jobFields {
		v, ok := m[f.name]
		if !ok || v == nil {
			continue
		}
		if f.set == nil {
			if ferrs := objectFields[f.name](&j, v); len(ferrs) > 0 {
				errs = append(errs, ferrs...)
				failed[f.name] = true
			}
			continue
		}
		if err := f.set(&j, v); err != nil {
			errs = append(errs, fmt.Errorf("field %q: %w", f.name, err))
			failed[f.name] = true
		}
	}
	for _, p := range j.problems() {
		top, _, _ := strings.Cut(p.field, ".")
		if !failed[top] {
			errs = append(errs, p.err)
		}
	}
	return j, errs
}

// flappingValue accepts false or true (the defaults), or an object whose
// fields left out take their defaults.
func flappingValue(v any) (Flapping, []error) {
	f := DefaultFlapping()
	switch v := v.(type) {
	case bool:
		f.Enabled = v
		return f, nil
	case map[string]any:
		return f, decodeObject("flapping", v, flappingFields, &f)
	default:
		return f, []error{fmt.Errorf("field \"flapping\": want an object or false, got %s", typeName(v))}
	}
}

// backoffValue accepts false or true (the defaults), or an object whose
// fields left out take their defaults.
func backoffValue(v any) (Backoff, []error) {
	b := DefaultBackoff()
	switch v := v.(type) {
	case bool:
		b.Enabled = v
		return b, nil
	case map[string]any:
		return b, decodeObject("backoff", v, backoffFields, &b)
	default:
		return b, []error{fmt.Errorf("field \"backoff\": want an object or false, got %s", typeName(v))}
	}
}

// probeValue accepts a probe object for the job's field (readiness or
// liveness): its fields left out take DefaultProbe's values.
func probeValue(field string, v any) (*Probe, []error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, []error{fmt.Errorf("field %q: want a probe object such as {\"tcp\": \"127.0.0.1:$PORT\"}, got %s", field, typeName(v))}
	}
	p := DefaultProbe()
	return &p, decodeObject(field, m, probeFields, &p)
}

// targetValue accepts a probe's target: a non-empty string.
func targetValue(v any) (string, error) {
	s, err := stringValue(v)
	if err == nil && s == "" {
		err = errors.New("want a non-empty string")
	}
	return s, err
}

// floatValue accepts a JSON or TOML number.
func floatValue(v any) (float64, error) {
	switch v := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(v.String(), 64)
		if err != nil {
			return 0, fmt.Errorf("want a number, got %s (out of range)", v)
		}
		return f, nil
	case int64:
		return float64(v), nil
	case int:
		return float64(v), nil
	case float64:
		return v, nil
	}
	return 0, fmt.Errorf("want a number, got %s", typeName(v))
}

// exitCodesValue accepts a list of integers, and returns it sorted without
// duplicates.
func exitCodesValue(v any) ([]int, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list of integers, got %s", typeName(v))
	}
	codes := make([]int, 0, len(list))
	for i, e := range list {
		n, err := intValue(e)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		codes = append(codes, n)
	}
	slices.Sort(codes)
	return slices.Compact(codes), nil
}

// dependsOnValue accepts an object {"job": condition} or a list of jobs,
// each of which gets the condition DependReady. The names and conditions
// are checked by Validate.
func dependsOnValue(v any) (map[string]string, error) {
	switch v := v.(type) {
	case map[string]any:
		deps := make(map[string]string, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			switch c := v[k].(type) {
			case string:
				deps[k] = c
			case map[string]any:
				// TOML reads { other.db = "ready" } as a table "other".
				return nil, fmt.Errorf("condition of %q: want a string, got an object (in TOML, quote a session.job name: \"%s.…\" = \"ready\")", k, k)
			default:
				return nil, fmt.Errorf("condition of %q: want a string, got %s", k, typeName(c))
			}
		}
		return deps, nil
	case []any:
		deps := make(map[string]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("want a list of job names, item %d is %s", i, typeName(e))
			}
			deps[s] = DependReady
		}
		return deps, nil
	default:
		return nil, fmt.Errorf("want an object {\"job\": condition} or a list of jobs, got %s", typeName(v))
	}
}

// unknownKeys returns the keys of m that known rejects, sorted.
func unknownKeys(m map[string]any, known func(string) bool) []string {
	var unknown []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if !known(k) {
			unknown = append(unknown, k)
		}
	}
	return unknown
}

func stringValue(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %s", typeName(v))
	}
	return s, nil
}

func boolValue(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("want true or false, got %s", typeName(v))
	}
	return b, nil
}

// intValue accepts a JSON or TOML number with an integral value.
func intValue(v any) (int, error) {
	var f float64
	switch v := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(v.String(), 10, 0); err == nil {
			return int(n), nil
		}
		var err error
		if f, err = strconv.ParseFloat(v.String(), 64); err != nil {
			return 0, fmt.Errorf("want an integer, got %s", v)
		}
	case int64:
		if v < math.MinInt || v > math.MaxInt {
			return 0, fmt.Errorf("want an integer, got %d (out of range)", v)
		}
		return int(v), nil
	case int:
		return v, nil
	case float64:
		f = v
	default:
		return 0, fmt.Errorf("want an integer, got %s", typeName(v))
	}
	// 2^63 is exactly representable, so this bound excludes it and above.
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 || math.IsNaN(f) {
		return 0, fmt.Errorf("want an integer, got %v", f)
	}
	return int(f), nil
}

// idValue accepts a user or group as a name or a number, and returns it as
// given (a number as its decimal string).
func idValue(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	switch v.(type) {
	case json.Number, int64, int, float64:
		n, err := intValue(v)
		if err != nil {
			return "", fmt.Errorf("want a name or an integer, got %v", v)
		}
		return strconv.Itoa(n), nil
	}
	return "", fmt.Errorf("want a name or a number, got %s", typeName(v))
}

// stringsValue accepts a list of strings.
func stringsValue(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list of strings, got %s", typeName(v))
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("want a list of strings, item %d is %s", i, typeName(e))
		}
		out = append(out, s)
	}
	return out, nil
}

// argsValue accepts a list of strings, or one string split with
// SplitCommand.
func argsValue(v any) ([]string, error) {
	if s, ok := v.(string); ok {
		words, err := SplitCommand(s)
		if err != nil {
			return nil, errors.New(ganger.ErrorMessage(err))
		}
		return words, nil
	}
	if _, ok := v.([]any); !ok {
		return nil, fmt.Errorf("want a list of strings or a string, got %s", typeName(v))
	}
	return stringsValue(v)
}

// envValue accepts an object whose values are strings.
func envValue(v any) (map[string]string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("want an object of strings, got %s", typeName(v))
	}
	env := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s, ok := m[k].(string)
		if !ok {
			return nil, fmt.Errorf("value of %q: want a string, got %s", k, typeName(m[k]))
		}
		env[k] = s
	}
	return env, nil
}

// ParseDuration reads a duration as JSON and TOML give it: a number of
// seconds (integer or not, exactly: 1.001 is 1.001s) or a string, a Go
// duration ("1m30s", "500ms") or a plain number of seconds ("2.5"). Its
// error says what is wrong and leaves naming the field to the caller.
// Every duration of ganger's configs and API bodies is read by it.
func ParseDuration(v any) (time.Duration, error) {
	switch v := v.(type) {
	case json.Number:
		return secondsDuration(v.String())
	case int64:
		if v > math.MaxInt64/int64(time.Second) || v < math.MinInt64/int64(time.Second) {
			return 0, fmt.Errorf("duration of %d seconds is out of range", v)
		}
		return time.Duration(v) * time.Second, nil
	case float64:
		return floatSeconds(v)
	case string:
		s := strings.TrimSpace(v)
		if d, err := time.ParseDuration(s); err == nil {
			return d, nil
		}
		if d, err := secondsDuration(s); err == nil {
			return d, nil
		}
		return 0, fmt.Errorf("invalid duration %q: want a number of seconds or a duration such as \"10s\"", v)
	default:
		return 0, fmt.Errorf("want a number of seconds or a duration string, got %s", typeName(v))
	}
}

// secondsDuration parses a decimal number of seconds exactly (a float
// would turn 0.1 into 99999999ns).
func secondsDuration(s string) (time.Duration, error) {
	if s != "" && !strings.ContainsAny(s, "eEnN_xX") { // no exponent, NaN, Inf, 0x or digit separators
		if d, err := time.ParseDuration(s + "s"); err == nil {
			return d, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: want a number of seconds", s)
	}
	return floatSeconds(f)
}

func floatSeconds(f float64) (time.Duration, error) {
	ns := math.Round(f * float64(time.Second))
	if math.IsNaN(ns) || ns >= math.MaxInt64 || ns < math.MinInt64 {
		return 0, fmt.Errorf("duration of %v seconds is out of range", f)
	}
	return time.Duration(ns), nil
}
