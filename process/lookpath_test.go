package process

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestLookPath pins the one PATH rule: only absolute PATH entries are
// searched ("", "." and other relative entries are skipped even when the
// program is there), and a name with a slash is relative to dir.
func TestLookPath(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root) // so that relative PATH entries would find the programs
	mkdir := func(name string) string {
		d := filepath.Join(root, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	write := func(path string, mode os.FileMode) string {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	bin, other, work := mkdir("bin"), mkdir("other"), mkdir("work")
	write(filepath.Join(root, "prog"), 0o755) // found by "" and "."
	inBin := write(filepath.Join(bin, "prog"), 0o755)
	inOther := write(filepath.Join(other, "prog"), 0o755)
	write(filepath.Join(bin, "data"), 0o644)
	inOtherData := write(filepath.Join(other, "data"), 0o755)
	mkdir("bin/dir")
	inWork := write(filepath.Join(work, "tool"), 0o755)
	sh, err := LookPath("sh", "", nil)
	if err != nil {
		t.Fatalf("sh not in the test's PATH: %v", err)
	}

	tests := []struct {
		name      string
		prog, dir string
		env       []string
		want      string // "" for an ErrNotFound error
	}{
		{"absolute entry", "prog", "", []string{"PATH=" + bin}, inBin},
		{"first entry wins", "prog", "", []string{"PATH=" + other + ":" + bin}, inOther},
		{"last PATH of env wins", "prog", "", []string{"PATH=" + bin, "PATH=" + other}, inOther},
		{"empty PATH", "prog", "", []string{"PATH="}, ""},
		{"empty entry skipped", "prog", "", []string{"PATH=:" + bin}, inBin},
		{"empty entries only", "prog", "", []string{"PATH=::"}, ""},
		{"dot skipped", "prog", "", []string{"PATH=.:" + bin}, inBin},
		{"dot only", "prog", "", []string{"PATH=."}, ""},
		{"relative entry skipped", "prog", "", []string{"PATH=bin"}, ""},
		{"relative entry before an absolute one", "prog", "", []string{"PATH=bin:" + other}, inOther},
		{"not executable skipped", "data", "", []string{"PATH=" + bin + ":" + other}, inOtherData},
		{"directory skipped", "dir", "", []string{"PATH=" + bin}, ""},
		{"not in PATH", "ganger-no-such-program", "", []string{"PATH=" + bin}, ""},
		{"caller's PATH when env has none", "sh", "", []string{"HOME=/"}, sh},
		{"empty name", "", "", nil, ""},
		{"slash: absolute", inBin, "/nonexistent", nil, inBin},
		{"slash: relative to dir", "./tool", work, nil, inWork},
		{"slash: relative to a relative dir", "./tool", "work", nil, inWork},
		{"slash: subdirectory of dir", "bin/prog", root, nil, inBin},
		{"slash: relative to the caller without dir", "./prog", "", nil, "./prog"},
		{"slash: missing in dir", "./prog", work, nil, ""},
		{"slash: not searched in PATH", "x/prog", "", []string{"PATH=" + root}, ""},
		{"slash: not executable is for exec to report", "./data", bin, nil, filepath.Join(bin, "data")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LookPath(tt.prog, tt.dir, tt.env)
			if tt.want == "" {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("LookPath(%q, %q, %q) = %q, %v; want an ErrNotFound error", tt.prog, tt.dir, tt.env, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("LookPath(%q, %q, %q) = %q, %v; want %q", tt.prog, tt.dir, tt.env, got, err, tt.want)
			}
		})
	}
}

// TestStartRelativeProgramInRelativeDir is the regression test for a
// program given as ./prog with a relative working directory: the child
// changes to Dir before it executes, so Dir must not be applied twice.
func TestStartRelativeProgramInRelativeDir(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	if err := os.Mkdir("work", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("work", "hello"), []byte("#!/bin/sh\necho hello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t)
	c := newCollector()
	p := h.start(Spec{Path: "./hello", Dir: "work", Env: testEnv(), Output: []string{"out"}, OnOutput: c.onOutput})
	if e := h.waitExit(p.Pid()); !e.Status.Exited() || e.Status.ExitStatus() != 0 {
		t.Fatalf("status %v", e.Status)
	}
	waitDone(t, p)
	if got := string(c.get("out")); got != "hello\n" {
		t.Errorf("output = %q, want %q", got, "hello\n")
	}
}
