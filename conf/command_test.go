package conf

import (
	"slices"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", []string{}},
		{"blank", " \t\n ", []string{}},
		{"one word", "sleep", []string{"sleep"}},
		{"words", "python3 -m  http.server\t8000", []string{"python3", "-m", "http.server", "8000"}},
		{"single quotes literal", `sh -c 'echo "$HOME" \n'`, []string{"sh", "-c", `echo "$HOME" \n`}},
		{"double quotes", `echo "a b" "c\"d" "e\\f" "g\$h" "i\` + "`" + `j"`, []string{"echo", "a b", `c"d`, `e\f`, "g$h", "i`j"}},
		{"double quotes keep other backslashes", `echo "a\nb"`, []string{"echo", `a\nb`}},
		{"backslash outside quotes", `echo a\ b \"c\" \\`, []string{"echo", "a b", `"c"`, `\`}},
		{"backslash newline", "echo a\\\nb", []string{"echo", "ab"}},
		{"backslash newline in double quotes", "echo \"a\\\nb\"", []string{"echo", "ab"}},
		{"trailing backslash", `echo a\`, []string{"echo", `a\`}},
		{"adjacent quotes glue", `a"b"'c'd`, []string{"abcd"}},
		{"empty quotes are a word", `echo "" ''`, []string{"echo", "", ""}},
		{"variables kept", `echo $PORT ${HOME} "$X"`, []string{"echo", "$PORT", "${HOME}", "$X"}},
		{"operators are text", `a | b && c; # d`, []string{"a", "|", "b", "&&", "c;", "#", "d"}},
		{"unicode", "échо 'ü ß'", []string{"échо", "ü ß"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SplitCommand(tt.in)
			if err != nil {
				t.Fatalf("SplitCommand(%q): %v", tt.in, err)
			}
			if got == nil || !slices.Equal(got, tt.want) {
				t.Errorf("SplitCommand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestSplitCommandErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unterminated single", `echo 'a`, "unterminated single quote"},
		{"unterminated double", `echo "a`, "unterminated double quote"},
		{"escaped closing double", `echo "a\"`, "unterminated double quote"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := SplitCommand(tt.in)
			wantInvalid(t, err, tt.want)
		})
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"PORT": "5000", "HOME": "/home/u", "EMPTY": "", "A_1": "x"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		name, in, want string
	}{
		{"no dollar", "plain", "plain"},
		{"name", "$PORT", "5000"},
		{"braces", "${PORT}", "5000"},
		{"in text", "--port=$PORT/x", "--port=5000/x"},
		{"braces glued", "${PORT}0", "50000"},
		{"name ends at non-ident", "$HOME/bin", "/home/u/bin"},
		{"longest name", "$PORTS", "$PORTS"},
		{"digits and underscore", "$A_1", "x"},
		{"empty value", "[$EMPTY]", "[]"},
		{"pid", "$$", "$$"},
		{"pid then name", "$$PORT", "$$PORT"},
		{"positional", "$1", "$1"},
		{"status", "$?", "$?"},
		{"unset", "$UNSET", "$UNSET"},
		{"unset braces", "${UNSET}", "${UNSET}"},
		{"dollar at end", "cost $", "cost $"},
		{"empty braces", "${}", "${}"},
		{"unclosed brace", "${PORT", "${PORT"},
		{"braces non-ident", "${1}", "${1}"},
		{"braces with default syntax", "${PORT:-80}", "${PORT:-80}"},
		{"shell code survives", `for i in 1 2; do echo $i $PORT; done`, `for i in 1 2; do echo $i 5000; done`},
		{"several", "$PORT:${HOME}:$?", "5000:/home/u:$?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Expand(tt.in, lookup); got != tt.want {
				t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if got := Expand("$PORT", nil); got != "$PORT" {
		t.Errorf("Expand with nil lookup = %q, want it unchanged", got)
	}
}
