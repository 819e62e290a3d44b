package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"dokku-sshd/commands"
	"dokku-sshd/deploy"
	"dokku-sshd/gitrecv"
	"dokku-sshd/keys"
	"dokku-sshd/metrics"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/sshd"
	"dokku-sshd/tui"
)

// server is the SSH server with everything behind it wired from the
// settings: commands, git's transports, the deploy pipeline.
type server struct {
	cfg *config
	log *slog.Logger
	app *app
	git *gitrecv.Server
	ssh *sshd.Server
	// host is Dokku host mode's command runner (--dokku-host); nil in
	// native mode.
	host *hostMode
}

// newServer wires the server from c (host keys are loaded, or made, in
// the data directory); m is nil when metrics are off. Serve runs it.
func newServer(c *config, logger *slog.Logger, m *metrics.Metrics) (*server, error) {
	a, err := newApp(c, logger, m)
	if err != nil {
		return nil, err
	}
	srv := &server{cfg: c, log: logger, app: a, git: newGitServer(c, a, logger, m)}
	command, git := srv.command, srv.gitSession
	// The TUI runs the native commands; in Dokku host mode a terminal
	// with no command goes to Dokku's forced command, as under OpenSSH.
	tuiSession := srv.tuiSession
	if c.DokkuHost {
		tuiSession = nil
		if srv.host, err = newHostMode(logger, os.Geteuid(), c.User); err != nil {
			srv.close()
			return nil, err
		}
		command, git = srv.hostCommand, srv.hostGitSession
	}
	var cas []gossh.PublicKey
	if c.TrustedUserCAKeys != "" {
		if cas, err = keys.LoadCAKeys(c.TrustedUserCAKeys); err != nil {
			srv.close()
			return nil, err
		}
	}
	srv.ssh, err = sshd.New(sshd.Config{
		Listen:              c.Listen,
		HostKeyDir:          a.store.Paths.HostKeyDir(),
		User:                c.User,
		Keys:                a.keys,
		TrustedUserCAKeys:   cas,
		HandshakeTimeout:    c.HandshakeTimeout,
		IdleTimeout:         c.IdleTimeout,
		KeepaliveInterval:   c.KeepaliveInterval,
		KeepaliveCountMax:   c.KeepaliveCountMax,
		MaxConnections:      c.MaxConnections,
		MaxConnectionsPerIP: c.MaxConnectionsPerIP,
		MaxSessionsPerConn:  c.MaxSessions,
		MaxUnauthenticated:  c.MaxUnauthenticated,
		AuthLogBurst:        c.AuthLogBurst,
		ShutdownGrace:       c.ShutdownGrace,
		Logger:              logger,
		LegacyAlgorithms:    c.LegacyAlgorithms,
		Observer:            observer[sshd.Observer](m),
		RefuseSignals:       c.DokkuHost,
		RawTerminal:         c.DokkuHost,
		KeyPTYOptions:       c.DokkuHost,
	}, sshd.Handlers{Command: command, Git: git, TUI: tuiSession})
	if err != nil {
		srv.close()
		return nil, err
	}
	m.ConnStats(connStats(srv.ssh))
	return srv, nil
}

// newGitServer serves git's transports for the apps' repositories; a push
// runs the deploy pipeline as its hook, or in Dokku host mode the
// repository's own hooks.
func newGitServer(c *config, a *app, logger *slog.Logger, m *metrics.Metrics) *gitrecv.Server {
	st := a.store
	if c.DokkuHost {
		// No after-push step and no HEAD moved: receive-pack's own
		// receive.autogc runs within the push, and HEAD stays Dokku's.
		return &gitrecv.Server{
			Store:    st,
			Logger:   logger,
			Observer: observer[gitrecv.PushObserver](m),
			Receiver: &gitrecv.Receiver{
				Logger:      logger,
				Agent:       "dokku-sshd/" + version,
				MaxPackSize: c.MaxPackSize,
				Repo:        &gitrecv.RepoHooks{},
			},
		}
	}
	return &gitrecv.Server{
		Store:  st,
		Logger: logger,
		Now:    func() int64 { return time.Now().Unix() },
		AfterPush: func(ctx context.Context, app, repo string) {
			gitrecv.AutoGC(ctx, repo, logger)
		},
		Observer: observer[gitrecv.PushObserver](m),
		Receiver: &gitrecv.Receiver{
			Logger:      logger,
			Agent:       "dokku-sshd/" + version,
			MaxPackSize: c.MaxPackSize,
			Heartbeat:   c.ProgressInterval,
			Hook:        gitHook(a.pipeline),
			RefsMoved: func(ctx context.Context, app, repo string) {
				deploy.PointHead(ctx, st, app, repo)
			},
		},
	}
}

// tuiSession serves the TUI to a terminal session with no command.
func (srv *server) tuiSession(s *sshd.Session) int {
	win := tui.Window{Width: s.PTY.Width, Height: s.PTY.Height}
	return srv.app.tui.Serve(&tui.Session{
		Ctx: clientContext(s), Identity: s.Identity,
		Stdin: s.Stdin, Stdout: s.Stdout, Raw: s.Raw,
		Term: s.PTY.Term, Window: win,
		Resize: resizes(s, func(w sshd.Window) tui.Window { return tui.Window{Width: w.Width, Height: w.Height} }),
		Env:    s.Env, User: srv.cfg.User, RemoteAddr: s.RemoteAddr, LocalAddr: s.LocalAddr,
	})
}

// command runs a session's Dokku command.
func (srv *server) command(s *sshd.Session) int {
	io := commands.IO{Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr, TTY: s.PTY != nil}
	if s.PTY != nil {
		io.Terminal = terminal(s)
	}
	return srv.app.commands.RunSSH(clientContext(s), io, s.Identity, s.RawCommand)
}

// gitSession serves a session's git-receive-pack, git-upload-pack or
// git-upload-archive.
func (srv *server) gitSession(s *sshd.Session) int {
	return srv.git.Serve(clientContext(s), s.RawCommand, s.Env["GIT_PROTOCOL"], s.Stdin, s.Stdout, s.Stderr)
}

// clientContext is the session's context carrying the client's address,
// which the server log names next to an unexpected error's details.
func clientContext(s *sshd.Session) context.Context {
	if s.RemoteAddr == nil {
		return s.Context
	}
	return output.WithRemote(s.Context, s.RemoteAddr.String())
}

// terminal describes the session's PTY to commands; window changes are
// passed on with the newest size kept (sshd.SendNewest), as sshd delivers
// them.
func terminal(s *sshd.Session) *commands.Terminal {
	resize := resizes(s, func(w sshd.Window) schedulers.WindowSize {
		return schedulers.WindowSize{Width: w.Width, Height: w.Height}
	})
	return &commands.Terminal{Term: s.PTY.Term, Width: s.PTY.Width, Height: s.PTY.Height, Resize: resize, Raw: s.Raw}
}

// resizes passes the session's window changes on, as conv makes them,
// until the session ends; the newest size is kept (sshd.SendNewest).
func resizes[T any](s *sshd.Session, conv func(sshd.Window) T) <-chan T {
	resize := make(chan T, 1)
	go func() {
		for {
			select {
			case <-s.Context.Done():
				return
			case w, ok := <-s.PTY.Resize:
				if !ok {
					return
				}
				sshd.SendNewest(resize, conv(w))
			}
		}
	}()
	return resize
}

// listen returns systemd's sockets under socket activation, else a
// listener on addr.
func listen(addr string) ([]net.Listener, error) {
	listeners, err := sshd.ActivationListeners()
	if err != nil || len(listeners) > 0 {
		return listeners, err
	}
	l, err := sshd.Listen(addr)
	if err != nil {
		return nil, err
	}
	return []net.Listener{l}, nil
}

// Serve serves on listeners until a signal arrives on stop or one of them
// fails, and after a signal shuts down: sessions have ShutdownGrace to end.
// The background work (the retirement of old containers) runs meanwhile.
func (srv *server) Serve(listeners []net.Listener, stop <-chan os.Signal) error {
	c, logger, paths := srv.cfg, srv.log, srv.app.store.Paths
	// Before serving: leftovers of a killed server (quarantines, ref locks).
	// Not in Dokku host mode: pushes there take no lock the sweep knows of,
	// and C git's receive-pack under OpenSSH may be pushing this very
	// moment, into a quarantine and behind ref locks of the same names.
	if srv.host == nil {
		if err := srv.git.SweepStale(); err != nil {
			logger.Warn("start-up sweep", "err", err)
		}
	}
	defer srv.close()
	routing := srv.app.proxy != nil && startNginx(srv.app.proxy, logger)
	if srv.app.proxy != nil && !routing {
		srv.app.docker.Router = nil
	}
	// The background work ends before Serve returns (and before the Docker
	// client closes): it writes in the data directory.
	bg, stopBG := context.WithCancel(context.Background())
	var bgDone sync.WaitGroup
	defer bgDone.Wait()
	defer stopBG()
	// In Dokku host mode the containers are Dokku's: its ps:retire cron job
	// retires them, and the list it appends to is its own.
	if srv.app.docker != nil && srv.host == nil && c.RetireInterval > 0 {
		bgDone.Go(func() { retireLoop(bg, c.RetireInterval, srv.app.store, srv.app.docker, logger) })
	}
	if routing {
		bgDone.Go(func() { rebuildRoutes(bg, srv.app.proxy, logger) })
	}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		logger.Info("listening", "addr", l.Addr().String(), "data_dir", paths.DataDir, "root_dir", paths.RootDir,
			"lib_dir", paths.LibDir, "authorized_keys", paths.AuthorizedKeys, "version", version)
		go func(l net.Listener) { errc <- srv.ssh.Serve(l) }(l)
	}
	select {
	case s := <-stop:
		logger.Info("shutting down", "signal", s.String(), "grace", c.ShutdownGrace.String())
	case err := <-errc:
		if err != nil && !errors.Is(err, sshd.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("serve: %w", err)
		}
	}
	return srv.shutdown()
}

// shutdown ends the sessions (within ShutdownGrace), then waits for the
// after-push work of those already ended, for what is left of the grace.
func (srv *server) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), srv.cfg.ShutdownGrace)
	defer cancel()
	if err := srv.ssh.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	_ = srv.git.Shutdown(ctx) // after-push work (git gc) of sessions already ended
	if srv.host != nil {
		srv.host.wait() // the hung-up forced commands, until they end or are killed
	}
	srv.log.Info("stopped")
	return nil
}

// close stops the server's nginx and releases the Docker client, when
// there are.
func (srv *server) close() {
	if srv.app.proxy != nil {
		srv.app.proxy.Nginx.Stop()
	}
	if srv.app.docker != nil {
		srv.app.docker.Close()
	}
}
