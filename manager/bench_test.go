package manager

import (
	"context"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ganger/ganger/internal/await"

	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/pubsub"
)

func benchJob(name string) conf.Job {
	return mkJob(name, "sleep 1000", func(j *conf.Job) {
		j.Shell = false
		j.NumProcesses = 0
		j.GracefulTimeout = 5 * time.Second
	})
}

// waitRunning waits until name has exactly n running processes and none stopping.
func waitRunning(b *testing.B, m *Manager, name string, n int) {
	b.Helper()
	await.Until(b, 120*time.Second, strconv.Itoa(n)+" processes", func() bool {
		info, err := m.JobInfo(context.Background(), name)
		return err == nil && info.Running == n && info.RunningOut == 0 && len(info.Processes) == n
	})
}

// BenchmarkScale500 scales a job of `sleep` processes from 0 to 500 and
// back to 0; one op is the round trip, waiting until every process runs and
// then until every one is gone.
func BenchmarkScale500(b *testing.B) {
	m := newManager(b, Options{})
	name := mustLoad(b, m, benchJob("bench"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.Scale(bg, name, ScaleOp{'=', 500}); err != nil {
			b.Fatal(err)
		}
		waitRunning(b, m, name, 500)
		if _, err := m.Scale(bg, name, ScaleOp{'=', 0}); err != nil {
			b.Fatal(err)
		}
		waitRunning(b, m, name, 0)
	}
}

// BenchmarkMemory1000 reports the manager's own memory with 1000 live
// processes: Go heap in use and the test process's RSS, per process.
func BenchmarkMemory1000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		m := New(Options{ReapAll: true})
		name := mustLoad(b, m, benchJob("mem"))
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		rssBefore := selfRSS()
		if _, err := m.Scale(bg, name, ScaleOp{'=', 1000}); err != nil {
			b.Fatal(err)
		}
		waitRunning(b, m, name, 1000)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/1000, "heap-B/proc")
		b.ReportMetric(float64(selfRSS()-rssBefore)/1000, "rss-B/proc")
		b.ReportMetric(float64(selfRSS())/(1<<20), "rss-MiB-total")
		b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
		ctx, cancel := context.WithTimeout(bg, 60*time.Second)
		if err := m.Close(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
}

// selfRSS returns this process's resident set size in bytes.
func selfRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkOutput runs a child writing 200 MB to stdout through the
// manager with nobody following; one op is one such child, from commit to
// its exit event. `zeros` is one endless line (split at maxLine), `lines`
// is 100-byte log lines.
func BenchmarkOutput(b *testing.B) {
	const size = 200 << 20
	for _, tc := range []struct{ name, cmd string }{
		{"zeros", "head -c " + strconv.Itoa(size) + " /dev/zero"},
		{"lines", "yes " + strings.Repeat("x", 99) + " | head -c " + strconv.Itoa(size)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			m := newManager(b, Options{})
			name := mustLoad(b, m, mkJob("out", tc.cmd, func(j *conf.Job) { j.NumProcesses = 0 }))
			sub := subscribe(b, m, "exit")
			b.SetBytes(size)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pid, err := m.Commit(bg, name, CommitOptions{})
				if err != nil {
					b.Fatal(err)
				}
				nextEvent(b, sub, 2*time.Minute, func(e Event) bool { return e.Pid == pid })
			}
		})
	}
}

// BenchmarkExitLatency SIGKILLs 2000 one-off `sleep` processes at 1000
// per second and times each kill to its exit event on a subscription, the
// manager's part of the exit-event latency bench/ measures over a
// WebSocket. It reports the median and the 99th percentile. Latencies are
// taken when the benchmark drains the subscription, once per kill, so they
// may be up to one kill interval (1 ms) late.
func BenchmarkExitLatency(b *testing.B) {
	const kills, rate = 2000, 1000
	m := newManager(b, Options{ReapAll: true}) // as in the daemon

	name := mustLoad(b, m, benchJob("lat"))
	sub := subscribe(b, m, "exit")
	for i := 0; i < b.N; i++ {
		osPids := make(map[int]int, kills) // os pid → pid
		for range kills {
			pid, err := m.Commit(bg, name, CommitOptions{})
			if err != nil {
				b.Fatal(err)
			}
			info, err := m.ProcessInfo(bg, pid)
			if err != nil {
				b.Fatal(err)
			}
			osPids[info.OSPid] = pid
		}
		killed := make(map[int]time.Time, kills)
		var lats []time.Duration
		b.ResetTimer()
		start := time.Now()
		for osPid, pid := range osPids {
			time.Sleep(time.Until(start.Add(time.Duration(len(killed)) * time.Second / rate)))
			killed[pid] = time.Now()
			if err := syscall.Kill(osPid, syscall.SIGKILL); err != nil {
				b.Fatal(err)
			}
			lats = drainExits(sub, killed, lats)
		}
		for len(lats) < kills {
			e := nextEvent(b, sub, 10*time.Second, isType(EventExit))
			lats = append(lats, time.Since(killed[e.Pid]))
		}
		b.StopTimer()
		slices.Sort(lats)
		b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// drainExits times the exit events already waiting on sub.
func drainExits(sub *pubsub.Sub[Event], killed map[int]time.Time, lats []time.Duration) []time.Duration {
	for {
		select {
		case msg := <-sub.C():
			if msg.Event.Type == EventExit {
				lats = append(lats, time.Since(killed[msg.Event.Pid]))
			}
		default:
			return lats
		}
	}
}
