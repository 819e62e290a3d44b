package sshd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"dokku-sshd/internal/testbuf"
)

// shutdownServer is a server the test shuts down itself.
func shutdownServer(t *testing.T, cfg Config) (*Server, string, chan error, *keyTable) {
	t.Helper()
	kt := newKeyTable()
	cfg.HostKeyDir, cfg.Keys, cfg.Logger = t.TempDir(), kt, slog.New(&logRecords{})
	srv, err := New(cfg, Handlers{Command: testHandler})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() { srv.closeAll() })
	return srv, l.Addr().String(), served, kt
}

func TestShutdownLetsRunningSessionsFinish(t *testing.T) {
	srv, addr, served, kt := shutdownServer(t, Config{})
	ts := &testServer{Server: srv, addr: addr, keys: kt}
	user := newSigner(t)
	kt.add("bob", user.PublicKey())

	busy := ts.mustDial(t, user)
	idle := ts.mustDial(t, user)
	s, err := busy.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, _ := s.StdinPipe()
	var out bytes.Buffer
	s.Stdout = &out
	if err := s.Start("read"); err != nil {
		t.Fatal(err)
	}
	if !waitFor(5*time.Second, func() bool { srv.mu.Lock(); defer srv.mu.Unlock(); return srv.sessions == 1 }) {
		t.Fatal("session not started")
	}

	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(context.Background()) }()

	// The idle connection is closed at once; new connections and new
	// sessions are refused; the running session goes on.
	idleDone := make(chan error, 1)
	go func() { idleDone <- idle.Wait() }()
	select {
	case <-idleDone:
	case <-time.After(10 * time.Second):
		t.Fatal("connection without a session still open during shutdown")
	}
	if !waitFor(5*time.Second, func() bool {
		c, err := ts.dial("dokku", user)
		if err == nil {
			c.Close()
		}
		return err != nil
	}) {
		t.Fatal("new connections accepted during shutdown")
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v", err)
	}
	if extra, err := busy.NewSession(); err == nil {
		extra.Close()
		t.Error("new session accepted during shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a session was running", err)
	default:
	}

	in.Write([]byte("finish"))
	in.Close()
	if err := s.Wait(); err != nil || out.String() != "finish" {
		t.Fatalf("running session did not finish: %v %q", err, out.String())
	}
	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after the last session ended")
	}
	// Its connection is closed too.
	done := make(chan error, 1)
	go func() { done <- busy.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("connection still open after shutdown")
	}
	// Serving again is refused.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := srv.Serve(l); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

func TestShutdownGraceEnds(t *testing.T) {
	for _, c := range []struct {
		name  string
		grace time.Duration
		ctx   time.Duration
	}{
		{"ShutdownGrace", 200 * time.Millisecond, time.Hour},
		{"context deadline", time.Hour, 200 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv, addr, _, kt := shutdownServer(t, Config{ShutdownGrace: c.grace})
			ts := &testServer{Server: srv, addr: addr, keys: kt}
			user := newSigner(t)
			kt.add("bob", user.PublicKey())
			cl := ts.mustDial(t, user)
			s, err := cl.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			var out testbuf.Buffer
			s.Stdout = &out
			if err := s.Start("wait"); err != nil {
				t.Fatal(err)
			}
			if !waitFor(5*time.Second, func() bool { srv.mu.Lock(); defer srv.mu.Unlock(); return srv.sessions == 1 }) {
				t.Fatal("session not started")
			}
			ctx, cancel := context.WithTimeout(context.Background(), c.ctx)
			defer cancel()
			if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
			}
			// The session was cut: its context cancelled, its connection
			// closed.
			if err := s.Wait(); err == nil {
				t.Fatalf("session ended cleanly: %q", out.String())
			}
		})
	}
}
