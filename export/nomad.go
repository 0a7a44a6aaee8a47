package export

import (
	"bytes"
	"encoding/json"
	"maps"
	"strings"
)

// The Nomad job API's shapes (the subset we write), as `nomad job run
// -json` and POST /v1/jobs take them.
type (
	nomadFile struct {
		Job nomadJob `json:"Job"`
	}
	nomadJob struct {
		ID          string            `json:"ID"`
		Name        string            `json:"Name"`
		Type        string            `json:"Type"`
		Datacenters []string          `json:"Datacenters"`
		Meta        map[string]string `json:"Meta,omitempty"`
		TaskGroups  []nomadGroup      `json:"TaskGroups"`
	}
	nomadGroup struct {
		Name     string         `json:"Name"`
		Count    int            `json:"Count"`
		Networks []nomadNetwork `json:"Networks"`
		Tasks    []nomadTask    `json:"Tasks"`
	}
	nomadNetwork struct {
		DynamicPorts []nomadPort `json:"DynamicPorts"`
	}
	nomadPort struct {
		Label string `json:"Label"`
	}
	nomadTask struct {
		Name        string            `json:"Name"`
		Driver      string            `json:"Driver"`
		User        string            `json:"User,omitempty"`
		Config      nomadConfig       `json:"Config"`
		Env         map[string]string `json:"Env"`
		KillTimeout int64             `json:"KillTimeout"` // nanoseconds
		KillSignal  string            `json:"KillSignal"`
	}
	nomadConfig struct {
		Command string   `json:"command"`
		Args    []string `json:"args"`
	}
)

// nomadPortLabel is the dynamic port each group asks for; the task's $PORT
// is set from it.
const nomadPortLabel = "port"

// Nomad exports a as one Nomad job in JSON (<app>.nomad.json, for `nomad
// job run -json`): a service job with one group per entry, Count from the
// formation, and one raw_exec task running `/bin/sh -c 'cd DIR || exit
// <newline> COMMAND'` with a.Env and KillTimeout from the graceful timeout.
//
// Ports: the allocations of a group share one config, so a fixed base+n
// port cannot differ between them; each group asks for a dynamic port
// labelled "port" and PORT is set to ${NOMAD_PORT_port}. Nomad interpolates
// ${…} in args and env from the task's environment before the shell runs,
// which gives the same value the shell would for variables of the .env.
func Nomad(a App) ([]File, error) {
	if err := a.Validate(); err != nil {
		return nil, err
	}
	job := nomadJob{
		ID: a.Name, Name: a.Name, Type: "service",
		Datacenters: []string{"*"},
		Meta:        map[string]string{"generated_by": "ganger export"},
		TaskGroups:  []nomadGroup{},
	}
	for _, p := range a.Processes {
		env := maps.Clone(a.Env)
		if env == nil {
			env = map[string]string{}
		}
		env["PORT"] = "${NOMAD_PORT_" + nomadPortLabel + "}"
		job.TaskGroups = append(job.TaskGroups, nomadGroup{
			Name:     p.Name,
			Count:    p.Count,
			Networks: []nomadNetwork{{DynamicPorts: []nomadPort{{Label: nomadPortLabel}}}},
			Tasks: []nomadTask{{
				Name:   p.Name,
				Driver: "raw_exec",
				User:   a.User,
				Config: nomadConfig{
					Command: "/bin/sh",
					Args:    []string{"-c", "cd " + shellQuote(a.Dir) + " || exit\n" + p.Command},
				},
				Env:         env,
				KillTimeout: int64(a.GracefulTimeout),
				KillSignal:  "SIGTERM",
			}},
		})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep "&&" and "<" readable in commands
	enc.SetIndent("", "  ")
	if err := enc.Encode(nomadFile{Job: job}); err != nil {
		return nil, err
	}
	return []File{{a.Name + ".nomad.json", buf.Bytes()}}, nil
}

// shellQuote quotes s for /bin/sh with single quotes.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
