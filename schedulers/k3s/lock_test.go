package k3s

import (
	"context"
	"errors"
	"testing"

	"dokku-sshd/internal/k8stest"
)

// TestLockWaitsWithContext: a ps:stop and an apps:destroy during a deploy
// of the same app say that they wait for the deploy, and give up when
// their client goes away, instead of blocking silently until the deploy
// ends; once the deploy has ended, a ps:stop goes through.
func TestLockWaitsWithContext(t *testing.T) {
	e := newEnv(t, k8stest.Shared(t))
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	const app = "lk"
	e.app(app, "")
	e.set(app, "deploy-timeout", "10m") // the rollout never ends on its own
	dctx, dcancel := context.WithCancel(ctx)
	defer dcancel()
	out := &outBuf{}
	deployed := make(chan error, 1)
	go func() {
		deployed <- e.s.Deploy(dctx, release(app, image(k8stest.UnpullableImage), map[string]string{"web": "httpd"}, "", out))
	}()
	select {
	case <-out.when("web: new ReplicaSet"):
	case <-ctx.Done():
		t.Fatalf("the deploy never started its rollout\n%s", out.String())
	}

	tests := []struct {
		name string
		call func(ctx context.Context, out *outBuf) error
		said string // "" when the call has no output to say it on
	}{
		{"ps:stop", func(ctx context.Context, out *outBuf) error { return e.s.StopWithOutput(ctx, app, out) },
			"-----> Waiting for the deploy of lk to finish\n"},
		{"apps:destroy", func(ctx context.Context, _ *outBuf) error { return e.s.Destroy(ctx, app) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cctx, ccancel := context.WithCancel(ctx)
			defer ccancel()
			cout := &outBuf{}
			done := make(chan error, 1)
			go func() { done <- tt.call(cctx, cout) }()
			if tt.said != "" {
				select {
				case <-cout.when(tt.said):
				case err := <-done:
					t.Fatalf("%s during the deploy returned %v without waiting\n%s", tt.name, err, cout.String())
				case <-ctx.Done():
					t.Fatalf("%s never said it waits\n%s", tt.name, cout.String())
				}
			}
			ccancel() // the client goes away while it waits
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("%s after its client went away: %v, want context.Canceled", tt.name, err)
				}
			case <-ctx.Done():
				t.Fatalf("%s did not give up when its client went away", tt.name)
			}
		})
	}

	dcancel()
	if err := <-deployed; !errors.Is(err, context.Canceled) {
		t.Errorf("deploy: %v, want cancelled", err)
	}
	stopOut := &outBuf{}
	if err := e.s.StopWithOutput(ctx, app, stopOut); err != nil {
		t.Fatalf("ps:stop after the deploy: %v", err)
	}
	if s := stopOut.String(); s != "       Stopping web process\n" {
		t.Errorf("ps:stop after the deploy said %q", s)
	}
}
