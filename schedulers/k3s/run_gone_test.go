package k3s

import (
	"context"
	"io"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"

	"dokku-sshd/internal/k8stest"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

// TestRunAPIServerGoesAway: an attached run whose API server goes away
// fails at once with the server and the cause, instead of waiting out the
// Job's deadline (a day); so does any wait on pods (the start of a run,
// a detached run's pod, enter's wait for a ready pod) while it is away.
func TestRunAPIServerGoesAway(t *testing.T) {
	cl := k8stest.Start(t)
	e := newProcsEnvOn(t, cl)
	e.deployProc(t, "web", 1)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	readers := cl.AttachReaders() + 1
	done := make(chan runResult, 1)
	go func() {
		name, status, err := e.s.Run(ctx, &schedulers.RunOptions{App: e.app, Command: []string{"sleep", "1d"},
			Env: []string{"KWOK_EXIT_DELAY=1h"}, Stdio: schedulers.Stdio{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}})
		done <- runResult{name, status, err}
	}()
	if err := cl.WaitAttach(ctx, readers); err != nil {
		t.Fatal(err)
	}
	c, err := e.s.connect(ctx, e.app) // before the API server goes
	if err != nil {
		t.Fatal(err)
	}
	cl.StopAPIServer()
	var r runResult
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatal("the attached run did not end after its API server went away")
	}
	want := "Unable to reach the Kubernetes API server at " + cl.Server + " while waiting for the run container "
	if r.status == 0 || !output.IsUserError(r.err) || !strings.HasPrefix(r.err.Error(), want) {
		t.Fatalf("run: (%q, %d, %v), want an error starting %q", r.name, r.status, r.err, want)
	}

	// A wait that starts while the API server is away.
	_, err = c.untilPod(ctx, jobSelector("shop-run-0000000000"), "", "the pod of Job shop-run-0000000000",
		func(watch.EventType, *corev1.Pod) (bool, error) { return false, nil })
	want = "Unable to reach the Kubernetes API server at " + cl.Server + " while waiting for the pod of Job shop-run-0000000000: "
	if ctx.Err() != nil || !output.IsUserError(err) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("wait with the API server away: %v (hang guard: %v), want an error starting %q", err, ctx.Err(), want)
	}
}
