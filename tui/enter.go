package tui

import (
	"fmt"
	"io"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"

	"dokku-sshd/commands"
	"dokku-sshd/output"
)

// enterDoneMsg says how an enter ended, once the TUI has the terminal
// back. Every screen gets it (it is not a key); the one that started the
// enter may show String() in its status line.
type enterDoneMsg struct {
	App, Dyno string
	// Code is enter's exit status: the shell's, or the command's own when
	// it could not start one.
	Code int
	// Err is what enter printed besides the shell (its error), or why it
	// did not run; "" when it ran.
	Err string
}

func (m enterDoneMsg) String() string {
	s := fmt.Sprintf("enter %s %s: exit %d", m.App, m.Dyno, m.Code)
	if m.Err != "" {
		s += ": " + m.Err
	}
	return s
}

// enterCmd hands the terminal to a shell in app's container dyno (web.1)
// and gives it back to the TUI when the shell exits; then it delivers an
// enterDoneMsg.
func enterCmd(e *env, app, dyno string) tea.Cmd {
	if e.term == nil {
		return func() tea.Msg { return enterDoneMsg{App: app, Dyno: dyno, Code: 1, Err: "no terminal to enter with"} }
	}
	if !e.b.allowed("enter") {
		return func() tea.Msg {
			return enterDoneMsg{App: app, Dyno: dyno, Code: 1, Err: "this key may not run enter"}
		}
	}
	x := &enterExec{e: e, app: app, dyno: dyno}
	// Bubble Tea stops its renderer and its input reader and leaves the
	// alternate screen for Run, then restores them and repaints; the clear
	// that follows makes the repaint a full one over what the shell left.
	return tea.Sequence(tea.Exec(x, x.done), tea.ClearScreen)
}

// enterExec is `enter APP DYNO` as Bubble Tea's ExecCommand: the command
// over a real TTY, relayed through the session's terminal.
type enterExec struct {
	e         *env
	app, dyno string
	code      int
	msg       string
	ran       bool
}

// The program's streams are not the ones to use: its input is the TUI's
// pipe (the relay takes the keys instead), its stderr is the server's.
func (x *enterExec) SetStdin(io.Reader)  {}
func (x *enterExec) SetStdout(io.Writer) {}
func (x *enterExec) SetStderr(io.Writer) {}

// Run runs enter with the client's terminal until the shell exits or the
// session ends (the session's context cancels the exec and the relay's
// reads end with the session).
func (x *enterExec) Run() error {
	x.ran = true
	t := x.e.term
	term, give := t.take()
	// What enter prints outside the TTY (its errors) goes to the client's
	// terminal, LF turned into CRLF, and is kept for the message.
	out := &enterOutput{w: t.s.Stdout}
	x.code = x.e.b.srv.Commands.Run(x.e.ctx, commands.IO{Stdin: term.Raw, Stdout: out, Stderr: out, TTY: true, Terminal: term},
		x.e.b.id, []string{"enter", x.app, x.dyno})
	give()
	x.msg = enterMessage(out.String())
	if out.String() != "" && x.e.ctx.Err() == nil {
		// The TUI draws over the screen as soon as it is back: let the
		// message be read first. A new relay, since the exec's may still
		// have a read pending that would take the key.
		fmt.Fprint(t.s.Stdout, "\n[press any key to return to the dashboard]")
		k, back := t.take()
		_, _ = k.Raw.Read(make([]byte, 64))
		back()
	}
	return nil
}

// done is the message once the TUI has the terminal back.
func (x *enterExec) done(err error) tea.Msg {
	m := enterDoneMsg{App: x.app, Dyno: x.dyno, Code: x.code, Err: x.msg}
	if err != nil && !x.ran {
		m.Code, m.Err = 1, "the terminal could not be handed over"
	}
	return m
}

// enterOutput passes what enter prints to the terminal and keeps the
// first few KB of it.
type enterOutput struct {
	mu   sync.Mutex
	w    io.Writer
	kept strings.Builder
}

func (o *enterOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if room := 4096 - o.kept.Len(); room > 0 {
		o.kept.Write(p[:min(room, len(p))])
	}
	return o.w.Write(p)
}

func (o *enterOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.kept.String()
}

// enterMessage is a command's error output as one line, without Dokku's
// " !     " prefixes.
func enterMessage(stderr string) string {
	var parts []string
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), strings.TrimSpace(output.WarnPrefix)))
		if l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}
