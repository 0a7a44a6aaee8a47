package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ganger/ganger/manager"
)

// metricDescs are the descriptions of /metrics' series, made once.
type metricDescs struct {
	jobs, running, slots, clients              *prometheus.Desc
	spawns, spawnErrors, exits, flaps, giveups *prometheus.Desc
	restarts, dropped                          *prometheus.Desc
}

func newMetricDescs() *metricDescs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("ganger_"+name, help, labels, nil)
	}
	return &metricDescs{
		jobs:        d("jobs", "Number of jobs loaded."),
		running:     d("processes_running", "Number of kept-alive processes running, per job.", "job"),
		slots:       d("slots", "Number of a job's slots in each state.", "job", "state"),
		clients:     d("channel_clients", "Number of open /channel WebSocket clients."),
		spawns:      d("spawns_total", "Processes started."),
		spawnErrors: d("spawn_errors_total", "Processes that could not be started."),
		exits:       d("exits_total", "Processes that ended."),
		restarts:    d("restarts_total", "Processes respawned after a crash, per job, since it was loaded.", "job"),
		flaps:       d("flaps_total", "Times a slot was found flapping."),
		giveups:     d("giveups_total", "Times a slot gave up."),
		dropped:     d("events_dropped_total", "Events dropped because a subscriber read too slowly, per subscriber kind.", "kind"),
	}
}

func (d *metricDescs) all() []*prometheus.Desc {
	return []*prometheus.Desc{d.jobs, d.running, d.slots, d.clients, d.spawns, d.spawnErrors, d.exits, d.restarts, d.flaps, d.giveups, d.dropped}
}

// collector exposes the manager's counters and a snapshot of its jobs to
// Prometheus, as one identity may see them: a token limited to sessions
// gets only its sessions' jobs, and none of the daemon-wide counters
// (which count every session's processes). It reads everything at scrape
// time, so nothing is kept in sync.
type collector struct {
	a  *api
	d  *metricDescs
	id identity
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	if c.id.sessions == nil {
		m := c.a.m.Metrics()
		counter(c.d.spawns, m.Spawns)
		counter(c.d.spawnErrors, m.SpawnErrors)
		counter(c.d.exits, m.Exits)
		counter(c.d.flaps, m.Flaps)
		counter(c.d.giveups, m.GiveUps)
		events, output := c.a.m.DroppedEvents()
		counter(c.d.dropped, events, "events")
		counter(c.d.dropped, output, "output")
		ch <- prometheus.MustNewConstMetric(c.d.clients, prometheus.GaugeValue, float64(c.a.clients.Load()))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	jobs, err := c.a.jobsFor(ctx, c.id, "")
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.d.jobs, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.d.jobs, prometheus.GaugeValue, float64(len(jobs)))
	for _, name := range jobs {
		info, err := c.a.m.JobInfo(ctx, name)
		if err != nil {
			continue // unloaded meanwhile
		}
		ch <- prometheus.MustNewConstMetric(c.d.running, prometheus.GaugeValue, float64(info.Running), name)
		counter(c.d.restarts, uint64(info.Restarts), name)
		states := map[string]int{}
		for _, s := range info.Slots {
			states[s.State]++
		}
		for _, st := range slotStates {
			ch <- prometheus.MustNewConstMetric(c.d.slots, prometheus.GaugeValue, float64(states[st]), name, st)
		}
	}
}

// slotStates are the states ganger_slots reports, every one for every job
// (0 included), so that a query over a state always finds its series.
var slotStates = []string{
	manager.SlotWaiting, manager.SlotStarting, manager.SlotRunning, manager.SlotStopping,
	manager.SlotBackoff, manager.SlotExited, manager.SlotFatal,
}

// serveMetrics answers /metrics over a registry of its own for the
// request's identity (not the global registry, so that several APIs in a
// process, as in tests, do not collide).
func (a *api) serveMetrics(w http.ResponseWriter, r *http.Request) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{a: a, d: a.metricDescs, id: identityOf(r.Context())})
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(a.log.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}).ServeHTTP(w, r)
}
