package conf

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ganger/ganger"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// checkGolden compares got with the golden file, or rewrites it with -update.
func checkGolden(t *testing.T, golden, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s:\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

// TestParseProcfileGolden parses each testdata/procfile/*.Procfile and
// compares the entries (or the error) with the .golden file beside it.
func TestParseProcfileGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/procfile/*.Procfile")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".Procfile")
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			entries, err := ParseProcfile(f, filepath.Base(file))
			var b strings.Builder
			if err != nil {
				if code := ganger.ErrorCode(err); code != ganger.EINVALID {
					t.Errorf("error code = %q, want %q", code, ganger.EINVALID)
				}
				if entries != nil {
					t.Errorf("entries = %v along with an error", entries)
				}
				fmt.Fprintf(&b, "error: %v\n", err)
			}
			for _, e := range entries {
				fmt.Fprintf(&b, "%d %q %q\n", e.Line, e.Name, e.Command)
			}
			checkGolden(t, strings.TrimSuffix(file, ".Procfile")+".golden", b.String())
		})
	}
}

func TestParseProcfileReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := ParseProcfile(iotest.ErrReader(boom), "Procfile")
	if !errors.Is(err, boom) {
		t.Errorf("error = %v, want it to wrap %v", err, boom)
	}
}

func TestLoadProcfile(t *testing.T) {
	entries, err := LoadProcfile("testdata/procfile/good.Procfile")
	if err != nil || len(entries) == 0 {
		t.Fatalf("LoadProcfile = %v, %v", entries, err)
	}
	_, err = LoadProcfile(filepath.Join(t.TempDir(), "Procfile"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadProcfile of a missing file: %v, want ErrNotExist", err)
	}
}
