package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Row is one figure at one N (0 where N does not apply) for every target.
type Row struct {
	Metric string               `json:"metric"`
	N      int                  `json:"n,omitempty"`
	Unit   string               `json:"unit"`
	Median map[string]float64   `json:"median"`
	Runs   map[string][]float64 `json:"runs"`
}

// Goal is one target figure from the issue and whether it was met.
type Goal struct {
	Goal   string `json:"goal"`
	Status string `json:"status"` // met, missed, not measured
	Detail string `json:"detail"`
}

// Report is what a run produced.
type Report struct {
	Date    string            `json:"date"`
	Machine map[string]string `json:"machine"`
	Config  map[string]any    `json:"config"`
	Targets []string          `json:"targets"`
	Rows    []*Row            `json:"rows"`
	Skipped map[string]string `json:"skipped"` // peer → why
	Errors  []string          `json:"errors"`
	Goals   []Goal            `json:"goals"`
}

var metricInfo = map[string]struct{ unit, label string }{
	"spawn":                {"ms", "spawn N (request → all running)"},
	"stop":                 {"ms", "stop N (request → none left)"},
	"rss":                  {"MB", "manager RSS at N"},
	"idle_cpu":             {"% core", "manager CPU, idle at N"},
	"exit_event_p50":       {"ms", "exit event latency p50 (kill → WS event; raw: kill → reap)"},
	"exit_event_p99":       {"ms", "exit event latency p99"},
	"exit_event_rate":      {"kills/s", "kill rate achieved in that test"},
	"api_rps":              {"req/s", "API rate (GET job; raw: bare net/http; supervisor: XML-RPC getProcessInfo)"},
	"output_no_reader":     {"ms", "output, no reader (raw: head piped to cat)"},
	"output_follower":      {"ms", "output, one WS follower (raw: head piped to cat)"},
	"output_follower_recv": {"ms", "output, until the follower got it all"},
	"probe_cpu":            {"% core", "probes: CPU, N × (http readiness + tcp liveness) every 1 s (raw: bare Go prober)"},
	"probe_rate":           {"probes/s", "probes: attempts per second, counted at the server"},
	"probe_period":         {"ms", "probes: from one http attempt of a process to its next (interval 1 s)"},
	"probe_cost":           {"µs", "probes: CPU per attempt"},
	"probe_rss":            {"MB", "probes: prober RSS while probing"},
	"probe_sys_cpu":        {"% core", "probes: CPU of the same attempts as blocking system calls, one thread (raw)"},
}

func newReport(c Config) *Report {
	return &Report{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Machine: machine(),
		Config: map[string]any{
			"ns": c.Ns, "runs": c.Runs, "idle_s": c.Idle.Seconds(), "peers": c.Peers,
			"event_kills": c.EventKills, "event_rate": c.EventRate, "api_duration_s": c.APIDuration.Seconds(),
			"api_workers": c.APIWorkers, "output_bytes": c.OutputBytes,
			"probe_n": c.ProbeN, "probe_window_s": c.ProbeWindow.Seconds(),
		},
		Skipped: map[string]string{},
	}
}

func machine() map[string]string {
	m := map[string]string{"go": runtime.Version(), "nproc": fmt.Sprint(runtime.NumCPU())}
	if out, err := exec.Command("uname", "-srm").Output(); err == nil {
		m["kernel"] = strings.TrimSpace(string(out))
	}
	if out, err := exec.Command("lscpu").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(l, "Model name:"); ok {
				m["cpu"] = strings.TrimSpace(v)
			}
		}
	}
	return m
}

func (r *Report) row(metric string, n int) *Row {
	for _, x := range r.Rows {
		if x.Metric == metric && x.N == n {
			return x
		}
	}
	x := &Row{Metric: metric, N: n, Unit: metricInfo[metric].unit, Median: map[string]float64{}, Runs: map[string][]float64{}}
	r.Rows = append(r.Rows, x)
	return x
}

func (r *Report) add(metric string, n int, target string, v float64) {
	x := r.row(metric, n)
	x.Runs[target] = append(x.Runs[target], v)
}

func failKey(target string, n int) string { return fmt.Sprintf("%s N=%d: ", target, n) }

func (r *Report) fail(target string, n int, err error) {
	r.Errors = append(r.Errors, failKey(target, n)+err.Error())
}

func (r *Report) failed(target string, n int) bool {
	return slices.ContainsFunc(r.Errors, func(e string) bool { return strings.HasPrefix(e, failKey(target, n)) })
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r *Report) get(metric string, n int, target string) (float64, bool) {
	for _, x := range r.Rows {
		if x.Metric == metric && x.N == n {
			v, ok := x.Median[target]
			return v, ok
		}
	}
	return 0, false
}

func (r *Report) finish() {
	for _, x := range r.Rows {
		for t, v := range x.Runs {
			x.Median[t] = median(v)
		}
	}
	r.Goals = nil
	ratio := func(goal, metric string, n int, max float64) {
		g, ok1 := r.get(metric, n, "ganger")
		raw, ok2 := r.get(metric, n, "raw")
		if !ok1 || !ok2 || raw == 0 {
			r.Goals = append(r.Goals, Goal{goal, "not measured", ""})
			return
		}
		st := "met"
		if g/raw > max {
			st = "missed"
		}
		r.Goals = append(r.Goals, Goal{goal, st, fmt.Sprintf("%.2f× (%.1f vs %.1f %s)", g/raw, g, raw, metricInfo[metric].unit)})
	}
	abs := func(goal, metric string, n int, ok func(float64) bool) {
		g, have := r.get(metric, n, "ganger")
		if !have {
			r.Goals = append(r.Goals, Goal{goal, "not measured", ""})
			return
		}
		st := "met"
		if !ok(g) {
			st = "missed"
		}
		r.Goals = append(r.Goals, Goal{goal, st, fmt.Sprintf("%.3g %s", g, metricInfo[metric].unit)})
	}
	for _, n := range []int{500, 1000} {
		ratio(fmt.Sprintf("spawn %d ≤ 1.3× raw loop", n), "spawn", n, 1.3)
	}
	for _, n := range []int{500, 1000} {
		ratio(fmt.Sprintf("stop %d ≤ 2× raw loop", n), "stop", n, 2)
	}
	abs("RSS at 1000 < 30 MB", "rss", 1000, func(v float64) bool { return v < 30 })
	abs("idle CPU at 1000 < 0.5% of a core", "idle_cpu", 1000, func(v float64) bool { return v < 0.5 })
	abs("exit-event p99 < 5 ms", "exit_event_p99", 0, func(v float64) bool { return v < 5 })
	abs("≥ 20k requests/s", "api_rps", 0, func(v float64) bool { return v >= 20000 })
	ratio("output, no reader ≤ 1.25× cat", "output_no_reader", 0, 1.25)
	ratio("output, one follower ≤ 1.25× cat", "output_follower", 0, 1.25)
	r.probeGoal()
}

// probeGoal is the probe figure's goal, with the floor beside it.
func (r *Report) probeGoal() {
	const goal = "probes: 1000 processes × (http readiness + tcp liveness) at 1/s < 5% of one core"
	g, ok := r.get("probe_cpu", 1000, "ganger")
	if !ok {
		r.Goals = append(r.Goals, Goal{goal, "not measured", ""})
		return
	}
	st := "met"
	if g >= 5 {
		st = "missed"
	}
	d := fmt.Sprintf("%.3g %% core", g)
	if rate, ok := r.get("probe_rate", 1000, "ganger"); ok {
		d += fmt.Sprintf(" at %.0f probes/s", rate)
	}
	if raw, ok := r.get("probe_cpu", 1000, "raw"); ok && raw > 0 {
		d += fmt.Sprintf("; floor %.3g %% core, ganger÷floor %.2f×", raw, g/raw)
	}
	if sys, ok := r.get("probe_sys_cpu", 1000, "raw"); ok {
		d += fmt.Sprintf("; the attempts' system calls alone %.3g %% core", sys)
	}
	r.Goals = append(r.Goals, Goal{goal, st, d})
}

func fmtNum(v float64) string {
	switch {
	case v >= 1000:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

// Markdown renders the table of medians with ratios of ganger's figure to
// the raw loop's and to each peer's.
func (r *Report) Markdown() string {
	var b bytes.Buffer
	runs := r.Config["runs"]
	fmt.Fprintf(&b, "Medians of %v run(s); %s; %s, %s CPUs (%s), %s.\n\n", runs, r.Date, r.Machine["kernel"], r.Machine["nproc"], r.Machine["cpu"], r.Machine["go"])
	others := slices.DeleteFunc(slices.Clone(r.Targets), func(t string) bool { return t == "ganger" })
	hdr := []string{"figure", "N", "unit"}
	hdr = append(hdr, r.Targets...)
	for _, t := range others {
		hdr = append(hdr, "ganger÷"+t)
	}
	fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(hdr, " | "), strings.Repeat("---|", len(hdr)))
	for _, x := range r.Rows {
		n := "–"
		if x.N > 0 {
			n = fmt.Sprint(x.N)
		}
		cells := []string{metricInfo[x.Metric].label, n, x.Unit}
		for _, t := range r.Targets {
			if v, ok := x.Median[t]; ok {
				cells = append(cells, fmtNum(v))
			} else {
				cells = append(cells, "")
			}
		}
		g, gok := x.Median["ganger"]
		for _, t := range others {
			if v, ok := x.Median[t]; ok && gok && v != 0 {
				cells = append(cells, fmt.Sprintf("%.2f×", g/v))
			} else {
				cells = append(cells, "")
			}
		}
		fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
	}
	if len(r.Goals) > 0 {
		b.WriteString("\n| goal | status | ganger |\n|---|---|---|\n")
		for _, g := range r.Goals {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", g.Goal, g.Status, g.Detail)
		}
	}
	for _, p := range sortedKeys(r.Skipped) {
		fmt.Fprintf(&b, "\nSkipped %s: %s\n", p, r.Skipped[p])
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "\nFailed: %s\n", e)
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	var k []string
	for x := range m {
		k = append(k, x)
	}
	slices.Sort(k)
	return k
}

func (r *Report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(j, '\n'), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "results.md"), []byte(r.Markdown()), 0o644)
}
