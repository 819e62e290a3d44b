package sshd

import (
	"context"
	"io"
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

// isGitService reports whether an exec command is one of git's transports.
func isGitService(raw string) bool {
	f := strings.Fields(raw)
	if len(f) == 0 {
		return false
	}
	switch f[0] {
	case "git-receive-pack", "git-upload-pack", "git-upload-archive":
		return true
	}
	return false
}

// handleSession serves one session channel: it answers the channel's
// requests itself (only pty-req, env from the allow-list, window-change,
// exec and shell are accepted; subsystems, X11, agent forwarding and
// everything else are refused) and runs the routed handler once.
func (s *Server) handleSession(_ *ssh.Server, _ *gossh.ServerConn, nc gossh.NewChannel, ctx ssh.Context) {
	st, _ := ctx.Value(ctxKey{}).(*connState)
	if st == nil {
		_ = nc.Reject(gossh.ConnectionFailed, "no connection state")
		return
	}
	if int(st.sessions.Add(1)) > s.cfg.MaxSessionsPerConn {
		st.sessions.Add(-1)
		_ = nc.Reject(gossh.ResourceShortage, "too many sessions on this connection")
		return
	}
	defer func() {
		if st.sessions.Add(-1) == 0 {
			st.idleFrom.Store(time.Now().UnixNano())
		}
	}()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = nc.Reject(gossh.ResourceShortage, "server is shutting down")
		return
	}
	s.sessions.Add(1)
	s.mu.Unlock()
	defer s.sessions.Done()

	// The identity comes from the key the handshake verified, looked up
	// again now: what was offered during authentication does not count.
	key, _ := ctx.Value(ssh.ContextKeyPublicKey).(ssh.PublicKey)
	if key == nil {
		_ = nc.Reject(gossh.Prohibited, "not authenticated")
		return
	}
	id, err := s.identify(ctx.User(), key, ctx.RemoteAddr())
	if err != nil {
		s.cfg.Logger.Info("session refused", "remote", addrString(ctx.RemoteAddr()), "reason", err.Error())
		_ = nc.Reject(gossh.Prohibited, "not authorized")
		return
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		pty     *PTY
		resize  chan Window
		env     = map[string]string{}
		started bool
		done    = make(chan struct{})
	)
	for req := range reqs {
		switch req.Type {
		case "pty-req":
			var p struct {
				Term                 string
				Cols, Rows, Wpx, Hpx uint32
				Modes                string
			}
			if started || pty != nil || gossh.Unmarshal(req.Payload, &p) != nil {
				_ = req.Reply(false, nil)
				continue
			}
			resize = make(chan Window, 1)
			pty = &PTY{Term: p.Term, Width: int(p.Cols), Height: int(p.Rows), Resize: resize}
			_ = req.Reply(true, nil)
		case "window-change":
			var w struct{ Cols, Rows, Wpx, Hpx uint32 }
			if pty == nil || gossh.Unmarshal(req.Payload, &w) != nil {
				_ = req.Reply(false, nil)
				continue
			}
			sendNewest(resize, Window{Width: int(w.Cols), Height: int(w.Rows)})
			_ = req.Reply(true, nil)
		case "env":
			var kv struct{ Name, Value string }
			if started || gossh.Unmarshal(req.Payload, &kv) != nil || !envAllowed(kv.Name) {
				_ = req.Reply(false, nil)
				continue
			}
			env[kv.Name] = kv.Value
			_ = req.Reply(true, nil)
		case "exec", "shell":
			var cmd struct{ Command string }
			if req.Type == "exec" && gossh.Unmarshal(req.Payload, &cmd) != nil {
				_ = req.Reply(false, nil)
				continue
			}
			if started {
				_ = req.Reply(false, nil)
				continue
			}
			started = true
			_ = req.Reply(true, nil)
			sess := s.newSession(sctx, cancel, ch, id, cmd.Command, pty, env, ctx)
			h := s.route(cmd.Command, req.Type == "shell", pty != nil)
			go func() {
				defer close(done)
				code := s.run(h, sess)
				_ = ch.CloseWrite()
				_, _ = ch.SendRequest("exit-status", false, gossh.Marshal(struct{ Status uint32 }{uint32(code)}))
				_ = ch.Close()
			}()
		default:
			// subsystem, x11-req, auth-agent-req@openssh.com, signal, break, ...
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
	// The client closed the channel or the connection is gone.
	cancel()
	if started {
		<-done
	}
	_ = ch.Close()
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

func (s *Server) route(raw string, shell, hasPTY bool) Handler {
	switch {
	case shell && hasPTY && s.handlers.TUI != nil:
		return s.handlers.TUI
	case !shell && isGitService(raw) && s.handlers.Git != nil:
		return s.handlers.Git
	}
	return s.handlers.Command
}

func (s *Server) newSession(ctx context.Context, cancel context.CancelFunc, ch gossh.Channel, id keys.Identity, raw string, pty *PTY, env map[string]string, sctx ssh.Context) *Session {
	sess := &Session{
		Context:    ctx,
		Identity:   id,
		RawCommand: raw,
		Raw:        ch,
		PTY:        pty,
		Env:        env,
		RemoteAddr: sctx.RemoteAddr(),
	}
	if pty == nil {
		sess.Stdin, sess.Stdout, sess.Stderr = ch, ch, ch.Stderr()
		return sess
	}
	out := &crlfWriter{w: ch}
	sess.Stdout, sess.Stderr = out, out
	sess.Stdin = &cookedReader{r: ch, echo: out, interrupt: cancel}
	return sess
}

// run calls h, turning a panic into exit status 255 and a log line.
func (s *Server) run(h Handler, sess *Session) (code int) {
	defer func() {
		if r := recover(); r != nil {
			s.cfg.Logger.Error("session handler panicked", "remote", addrString(sess.RemoteAddr), "panic", r, "stack", string(debug.Stack()))
			_, _ = io.WriteString(sess.Stderr, "internal error\n")
			code = 255
		}
	}()
	return h(sess)
}
