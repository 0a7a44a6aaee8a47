package process

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LookPath returns the path to execute for prog, a program that is to run
// in the working directory dir ("" for the caller's) with the environment
// env ("K=V" strings). It is ganger's one PATH rule, for the daemon's
// processes (Start) and for ganger run alike:
//
//   - A name without a slash is searched in the PATH of env, or in the
//     caller's $PATH if env has none. Only absolute PATH entries are
//     searched: a relative one ("", "." or "bin") would find programs
//     according to the working directory, so it is skipped, never trusted.
//     The first regular, executable file found wins.
//   - A name with a slash is not searched: a relative one is relative to
//     dir, since the program runs there. The path returned is then
//     absolute, so that it names the same file before and after a change to
//     dir. It is checked to exist only; whether it can be executed (or is
//     a directory) is for exec to report.
//
// The error wraps ErrNotFound when prog is empty, not in PATH, or (with a
// slash) does not exist.
func LookPath(prog, dir string, env []string) (string, error) {
	if prog == "" {
		return "", fmt.Errorf("%w: empty program name", ErrNotFound)
	}
	if strings.Contains(prog, "/") {
		path := prog
		if !filepath.IsAbs(path) && dir != "" {
			path = filepath.Join(dir, path)
			if abs, err := filepath.Abs(path); err == nil {
				path = abs
			}
		}
		if _, err := os.Stat(path); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("%w: %s does not exist", ErrNotFound, path)
			}
			// Let exec report anything else (permission denied…).
		}
		return path, nil
	}
	pathEnv, ok := lookupEnv(env, "PATH")
	if !ok {
		pathEnv = os.Getenv("PATH")
	}
	for _, d := range filepath.SplitList(pathEnv) {
		if !filepath.IsAbs(d) {
			continue // "", "." or "bin" would depend on the directory: never trust it
		}
		path := filepath.Join(d, prog)
		if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return path, nil
		}
	}
	return "", fmt.Errorf("%w: %q not found in PATH", ErrNotFound, prog)
}

// lookupEnv returns the value of the last "key=" entry in env.
func lookupEnv(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v, true
		}
	}
	return "", false
}
