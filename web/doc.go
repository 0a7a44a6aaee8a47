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
// reverse proxy may put the daemon under a path. A token in the page's URL
// (/ui/?token=…, as `ganger start` prints it) is kept in the tab's
// sessionStorage and dropped from the address bar.
//
// Each job shows its state, ready/wanted slots and restarts, and one row
// per slot (web.1, web.2…: the job's short name and the slot number) with
// the slot's state, process, restarts, last exit and time in its state;
// processes outside the slots (commits) follow. Nothing is polled: a job's
// events (spawn, exit, ready, backoff, flap, waiting…) make the page fetch
// GET /jobs/{s}/{j} again, coalesced so that a job is fetched at most once
// every 200ms with one request in flight, whatever the rate of its events;
// a hidden page fetches nothing until it shows again. Once the daemon
// refuses an action with 403 (a read-only token), the page disables every
// control that changes state and says so in its top bar.
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
//	#readonly-note                                    shown once an action got 403
//	[data-job="<session>.<job>"][data-state=<job state>]  a job; its cells
//	  [data-field=state|ready|restarts|cpu|mem|numprocesses|waiting-for]
//	  [data-action=start|stop|restart|reload|scale-up|scale-down|scale-to|signal|commit|logs|toggle]
//	  .slots tr[data-slot="<n>"][data-state=<slot state>][data-pid="<pid>"]
//	    a slot's row (data-pid only while it has a process); data-slot="0"
//	    and data-state=commit for a process outside the slots; its cells
//	    [data-field=slot-name|slot-state|os-pid|pid|restarts|last-exit|since|cpu|mem],
//	    last-exit with data-exit-status, data-term-signal, data-reason
//	    [data-action=proc-stop|proc-signal|proc-logs]  its process's controls
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
