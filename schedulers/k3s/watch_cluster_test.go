package k3s

import (
	"context"
	"testing"
	"time"
)

// Watch reports the app of pods that come and go in its namespace, on a
// real API server.
func TestWatchPods(t *testing.T) {
	t.Parallel()
	e := newProcsEnv(t)
	if got := e.s.watchTargets(); len(got) != 1 {
		t.Fatalf("watch targets: %v, want the app's namespace", got)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	changed := make(chan string, 256)
	done := make(chan error, 1)
	go func() { done <- e.s.Watch(ctx, func(app string) { changed <- app }) }()
	e.deployProc(t, "web", 1)
	select {
	case app := <-changed:
		if app != e.app {
			t.Fatalf("changed %q, want %q", app, e.app)
		}
	case <-time.After(time.Minute):
		t.Fatal("no change reported for a pod that started")
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
