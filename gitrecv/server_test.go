package gitrecv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dokku-sshd/domains"
	"dokku-sshd/store"
)

func newTestStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateApp("app", 1); err != nil {
		t.Fatal(err)
	}
	return st
}

// The after-push step runs on after the session's context ended, holds the
// deploy lock until it is over, and a push of the same app waits for it.
func TestAfterPushOutlivesSession(t *testing.T) {
	st := newTestStore(t)
	started, release := make(chan struct{}), make(chan struct{})
	var sawErr error
	g := &Server{Store: st, AfterPush: func(ctx context.Context, app, repo string) {
		close(started)
		<-release
		sawErr = ctx.Err()
	}}
	lock, err := st.TryDeployLock("app", "push")
	if err != nil {
		t.Fatal(err)
	}
	session, endSession := context.WithCancel(context.Background())
	go g.afterPush(session, "app", st.AppDir("app"), lock)
	endSession() // the client read the report and left
	<-started
	if _, err := st.TryDeployLock("app", "next push"); !errors.Is(err, store.ErrDeployLocked) {
		t.Fatalf("deploy lock during the after-push step: %v", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- g.waitAfterPush(context.Background(), "app") }()
	select {
	case err := <-waited:
		t.Fatalf("a push waited for nothing (%v) while the after-push step ran", err)
	default:
	}
	close(release)
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if sawErr != nil {
		t.Errorf("the after-push step's context ended with the session: %v", sawErr)
	}
	l, err := st.TryDeployLock("app", "next push")
	if err != nil {
		t.Fatalf("deploy lock after the after-push step: %v", err)
	}
	l.Release()
	if err := g.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// Shutdown waits for the after-push step until its context is done, then
// cancels it; afterwards no after-push step starts and the lock is free.
func TestAfterPushShutdown(t *testing.T) {
	for _, tc := range []struct {
		name       string
		finishes   bool // the step ends on its own before the grace is over
		wantErr    error
		wantCancel bool
	}{
		{"finishes within the grace", true, nil, false},
		{"cancelled after the grace", false, context.DeadlineExceeded, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newTestStore(t)
			started, finish := make(chan struct{}), make(chan struct{})
			cancelled := make(chan bool, 1)
			g := &Server{Store: st, AfterPush: func(ctx context.Context, app, repo string) {
				close(started)
				select {
				case <-finish:
					cancelled <- false
				case <-ctx.Done():
					cancelled <- true
				}
			}}
			lock, err := st.TryDeployLock("app", "push")
			if err != nil {
				t.Fatal(err)
			}
			go g.afterPush(context.Background(), "app", st.AppDir("app"), lock)
			<-started
			ctx := context.Background()
			if tc.finishes {
				close(finish)
			} else {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, time.Millisecond)
				defer cancel()
			}
			if err := g.Shutdown(ctx); !errors.Is(err, tc.wantErr) {
				t.Errorf("Shutdown = %v, want %v", err, tc.wantErr)
			}
			if got := <-cancelled; got != tc.wantCancel {
				t.Errorf("after-push step cancelled: %v, want %v", got, tc.wantCancel)
			}
			// After Shutdown nothing starts, and the lock is handed back.
			lock, err = st.TryDeployLock("app", "late push")
			if err != nil {
				t.Fatalf("deploy lock after Shutdown: %v", err)
			}
			g.afterPush(context.Background(), "app", st.AppDir("app"), lock)
			if l, err := st.TryDeployLock("app", "later push"); err != nil {
				t.Errorf("deploy lock not released by an after-push step refused at shutdown: %v", err)
			} else {
				l.Release()
			}
		})
	}
}

// AutoGC runs git gc in the foreground: when it returns, the repack is done
// (a daemonized gc would still be running, out of the deploy lock).
func TestAutoGCForeground(t *testing.T) {
	work, repo := setup(t)
	if out, err := run(t, work, "git", "--git-dir", repo, "config", "gc.autoPackLimit", "2"); err != nil {
		t.Fatal(out)
	}
	for i := 0; i < 3; i++ {
		if out, err := run(t, work, "git", "commit", "-q", "--allow-empty", "-m", fmt.Sprint("c", i)); err != nil {
			t.Fatal(out)
		}
		if out, err := push(t, work, repo, "print", fmt.Sprintf("HEAD:refs/heads/b%d", i)); err != nil {
			t.Fatal(out)
		}
	}
	packs := func() int {
		m, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "*.pack"))
		return len(m)
	}
	if n := packs(); n < 3 {
		t.Fatalf("%d packs after 3 pushes, want 3 or more", n)
	}
	AutoGC(context.Background(), repo, nil)
	if n := packs(); n != 1 {
		t.Errorf("%d packs when git gc --auto returned, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(repo, "gc.pid")); err == nil {
		t.Errorf("gc.pid left behind")
	}
}

// A push to an app that does not exist creates it unless apps --global
// disable-autocreation is "true"; one that cannot be read creates nothing
// either, since it may be "true".
func TestPrepareReceiveAutoCreation(t *testing.T) {
	tests := []struct {
		name       string
		setting    string // disable-autocreation; "": not set
		unreadable bool
		wantCode   int
		wantOut    string // the start of the refusal; "" when created
	}{
		{name: "not set", wantCode: 0},
		{name: "false", setting: "false", wantCode: 0},
		{name: "true", setting: "true", wantCode: 1, wantOut: " !     App auto-creation disabled.\n"},
		{name: "unreadable", unreadable: true, wantCode: 1, wantOut: " !     Unable to create app new: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newTestStore(t)
			if tt.setting != "" {
				if err := st.SetProperty("apps", store.Global, "disable-autocreation", tt.setting); err != nil {
					t.Fatal(err)
				}
			}
			if tt.unreadable {
				// A directory where the value should be.
				if err := st.SetProperty("apps", store.Global, "disable-autocreation/x", "y"); err != nil {
					t.Fatal(err)
				}
			}
			g := &Server{Store: st, Now: func() int64 { return 1 }}
			var errw bytes.Buffer
			code := g.prepareReceive(context.Background(), "new", &errw)
			if code != tt.wantCode || !strings.HasPrefix(errw.String(), tt.wantOut) || (tt.wantOut == "") != (errw.Len() == 0) {
				t.Fatalf("code %d, output %q; want %d and %q", code, errw.String(), tt.wantCode, tt.wantOut)
			}
			if created := st.AppExists("new"); created != (tt.wantCode == 0) {
				t.Fatalf("app created: %v, exit code %d", created, code)
			}
		})
	}
}

// An app a push creates gets APP.GLOBAL-DOMAIN, as apps:create gives it.
func TestPrepareReceiveAutoCreationDomains(t *testing.T) {
	st := newTestStore(t)
	if err := domains.Set(st, store.Global, []string{"example.com"}); err != nil {
		t.Fatal(err)
	}
	g := &Server{Store: st, Now: func() int64 { return 1 }}
	var errw bytes.Buffer
	if code := g.prepareReceive(context.Background(), "new", &errw); code != 0 {
		t.Fatalf("code %d: %s", code, errw.String())
	}
	if got, err := domains.List(st, "new"); err != nil || len(got) != 1 || got[0] != "new.example.com" {
		t.Fatalf("domains of the new app = %q, %v", got, err)
	}
}
