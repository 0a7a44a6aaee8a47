// Package export turns a Procfile formation into files another process
// supervisor runs: systemd units ([Systemd]) and a Nomad job ([Nomad]).
//
// It is a leaf: it knows nothing of the manager, and takes a plain [App]
// (entries, counts, ports, environment, user, working directory, graceful
// timeout) that the command line builds from a runner.Project. Exporters
// are pure functions returning [File]s, so they are tested against golden
// files; [Write] puts files in a folder.
//
// Quoting is the delicate part: every value that reaches a unit file goes
// through systemd's rules (double quotes with C escapes, '%' doubled for
// specifiers, '$' doubled on Exec lines), and the Nomad job is written
// with encoding/json.
//
//	files, err := export.Systemd(export.App{Name: "shop", Dir: "/srv/shop", …})
//	err = export.Write("/etc/systemd/system", files)
package export
