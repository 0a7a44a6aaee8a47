package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ganger/ganger/conf"
	"github.com/ganger/ganger/httpapi"
	"github.com/ganger/ganger/manager"
)

// revManager is a real manager whose JobInfo reports the revision the test
// sets, so that a test decides when a job's answer may come from the cache.
type revManager struct {
	*manager.Manager
	rev atomic.Uint64
}

func (f *revManager) JobInfo(ctx context.Context, name string) (manager.JobInfo, error) {
	info, err := f.Manager.JobInfo(ctx, name)
	info.Revision = f.rev.Load()
	return info, err
}

func (f *revManager) JobRevision(ctx context.Context, name string) (uint64, error) {
	if _, err := f.Manager.JobRevision(ctx, name); err != nil {
		return 0, err
	}
	return f.rev.Load(), nil
}

// withRevManager serves the API over a revManager wrapping the env's manager.
func withRevManager(f *revManager) envOption {
	return withOptions(func(o *httpapi.Options) {
		f.Manager = o.Manager.(*manager.Manager)
		o.Manager = f
	})
}

// secretOf returns the SECRET env value of a job answer, and whether the
// variable is listed at all.
func secretOf(t testing.TB, job map[string]any) (string, bool) {
	t.Helper()
	env, _ := job["config"].(map[string]any)["env"].(map[string]any)
	v, ok := env["SECRET"].(string)
	return v, ok
}

// TestReadTokenNeverGetsAdminCachedAnswer: a read token's answer and an
// admin's are cached apart, so an answer an admin's request filled in is
// never sent to a read token (REST and /channel alike), nor the other way
// round, though the job and its revision did not change in between.
func TestReadTokenNeverGetsAdminCachedAnswer(t *testing.T) {
	e := newAuthEnv(t)
	e.token = "adm-secret"
	// Stopped jobs: nothing changes them, so their revision stays.
	e.load(t, `{"name":"a","cmd":"sleep 30","start":false,"env":{"SECRET":"s3"}}`)
	e.load(t, `{"name":"b","cmd":"sleep 30","start":false,"env":{"SECRET":"s3"}}`)
	as := func(tok, path string) map[string]any {
		t.Helper()
		e.token = tok
		defer func() { e.token = "" }()
		return e.get(t, path)
	}
	wantSecret := func(who string, job map[string]any, want string) {
		t.Helper()
		if v, ok := secretOf(t, job); !ok || v != want {
			t.Errorf("%s got SECRET %q (listed: %v), want %q", who, v, ok, want)
		}
	}

	t.Run("admin first", func(t *testing.T) {
		wantSecret("admin", as("adm-secret", "/jobs/default/a"), "s3")
		wantSecret("read token", as("read-secret", "/jobs/default/a"), "")
		wantSecret("limited read token", as("limread-secret", "/jobs/default/a"), "")
		w := e.channelAs(t, "read-secret")
		wantSecret("read token on /channel", w.result("info", "default.a"), "")
		wantSecret("admin again", as("adm-secret", "/jobs/default/a"), "s3")
	})
	t.Run("read token first", func(t *testing.T) {
		wantSecret("read token", as("read-secret", "/jobs/default/b"), "")
		wantSecret("admin", as("adm-secret", "/jobs/default/b"), "s3")
		w := e.channelAs(t, "adm-secret")
		wantSecret("admin on /channel", w.result("info", "default.b"), "s3")
		wantSecret("read token again", as("read-secret", "/jobs/default/b"), "")
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Go(func() {
				tok, want := "adm-secret", "s3"
				if i%2 == 1 {
					tok, want = "read-secret", ""
				}
				req, _ := http.NewRequest("GET", e.url+"/jobs/default/a", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				res, err := e.client.Do(req)
				if err != nil {
					errs <- err
					return
				}
				defer res.Body.Close()
				var job struct {
					Config struct{ Env map[string]string }
				}
				if err := json.NewDecoder(res.Body).Decode(&job); err != nil {
					errs <- err
				} else if v := job.Config.Env["SECRET"]; v != want {
					errs <- fmt.Errorf("%s got SECRET %q, want %q", tok, v, want)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}

// channelAs opens a /channel client with a token.
func (e *env) channelAs(t testing.TB, token string) *ws {
	t.Helper()
	old := e.token
	e.token = token
	defer func() { e.token = old }()
	return e.channel(t)
}

// TestChangedJobNotAnsweredFromCache: an answer is sent from the cache
// only while the job's revision is the cached one; a new revision is
// encoded afresh.
func TestChangedJobNotAnsweredFromCache(t *testing.T) {
	f := &revManager{}
	f.rev.Store(1)
	e := newEnv(t, withRevManager(f))
	e.load(t, `{"name":"web","cmd":"sleep 30","start":false}`)
	if n := e.get(t, "/jobs/default/web")["numprocesses"]; n != 1.0 {
		t.Fatalf("numprocesses %v", n)
	}
	e.call(t, "POST", "/jobs/default/web/numprocesses", `{"scale":"=3"}`, 200)
	// Same revision: the cache answers (the fake's revision lies on
	// purpose, to show that the cache is used).
	if n := e.get(t, "/jobs/default/web")["numprocesses"]; n != 1.0 {
		t.Fatalf("numprocesses %v at the same revision: the answer was not cached", n)
	}
	f.rev.Store(2)
	if n := e.get(t, "/jobs/default/web")["numprocesses"]; n != 3.0 {
		t.Errorf("numprocesses %v after the revision changed, want 3", n)
	}
	w := e.channel(t)
	if n := w.result("info", "default.web")["numprocesses"]; n != 3.0 {
		t.Errorf("info: numprocesses %v after the revision changed, want 3", n)
	}
}

// TestReloadedJobNotAnsweredFromCache: a job unloaded and loaded again
// under the same name may start from the same revision; its answer is
// never the old job's, whether the API or someone else (a config reload)
// unloaded it.
func TestReloadedJobNotAnsweredFromCache(t *testing.T) {
	f := &revManager{}
	f.rev.Store(7) // every answer has the same revision
	e := newEnv(t, withRevManager(f))
	job := func(v string) string {
		return `{"name":"web","cmd":"sleep 30","start":false,"env":{"SECRET":"` + v + `"}}`
	}
	secret := func() string {
		t.Helper()
		v, _ := secretOf(t, e.get(t, "/jobs/default/web"))
		return v
	}
	e.load(t, job("one"))
	if v := secret(); v != "one" {
		t.Fatalf("SECRET %q", v)
	}

	t.Run("REST", func(t *testing.T) {
		e.call(t, "DELETE", "/jobs/default/web", "", 200)
		e.load(t, job("two"))
		if v := secret(); v != "two" {
			t.Errorf("SECRET %q after DELETE and POST, want two", v)
		}
	})
	t.Run("channel", func(t *testing.T) {
		w := e.channel(t)
		w.result("unload", "default.web")
		w.result("load", map[string]any{"name": "web", "cmd": "sleep 30", "start": false, "env": map[string]string{"SECRET": "three"}})
		if v, _ := secretOf(t, w.result("info", "default.web")); v != "three" {
			t.Errorf("SECRET %q after unload and load, want three", v)
		}
	})
	t.Run("not through the API", func(t *testing.T) {
		ctx := context.Background()
		if err := e.m.Unload(ctx, "default.web"); err != nil {
			t.Fatal(err)
		}
		e.call(t, "GET", "/jobs/default/web", "", 404) // forgets the answers
		cfg, err := conf.ParseJob([]byte(job("four")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.m.Load(ctx, "default", cfg); err != nil {
			t.Fatal(err)
		}
		if v := secret(); v != "four" {
			t.Errorf("SECRET %q after a 404 and a load, want four", v)
		}
	})
}
