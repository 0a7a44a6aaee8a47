package conf

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ganger/ganger"
)

// maxSignal is the highest signal number Linux knows (SIGRTMAX).
const maxSignal = 64

// signals is the one table of signal names. The first name of a number is
// its canonical name (what SignalName returns); later ones are aliases.
var signals = []struct {
	name string
	sig  syscall.Signal
}{
	{"HUP", syscall.SIGHUP},
	{"INT", syscall.SIGINT},
	{"QUIT", syscall.SIGQUIT},
	{"ILL", syscall.SIGILL},
	{"TRAP", syscall.SIGTRAP},
	{"ABRT", syscall.SIGABRT},
	{"IOT", syscall.SIGIOT},
	{"BUS", syscall.SIGBUS},
	{"FPE", syscall.SIGFPE},
	{"KILL", syscall.SIGKILL},
	{"USR1", syscall.SIGUSR1},
	{"SEGV", syscall.SIGSEGV},
	{"USR2", syscall.SIGUSR2},
	{"PIPE", syscall.SIGPIPE},
	{"ALRM", syscall.SIGALRM},
	{"TERM", syscall.SIGTERM},
	{"STKFLT", syscall.SIGSTKFLT},
	{"CHLD", syscall.SIGCHLD},
	{"CLD", syscall.SIGCHLD},
	{"CONT", syscall.SIGCONT},
	{"STOP", syscall.SIGSTOP},
	{"TSTP", syscall.SIGTSTP},
	{"TTIN", syscall.SIGTTIN},
	{"TTOU", syscall.SIGTTOU},
	{"URG", syscall.SIGURG},
	{"XCPU", syscall.SIGXCPU},
	{"XFSZ", syscall.SIGXFSZ},
	{"VTALRM", syscall.SIGVTALRM},
	{"PROF", syscall.SIGPROF},
	{"WINCH", syscall.SIGWINCH},
	{"IO", syscall.SIGIO},
	{"POLL", syscall.SIGPOLL},
	{"PWR", syscall.SIGPWR},
	{"SYS", syscall.SIGSYS},
}

var (
	signalByName = map[string]syscall.Signal{}
	nameBySignal = map[syscall.Signal]string{}
)

func init() {
	for _, s := range signals {
		signalByName[s.name] = s.sig
		if _, ok := nameBySignal[s.sig]; !ok {
			nameBySignal[s.sig] = s.name
		}
	}
}

// ParseSignal resolves a signal given by name or number. It accepts a name
// in any case with or without the "SIG" prefix ("HUP", "SIGHUP", "hup"), a
// decimal string ("1"), and numbers: any Go integer type, a float with an
// integral value (as encoding/json decodes numbers), a json.Number or a
// syscall.Signal. Numbers 1 to 64 are valid, the realtime signals included.
//
// It returns an EBADREQUEST error for an unknown name, a number out of
// range or a value of another type.
func ParseSignal(v any) (syscall.Signal, error) {
	var n int64
	switch v := v.(type) {
	case string:
		return parseSignalString(v)
	case json.Number:
		return parseSignalString(v.String())
	case syscall.Signal:
		n = int64(v)
	case int:
		n = int64(v)
	case int8:
		n = int64(v)
	case int16:
		n = int64(v)
	case int32:
		n = int64(v)
	case int64:
		n = v
	case uint:
		return signalUnsigned(uint64(v))
	case uint8:
		n = int64(v)
	case uint16:
		n = int64(v)
	case uint32:
		n = int64(v)
	case uint64:
		return signalUnsigned(v)
	case float32:
		return signalFromFloat(float64(v))
	case float64:
		return signalFromFloat(v)
	default:
		return 0, ganger.Errorf(ganger.EBADREQUEST, "invalid signal: want a name such as \"TERM\" or a number, got %s", typeName(v))
	}
	return signalNumber(n)
}

// SignalName returns the name of sig without the "SIG" prefix ("TERM"),
// or its decimal number for a signal without a name (the realtime ones).
func SignalName(sig syscall.Signal) string {
	if name, ok := nameBySignal[sig]; ok {
		return name
	}
	return strconv.Itoa(int(sig))
}

func parseSignalString(s string) (syscall.Signal, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ganger.Errorf(ganger.EBADREQUEST, "invalid signal: empty name")
	}
	if c := s[0]; c == '-' || c == '+' || (c >= '0' && c <= '9') {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, ganger.Errorf(ganger.EBADREQUEST, "invalid signal %q: want a name such as \"TERM\" or a number from 1 to %d", s, maxSignal)
		}
		return signalNumber(n)
	}
	name := strings.ToUpper(s)
	if sig, ok := signalByName[name]; ok {
		return sig, nil
	}
	if sig, ok := signalByName[strings.TrimPrefix(name, "SIG")]; ok && name != "SIG" {
		return sig, nil
	}
	return 0, ganger.Errorf(ganger.EBADREQUEST, "unknown signal %q", s)
}

func signalFromFloat(f float64) (syscall.Signal, error) {
	// NaN fails every comparison; ±Inf fails the range check.
	if !(f == math.Trunc(f) && f >= 1 && f <= maxSignal) {
		return 0, ganger.Errorf(ganger.EBADREQUEST, "invalid signal number %v: want 1 to %d", f, maxSignal)
	}
	return syscall.Signal(int(f)), nil
}

func signalNumber(n int64) (syscall.Signal, error) {
	if n < 1 || n > maxSignal {
		return 0, ganger.Errorf(ganger.EBADREQUEST, "invalid signal number %d: want 1 to %d", n, maxSignal)
	}
	return syscall.Signal(n), nil
}

func signalUnsigned(u uint64) (syscall.Signal, error) {
	if u > maxSignal {
		return 0, ganger.Errorf(ganger.EBADREQUEST, "invalid signal number %d: want 1 to %d", u, maxSignal)
	}
	return signalNumber(int64(u))
}

// typeName describes the type of a decoded JSON or TOML value for errors.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number, float64, float32, int, int64, int32, int16, int8, uint, uint64, uint32, uint16, uint8:
		return "a number"
	case []any, []map[string]any, []string:
		return "a list"
	case map[string]any:
		return "an object"
	case time.Time:
		return "a date/time"
	default:
		return fmt.Sprintf("%T", v)
	}
}
