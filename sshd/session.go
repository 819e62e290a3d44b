package sshd

import (
	"context"
	"io"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"dokku-sshd/keys"
)

// envAllowed is the environment a client may set: locale, terminal type
// and colours (the TUI's), and git's protocol version.
func envAllowed(name string) bool {
	switch name {
	case "LANG", "TERM", "COLORTERM", "NO_COLOR", "GIT_PROTOCOL":
		return true
	}
	return strings.HasPrefix(name, "LC_")
}

// route is which handler serves a session.
type route int

const (
	routeCommand route = iota
	routeGit
	routeTUI
)

// routeFor picks the handler: git's transports by the command's first word,
// a shell with a PTY to the TUI, everything else to Command.
func (s *Server) routeFor(raw string, shell, hasPTY bool) (route, Handler) {
	switch {
	case shell && hasPTY && s.handlers.TUI != nil:
		return routeTUI, s.handlers.TUI
	case !shell && isGitService(raw) && s.handlers.Git != nil:
		return routeGit, s.handlers.Git
	}
	return routeCommand, s.handlers.Command
}

// isGitService reports whether an exec command is one of git's transports.
// As in git-shell, "git receive-pack ..." (one blank after git) is
// "git-receive-pack ...": clients given --receive-pack="git receive-pack"
// send that form.
func isGitService(raw string) bool {
	cmd := strings.TrimLeft(raw, " \t")
	if len(cmd) > 3 && strings.HasPrefix(cmd, "git") && strings.IndexByte(" \t\n\v\f\r", cmd[3]) >= 0 {
		cmd = "git-" + cmd[4:]
	}
	verb, _, _ := strings.Cut(cmd, " ")
	switch verb {
	case "git-receive-pack", "git-upload-pack", "git-upload-archive":
		return true
	}
	return false
}

// Wire formats of the session requests (RFC 4254 section 6).
type (
	ptyRequest struct {
		Term                 string
		Cols, Rows, Wpx, Hpx uint32
		Modes                string
	}
	windowChange struct{ Cols, Rows, Wpx, Hpx uint32 }
	envRequest   struct{ Name, Value string }
	execRequest  struct{ Command string }
	exitStatus   struct{ Status uint32 }
	exitSignal   struct {
		Signal     string
		CoreDumped bool
		Message    string
		Lang       string
	}
)

// handleSession serves one session channel. It answers the channel's
// requests itself: pty-req, window-change, env (allow-listed), exec, shell
// and signal are accepted; subsystems, X11, agent forwarding, break and
// everything else are refused. The first exec or shell runs the routed
// handler on its own goroutine while this one keeps answering requests.
func (s *Server) handleSession(_ *ssh.Server, sc *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	defer s.recoverLog("session")
	c, id, ok := s.admitSession(sc, nc, ctx)
	if !ok {
		return
	}
	defer s.sessionOut(c)
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cs := &channelSession{s: s, c: c, id: id, connCtx: ctx, ctx: sctx, cancel: cancel, ch: ch,
		env: map[string]string{}, done: make(chan struct{})}
	cs.answer(reqs)
	// The client closed the channel, or the connection is gone.
	cancel()
	if cs.started {
		<-cs.done
	}
}

// admitSession counts a new session channel in, on its connection and on
// the server, or rejects it (ok false): not authenticated, too many
// sessions on the connection, or shutting down. sessionOut counts it out.
func (s *Server) admitSession(sc *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) (c *conn, id keys.Identity, ok bool) {
	c = connFromContext(ctx)
	id, ok = identityFromPermissions(sc.Permissions)
	if c == nil || !ok {
		_ = nc.Reject(gossh.Prohibited, "not authenticated")
		return nil, id, false
	}
	if !c.sessionStarted() {
		_ = nc.Reject(gossh.ResourceShortage, "too many sessions on this connection")
		return nil, id, false
	}
	if !s.sessionStarted() {
		_ = nc.Reject(gossh.ResourceShortage, "server is shutting down")
		c.sessionEnded()
		return nil, id, false
	}
	return c, id, true
}

// sessionOut counts out a session admitSession counted in.
func (s *Server) sessionOut(c *conn) {
	s.sessionEnded()
	c.sessionEnded()
}

// channelSession is one accepted session channel: what its requests asked
// for before exec or shell, and the handler started by the first of those.
type channelSession struct {
	s       *Server
	c       *conn
	id      keys.Identity
	connCtx ssh.Context        // the connection's
	ctx     context.Context    // the session's, ended by cancel
	cancel  context.CancelFunc // ends the handler's work (signal, ^C, close)
	ch      gossh.Channel

	pty     *PTY
	echo    bool // the client's terminal modes ask for echo
	resize  chan Window
	env     map[string]string
	started bool          // exec or shell ran the handler
	done    chan struct{} // closed when the started handler has ended
}

// answer replies to the channel's requests until the client closes it or
// the connection ends.
func (cs *channelSession) answer(reqs <-chan *gossh.Request) {
	for req := range reqs {
		switch req.Type {
		case "pty-req":
			reply(req, cs.ptyRequest(req.Payload))
		case "window-change":
			reply(req, cs.windowChange(req.Payload))
		case "env":
			reply(req, cs.setEnv(req.Payload))
		case "exec", "shell":
			cs.start(req) // it replies: before the handler, after its hold
		case "signal":
			// Any signal ends the command, as the usual ones (INT, TERM,
			// HUP, KILL) would a process.
			ok := cs.started && !cs.s.cfg.RefuseSignals
			if ok {
				cs.cancel()
			}
			reply(req, ok)
		default:
			// subsystem, x11-req, auth-agent-req@openssh.com, break, ...
			reply(req, false)
		}
	}
}

// reply answers req when the client asked for an answer.
func reply(req *gossh.Request, ok bool) {
	if req.WantReply {
		_ = req.Reply(ok, nil)
	}
}

// ptyRequest records the terminal of a pty-req: one, before exec or shell.
func (cs *channelSession) ptyRequest(payload []byte) bool {
	var p ptyRequest
	if cs.started || cs.pty != nil || gossh.Unmarshal(payload, &p) != nil || !cs.s.ptyAllowed(cs.id) {
		return false
	}
	cs.resize = make(chan Window, 1)
	cs.pty = &PTY{Term: p.Term, Width: int(p.Cols), Height: int(p.Rows), Modes: p.Modes, Resize: cs.resize}
	cs.echo = ptyEcho(p.Modes)
	return true
}

// ptyAllowed reports whether the key's authorized_keys line allows a
// terminal (Config.KeyPTYOptions).
func (s *Server) ptyAllowed(id keys.Identity) bool {
	a, ok := s.cfg.Keys.(interface{ PTYAllowed(fingerprint string) bool })
	if !s.cfg.KeyPTYOptions || !ok || id.Cert {
		return true
	}
	return a.PTYAllowed(id.Fingerprint)
}

// windowChange passes a new terminal size on, keeping the newest only.
func (cs *channelSession) windowChange(payload []byte) bool {
	var w windowChange
	if cs.pty == nil || gossh.Unmarshal(payload, &w) != nil {
		return false
	}
	SendNewest(cs.resize, Window{Width: int(w.Cols), Height: int(w.Rows)})
	return true
}

// setEnv records an allowed environment variable, before exec or shell.
func (cs *channelSession) setEnv(payload []byte) bool {
	var kv envRequest
	if cs.started || gossh.Unmarshal(payload, &kv) != nil || !envAllowed(kv.Name) {
		return false
	}
	cs.env[kv.Name] = kv.Value
	return true
}

// start answers the first exec or shell: it routes the command and runs
// its handler on a goroutine of its own (runSession). Later ones are
// refused.
func (cs *channelSession) start(req *gossh.Request) {
	var cmd execRequest
	if cs.started || (req.Type == "exec" && gossh.Unmarshal(req.Payload, &cmd) != nil) {
		reply(req, false)
		return
	}
	cs.started = true
	s := cs.s
	rt, h := s.routeFor(cmd.Command, req.Type == "shell", cs.pty != nil)
	var release func()
	if rt == routeCommand && cs.pty == nil {
		// A command without a terminal: its reply, output and
		// exit status leave together when it is quick (hold).
		release = cs.c.hold(coalesceLimit)
	}
	reply(req, true)
	s.sessionKind(rt)
	sess, stop := s.newSession(cs.ctx, cs.cancel, cs.ch, rt, cs.id, cmd.Command, cs.pty, cs.echo, cs.env, cs.connCtx)
	sess.Shell = req.Type == "shell"
	go s.runSession(cs.c, h, sess, cs.ch, stop, release, cs.done)
}

// runSession runs the handler, then sends its exit status and closes the
// channel. Handler output is written synchronously to the channel, so all
// of it is queued before the exit-status and EOF that follow. The status
// goes first: PuTTY and dropbear close the channel when both sides are at
// EOF, x/crypto answers that close at once, and a status sent after the
// EOF could then no longer be sent. Those leave in one write with whatever
// release (from conn.hold, or nil) still holds.
func (s *Server) runSession(c *conn, h Handler, sess *Session, ch gossh.Channel, stop func(), release func(), done chan<- struct{}) {
	defer close(done)
	defer s.recoverLog("session end")
	start := time.Now()
	code := s.run(h, sess)
	if stop != nil {
		stop()
	}
	// The end leaves in one write, also after a first hold ran out (a
	// command longer than coalesceLimit); a hold still running is ended
	// with it.
	end := c.hold(coalesceLimit)
	if es := sess.ExitSignal; es != nil {
		// Empty message and language, as sshd sends them.
		_, _ = ch.SendRequest("exit-signal", false, gossh.Marshal(exitSignal{Signal: es.Signal, CoreDumped: es.CoreDumped}))
	} else {
		_, _ = ch.SendRequest("exit-status", false, gossh.Marshal(exitStatus{Status: exitCode(code)}))
	}
	_ = ch.CloseWrite()
	_ = ch.Close()
	end()
	if release != nil {
		release() // its timer
	}
	if s.log.Enabled(sess.Context, slog.LevelDebug) { // the attributes cost more than the call
		verb, _, _ := strings.Cut(sess.RawCommand, " ")
		s.log.Debug("session ended", "remote", addrString(sess.RemoteAddr), "name", sess.Identity.Name, "verb", verb,
			"pty", sess.PTY != nil, "exit", code, "duration", time.Since(start))
	}
}

// exitCode maps a handler's return value to a process-like status.
func exitCode(code int) uint32 {
	if code < 0 || code > 255 {
		return 255
	}
	return uint32(code)
}

// run calls h, turning a panic into exit status 255, a line on stderr and a
// log line with the stack.
func (s *Server) run(h Handler, sess *Session) (code int) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("session handler panicked", "remote", addrString(sess.RemoteAddr), "name", sess.Identity.Name,
				"panic", r, "stack", string(debug.Stack()))
			_, _ = io.WriteString(sess.Stderr, "internal error\n")
			code = 255
		}
	}()
	return h(sess)
}

// recoverLog is deferred on every goroutine of this package that serves a
// client: a panic is logged and contained.
func (s *Server) recoverLog(what string) {
	if r := recover(); r != nil {
		s.log.Error("panic in "+what, "panic", r, "stack", string(debug.Stack()))
	}
}

// newSession wires a session's streams for its route (see Session); stop,
// when not nil, ends the terminal input reader once the handler returns.
func (s *Server) newSession(ctx context.Context, cancel context.CancelFunc, ch gossh.Channel, rt route, id keys.Identity,
	raw string, pty *PTY, echo bool, env map[string]string, sctx ssh.Context) (*Session, func()) {
	sess := &Session{
		Context:    ctx,
		Identity:   id,
		RawCommand: raw,
		Raw:        ch,
		PTY:        pty,
		Env:        env,
		RemoteAddr: sctx.RemoteAddr(),
		LocalAddr:  sctx.LocalAddr(),
	}
	if pty == nil || rt == routeGit {
		sess.Stdin, sess.Stdout, sess.Stderr = ch, ch, ch.Stderr()
		return sess, nil
	}
	out := &crlfWriter{w: ch}
	sess.Stdout, sess.Stderr = out, out
	if rt == routeTUI || s.cfg.RawTerminal {
		sess.Stdin = ch
		return sess, nil
	}
	var echoTo io.Writer
	if echo {
		echoTo = out
	}
	in := newTTYInput(echoTo, cancel)
	go func() {
		defer s.recoverLog("terminal input")
		in.pump(ch)
	}()
	sess.Stdin = in
	sess.Raw = rawTTY{in: in, w: ch}
	return sess, in.stop
}
