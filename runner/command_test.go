package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestExec(t *testing.T) {
	env := map[string]string{"PATH": os.Getenv("PATH"), "FOO": "bar"}
	dir := t.TempDir()
	notExec := writeFile(t, dir, "data", "#!/bin/sh\n")
	garbage := writeFile(t, dir, "garbage", "\x00\x01 not a program")
	if err := os.Chmod(garbage, 0o755); err != nil {
		t.Fatal(err)
	}
	hello := writeFile(t, dir, "hello", "#!/bin/sh\necho hello\n")
	if err := os.Chmod(hello, 0o755); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	greet := writeFile(t, sub, "greet", "#!/bin/sh\necho greetings\n")
	if err := os.Chmod(greet, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir) // so that relative PATH entries would find hello
	pathWith := func(path string) map[string]string { return map[string]string{"PATH": path} }
	tests := []struct {
		name     string
		args     []string
		shell    bool
		env      map[string]string // nil: env
		dir      string
		code     int
		stdout   string
		errorHas string
	}{
		{name: "exit code", args: []string{"exit 7"}, shell: true, code: 7},
		{name: "env and shell", args: []string{`echo "foo=$FOO"`}, shell: true, stdout: "foo=bar\n"},
		{name: "argv without shell", args: []string{"printf", "%s|", "a b", "$FOO"}, stdout: "a b|$FOO|"},
		{name: "killed by a signal", args: []string{"kill -TERM $$"}, shell: true, code: 128 + int(syscall.SIGTERM)},
		{name: "not found", args: []string{"ganger-no-such-program"}, code: 127, errorHas: "not found"},
		{name: "not executable", args: []string{notExec}, code: 126, errorHas: "permission"},
		{name: "not a program", args: []string{garbage}, code: 126, errorHas: "exec format"},
		// The PATH rule is process.LookPath's: relative entries are never
		// searched, and a name with a slash is relative to Dir.
		{name: "absolute PATH entry", args: []string{"hello"}, env: pathWith(dir), stdout: "hello\n"},
		{name: "empty PATH entry skipped", args: []string{"hello"}, env: pathWith(":/nonexistent"), code: 127, errorHas: "not found"},
		{name: "dot PATH entry skipped", args: []string{"hello"}, env: pathWith("."), code: 127, errorHas: "not found"},
		{name: "relative to Dir", args: []string{"./greet"}, env: pathWith(""), dir: sub, stdout: "greetings\n"},
		{name: "relative to Dir, not to ganger's", args: []string{"./hello"}, env: pathWith(""), dir: sub, code: 127, errorHas: "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout bytes.Buffer
			e := env
			if tt.env != nil {
				e = tt.env
			}
			code, err := Exec(Command{Args: tt.args, Shell: tt.shell, Env: e, Dir: tt.dir, Stdout: &stdout, Stderr: &stdout}, nil)
			if code != tt.code {
				t.Errorf("code = %d, want %d (err %v)", code, tt.code, err)
			}
			if tt.errorHas == "" && err != nil {
				t.Errorf("err = %v", err)
			}
			if tt.errorHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errorHas)) {
				t.Errorf("err = %v, want one containing %q", err, tt.errorHas)
			}
			if tt.stdout != "" && stdout.String() != tt.stdout {
				t.Errorf("stdout = %q, want %q", stdout.String(), tt.stdout)
			}
		})
	}
}

func TestExecForwardsSignals(t *testing.T) {
	env := map[string]string{"PATH": os.Getenv("PATH")}
	sigs := make(chan os.Signal, 1)
	var out syncBuffer
	done := make(chan int, 1)
	go func() {
		code, _ := Exec(Command{Args: []string{"trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.05; done"}, Shell: true, Env: env, Stdout: &out}, sigs)
		done <- code
	}()
	waitOutput(t, &out, "ready")
	sigs <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 42 || !strings.Contains(out.String(), "got-term") {
			t.Errorf("code %d, output %q; want 42 and got-term", code, out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not end after SIGTERM was forwarded")
	}
}
