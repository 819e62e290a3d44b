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

// envAllowed is the environment a client may set: locale, terminal type,
// and git's protocol version.
func envAllowed(name string) bool {
	return name == "LANG" || name == "TERM" || name == "GIT_PROTOCOL" || strings.HasPrefix(name, "LC_")
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
)

// handleSession serves one session channel. It answers the channel's
// requests itself: pty-req, window-change, env (allow-listed), exec, shell
// and signal are accepted; subsystems, X11, agent forwarding, break and
// everything else are refused. The first exec or shell runs the routed
// handler on its own goroutine while this one keeps answering requests.
func (s *Server) handleSession(_ *ssh.Server, sc *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	defer s.recoverLog("session")
	c := connFromContext(ctx)
	id, ok := identityFromPermissions(sc.Permissions)
	if c == nil || !ok {
		_ = nc.Reject(gossh.Prohibited, "not authenticated")
		return
	}
	if !c.sessionStarted() {
		_ = nc.Reject(gossh.ResourceShortage, "too many sessions on this connection")
		return
	}
	defer c.sessionEnded()
	if !s.sessionStarted() {
		_ = nc.Reject(gossh.ResourceShortage, "server is shutting down")
		return
	}
	defer s.sessionEnded()
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		pty     *PTY
		echo    bool // the client's terminal modes ask for echo
		resize  chan Window
		env     = map[string]string{}
		started bool
		done    = make(chan struct{})
	)
	reply := func(req *gossh.Request, ok bool) {
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
	}
	for req := range reqs {
		switch req.Type {
		case "pty-req":
			var p ptyRequest
			if started || pty != nil || gossh.Unmarshal(req.Payload, &p) != nil {
				reply(req, false)
				continue
			}
			resize = make(chan Window, 1)
			pty = &PTY{Term: p.Term, Width: int(p.Cols), Height: int(p.Rows), Resize: resize}
			echo = ptyEcho(p.Modes)
			reply(req, true)
		case "window-change":
			var w windowChange
			if pty == nil || gossh.Unmarshal(req.Payload, &w) != nil {
				reply(req, false)
				continue
			}
			sendNewest(resize, Window{Width: int(w.Cols), Height: int(w.Rows)})
			reply(req, true)
		case "env":
			var kv envRequest
			if started || gossh.Unmarshal(req.Payload, &kv) != nil || !envAllowed(kv.Name) {
				reply(req, false)
				continue
			}
			env[kv.Name] = kv.Value
			reply(req, true)
		case "exec", "shell":
			var cmd execRequest
			if started || (req.Type == "exec" && gossh.Unmarshal(req.Payload, &cmd) != nil) {
				reply(req, false)
				continue
			}
			started = true
			rt, h := s.routeFor(cmd.Command, req.Type == "shell", pty != nil)
			var release func()
			if rt == routeCommand && pty == nil {
				// A command without a terminal: its reply, output and
				// exit status leave together when it is quick (hold).
				release = c.hold(coalesceLimit)
			}
			reply(req, true)
			s.sessionKind(rt)
			sess, stop := s.newSession(sctx, cancel, ch, rt, id, cmd.Command, pty, echo, env, ctx)
			go s.runSession(c, h, sess, ch, stop, release, done)
		case "signal":
			// Any signal ends the command, as the usual ones (INT, TERM,
			// HUP, KILL) would a process.
			if started {
				cancel()
			}
			reply(req, started)
		default:
			// subsystem, x11-req, auth-agent-req@openssh.com, break, ...
			reply(req, false)
		}
	}
	// The client closed the channel, or the connection is gone.
	cancel()
	if started {
		<-done
	}
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
	_, _ = ch.SendRequest("exit-status", false, gossh.Marshal(exitStatus{Status: exitCode(code)}))
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

// sendNewest delivers w, replacing an unread older size.
func sendNewest(c chan Window, w Window) {
	for {
		select {
		case c <- w:
			return
		default:
		}
		select {
		case <-c:
		default:
		}
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
	}
	if pty == nil || rt == routeGit {
		sess.Stdin, sess.Stdout, sess.Stderr = ch, ch, ch.Stderr()
		return sess, nil
	}
	out := &crlfWriter{w: ch}
	sess.Stdout, sess.Stderr = out, out
	if rt == routeTUI {
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
