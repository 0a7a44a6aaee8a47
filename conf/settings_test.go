package conf

import (
	"strings"
	"testing"
	"time"
)

func TestJobSettings(t *testing.T) {
	data := `
[[job]]
name = "web"
readiness = { http = "http://127.0.0.1:$PORT/", interval = "500ms" }
depends_on = { db = "ready" }
numprocesses = 2

[[job]]
name = "migrate"
restart = "on-failure"
`
	settings, err := ParseJobSettings([]byte(data), "ganger.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(settings) != 2 || settings[0].Name != "web" || settings[1].Name != "migrate" {
		t.Fatalf("settings %+v", settings)
	}
	base := DefaultJob()
	base.Name, base.Cmd, base.Shell, base.Port = "web", "./server", true, 5000
	web, err := settings[0].Apply(base)
	if err != nil {
		t.Fatal(err)
	}
	if web.Cmd != "./server" || !web.Shell || web.Port != 5000 {
		t.Errorf("the Procfile's fields changed: %+v", web)
	}
	if web.Readiness == nil || web.Readiness.HTTP != "http://127.0.0.1:$PORT/" || web.Readiness.Interval != 500*time.Millisecond {
		t.Errorf("readiness %+v", web.Readiness)
	}
	if web.DependsOn["db"] != DependReady || web.NumProcesses != 2 || !settings[0].Has("numprocesses") || settings[1].Has("numprocesses") {
		t.Errorf("depends_on %v numprocesses %d", web.DependsOn, web.NumProcesses)
	}
	if base.Readiness != nil || len(base.DependsOn) != 0 {
		t.Error("Apply changed its argument")
	}
	m, err := settings[1].Apply(DefaultJob())
	if err == nil || !strings.Contains(err.Error(), `field "name": required`) {
		t.Errorf("Apply over a job without a name: %v", err)
	}
	_ = m
}

func TestJobSettingsErrors(t *testing.T) {
	tests := []struct {
		name, data string
		want       []string
	}{
		{"syntax", "[[job]\nname=", []string{"ganger.toml:2:"}},
		{"unknown key", "bind = [\"x\"]\n", []string{`unknown key "bind"`}},
		{"no name", "[[job]]\nrestart = \"never\"\n", []string{`job[0]: field "name" is required`}},
		{"twice", "[[job]]\nname = \"web\"\n[[job]]\nname = \"web\"\n", []string{`job[1] (web): job "web" is set twice`}},
		{"procfile fields", "[[job]]\nname = \"web\"\ncmd = \"x\"\ncwd = \"/\"\n", []string{`field "cmd" comes from the Procfile`, `field "cwd" comes from the Procfile`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseJobSettings([]byte(tt.data), "ganger.toml")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
	settings, err := ParseJobSettings([]byte("[[job]]\nname = \"web\"\nrestart = \"sometimes\"\nreadiness = { foo = 1 }\n"), "ganger.toml")
	if err != nil {
		t.Fatal(err)
	}
	base := DefaultJob()
	base.Name, base.Cmd = "web", "x"
	_, err = settings[0].Apply(base)
	for _, w := range []string{`ganger.toml: job[0] (web): field "restart"`, `unknown field "readiness.foo"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Apply: %v, want it to say %q", err, w)
		}
	}
}
