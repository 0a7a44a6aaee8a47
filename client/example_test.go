package client_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/ganger/ganger/client"
	"github.com/ganger/ganger/httpapi"
	"github.com/ganger/ganger/manager"
)

// A daemon's API served in process, then driven with a Client: load a job,
// run it once, wait for its exit on the event channel and read its output.
func Example() {
	m := manager.New(manager.Options{})
	defer m.Close(context.Background())
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Manager: m}))
	defer srv.Close()

	ctx := context.Background()
	c := client.New(srv.URL, "")
	name, err := c.Load(ctx, "", map[string]any{"name": "hello", "cmd": "echo hello, world", "start": false})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("loaded", name)

	ch, err := c.Dial(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer ch.Close()
	if err := ch.Subscribe(ctx, "EVENTS:job.default.hello.exit"); err != nil {
		log.Fatal(err)
	}
	pid, err := c.Commit(ctx, "hello", nil)
	if err != nil {
		log.Fatal(err)
	}
	ev, err := ch.Next(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ev.Type, ev.Name, ev.Pid == pid, "status", ev.Int("exit_status"))

	lines, err := c.Logs(ctx, "hello", 10)
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range lines {
		fmt.Println(l.Stream, "|", l.Data)
	}

	_, err = c.Job(ctx, "nope")
	fmt.Println(err, client.IsNotFound(err))
	// Output:
	// loaded default.hello
	// exit default.hello true status 0
	// stdout | hello, world
	// job "default.nope" not found true
}
