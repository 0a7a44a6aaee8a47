// Package probe makes one health-check attempt against a process's
// endpoint: an HTTP GET that passes on a 2xx or 3xx status, or a TCP
// connect that passes when the connection is accepted. It owns nothing and
// keeps nothing between attempts: every attempt dials a new connection and
// closes it before returning, so a probe never holds a descriptor of the
// daemon, nor a connection slot of the probed server, between attempts.
//
// Each attempt is bounded by its context (the probe's timeout): dialing,
// writing the request and reading the status line all stop at the
// context's deadline. Errors say what failed in one line a user can act on
// ("GET http://127.0.0.1:8080/health: status 503 Service Unavailable",
// "connect 127.0.0.1:8080: connection refused").
//
// Scheduling (interval, thresholds, initial delay) belongs to the caller:
// the manager runs the attempts off its loop and reports results to it.
//
//	ctx, cancel := context.WithTimeout(ctx, time.Second)
//	defer cancel()
//	if err := probe.HTTP(ctx, "http://127.0.0.1:8080/health"); err != nil {
//		// not ready: err says why
//	}
package probe
