package manager

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ganger/ganger/conf"
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
	waitFor(b, 120*time.Second, strconv.Itoa(n)+" processes", func() bool {
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
		m := New(Options{})
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
