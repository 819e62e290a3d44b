package tui

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"dokku-sshd/keys"
)

// A client that goes away without quitting ends everything its session's
// screens started: here, the apps list's event subscription and so the
// event sources it kept running.
func TestServeDisconnectEndsSubscriptions(t *testing.T) {
	e := realEnv(t, keys.Identity{Name: "admin", Admin: true}, "one")
	srv := e.b.srv
	var running atomic.Int32
	srv.Events.AddSource("test", func(ctx context.Context, changed func(string)) error {
		running.Add(1)
		defer running.Add(-1)
		<-ctx.Done()
		return nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	in, keysIn := io.Pipe()
	defer keysIn.Close()
	s := &Session{Ctx: ctx, Identity: keys.Identity{Name: "admin", Admin: true}, Stdin: in, Stdout: io.Discard,
		Raw: struct {
			io.Reader
			io.Writer
		}{in, io.Discard}, Term: "xterm-256color", Window: Window{80, 24}, Resize: make(chan Window)}
	done := make(chan int, 1)
	go func() { done <- srv.Serve(s) }()
	waitFor(t, func() bool { return running.Load() == 1 })
	cancel() // the client went away
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return when the session ended")
	}
	waitFor(t, func() bool { return running.Load() == 0 })
	srv.Events.mu.Lock()
	defer srv.Events.mu.Unlock()
	if n := len(srv.Events.subs); n != 0 {
		t.Fatalf("%d subscriptions left after the session ended", n)
	}
}
