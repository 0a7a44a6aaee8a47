// Package conf parses and validates everything ganger is configured with:
// job configs (a JSON request body or a TOML [[job]] table), the daemon's
// TOML config file, foreman's Procfile and .env files, signal names, and
// command lines.
//
// The parsers are pure functions of their input: ParseJob, ParseConfig,
// ParseProcfile, ParseDotenv, ParseSignal, SplitCommand and Expand do no
// I/O and look nothing up in the environment (callers pass a lookup
// function where one is needed). Only the Load… helpers read a file. Config
// errors carry the code ganger.EINVALID, report every problem at once where
// that is practical (one per line), and say where each one is: a field
// name, a key path, or "file:line".
//
// Decoding is strict: an unknown field or key, or a value of the wrong
// type, is an error naming it, never silently ignored. Values are decoded
// over defaults, so a field left out takes its default:
//
//	numprocesses      1
//	os_env            true
//	graceful_timeout  10s (seconds as a number, or a string such as "10s")
//	stop_signal       TERM
//	redirect_output   ["stdout", "stderr"]
//	flapping          {attempts: 5, window: 10s, retry_in: 7s, max_retry: 5}
//	start             true
//	restart           "always"
//	success_exit_codes [0]
//	backoff           {initial: 100ms, max: 30s, factor: 2, reset_after: 30s}
//	min_uptime        1s
//	readiness, liveness  none; a probe's fields default to
//	                  {interval: 1s, timeout: 1s, initial_delay: 0, failure_threshold: 3, success_threshold: 1}
//	args, env, custom_streams, depends_on  empty; everything else zero
//	bind              ["127.0.0.1:5000"] (config file)
//	session           "" for ParseJob (the caller decides), "default" in a config file
//
// A sketch of the daemon's use:
//
//	cfg, err := conf.LoadConfig(path) // *Config with valid, defaulted Jobs
//	job, err := conf.ParseJob(body)   // a POST /jobs/{session} body
//	if old.Equal(job) { … }           // SIGHUP reload: leave it running
//	err = conf.CheckDependencyCycles(append(loaded, job)) // before loading it
//	for _, d := range job.Dependencies() { … } // d.Job is "<session>.<job>"
package conf
