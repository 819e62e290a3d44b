package dockerlocal

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"dokku-sshd/appjson"
	"dokku-sshd/certs"
	"dokku-sshd/store"
)

func TestPoll(t *testing.T) {
	refused := errors.New("refused")
	c := check{appjson.Healthcheck{Attempts: 2, Wait: 1}} // one second of retries
	tests := []struct {
		name     string
		failures int // fn fails this many times, then succeeds (-1: always)
		cancel   bool
		want     error
	}{
		{"first try", 0, false, nil},
		{"after a few refusals", 3, false, nil},
		{"never", -1, false, refused},
		{"cancelled", -1, true, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := 0
			errs := poll(ctx, c, func() error {
				calls++
				if tt.cancel {
					cancel()
				}
				if tt.failures < 0 || calls <= tt.failures {
					return refused
				}
				return nil
			})
			switch {
			case tt.want == nil && errs != nil:
				t.Fatalf("errors %v after %d calls", errs, calls)
			case tt.want != nil && (len(errs) != 1 || !errors.Is(errs[0], tt.want)):
				t.Fatalf("errors %v, want [%v]", errs, tt.want)
			case tt.failures > 0 && calls != tt.failures+1:
				t.Fatalf("%d calls", calls)
			case tt.failures < 0 && !tt.cancel && calls < 5:
				t.Fatalf("gave up after %d calls within a second", calls)
			}
		})
	}
}

// TestChecksForAttempts: checks' attempts property is given to every
// healthcheck that sets no attempts of its own; one that does keeps its
// own, and without the property each keeps the healthchecker's default.
func TestChecksForAttempts(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s := New(nil, st, nil)
	aj := &appjson.File{Healthchecks: map[string][]appjson.Healthcheck{"web": {
		{Name: "own", Type: "startup", Path: "/", Attempts: 2},
		{Name: "none", Type: "startup", Path: "/ready"},
	}}}
	got := func() map[string]int {
		t.Helper()
		n, err := s.checkAttempts("app")
		if err != nil {
			t.Fatal(err)
		}
		cs, err := s.checksFor(io.Discard, aj, "web", 5000, n)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, c := range cs {
			out[c.name()] = c.attempts()
		}
		return out
	}
	if a := got(); a["own"] != 2 || a["none"] != 3 || a["port listening check"] != 3 {
		t.Errorf("without the property: %v", a)
	}
	if err := st.SetProperty("checks", store.Global, "attempts", "4"); err != nil {
		t.Fatal(err)
	}
	if a := got(); a["own"] != 2 || a["none"] != 4 || a["port listening check"] != 4 {
		t.Errorf("with --global attempts 4: %v", a)
	}
	if err := st.SetProperty("checks", "app", "attempts", "7"); err != nil {
		t.Fatal(err)
	}
	if a := got(); a["own"] != 2 || a["none"] != 7 || a["port listening check"] != 7 {
		t.Errorf("with the app's attempts 7: %v", a)
	}
}

// TestTLSHeaders: checks carry X-Forwarded-Proto: https when the app has
// a certificate (certs.Exists), as Dokku's check-deploy does.
func TestTLSHeaders(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s := &Scheduler{Store: st}
	if h := s.tlsHeaders("app"); h != nil {
		t.Fatalf("without a certificate: %q", h)
	}
	crt, key, err := certs.SelfSigned([]string{"a.example.com"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := certs.Install(st, "app", crt, key); err != nil {
		t.Fatal(err)
	}
	if h := s.tlsHeaders("app"); len(h) != 1 || h[0] != "X-Forwarded-Proto: https" {
		t.Fatalf("with a certificate: %q", h)
	}
}
