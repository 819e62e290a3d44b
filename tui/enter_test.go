package tui

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
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

// enterProbe is a program that enters at once and quits on the first key
// it reads after the enter.
type enterProbe struct {
	e    *env
	done chan enterDoneMsg
	keys chan string
}

func (m *enterProbe) Init() tea.Cmd { return enterCmd(m.e, "myapp", "web") }

func (m *enterProbe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case enterDoneMsg:
		m.done <- msg
	case tea.KeyPressMsg:
		m.keys <- msg.String()
		return m, tea.Quit
	}
	return m, nil
}

func (m *enterProbe) View() tea.View {
	v := tea.NewView("the dashboard")
	v.AltScreen = true
	return v
}

// The whole hand-over in a real program: the program lets go of the
// terminal, enter runs (and fails on the null scheduler), and the program
// takes the terminal back: it redraws and reads the next key.
func TestEnterProgramGetsTheTerminalBack(t *testing.T) {
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
	m := &enterProbe{e: e, done: make(chan enterDoneMsg, 1), keys: make(chan string, 1)}
	p := tea.NewProgram(m, tea.WithInput(e.term.input()), tea.WithOutput(out), tea.WithContext(t.Context()),
		tea.WithoutSignalHandler(), tea.WithWindowSize(80, 24), tea.WithEnvironment([]string{"TERM=xterm"}))
	ran := make(chan error, 1)
	go func() { _, err := p.Run(); ran <- err }()

	wait := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s; output %q", what, out.String())
			}
			time.Sleep(time.Millisecond)
		}
	}
	wait("no prompt", func() bool { return strings.Contains(out.String(), "press any key") })
	// The message is on the main screen, the dashboard's gone.
	if o := out.String(); !strings.Contains(o, "\x1b[?1049l") ||
		strings.Index(o, "\x1b[?1049l") > strings.Index(o, " !     The null scheduler does not support enter") {
		t.Fatalf("the message is not after leaving the alternate screen: %q", o)
	}
	typed.Write([]byte("x"))
	var done enterDoneMsg
	select {
	case done = <-m.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("no enterDoneMsg; output %q", out.String())
	}
	if done.Code != 1 || done.Err != "The null scheduler does not support enter" {
		t.Fatalf("msg %#v", done)
	}
	// Redrawn after the message, on the alternate screen again.
	wait("no redraw", func() bool {
		o := out.String()
		after := o[strings.Index(o, "press any key"):]
		return strings.Contains(after, "\x1b[?1049h") && strings.Contains(after, "the dashboard")
	})
	typed.Write([]byte("y"))
	select {
	case k := <-m.keys:
		if k != "y" {
			t.Fatalf("the program read %q", k)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the program does not read keys after enter")
	}
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
}
