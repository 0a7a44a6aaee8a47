// Package client talks to a ganger daemon over its REST API and follows its
// event and output streams over the /channel WebSocket.
//
// A Client is cheap, holds no connection state of its own (it reuses an
// http.Client's connection pool) and is safe for concurrent use. Its
// address is "http://host:port", "https://host:port", a bare "host:port" or
// "unix:/path/to/socket"; the token, when not empty, is sent as
// "Authorization: Bearer <token>" with every request.
//
// Errors:
//
//   - An answer with an error status is returned as an [*Error] carrying
//     the server's code ("not_found", "conflict", …), its human-readable
//     reason and the HTTP status; its Error() is the reason alone.
//   - A daemon that cannot be reached is an [*UnreachableError], whose
//     message is one line ("cannot reach ganger at http://127.0.0.1:5000:
//     connection refused").
//
// Job names may be given as "<session>.<job>", "<session>/<job>" or a bare
// "<job>" (session "default"); the client sends them in the API's path form.
//
// A [Channel] is one /channel WebSocket. It is meant for one goroutine:
// Subscribe sends SUB and waits for the server's answer, queuing the events
// that arrive meanwhile so that Next returns them in order; Next returns
// events (including STREAM output) one by one. A reader that falls behind
// is told by the server; Next reports that as an [*Error] with code
// "overflow" and may be called again to resume.
//
// Usage:
//
//	c := client.New("127.0.0.1:5000", os.Getenv("GANGER_TOKEN"))
//	names, err := c.Jobs(ctx, "")
//	…
//	ch, err := c.Dial(ctx)
//	defer ch.Close()
//	err = ch.Subscribe(ctx, "EVENTS:job.default.web")
//	for {
//		ev, err := ch.Next(ctx)
//		…
//	}
package client
