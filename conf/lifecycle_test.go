package conf

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultBackoff(t *testing.T) {
	want := Backoff{Enabled: true, Initial: 100 * time.Millisecond, Max: 30 * time.Second, Factor: 2, ResetAfter: 30 * time.Second}
	if got := DefaultBackoff(); got != want {
		t.Errorf("DefaultBackoff() = %+v, want %+v", got, want)
	}
	want2 := Probe{Interval: time.Second, Timeout: time.Second, FailureThreshold: 3, SuccessThreshold: 1}
	if got := DefaultProbe(); got != want2 {
		t.Errorf("DefaultProbe() = %+v, want %+v", got, want2)
	}
}

func TestProbeKind(t *testing.T) {
	tests := []struct {
		name         string
		probe        Probe
		kind, target string
	}{
		{"exec", Probe{Exec: "pg_isready"}, "exec", "pg_isready"},
		{"http", Probe{HTTP: "http://127.0.0.1:$PORT/"}, "http", "http://127.0.0.1:$PORT/"},
		{"tcp", Probe{TCP: "127.0.0.1:$PORT"}, "tcp", "127.0.0.1:$PORT"},
		{"log", Probe{Log: "^ready$"}, "log", "^ready$"},
		{"none", Probe{}, "", ""},
		{"several: the first in order", Probe{Log: "x", TCP: "a:1"}, "tcp", "a:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k, tg := tt.probe.Kind(), tt.probe.Target(); k != tt.kind || tg != tt.target {
				t.Errorf("Kind, Target = %q, %q; want %q, %q", k, tg, tt.kind, tt.target)
			}
		})
	}
}

func TestDependencies(t *testing.T) {
	tests := []struct {
		name      string
		session   string
		dependsOn map[string]string
		want      []Dependency
	}{
		{"none", "", nil, []Dependency{}},
		{"bare name without a session is in the default session", "", map[string]string{"db": "ready"},
			[]Dependency{{"default.db", "ready"}}},
		{"bare name is in the job's session", "app", map[string]string{"db": "started"},
			[]Dependency{{"app.db", "started"}}},
		{"dotted and slashed names are other sessions' jobs", "app", map[string]string{"other.db": "ready", "third/cache": "completed"},
			[]Dependency{{"other.db", "ready"}, {"third.cache", "completed"}}},
		{"sorted by job", "s", map[string]string{"b": "ready", "a": "started", "r.z": "ready", "default.c": "ready"},
			[]Dependency{{"default.c", "ready"}, {"r.z", "ready"}, {"s.a", "started"}, {"s.b", "ready"}}},
		{"invalid names are left out", "s", map[string]string{"a.b.c": "ready", "ok": "ready"},
			[]Dependency{{"s.ok", "ready"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := job(func(j *Job) { j.Session, j.DependsOn = tt.session, tt.dependsOn })
			if got := j.Dependencies(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Dependencies() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// dep returns a job session.name whose depends_on is deps.
func dep(session, name string, deps ...string) Job {
	return job(func(j *Job) {
		j.Session, j.Name = session, name
		for _, d := range deps {
			j.DependsOn[d] = DependReady
		}
	})
}

func TestCheckDependencyCycles(t *testing.T) {
	tests := []struct {
		name  string
		jobs  []Job
		wants []string // the error's lines; none: no error
	}{
		{"no jobs", nil, nil},
		{"no dependencies", []Job{dep("", "a"), dep("", "b")}, nil},
		{"a chain", []Job{dep("", "a", "b"), dep("", "b", "c"), dep("", "c")}, nil},
		{"a diamond", []Job{dep("", "a", "b", "c"), dep("", "b", "d"), dep("", "c", "d"), dep("", "d")}, nil},
		{"a dependency that is not loaded", []Job{dep("", "a", "missing"), dep("", "b", "a")}, nil},
		{"the same name in another session", []Job{dep("s", "a", "t.a"), dep("t", "a")}, nil},
		{"2-cycle", []Job{dep("", "a", "b"), dep("", "b", "a")},
			[]string{`field "depends_on": cycle default.a -> default.b -> default.a`}},
		{"2-cycle, explicit default session", []Job{dep("default", "b", "a"), dep("", "a", "default.b")},
			[]string{`field "depends_on": cycle default.a -> default.b -> default.a`}},
		{"3-cycle across sessions", []Job{dep("x", "a", "y.b"), dep("y", "b", "z/c"), dep("z", "c", "x.a")},
			[]string{`field "depends_on": cycle x.a -> y.b -> z.c -> x.a`}},
		{"a cycle below a job that is not in it", []Job{dep("", "top", "a"), dep("", "a", "b"), dep("", "b", "a")},
			[]string{`field "depends_on": cycle default.a -> default.b -> default.a`}},
		{"a self loop", []Job{dep("", "a", "a")},
			[]string{`field "depends_on": cycle default.a -> default.a`}},
		{"two cycles", []Job{dep("", "a", "b"), dep("", "b", "a"), dep("s", "c", "d"), dep("s", "d", "c")},
			[]string{`field "depends_on": cycle default.a -> default.b -> default.a`, `field "depends_on": cycle s.c -> s.d -> s.c`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckDependencyCycles(tt.jobs)
			if len(tt.wants) == 0 {
				if err != nil {
					t.Fatalf("CheckDependencyCycles: %v", err)
				}
				return
			}
			wantInvalid(t, err)
			if got, want := err.Error(), strings.Join(tt.wants, "\n"); got != want {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestSelfDependencyIsCaughtByValidation(t *testing.T) {
	// CheckDependencyCycles would call it a cycle too, but a job that
	// depends on itself never gets that far: ParseJob rejects it.
	for _, body := range []string{
		`{"name":"a","cmd":"run","depends_on":["a"]}`,
		`{"session":"s","name":"a","cmd":"run","depends_on":["s.a"]}`,
		`{"session":"s","name":"a","cmd":"run","depends_on":{"s/a":"completed"}}`,
	} {
		_, err := ParseJob([]byte(body))
		wantInvalid(t, err, `field "depends_on": the job depends on itself`)
	}
}
