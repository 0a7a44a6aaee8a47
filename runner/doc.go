// Package runner runs a Procfile in the foreground, as foreman does, on an
// embedded manager: the logic behind `ganger start`, `run` and `check`.
//
// # What it owns
//
//   - Reading a project: the Procfile (conf.ParseProcfile) and its .env
//     files (conf.ParseDotenv; later files win, the default .env next to
//     the Procfile may be missing) into a [Project], and turning its
//     entries into conf.Jobs ([Project.Jobs]): each command runs through
//     /bin/sh -c in the Procfile's directory with the OS environment plus
//     the .env variables, the formation's process count, flapping detection
//     with its defaults, and Port = base + 100*i, so the manager gives slot
//     n of the i-th entry PORT = base + 100*i + n - 1.
//   - [Run]: one session on a manager.Manager that is the only spawner of
//     the program (with Options.Subreaper it reaps every child, orphaned
//     grandchildren included), the API served beside it, and one printer
//     goroutine that turns output chunks and events into lines.
//   - [Prefixer]: whole lines "HH:MM:SS web.1 | …", one buffer per
//     process and stream, so two processes' bytes never share a line.
//   - [Exec]: `ganger run`, a single command with os/exec and no manager.
//
// # Guarantees
//
//   - Process numbers are the manager's slots: every event and output chunk
//     carries its slot, so web.2 is always slot 2, whose PORT is base+1,
//     also after restarts, rolling restarts and scaling (a scale-down
//     removes the highest slots first).
//   - A ganger.toml beside the Procfile adds job settings to entries by
//     name (probes, depends_on, restart…; Project.Settings).
//   - Run ends by itself once nothing is left to run (no process, every
//     slot exited or fatal): nil if every job completed (each process
//     ended with a success code), else an *EndedError (exit status 1).
//   - A process's output is printed before its exit line: the manager
//     publishes every chunk before the exit event, and the printer prints
//     the chunks already queued before handling an exit. A partial last
//     line is printed at exit.
//   - Nothing blocks the manager: the printer's subscriptions are bounded
//     and a loss is reported as a system line.
//   - The first SIGINT/SIGTERM/SIGHUP stops every process gracefully (each
//     gets its graceful timeout, then SIGKILL to its group) and Run returns
//     nil; a second one kills every process group at once and Run returns a
//     *KilledError (exit status 128+signal).
package runner
