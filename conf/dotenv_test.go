package conf

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParseDotenv(t *testing.T) {
	osEnv := map[string]string{"HOME": "/home/u", "PATH": "/bin", "SHARED": "from-os"}
	lookup := func(k string) (string, bool) { v, ok := osEnv[k]; return v, ok }
	tests := []struct {
		name string
		in   string
		want map[string]string
	}{
		{"empty file", "", map[string]string{}},
		{"simple", "A=1\nB=two\n", map[string]string{"A": "1", "B": "two"}},
		{"no final newline", "A=1", map[string]string{"A": "1"}},
		{"crlf", "A=1\r\nB=2\r\n", map[string]string{"A": "1", "B": "2"}},
		{"comments and blank lines", "# c\n\n   # indented\nA=1\n\t\n", map[string]string{"A": "1"}},
		{"spaces around =", "A = 1\n  B\t=\t2  \n", map[string]string{"A": "1", "B": "2"}},
		{"export", "export A=1\nexport\tB = 2\n", map[string]string{"A": "1", "B": "2"}},
		{"key named export", "export=1\nexported=2\n", map[string]string{"export": "1", "exported": "2"}},
		{"empty value", "A=\nB=   \n", map[string]string{"A": "", "B": ""}},
		{"unquoted comment", "A=value # comment\nB=va#lue\nC=#hash\nD= # only a comment\n", map[string]string{"A": "value", "B": "va#lue", "C": "#hash", "D": ""}},
		{"unquoted keeps inner spaces and quotes", `A=a b  c` + "\n" + `B=it's "x"`, map[string]string{"A": "a b  c", "B": `it's "x"`}},
		{"value with =", "URL=postgres://u:p@h/db?x=1\n", map[string]string{"URL": "postgres://u:p@h/db?x=1"}},
		{"single quotes literal", `A='  $HOME \n "x" # not a comment  '`, map[string]string{"A": `  $HOME \n "x" # not a comment  `}},
		{"single quotes then comment", `A='x' # c`, map[string]string{"A": "x"}},
		{"double quote escapes", `A="a\nb\tc\"d\\e\$HOME\r\qz"`, map[string]string{"A": "a\nb\tc\"d\\e$HOME\r\\qz"}},
		{"double quotes keep # and spaces", `A=" x # y "  # comment`, map[string]string{"A": " x # y "}},
		{"empty quotes", `A=""` + "\n" + `B=''`, map[string]string{"A": "", "B": ""}},
		{"expand from lookup", "A=$HOME/x\nB=\"${PATH}:/usr/bin\"\n", map[string]string{"A": "/home/u/x", "B": "/bin:/usr/bin"}},
		{"expand own keys first", "SHARED=mine\nA=$SHARED\nB=${SHARED}-b\n", map[string]string{"SHARED": "mine", "A": "mine", "B": "mine-b"}},
		{"only earlier keys", "A=$LATER\nLATER=x\n", map[string]string{"A": "$LATER", "LATER": "x"}},
		{"self reference extends", "PATH=$PATH:/opt/bin\nPATH=$PATH:/more\n", map[string]string{"PATH": "/bin:/opt/bin:/more"}},
		{"unset left as written", `A=$NOPE ${NOPE} $1 $$ $` + "\n" + `B="$NOPE"`, map[string]string{"A": "$NOPE ${NOPE} $1 $$ $", "B": "$NOPE"}},
		{"no expansion in single quotes", `A='$HOME'`, map[string]string{"A": "$HOME"}},
		{"escaped dollar", `A="\$HOME"`, map[string]string{"A": "$HOME"}},
		{"expanded value is not re-expanded", "A=$$HOME\nB=\"$A\"\n", map[string]string{"A": "$$HOME", "B": "$$HOME"}},
		{"multi-line double quotes", "KEY=\"-----BEGIN-----\nline2 $HOME\n-----END-----\"\nNEXT=1\n", map[string]string{"KEY": "-----BEGIN-----\nline2 /home/u\n-----END-----", "NEXT": "1"}},
		{"multi-line single quotes", "A='one\ntwo'\n", map[string]string{"A": "one\ntwo"}},
		{"multi-line crlf", "A=\"one\r\ntwo\"\r\n", map[string]string{"A": "one\ntwo"}},
		{"later wins", "A=1\nA=2\n", map[string]string{"A": "2"}},
		{"byte order mark", "\uFEFFA=1\n", map[string]string{"A": "1"}},
		{"underscore key", "_A_1=x\n", map[string]string{"_A_1": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDotenv(strings.NewReader(tt.in), ".env", lookup)
			if err != nil {
				t.Fatalf("ParseDotenv: %v", err)
			}
			if !maps.Equal(got, tt.want) || got == nil {
				t.Errorf("ParseDotenv(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseDotenvErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // the whole error
	}{
		{"no =", "A=1\nJUSTAKEY\n", `.env:2: invalid line "JUSTAKEY": want KEY=value`},
		{"export without =", "export A\n", `.env:1: invalid line "A": want KEY=value`},
		{"empty key", "\n=1\n", `.env:2: invalid key "": want letters, digits and '_', not starting with a digit`},
		{"key with digit first", "1A=1\n", `.env:1: invalid key "1A": want letters, digits and '_', not starting with a digit`},
		{"key with dash", "# c\nMY-KEY=1\n", `.env:2: invalid key "MY-KEY": want letters, digits and '_', not starting with a digit`},
		{"key with space", "MY KEY=1\n", `.env:1: invalid key "MY KEY": want letters, digits and '_', not starting with a digit`},
		{"unterminated double", "A=1\nB=\"abc\nC=2\n", `.env:2: unterminated double-quoted value`},
		{"unterminated single", "A='abc\n", `.env:1: unterminated single-quoted value`},
		{"escaped closing quote", `A="abc\"`, `.env:1: unterminated double-quoted value`},
		{"text after quote", "A=1\nB=\"x\" y\n", `.env:2: unexpected text "y" after the closing quote`},
		{"text after multi-line quote", "A=\"x\ny\" z\n", `.env:2: unexpected text "z" after the closing quote`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDotenv(strings.NewReader(tt.in), ".env", nil)
			wantInvalid(t, err)
			if err.Error() != tt.want {
				t.Errorf("error:\n got %s\nwant %s", err, tt.want)
			}
			if got != nil {
				t.Errorf("got %q along with an error", got)
			}
		})
	}
}

func TestParseDotenvReadError(t *testing.T) {
	boom := errors.New("boom")
	if _, err := ParseDotenv(iotest.ErrReader(boom), ".env", nil); !errors.Is(err, boom) {
		t.Errorf("error = %v, want it to wrap %v", err, boom)
	}
}

func TestLoadDotenv(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte("A=1\nB=oops\nC\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadDotenv(path, nil)
	wantInvalid(t, err, path+":3: ")
	if _, err := LoadDotenv(path+".missing", nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadDotenv of a missing file: %v, want ErrNotExist", err)
	}
}
