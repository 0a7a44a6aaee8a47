package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// install makes sure bin is on PATH, running apt-get for pkg if allowed.
func aptEnsure(ctx context.Context, install bool, bin, pkg string, log func(string, ...any)) error {
	if _, err := exec.LookPath(bin); err == nil {
		return nil
	}
	if !install {
		return fmt.Errorf("%s not installed and -install=false", bin)
	}
	log("installing %s with apt-get", pkg)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	apt := func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	if out, err := apt("install", "-y", "--no-install-recommends", pkg); err != nil {
		// The package lists may be missing or stale: update once and retry.
		if out2, err2 := apt("update"); err2 != nil {
			return fmt.Errorf("apt-get install %s: %v: %s; apt-get update: %s", pkg, err, tail(out), tail(out2))
		}
		if out, err := apt("install", "-y", "--no-install-recommends", pkg); err != nil {
			return fmt.Errorf("apt-get install %s: %v: %s", pkg, err, tail(out))
		}
	}
	if _, err := exec.LookPath(bin); err != nil {
		return fmt.Errorf("%s installed but %s not found", pkg, bin)
	}
	return nil
}

func tail(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = "…" + s[len(s)-300:]
	}
	return s
}

// ---- Supervisor ----

// supervisorTarget starts a fresh supervisord (nodaemon, loopback XML-RPC)
// per cycle with one program of numprocs=n, autostart=false; spawn is timed
// from supervisor.startProcessGroup, stop from supervisor.stopProcessGroup,
// both sent over XML-RPC without waiting.
type supervisorTarget struct{ targetEnv }

func (s *supervisorTarget) Name() string { return "supervisor" }
func (s *supervisorTarget) close()       {}

type supervisord struct {
	cmd *exec.Cmd
	url string
}

func startSupervisord(ctx context.Context, dir string, ps *procs, n int, marker string) (*supervisord, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	d, err := os.MkdirTemp(dir, "supervisor-")
	if err != nil {
		return nil, err
	}
	sleep, _ := exec.LookPath("sleep")
	conf := fmt.Sprintf(`[supervisord]
nodaemon=true
logfile=%[1]s/supervisord.log
pidfile=%[1]s/supervisord.pid
childlogdir=%[1]s
loglevel=warn
minfds=%[4]d

[inet_http_server]
port=127.0.0.1:%[2]d

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=http://127.0.0.1:%[2]d

[program:sl]
command=%[5]s %[3]s
numprocs=%[6]d
process_name=%%(program_name)s_%%(process_num)04d
autostart=false
autorestart=true
startsecs=0
stopsignal=TERM
stopwaitsecs=10
`, d, port, marker, 4096+4*n, sleep, n)
	cf := filepath.Join(d, "supervisord.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(d, "stdout.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command("supervisord", "-c", cf)
	if err := ps.start(cmd, logf); err != nil {
		return nil, err
	}
	sv := &supervisord{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d/RPC2", port)}
	err = waitFor(ctx, 30*time.Second, "supervisord's XML-RPC", func() bool {
		_, err := sv.rpc(ctx, "supervisor.getState")
		return err == nil
	})
	if err != nil {
		sv.close()
		return nil, err
	}
	return sv, nil
}

// xmlrpcBody renders a call with string and boolean parameters.
func xmlrpcBody(method string, params ...any) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0"?><methodCall><methodName>%s</methodName><params>`, method)
	for _, p := range params {
		switch v := p.(type) {
		case string:
			fmt.Fprintf(&b, `<param><value><string>%s</string></value></param>`, v)
		case bool:
			x := 0
			if v {
				x = 1
			}
			fmt.Fprintf(&b, `<param><value><boolean>%d</boolean></value></param>`, x)
		}
	}
	b.WriteString(`</params></methodCall>`)
	return b.Bytes()
}

func (s *supervisord) rpc(ctx context.Context, method string, params ...any) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", s.url, bytes.NewReader(xmlrpcBody(method, params...)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || bytes.Contains(b, []byte("<fault>")) {
		return b, fmt.Errorf("%s: %d %s", method, resp.StatusCode, tail(b))
	}
	return b, nil
}

func (s *supervisord) close() { stopCmd(s.cmd, syscall.SIGTERM, 30*time.Second) }

func (s *supervisorTarget) cycle(ctx context.Context, n int, marker string, idle time.Duration) (sample, error) {
	sv, err := startSupervisord(ctx, s.dir, s.ps, n, marker)
	if err != nil {
		return sample{}, err
	}
	defer sv.close()
	var smp sample
	smp.SpawnMs, err = timeSpawn(ctx, s.step, n, marker, func() error {
		_, err := sv.rpc(ctx, "supervisor.startProcessGroup", "sl", false)
		return err
	})
	if err != nil {
		return smp, err
	}
	if smp.RSSKiB, smp.CPUPct, err = footprint(ctx, []int{sv.cmd.Process.Pid}, s.m, idle); err != nil {
		return smp, err
	}
	smp.HasCPU = idle > 0
	smp.StopMs, err = timeStop(ctx, s.step, marker, func() error {
		_, err := sv.rpc(ctx, "supervisor.stopProcessGroup", "sl", false)
		return err
	})
	return smp, err
}

// supervisorRequests measures supervisor.getProcessInfo on a group of 10.
func supervisorRequests(ctx context.Context, dir string, ps *procs, marker string, workers int, dur, step time.Duration) (float64, error) {
	sv, err := startSupervisord(ctx, dir, ps, 10, marker)
	if err != nil {
		return 0, err
	}
	defer sv.close()
	if _, err := timeSpawn(ctx, step, 10, marker, func() error {
		_, err := sv.rpc(ctx, "supervisor.startProcessGroup", "sl", false)
		return err
	}); err != nil {
		return 0, err
	}
	body := xmlrpcBody("supervisor.getProcessInfo", "sl:sl_0000")
	return loadGen(ctx, workers, dur, func() *http.Request {
		req, _ := http.NewRequest("POST", sv.url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/xml")
		return req
	})
}

// ---- foreman ----

// foremanTarget runs `foreman start -m sl=n` on a one-line Procfile; spawn
// is timed from the command's start, stop from the SIGTERM foreman gets
// (what Ctrl-C or a service manager sends).
type foremanTarget struct{ targetEnv }

func (f *foremanTarget) Name() string { return "foreman" }
func (f *foremanTarget) close()       {}

func (f *foremanTarget) cycle(ctx context.Context, n int, marker string, idle time.Duration) (sample, error) {
	d, err := os.MkdirTemp(f.dir, "foreman-")
	if err != nil {
		return sample{}, err
	}
	sleep, _ := exec.LookPath("sleep")
	if err := os.WriteFile(filepath.Join(d, "Procfile"), []byte("sl: "+sleep+" "+marker+"\n"), 0o644); err != nil {
		return sample{}, err
	}
	logf, err := os.Create(filepath.Join(d, "foreman.log"))
	if err != nil {
		return sample{}, err
	}
	defer logf.Close()
	cmd := exec.Command("foreman", "start", "-f", filepath.Join(d, "Procfile"), "-d", d, "-m", "sl="+strconv.Itoa(n), "-t", "10")
	defer stopCmd(cmd, syscall.SIGTERM, 15*time.Second)
	var smp sample
	smp.SpawnMs, err = timeSpawn(ctx, f.step, n, marker, func() error { return f.ps.start(cmd, logf) })
	if err != nil {
		return smp, err
	}
	if smp.RSSKiB, smp.CPUPct, err = footprint(ctx, []int{cmd.Process.Pid}, f.m, idle); err != nil {
		return smp, err
	}
	smp.HasCPU = idle > 0
	smp.StopMs, err = timeStop(ctx, f.step, marker, func() error { return cmd.Process.Signal(syscall.SIGTERM) })
	return smp, err
}

// ---- pm2 ----

// pm2Target uses a bench-local pm2 (npm install --prefix) with its own
// PM2_HOME; a fresh pm2 daemon per cycle (`pm2 ping` starts it, untimed).
// Spawn is timed from `pm2 start eco.json` (one app, fork mode, n
// instances, interpreter none), stop from `pm2 stop sl`: both include the
// pm2 CLI's own start-up, as a user pays it.
type pm2Target struct {
	targetEnv
	bin string
}

func pm2Ensure(ctx context.Context, install bool, prefix string, log func(string, ...any)) (string, error) {
	bin := filepath.Join(prefix, "node_modules", ".bin", "pm2")
	if fileExists(bin) {
		return bin, nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return "", fmt.Errorf("npm not found: %w", err)
	}
	if !install {
		return "", fmt.Errorf("pm2 not installed under %s and -install=false", prefix)
	}
	log("installing pm2 with npm into %s", prefix)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", "pm2").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("npm install pm2: %v: %s", err, tail(out))
	}
	if !fileExists(bin) {
		return "", fmt.Errorf("npm install pm2: no %s", bin)
	}
	return bin, nil
}

func (p *pm2Target) Name() string { return "pm2" }
func (p *pm2Target) close()       {}

func (p *pm2Target) cycle(ctx context.Context, n int, marker string, idle time.Duration) (sample, error) {
	home, err := os.MkdirTemp(p.dir, "pm2-")
	if err != nil {
		return sample{}, err
	}
	logf, err := os.Create(filepath.Join(home, "cli.log"))
	if err != nil {
		return sample{}, err
	}
	defer logf.Close()
	pm2 := func(args ...string) error {
		cctx, cancel := context.WithTimeout(ctx, p.step)
		defer cancel()
		cmd := exec.CommandContext(cctx, p.bin, args...)
		cmd.Env = append(os.Environ(), "PM2_HOME="+home)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("pm2 %s: %w (see %s)", strings.Join(args, " "), err, logf.Name())
		}
		return nil
	}
	daemonPid := func() int {
		b, _ := os.ReadFile(filepath.Join(home, "pm2.pid"))
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return pid
	}
	if err := pm2("ping"); err != nil {
		return sample{}, err
	}
	god := daemonPid()
	if god > 0 {
		p.ps.track(god) // the daemon detaches into its own session
	}
	defer func() {
		_ = pm2("kill")
		if pid := daemonPid(); pid > 0 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	sleep, _ := exec.LookPath("sleep")
	eco, _ := json.Marshal(map[string]any{"apps": []map[string]any{{
		"name": "sl", "script": sleep, "args": marker, "interpreter": "none",
		"exec_mode": "fork", "instances": n, "autorestart": true,
	}}})
	ef := filepath.Join(home, "eco.json")
	if err := os.WriteFile(ef, eco, 0o644); err != nil {
		return sample{}, err
	}
	var smp sample
	smp.SpawnMs, err = timeSpawn(ctx, p.step, n, marker, func() error { return pm2("start", ef) })
	if err != nil {
		return smp, err
	}
	if god <= 0 {
		return smp, fmt.Errorf("pm2 daemon pid not found in %s", home)
	}
	if smp.RSSKiB, smp.CPUPct, err = footprint(ctx, []int{god}, p.m, idle); err != nil {
		return smp, err
	}
	smp.HasCPU = idle > 0
	smp.StopMs, err = timeStop(ctx, p.step, marker, func() error { return pm2("stop", "sl") })
	return smp, err
}
