// Package httpapi is ganger's HTTP adapter: the REST and WebSocket API of
// API.md over a process manager. It owns no state of its own beyond open
// sockets and a cache of encoded answers; every answer comes from one or a
// few calls of the small [Manager] interface, which *manager.Manager
// implements.
//
//	h := httpapi.New(httpapi.Options{Manager: m, Tokens: cfg.Auth.Tokens, LoopbackOnly: true})
//	srv := httpapi.NewServer(h) // timeouts set; Shutdown also closes WebSockets
//	go srv.Serve(ln)
//
// # Routes
//
// A chi tree mirrors API.md's table: /, /version, /ping, /metrics,
// /sessions, /pids, /channel, /jobs/{session}[/{job}[/stats|numprocesses|
// signal|state|pids|commit|logs]], /{pid}[/signal|stats|channel[/{stream}]],
// and the dashboard under /ui/ when Options.UI is set. A pid route matches
// digits only, so /foo is an unknown route (404). Middleware, in order:
// request id, panic recovery (a logged JSON 500), the Host check, then for
// the API proper: the log line of every state-changing call (method, path,
// token name, status), authentication (401), the read-only role (403), the
// cross-origin check for state changes, and the body rules (1 MiB, JSON
// Content-Type). Job routes check the session and job names (400) and the
// token's sessions (403); pid routes load the process (404) first.
//
// # Errors
//
// Handlers return errors; one adapter answers them with
// {"error": code, "reason": text, "errno": status}. Codes are the kinds of
// package ganger, mapped to statuses by one table (statusByCode):
//
//	bad_request        400   malformed JSON, wrong type, unknown field, bad signal, scale below 0…
//	invalid_config     400   a job config conf.ParseJob or the manager rejects
//	unauthorized       401   no token, or an unknown one
//	forbidden          403   read-only token on a change, session not allowed, foreign Origin
//	not_found          404   no such route, session, job, process or stream
//	conflict           409   the job exists
//	payload_too_large  413   a body over 1 MiB
//	internal           500   anything else: logged in full, answered "internal error"
//	unavailable        503   the manager is shutting down or has shut down (manager.ErrClosed)
//
// Three statuses have no kind of their own and travel with the nearest
// one: 405 (wrong method, with an Allow header) and 415 (a body, or a
// Content-Type, that is not application/json) as bad_request, 421 (a Host
// refused on a loopback-only listener) as forbidden. WebSocket commands
// answer command_error with the same errno and reason.
//
// # Authentication
//
// With Options.Tokens set, every request but /ping and the /ui/ assets
// needs "Authorization: Bearer <token>" or "X-Api-Key: <token>"; a
// WebSocket handshake may use ?token= instead. Tokens are compared in
// constant time (of their SHA-256) and logged by name only. A read token
// may read and subscribe; a change answers 403 (command_error 403 on
// /channel; a /{pid}/channel needs mode=1). A token limited to sessions
// sees only their jobs, processes and events, and gets 403 for others
// (stopall and killall, which span sessions, are refused to it). Env
// values are hidden from read tokens: the variables are listed with ""
// values.
//
// # Answers
//
// REST and /channel share one set of helpers (views.go) for what a token
// may see, the hiding of env values and the descriptions of jobs and
// processes, so a command's result is the body of the equivalent REST
// call. The /channel commands are one table (channelCommands: name,
// whether it writes, its arguments, its method). The state actions are
// start, stop, reload and restart (a rolling reload, the same as reload).
//
// A job's description (GET /jobs/{s}/{j}, the info command) takes one
// manager call; its encoding is kept per job and per redaction, and sent
// again while the job's revision (manager.JobInfo.Revision) is the same,
// so a read token never gets the bytes made for an admin. The cache is
// bounded: the answers of a job are dropped when a call finds it gone or
// the API loads or unloads it, and the whole cache is pruned of gone jobs
// when it outgrows its limit (256 answers, or twice what the last pruning
// left).
//
// # WebSocket fan-out
//
// Each /channel client has its own goroutines: a reader (subscriptions
// handled at once, commands queued), a command runner (commands run in the
// order sent, so their replies are in that order), a single writer, and,
// once a STATS topic is subscribed, a sampler (about once a second). The
// guarantees:
//
//   - The manager never waits for a client. Events reach a client through
//     its own pubsub subscriptions (one for all its EVENTS patterns, so an
//     event matching several arrives once; one for its STREAM topics), whose
//     buffers are bounded (Options.ClientBuffer). When a buffer is full the
//     bus drops and counts; the client then gets
//     {"event":"gaffer:error","data":{"error":"overflow","reason":"N events dropped"}}
//     once per overflow episode, before the next event, and the stream
//     resumes.
//   - One slow client never delays another: each has its own buffers and
//     writer. Every write has a deadline (Options.WriteTimeout, 10s); a
//     client that does not read for that long is disconnected.
//   - A subscription's success reply reaches the client before the first
//     event of that subscription.
//   - Server.Shutdown (of a server from NewServer) closes every socket with
//     StatusGoingAway; handlers wait for all their goroutines.
//
// /{pid}/channel[/{stream}] follows one process (manager.FollowProcess and Follow.Next,
// output and exit subscribed atomically): raw output bytes in binary
// frames, in order; client frames to stdin or the custom stream; after the
// exit event, what is left of the output is sent and the socket closes
// with StatusNormalClosure. Output that overflowed the buffer is never
// lost silently: the client gets a text frame {"error": …} and the socket
// closes. A frame sent on a mode=1 socket, or one the process cannot take,
// ends it the same way.
package httpapi
