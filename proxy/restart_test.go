package proxy

import (
	"context"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pidOf is the running child nginx's master pid (0: none).
func pidOf(n *Nginx) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// waitAnswer polls nginx on port for host until it answers want or a
// minute has passed (a restart waits up to a few seconds before it
// starts nginx again).
func waitAnswer(t *testing.T, port int, host, want string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		code, body, err := get(port, host)
		if err == nil && code == 200 && strings.HasPrefix(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %q %v, want 200 %q", host, code, body, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A child nginx that dies (killed, or told to stop by someone else) is
// started again: the apps answer, and a route changed while it was down
// is served once it is back. Stop does not bring it back.
func TestNginxRestartsAfterExit(t *testing.T) {
	st := newStore(t)
	r := startNginx(t, st)
	ctx := context.Background()
	port := freePort(t)
	newApp(t, st, "alpha", "alpha.test", port, backend(t, "127.0.0.1:0", "alpha"))
	if err := r.Route(ctx, "alpha", []string{"127.0.0.1"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	waitAnswer(t, port, "alpha.test", "alpha")

	for i, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			old := pidOf(r.Nginx)
			if old == 0 {
				t.Fatal("nginx is not running")
			}
			if err := syscall.Kill(old, sig); err != nil {
				t.Fatal(err)
			}
			// A route changed while nginx may be down is not an error.
			app := []string{"beta", "gamma"}[i]
			domain := app + ".test"
			newApp(t, st, app, domain, port, backend(t, "127.0.0.1:0", domain))
			if err := r.Route(ctx, app, []string{"127.0.0.1"}, io.Discard); err != nil {
				t.Fatalf("route while nginx restarts: %v", err)
			}
			waitAnswer(t, port, "alpha.test", "alpha")
			waitAnswer(t, port, domain, domain)
			if now := pidOf(r.Nginx); now == 0 || now == old {
				t.Errorf("nginx master pid %d after the %s of %d, want a new one", now, sig, old)
			}
			// The next reload works on the new child.
			if err := r.Route(ctx, "alpha", []string{"127.0.0.1"}, io.Discard); err != nil {
				t.Errorf("reload after the restart: %v", err)
			}
		})
	}

	t.Run("stop is not restarted", func(t *testing.T) {
		pid := pidOf(r.Nginx)
		if pid == 0 {
			t.Fatal("nginx is not running")
		}
		r.Nginx.Stop()
		time.Sleep(3 * time.Second) // longer than a restart's pause
		if now := pidOf(r.Nginx); now != 0 {
			t.Errorf("nginx %d runs after Stop", now)
		}
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("the stopped nginx %d still lives", pid)
		}
	})
}
