// Package procfs reads the few /proc facts the benchmark harness needs:
// which processes run a marked `sleep`, and a process tree's memory and CPU
// time. It is Linux-only and imports nothing of ganger's, so the raw loop
// and the harness measure with the same code.
package procfs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ClockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat. It is
// 100 on every Linux architecture Go supports (sysconf(_SC_CLK_TCK)); it is
// not read at run time to stay free of cgo.
const ClockTicks = 100

// pids lists the numeric entries of /proc.
func pids() ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, len(names))
	for _, n := range names {
		if n[0] < '0' || n[0] > '9' {
			continue
		}
		if p, err := strconv.Atoi(n); err == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

// Argv returns a process's argument vector; nil for a zombie, a kernel
// thread or a process that is gone.
func Argv(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
}

// IsMarked reports whether argv is `sleep <arg>` with arg accepted by match.
func IsMarked(argv []string, match func(arg string) bool) bool {
	return len(argv) == 2 && filepath.Base(argv[0]) == "sleep" && match(argv[1])
}

// Marked lists the live (not zombie) processes running `sleep <arg>` with
// match(arg) true.
func Marked(match func(arg string) bool) ([]int, error) {
	all, err := pids()
	if err != nil {
		return nil, err
	}
	var out []int
	for _, p := range all {
		if IsMarked(Argv(p), match) {
			out = append(out, p)
		}
	}
	return out, nil
}

// Exactly matches one marker.
func Exactly(marker string) func(string) bool {
	return func(a string) bool { return a == marker }
}

// Count is len(Marked(Exactly(marker))).
func Count(marker string) (int, error) {
	p, err := Marked(Exactly(marker))
	return len(p), err
}

// WaitRunning polls /proc until exactly n processes run `sleep marker` and
// returns how long that took from start. A process seen running is not read
// again while its /proc entry exists, so a poll costs little even at
// thousands of processes and the poller does not steal much CPU from the
// manager being measured. It gives up when ctx ends.
func WaitRunning(ctx context.Context, start time.Time, marker string, n int) (time.Duration, error) {
	seen := map[int]bool{}
	last := -1
	for {
		all, err := pids()
		if err != nil {
			return 0, err
		}
		count := 0
		for _, p := range all {
			if seen[p] || IsMarked(Argv(p), Exactly(marker)) {
				seen[p] = true
				count++
			}
		}
		if count == n {
			return time.Since(start), nil
		}
		last = count
		if err := pause(ctx); err != nil {
			return 0, fmt.Errorf("waiting for %d processes %q: %w (last count %d)", n, marker, err, last)
		}
	}
}

// WaitGone polls /proc until no process runs `sleep marker` (a zombie does
// not count: it no longer runs) and returns how long that took from start.
// Only the processes found at the first poll are watched: a manager that
// respawns during a stop is not followed.
func WaitGone(ctx context.Context, start time.Time, marker string) (time.Duration, error) {
	left, err := Marked(Exactly(marker))
	if err != nil {
		return 0, err
	}
	for {
		kept := left[:0]
		for _, p := range left {
			if IsMarked(Argv(p), Exactly(marker)) {
				kept = append(kept, p)
			}
		}
		left = kept
		if len(left) == 0 {
			return time.Since(start), nil
		}
		if err := pause(ctx); err != nil {
			return 0, fmt.Errorf("waiting for processes %q to end: %w (%d left)", marker, err, len(left))
		}
	}
}

// pause waits one poll interval.
func pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Millisecond):
		return nil
	}
}

// Stat is the part of /proc/<pid>/stat the harness uses.
type Stat struct {
	PPid  int
	Ticks int64 // utime + stime, in ClockTicks
}

// ReadStat parses /proc/<pid>/stat.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, err
	}
	// The command name may hold spaces and parentheses: fields start after
	// the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return Stat{}, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return Stat{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return Stat{PPid: ppid, Ticks: ut + st}, nil
}

// RSSKiB reads VmRSS from /proc/<pid>/status (0 if gone).
func RSSKiB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// Helpers returns roots and all their descendants, leaving out the
// processes that skip accepts (the managed children): the manager's own
// processes, e.g. supervisord, the pm2 daemon, foreman's ruby, ganger.
func Helpers(roots []int, skip func(pid int) bool) []int {
	all, _ := pids()
	children := map[int][]int{}
	for _, p := range all {
		if s, err := ReadStat(p); err == nil {
			children[s.PPid] = append(children[s.PPid], p)
		}
	}
	seen := map[int]bool{}
	var out []int
	var walk func(p int)
	walk = func(p int) {
		if seen[p] {
			return
		}
		seen[p] = true
		if !skip(p) {
			out = append(out, p)
		}
		for _, c := range children[p] {
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return out
}

// SumRSSKiB sums VmRSS over pids.
func SumRSSKiB(pids []int) int64 {
	var n int64
	for _, p := range pids {
		n += RSSKiB(p)
	}
	return n
}

// SumTicks sums utime+stime over pids (gone ones count 0).
func SumTicks(pids []int) int64 {
	var n int64
	for _, p := range pids {
		if s, err := ReadStat(p); err == nil {
			n += s.Ticks
		}
	}
	return n
}

// MachineTicks reads the first line of /proc/stat: the ClockTicks every
// CPU of the machine spent busy (user, nice, system, irq, softirq, steal)
// and in all, since boot.
func MachineTicks() (busy, total int64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	for i, s := range f[1:9] { // user nice system idle iowait irq softirq steal
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/stat: %w", err)
		}
		total += v
		if i != 3 && i != 4 {
			busy += v
		}
	}
	return busy, total, nil
}

// TCPExt reads one counter of the TcpExt group in /proc/net/netstat (such
// as "TCPSynRetrans"), machine-wide since boot.
func TCPExt(name string) (int64, error) {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return 0, err
	}
	// The group is two lines: "TcpExt: names…" then "TcpExt: values…".
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, ok1 := strings.CutPrefix(lines[i], "TcpExt:")
		values, ok2 := strings.CutPrefix(lines[i+1], "TcpExt:")
		if !ok1 || !ok2 {
			continue
		}
		n, v := strings.Fields(names), strings.Fields(values)
		for j := range min(len(n), len(v)) {
			if n[j] == name {
				return strconv.ParseInt(v[j], 10, 64)
			}
		}
		return 0, fmt.Errorf("/proc/net/netstat: no TcpExt %s", name)
	}
	return 0, fmt.Errorf("/proc/net/netstat: no TcpExt group")
}
