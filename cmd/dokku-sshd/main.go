// Command dokku-sshd is the SSH front door of a Dokku-style PaaS host:
// `dokku-sshd serve` runs the server; `dokku-sshd COMMAND ARGS...` runs one
// command locally as the host administrator, against the same data.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"dokku-sshd/commands"
	"dokku-sshd/deploy"
	"dokku-sshd/gitrecv"
	"dokku-sshd/keys"
	"dokku-sshd/metrics"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/dockerlocal"
	"dokku-sshd/sshd"
	"dokku-sshd/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var c config
	if len(args) > 0 && args[0] == "serve" {
		fs := c.flagSet("dokku-sshd serve")
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if err := serve(&c); err != nil {
			fmt.Fprintln(os.Stderr, "dokku-sshd:", err)
			return 1
		}
		return 0
	}
	rest, err := c.splitLocalArgs(args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dokku-sshd:", err)
		return 2
	}
	a, err := newApp(&c, nil, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dokku-sshd:", err)
		return 1
	}
	_, ttyErr := unix.IoctlGetTermios(int(os.Stdin.Fd()), unix.TCGETS)
	io := commands.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, TTY: ttyErr == nil}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return a.commands.Run(ctx, io, keys.Identity{Name: "root", Local: true, Admin: true}, rest)
}

func newLogger(c *config) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", c.LogFormat)
}

// paths makes every configured path absolute: git runs in other working
// directories, with GIT_DIR and alternates that must not be relative.
func (c *config) paths() (store.Paths, error) {
	p := store.Paths{DataDir: c.DataDir, RootDir: c.RootDir, LibDir: c.LibDir, AuthorizedKeys: c.AuthorizedKeys}
	for _, f := range []*string{&p.DataDir, &p.RootDir, &p.LibDir, &p.AuthorizedKeys} {
		if *f == "" {
			continue
		}
		abs, err := filepath.Abs(*f)
		if err != nil {
			return p, fmt.Errorf("path %s: %w", *f, err)
		}
		*f = abs
	}
	return p.Derive(), nil
}

// app is everything wired together, the same way for the server and for
// local commands.
type app struct {
	store    *store.Store
	keys     *keys.Store
	pipeline *deploy.Pipeline
	docker   *dockerlocal.Scheduler // nil without a Docker client
	commands *commands.Dispatcher
}

func newApp(c *config, logger *slog.Logger, m *metrics.Metrics) (*app, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	paths, err := c.paths()
	if err != nil {
		return nil, err
	}
	st, err := store.New(paths)
	if err != nil {
		return nil, err
	}
	a := &app{store: st, keys: keys.Open(st.Paths.AuthorizedKeys, c.adminNames())}
	a.pipeline, a.docker = newPipeline(st, logger)
	a.commands = commands.New(commands.Config{Store: st, Keys: a.keys, Version: version, Fallback: c.DokkuBin, Logger: logger, Pipeline: a.pipeline,
		Observer: observer[commands.Observer](m)})
	a.pipeline.Observer = observer[deploy.Observer](m)
	a.pipeline.Config = st.MergedEnv
	return a, nil
}

func serve(c *config) error {
	logger, err := newLogger(c)
	if err != nil {
		return err
	}
	stopProfile, err := startCPUProfile(c.CPUProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	m, stopMetrics, err := startMetrics(c.MetricsListen, logger)
	if err != nil {
		return err
	}
	defer stopMetrics()
	a, err := newApp(c, logger, m)
	if err != nil {
		return err
	}
	st, paths := a.store, a.store.Paths
	var cas []gossh.PublicKey
	if c.TrustedUserCAKeys != "" {
		if cas, err = keys.LoadCAKeys(c.TrustedUserCAKeys); err != nil {
			return err
		}
	}
	command := func(s *sshd.Session) int {
		io := commands.IO{Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr, TTY: s.PTY != nil}
		if s.PTY != nil {
			io.Terminal = terminal(s)
		}
		return a.commands.RunSSH(clientContext(s), io, s.Identity, s.RawCommand)
	}
	gitServer := &gitrecv.Server{
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
	git := func(s *sshd.Session) int {
		return gitServer.Serve(clientContext(s), s.RawCommand, s.Env["GIT_PROTOCOL"], s.Stdin, s.Stdout, s.Stderr)
	}
	srv, err := sshd.New(sshd.Config{
		Listen:              c.Listen,
		HostKeyDir:          paths.HostKeyDir(),
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
	}, sshd.Handlers{Command: command, Git: git})
	if err != nil {
		return err
	}
	m.ConnStats(connStats(srv))
	listeners, err := sshd.ActivationListeners()
	if err != nil {
		return err
	}
	if len(listeners) == 0 {
		l, err := sshd.Listen(c.Listen)
		if err != nil {
			return err
		}
		listeners = []net.Listener{l}
	}
	// Before serving: leftovers of a killed server (quarantines, ref locks).
	if err := gitServer.SweepStale(); err != nil {
		logger.Warn("start-up sweep", "err", err)
	}
	bg, stopBG := context.WithCancel(context.Background())
	defer stopBG()
	if a.docker != nil {
		go retireLoop(bg, a.docker, logger)
		defer a.docker.Close()
	}
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		logger.Info("listening", "addr", l.Addr().String(), "data_dir", paths.DataDir, "root_dir", paths.RootDir,
			"lib_dir", paths.LibDir, "authorized_keys", paths.AuthorizedKeys, "version", version)
		go func(l net.Listener) { errc <- srv.Serve(l) }(l)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	select {
	case s := <-sig:
		logger.Info("shutting down", "signal", s.String(), "grace", c.ShutdownGrace.String())
	case err := <-errc:
		if err != nil && !strings.Contains(err.Error(), "closed") {
			return fmt.Errorf("serve: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	_ = gitServer.Shutdown(ctx) // after-push work (git gc) of sessions already ended
	logger.Info("stopped")
	return nil
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
// passed on with the newest size kept, as sshd delivers them.
func terminal(s *sshd.Session) *commands.Terminal {
	resize := make(chan schedulers.WindowSize, 1)
	go func() {
		for {
			select {
			case <-s.Context.Done():
				return
			case w, ok := <-s.PTY.Resize:
				if !ok {
					return
				}
				ws := schedulers.WindowSize{Width: w.Width, Height: w.Height}
				select {
				case resize <- ws:
				default:
					select { // drop the older size nobody read
					case <-resize:
					default:
					}
					resize <- ws
				}
			}
		}
	}()
	return &commands.Terminal{Term: s.PTY.Term, Width: s.PTY.Width, Height: s.PTY.Height, Resize: resize, Raw: s.Raw}
}
