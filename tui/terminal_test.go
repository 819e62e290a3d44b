package tui

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// A relay that stopped reading (the shell exited while the user typed or
// pasted) and was given back does not keep the client's keys: the TUI
// gets the next ones.
func TestTerminalGiveBackAfterUnreadInput(t *testing.T) {
	in, typed := io.Pipe()
	t.Cleanup(func() { typed.Close() })
	s := &Session{Ctx: t.Context(), Stdin: in, Stdout: io.Discard, Raw: struct {
		io.Reader
		io.Writer
	}{in, io.Discard}, Window: Window{Width: 80, Height: 24}, Resize: make(chan Window)}
	term := newTerminal(t.Context(), s)
	t.Cleanup(term.close)
	_, give := term.take()
	// More than the relay holds, and nobody reads it: the client's
	// input stalls until the relay is given back.
	go func() {
		for range 20 {
			if _, err := typed.Write([]byte("x")); err != nil {
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	give()
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 16)
		n, _ := term.input().Read(b)
		got <- string(b[:n])
	}()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-got:
			if s == "" {
				t.Fatal("empty read")
			}
			return // a key given back reached the TUI
		case <-deadline:
			t.Fatal("the TUI gets no keys after a relay that stopped reading was given back")
		}
	}
}

// The program learns what the client's terminal supports from what the
// client sent: TERM through the PTY, COLORTERM and NO_COLOR through the
// environment (Bubble Tea lowers colours to that profile).
func TestWishSessionTerminal(t *testing.T) {
	in, typed := io.Pipe()
	t.Cleanup(func() { typed.Close() })
	s := &Session{Ctx: t.Context(), Stdin: in, Stdout: io.Discard, Term: "xterm-256color",
		Env:    map[string]string{"TERM": "xterm-256color", "COLORTERM": "truecolor", "NO_COLOR": "1"},
		Window: Window{Width: 100, Height: 30}, Resize: make(chan Window)}
	term := newTerminal(t.Context(), s)
	t.Cleanup(term.close)
	w := newWishSession(t.Context(), s, term)
	pty, _, ok := w.Pty()
	if !ok || pty.Term != "xterm-256color" || pty.Window.Width != 100 || pty.Window.Height != 30 {
		t.Fatalf("pty: %+v %v", pty, ok)
	}
	env := w.Environ()
	for _, want := range []string{"COLORTERM=truecolor", "NO_COLOR=1"} {
		if !slices.Contains(env, want) {
			t.Errorf("environment %q lacks %s", env, want)
		}
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "TERM=") {
			t.Errorf("TERM in the environment (the middleware adds the PTY's): %q", env)
		}
	}
}
