package runner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"
)

// syncBuffer is an io.Writer the test can read while Run writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitOutput waits until the output matches re.
func waitOutput(t *testing.T, out *syncBuffer, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	if !await.Poll(10*time.Second, func() bool { return rx.MatchString(out.String()) }) {
		t.Fatalf("no output matching %q; output:\n%s", re, out.String())
	}
}

func testJobs(t *testing.T, procfile string, f Formation) *Project {
	t.Helper()
	dir := t.TempDir()
	path := writeFile(t, dir, "Procfile", procfile)
	writeFile(t, dir, ".env", "FOO=bar\n")
	return mustProject(t, path)
}

func TestRunOutputRestartAndStop(t *testing.T) {
	var f Formation
	if err := f.Set("web=2"); err != nil {
		t.Fatal(err)
	}
	p := testJobs(t, "web: echo \"web port=$PORT foo=$FOO\"; printf 'no newline'; exec sleep 30\n"+
		"crash: echo crashing; exit 3\n", f)
	jobs, err := p.Jobs(JobOptions{Formation: f, BasePort: 7000, GracefulTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{Session: "test", Jobs: jobs, Out: &out}) }()

	waitOutput(t, &out, `(?m)^\d\d:\d\d:\d\d web\.1 +\| web port=7000 foo=bar$`)
	waitOutput(t, &out, `(?m)^\d\d:\d\d:\d\d web\.2 +\| web port=7001 foo=bar$`)
	waitOutput(t, &out, `(?m)^\d\d:\d\d:\d\d crash\.1 +\| crashing$`)
	waitOutput(t, &out, `(?m)^\d\d:\d\d:\d\d system +\| crash\.1 exited with code 3\n.* system +\| crash\.1 restarting in 100ms$`)
	waitOutput(t, &out, `(?m)^\d\d:\d\d:\d\d system +\| crash\.1 started \(pid \d+, PORT=7100\)$`)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	s := out.String()
	for _, re := range []string{
		`(?m)^\d\d:\d\d:\d\d web\.1 +\| no newline$`,
		`(?m)^\d\d:\d\d:\d\d system +\| web\.1 stopped \(SIGTERM\)$`,
		`(?m)^\d\d:\d\d:\d\d system +\| all processes stopped$`,
	} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("no line matching %q in:\n%s", re, s)
		}
	}
	// A process's last partial line comes before its exit line.
	partial := regexp.MustCompile(`web\.1 +\| no newline`).FindStringIndex(s)
	if j := strings.Index(s, "web.1 stopped"); partial == nil || j < partial[0] {
		t.Errorf("partial line at %v, exit line at %d:\n%s", partial, j, s)
	}
}

func TestRunSecondSignalKills(t *testing.T) {
	// The process ignores SIGTERM: only the second signal ends it quickly.
	p := testJobs(t, "stubborn: trap '' TERM; echo ready; while :; do sleep 0.1; done\n", Formation{})
	jobs, err := p.Jobs(JobOptions{GracefulTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	sigs := make(chan os.Signal, 2)
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Options{Session: "test", Jobs: jobs, Out: &out, Signals: sigs})
	}()
	waitOutput(t, &out, `stubborn\.1 +\| ready`)
	sigs <- syscall.SIGINT
	waitOutput(t, &out, `SIGINT received, stopping all processes gracefully`)
	sigs <- syscall.SIGINT
	select {
	case err := <-done:
		var k *KilledError
		if !errors.As(err, &k) || k.ExitCode() != 130 {
			t.Fatalf("Run = %v, want a KilledError with exit code 130", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return after a second signal")
	}
	waitOutput(t, &out, `stubborn\.1 stopped \(SIGKILL\)`)
}

func TestRunLoadErrorLeavesNothing(t *testing.T) {
	p := testJobs(t, "web: sleep 30\n", Formation{})
	jobs, err := p.Jobs(JobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	jobs = append(jobs, jobs[0]) // the same job twice: the second load conflicts
	var out syncBuffer
	err = Run(context.Background(), Options{Session: "test", Jobs: jobs, Out: &out})
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("Run = %v, want a conflict", err)
	}
	// The process of the job that did load was stopped before Run returned.
	if !regexp.MustCompile(`web\.1 stopped \(SIGTERM\)`).MatchString(out.String()) {
		t.Errorf("web.1 was not stopped; output:\n%s", out.String())
	}
}

// TestRunEndsByItself: with nothing left to run, Run returns by itself:
// nil when every process ended with a success code, an *EndedError (exit
// status 1) when one gave up.
func TestRunEndsByItself(t *testing.T) {
	tests := []struct {
		name, procfile, settings string
		wantErr                  bool
		wantLine                 string
	}{
		{"one-shot tasks complete", "migrate: echo migrating; exit 0\nseed: exit 3\n",
			"[[job]]\nname = \"migrate\"\nrestart = \"on-failure\"\n[[job]]\nname = \"seed\"\nrestart = \"on-failure\"\nsuccess_exit_codes = [0, 3]\n",
			false, `every process has ended with success`},
		{"one gives up", "ok: exit 0\nbad: exit 1\n",
			"[[job]]\nname = \"ok\"\nrestart = \"never\"\n[[job]]\nname = \"bad\"\nbackoff = false\nflapping = { attempts = 2, window = \"10s\", retry_in = 0, max_retry = 0 }\n",
			true, `nothing is left to run: some processes did not end with success: bad \(gave_up\)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, "Procfile", tt.procfile)
			writeFile(t, dir, SettingsFileName, tt.settings)
			jobs, err := mustProject(t, path).Jobs(JobOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var out syncBuffer
			done := make(chan error, 1)
			go func() { done <- Run(context.Background(), Options{Session: "test", Jobs: jobs, Out: &out}) }()
			select {
			case err := <-done:
				var ended *EndedError
				if got := errors.As(err, &ended); got != tt.wantErr || (!tt.wantErr && err != nil) {
					t.Fatalf("Run = %v, want an EndedError: %v", err, tt.wantErr)
				}
				if tt.wantErr && ended.ExitCode() != 1 {
					t.Errorf("exit code %d, want 1", ended.ExitCode())
				}
			case <-time.After(await.Scale(20 * time.Second)):
				t.Fatalf("Run did not end by itself; output:\n%s", out.String())
			}
			waitOutput(t, &out, tt.wantLine)
		})
	}
}
