package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/ganger/ganger"
	"github.com/ganger/ganger/conf"
)

// Config reload (SIGHUP): the config file is read again and its jobs are
// diffed against those last applied; settings that only a restart can
// change are reported, not applied.

// Reload re-reads the config file and applies its jobs: new jobs are
// loaded, jobs whose config changed are updated, jobs that left the file
// are unloaded, and unchanged jobs are left alone (a job of the file that
// is missing, unloaded through the API, is loaded again). Jobs loaded
// through the API and not in the file are not touched. A config file that
// does not parse is logged and changes nothing. Other settings (bind,
// log_dir, auth, allowed_*) need a restart; a change to them is logged.
func (d *Daemon) Reload(ctx context.Context) error {
	if d.ConfigPath == "" {
		d.log.Warn("SIGHUP ignored: the daemon runs without a config file")
		return nil
	}
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.log.Info("reloading the config file", "config", d.ConfigPath)
	cfg, err := conf.LoadConfig(d.ConfigPath)
	if err != nil {
		d.log.Error("config file not reloaded, keeping the running state", "config", d.ConfigPath, "err", configError(err))
		return err
	}
	d.warnRestartNeeded(cfg)
	return d.applyJobs(ctx, cfg.Jobs)
}

// warnRestartNeeded logs the settings of cfg that differ from the config
// the daemon started with and that a reload does not apply (bind, unless --bind overrides
// it; log_dir; auth; allowed_origins; allowed_hosts).
func (d *Daemon) warnRestartNeeded(cfg *conf.Config) {
	old := d.Config
	var changed []string
	if len(d.Binds) == 0 && !slices.Equal(old.Bind, cfg.Bind) {
		changed = append(changed, "bind")
	}
	if old.LogDir != cfg.LogDir {
		changed = append(changed, "log_dir")
	}
	if !slices.EqualFunc(old.Auth.Tokens, cfg.Auth.Tokens, func(a, b conf.Token) bool {
		return a.Name == b.Name && a.Token == b.Token && a.Role == b.Role && slices.Equal(a.Sessions, b.Sessions)
	}) {
		changed = append(changed, "auth")
	}
	if !slices.Equal(old.AllowedOrigins, cfg.AllowedOrigins) {
		changed = append(changed, "allowed_origins")
	}
	if !slices.Equal(old.AllowedHosts, cfg.AllowedHosts) {
		changed = append(changed, "allowed_hosts")
	}
	if len(changed) > 0 {
		d.log.Warn("config changes that need a restart were not applied", "keys", strings.Join(changed, ","))
	}
}

// applyJobs makes the manager's jobs match the config file's, see Reload.
func (d *Daemon) applyJobs(ctx context.Context, jobs []conf.Job) error {
	running, err := d.mgr.Jobs(ctx, "")
	if err != nil {
		return err
	}
	exists := map[string]bool{}
	for _, n := range running {
		exists[n] = true
	}
	want := map[string]conf.Job{}
	for _, j := range jobs {
		want[ganger.JobName(j.Session, j.Name)] = j
	}

	var (
		mu           sync.Mutex // guards errs and unloadFailed
		errs         []error
		unloadFailed = map[string]bool{}
		wg           sync.WaitGroup
	)
	fail := func(what, name string, err error) {
		d.log.Error("reload: cannot "+what+" job", "job", name, "err", err)
		mu.Lock()
		errs = append(errs, fmt.Errorf("%s %s: %w", what, name, err))
		mu.Unlock()
	}
	// Removed jobs go first, all at once (each waits for its processes to
	// stop), so that a renamed job's replacement finds its port free.
	for name := range d.loaded {
		if _, ok := want[name]; ok || !exists[name] {
			continue
		}
		wg.Go(func() {
			if err := d.mgr.Unload(ctx, name); err != nil && ganger.ErrorCode(err) != ganger.ENOTFOUND {
				fail("unload", name, err)
				mu.Lock()
				unloadFailed[name] = true
				mu.Unlock()
				return
			}
			d.log.Info("reload: job unloaded", "job", name)
		})
	}
	wg.Wait()

	loaded := map[string]conf.Job{}
	for _, j := range byPriority(jobs) {
		name := ganger.JobName(j.Session, j.Name)
		old, known := d.loaded[name]
		switch {
		case !exists[name]:
			if _, err := d.mgr.Load(ctx, j.Session, j); err != nil {
				fail("load", name, err)
				continue
			}
			d.log.Info("reload: job loaded", "job", name)
		case known && old.Equal(j):
			// unchanged: leave it running
		default:
			if !known { // loaded through the API: the file takes it over
				if info, err := d.mgr.JobInfo(ctx, name); err == nil && info.Config.Equal(j) {
					break
				}
			}
			if err := d.mgr.Update(ctx, name, j); err != nil {
				fail("update", name, err)
				continue
			}
			d.log.Info("reload: job updated", "job", name)
		}
		loaded[name] = j
	}
	for name, j := range d.loaded {
		if unloadFailed[name] { // known still, so that a later reload retries
			loaded[name] = j
		}
	}
	d.loaded = loaded
	d.log.Info("config file reloaded", "jobs", len(jobs), "errors", len(errs))
	return errors.Join(errs...)
}

// byPriority returns the jobs in ascending priority, file order among
// equals.
func byPriority(jobs []conf.Job) []conf.Job {
	out := slices.Clone(jobs)
	slices.SortStableFunc(out, func(a, b conf.Job) int { return cmp.Compare(a.Priority, b.Priority) })
	return out
}
