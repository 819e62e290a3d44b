// Package tui is the full-screen dashboard `ssh -t dokku@host` opens: apps,
// reports, live logs, live deploys, enter and actions. It is a Bubble Tea
// program served through wish's Bubble Tea middleware, and every action or
// figure it shows comes from the same command code an SSH command runs
// (backend.go): the TUI never holds a second copy of a rule.
package tui

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"

	tea "charm.land/bubbletea/v2"
	charmlog "charm.land/log/v2"
	"charm.land/ssh"
	wishtea "charm.land/wish/v2/bubbletea"

	"dokku-sshd/commands"
	"dokku-sshd/deploy"
	"dokku-sshd/keys"
	"dokku-sshd/store"
)

// Window is a terminal size in cells.
type Window struct{ Width, Height int }

// Session is one terminal session with no command, as the transport hands
// it over: plain values, so that this package does not depend on the
// transport's types.
type Session struct {
	// Ctx ends when the client goes away; everything the TUI starts for
	// the session (log follows, execs, actions) runs under it.
	Ctx      context.Context
	Identity keys.Identity
	// Stdin is the raw bytes the client types; Stdout the terminal's
	// output with LF turned into CRLF (a terminal's onlcr); Raw the
	// untranslated stream both ways, for relaying a container's TTY.
	Stdin  io.Reader
	Stdout io.Writer
	Raw    io.ReadWriter
	Term   string
	Window Window
	// Resize delivers window changes, the newest when several happened
	// since the last read.
	Resize     <-chan Window
	Env        map[string]string // TERM, COLORTERM, LANG, LC_* as the client sent them
	User       string
	RemoteAddr net.Addr
	LocalAddr  net.Addr
}

// Server serves the TUI to every session; one is shared by all sessions.
type Server struct {
	Commands *commands.Dispatcher
	Store    *store.Store
	Builds   *deploy.Builds // nil where deploys are not wired
	// Events, when set, tells the sessions which apps changed (process
	// events of the schedulers, builds starting and ending) so that lists
	// update without polling.
	Events *Events
	Logger *slog.Logger
}

// Serve runs the TUI for s until the user quits or the client goes away,
// and returns the session's exit status.
func (srv *Server) Serve(s *Session) int {
	log := srv.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wishLogOnce.Do(func() { charmlog.SetOutput(logLines{log}) })
	ctx, cancel := context.WithCancel(s.Ctx)
	defer cancel()
	t := newTerminal(ctx, s)
	defer t.close()
	e := &env{ctx: ctx, b: &backend{srv: srv, id: s.Identity}, id: s.Identity, admin: isAdmin(s.Identity), term: t, send: func(tea.Msg) {}}
	e.st = newStyles()
	m := newRoot(e)
	mw := wishtea.MiddlewareWithProgramHandler(func(sess ssh.Session) *tea.Program {
		opts := append(wishtea.MakeOptions(sess),
			tea.WithInput(t.input()),
			// No tea.WithContext: a cancelled context kills the program
			// without waiting for its input reader, which then waits on
			// the input pipe for good (a goroutine, a thread and the
			// session's model per disconnect). The middleware quits the
			// program when the session ends, and quitting waits for it.
			// The server's own signals are not the session's.
			tea.WithoutSignalHandler(),
		)
		p := tea.NewProgram(m, opts...)
		e.send = p.Send
		return p
	})
	mw(func(ssh.Session) {})(newWishSession(ctx, s, t))
	// The program has ended: what its screens started (log follows,
	// event subscriptions, builds followed) ends now, also when the
	// client went away without quitting.
	m.closeAll()
	log.Debug("tui session ended", "name", s.Identity.Name)
	return 0
}

// wishLogOnce sends what wish's middleware logs (a program ended by a
// client that went away: "program was killed: context canceled") to the
// server's log, at debug level, instead of a line of its own on stderr.
var wishLogOnce sync.Once

// logLines writes each line it is given to the log.
type logLines struct{ log *slog.Logger }

func (l logLines) Write(p []byte) (int, error) {
	for line := range strings.Lines(string(p)) {
		l.log.Debug("tui program", "line", strings.TrimSpace(line))
	}
	return len(p), nil
}

// isAdmin reports whether the key may run every command (the keys view,
// and actions of root-only commands).
func isAdmin(id keys.Identity) bool { return id.Admin }
