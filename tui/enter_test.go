package tui

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEnterWithoutTerminal(t *testing.T) {
	e := testEnv(t, logsAdmin)
	cmd := enterCmd(e, "myapp", "web.1")
	if cmd == nil {
		t.Fatal("no command")
	}
	m, ok := cmd().(enterDoneMsg)
	if !ok || m.Code != 1 || m.Err != "no terminal to enter with" {
		t.Fatalf("msg %#v", m)
	}
	if got := m.String(); got != "enter myapp web.1: exit 1: no terminal to enter with" {
		t.Fatalf("String: %q", got)
	}
}

// lockedBuffer is a terminal's output, read while written.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// When enter fails before a shell starts (here: the null scheduler has
// none), its message stays on the terminal until a key is pressed, the
// key goes no further, and the TUI gets its keys back afterwards.
func TestEnterFailureWaitsForAKey(t *testing.T) {
	e := realEnv(t, logsAdmin, "myapp")
	realDeploy(t, e, "myapp", map[string]string{"Procfile": "web: run\n"})
	in, typed := io.Pipe()
	t.Cleanup(func() { typed.Close() })
	out := &lockedBuffer{}
	s := &Session{Ctx: t.Context(), Identity: logsAdmin, Stdin: in, Stdout: out, Raw: struct {
		io.Reader
		io.Writer
	}{in, out}, Term: "xterm", Window: Window{Width: 80, Height: 24}, Resize: make(chan Window)}
	e.term = newTerminal(t.Context(), s)
	t.Cleanup(e.term.close)
	if enterCmd(e, "myapp", "web.1") == nil {
		t.Fatal("no command")
	}

	x := &enterExec{e: e, app: "myapp", dyno: "web.1"}
	ran := make(chan error, 1)
	go func() { ran <- x.Run() }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "press any key") {
		if time.Now().After(deadline) {
			t.Fatalf("no prompt; output %q", out.String())
		}
		time.Sleep(time.Millisecond)
	}
	if !strings.HasPrefix(out.String(), " !     The null scheduler does not support enter\n") {
		t.Fatalf("output %q", out.String())
	}
	select {
	case <-ran:
		t.Fatal("Run returned before a key")
	case <-time.After(50 * time.Millisecond):
	}
	typed.Write([]byte("x"))
	select {
	case err := <-ran:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run goes on after a key")
	}
	m := x.done(nil).(enterDoneMsg)
	if m.Code != 1 || m.Err != "The null scheduler does not support enter" {
		t.Fatalf("msg %#v", m)
	}
	// The next key is the TUI's.
	typed.Write([]byte("y"))
	buf := make([]byte, 8)
	n, err := e.term.input().Read(buf)
	if err != nil || string(buf[:n]) != "y" {
		t.Fatalf("the TUI read %q, %v", buf[:n], err)
	}
}

func TestEnterMessage(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{" !     Container is not running\n", "Container is not running"},
		{" !     No container type specified.\n !     Available types for app (a): web worker\n",
			"No container type specified. Available types for app (a): web worker"},
		{"plain\n\n", "plain"},
	} {
		if got := enterMessage(c.in); got != c.want {
			t.Errorf("enterMessage(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
