package ganger

import (
	"regexp"
	"strings"
	"testing"
)

func TestParseJobName(t *testing.T) {
	tests := []struct {
		in, session, job string
		ok               bool
	}{
		{"web", "default", "web", true},
		{"app.web", "app", "web", true},
		{"app/web", "app", "web", true},
		{"App_1.web-2", "App_1", "web-2", true},
		{"", "", "", false},
		{"a.b.c", "", "", false},
		{"-x", "", "", false},
		{"app.", "", "", false},
		{"a b", "", "", false},
		{strings.Repeat("s", 100) + "." + strings.Repeat("j", 100), strings.Repeat("s", 100), strings.Repeat("j", 100), true},
		{strings.Repeat("j", 101), "", "", false},
		{strings.Repeat("s", 101) + ".web", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, j, err := ParseJobName(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("ParseJobName(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if tt.ok && (s != tt.session || j != tt.job) {
				t.Fatalf("ParseJobName(%q) = %q, %q; want %q, %q", tt.in, s, j, tt.session, tt.job)
			}
			if !tt.ok && ErrorCode(err) != EBADREQUEST {
				t.Fatalf("error code = %q, want %q", ErrorCode(err), EBADREQUEST)
			}
		})
	}
}

// TestValidNameIsTheRule: ValidName accepts exactly what the rule's
// regexp does, up to MaxNameLen bytes.
func TestValidNameIsTheRule(t *testing.T) {
	re := regexp.MustCompile(nameRule)
	alphabet := "aZ09_-.é /\x00"
	var names []string
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		names = append(names, prefix)
		if n == 0 {
			return
		}
		for _, r := range alphabet {
			gen(prefix+string(r), n-1)
		}
	}
	gen("", 3)
	names = append(names, strings.Repeat("a", 100), strings.Repeat("a", 101))
	for _, s := range names {
		want := re.MatchString(s) && len(s) <= MaxNameLen
		if got := ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", s, got, want)
		}
	}
}
