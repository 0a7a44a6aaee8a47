package conf

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"

	"github.com/ganger/ganger"
)

func TestParseSignal(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want syscall.Signal
	}{
		{"name", "HUP", syscall.SIGHUP},
		{"SIG prefix", "SIGHUP", syscall.SIGHUP},
		{"lower case", "hup", syscall.SIGHUP},
		{"mixed case with prefix", "SigTerm", syscall.SIGTERM},
		{"spaces trimmed", " TERM ", syscall.SIGTERM},
		{"numeric string", "1", syscall.SIGHUP},
		{"int", 9, syscall.SIGKILL},
		{"int64", int64(15), syscall.SIGTERM},
		{"uint8", uint8(2), syscall.SIGINT},
		{"float64 integral", float64(10), syscall.SIGUSR1},
		{"json.Number", json.Number("12"), syscall.SIGUSR2},
		{"syscall.Signal", syscall.SIGCONT, syscall.SIGCONT},
		{"IOT alias", "IOT", syscall.SIGABRT},
		{"POLL alias", "SIGPOLL", syscall.SIGIO},
		{"CLD alias", "cld", syscall.SIGCHLD},
		{"STKFLT", "STKFLT", syscall.Signal(16)},
		{"PWR", "PWR", syscall.Signal(30)},
		{"SYS", "SYS", syscall.Signal(31)},
		{"realtime number", 34, syscall.Signal(34)},
		{"highest", "64", syscall.Signal(64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSignal(tt.in)
			if err != nil || got != tt.want {
				t.Errorf("ParseSignal(%#v) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseSignalErrors(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"unknown name", "FOO", `unknown signal "FOO"`},
		{"bare SIG", "SIG", `unknown signal "SIG"`},
		{"SIGSIG", "SIGSIGTERM", `unknown signal "SIGSIGTERM"`},
		{"empty", "", "invalid signal: empty name"},
		{"zero", 0, "invalid signal number 0: want 1 to 64"},
		{"zero string", "0", "invalid signal number 0: want 1 to 64"},
		{"negative", -9, "invalid signal number -9: want 1 to 64"},
		{"negative string", "-1", "invalid signal number -1: want 1 to 64"},
		{"too big", 65, "invalid signal number 65: want 1 to 64"},
		{"huge uint", uint64(1 << 63), "invalid signal number 9223372036854775808: want 1 to 64"},
		{"fraction", 1.5, "invalid signal number 1.5: want 1 to 64"},
		{"json fraction", json.Number("1.5"), `invalid signal "1.5"`},
		{"number with junk", "9x", `invalid signal "9x"`},
		{"bool", true, "invalid signal: want a name such as \"TERM\" or a number, got a boolean"},
		{"nil", nil, "got null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSignal(tt.in)
			if err == nil {
				t.Fatalf("ParseSignal(%#v) = %d, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if code := ganger.ErrorCode(err); code != ganger.EBADREQUEST {
				t.Errorf("code = %q, want %q", code, ganger.EBADREQUEST)
			}
		})
	}
}

func TestSignalName(t *testing.T) {
	tests := []struct {
		sig  syscall.Signal
		want string
	}{
		{syscall.SIGTERM, "TERM"},
		{syscall.SIGHUP, "HUP"},
		{syscall.SIGABRT, "ABRT"}, // not its alias IOT
		{syscall.SIGIO, "IO"},     // not its alias POLL
		{syscall.SIGCHLD, "CHLD"},
		{syscall.SIGSYS, "SYS"},
		{syscall.Signal(34), "34"},
		{syscall.Signal(0), "0"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := SignalName(tt.sig); got != tt.want {
				t.Errorf("SignalName(%d) = %q, want %q", tt.sig, got, tt.want)
			}
		})
	}
}

// Every number from 1 to 64 goes through its name and back.
func TestSignalNameRoundTrip(t *testing.T) {
	for n := 1; n <= 64; n++ {
		sig := syscall.Signal(n)
		got, err := ParseSignal(SignalName(sig))
		if err != nil || got != sig {
			t.Errorf("ParseSignal(SignalName(%d)) = %d, %v", n, got, err)
		}
	}
}
