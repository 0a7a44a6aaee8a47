// Package web is ganger's dashboard: a single page, embedded in the binary,
// that lists sessions, jobs and processes, drives them and follows their
// output and events live.
//
// The page is plain HTML, CSS and JavaScript under static/, with no build
// step and nothing fetched from outside the daemon. It talks to the daemon
// only through the public API of API.md: REST for the initial state, for
// actions and for refreshing a job after an event, and the /channel
// WebSocket for events (EVENTS), resource figures (STATS:<session>.<job>)
// and output (STREAM:<pid>). It finds the API next to itself: a page served
// at <prefix>/ui/ calls <prefix>/jobs, <prefix>/channel and so on, so a
// reverse proxy may put the daemon under a path.
//
// Handler serves the files. It is meant to be mounted at /ui/, with the
// prefix stripped or not: both "/app.js" and "/ui/app.js" find app.js.
// Assets carry a strong ETag and "Cache-Control: no-cache", so browsers
// revalidate cheaply and a new binary's assets are picked up at once; they
// are sent gzip-compressed to clients that accept it. Only GET and HEAD are
// served.
//
// The page's elements that tests (and users' scripts) may rely on:
//
//	#conn-status[data-state=connecting|open|closed]   live connection
//	#conn-banner                                      shown while disconnected
//	[data-job="<session>.<job>"][data-state=…]        a job; its state, also on
//	  [data-field=state|procs|cpu|mem|numprocesses]   its cells
//	  [data-action=start|stop|reload|scale-up|scale-down|scale-to|signal|commit|logs|toggle]
//	  [data-pid="<pid>"][data-state=running|stopping|commit]
//	    [data-action=proc-stop|proc-signal|proc-logs]  a process's controls
//	#log-view .ln[data-log-pid][data-stream]          output lines
//	#log-filter, #log-follow, #log-target             log view controls
//	#event-feed .ev[data-event]                       events; #event-filter
//	#token-dialog, #token-input, #token-save          the token form
//	#toasts .toast.error                              API errors, in words
//
// Usage (httpapi does this when Options.UI is set):
//
//	r.Mount("/ui/", http.StripPrefix("/ui", web.Handler()))
package web
