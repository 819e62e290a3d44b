package dockerlocal_test

import (
	"context"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Watch reports an app each time one of its containers starts or dies.
// (Other tests run apps at the same time: their names may come too.)
func TestWatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	changed := make(chan string, 64)
	done := make(chan error, 1)
	go func() { done <- e.sched.Watch(ctx, func(app string) { changed <- app }) }()
	// The events stream starts with what happens after the request: give
	// it a moment to be open.
	time.Sleep(500 * time.Millisecond)

	start := func(labels map[string]string) {
		t.Helper()
		res, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
			Config: &container.Config{Image: e.base, Cmd: []string{"true"}, Labels: labels},
			// The app's container is removed by the test's cleanup.
			HostConfig: &container.HostConfig{AutoRemove: labels == nil},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	start(nil) // not an app's: filtered out by the Engine
	start(map[string]string{"com.dokku.app-name": e.app, "com.dokku.container-type": "run"})
	timeout := time.After(30 * time.Second)
	for seen := false; !seen; {
		select {
		case app := <-changed:
			if app == "" {
				t.Fatal("a change with no app")
			}
			seen = app == e.app
		case <-timeout:
			t.Fatal("no change reported for a container that started")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Watch after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return when its context ended")
	}
}
