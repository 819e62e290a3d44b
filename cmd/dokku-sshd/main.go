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
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"k8s.io/klog/v2"

	"golang.org/x/sys/unix"

	"dokku-sshd/commands"
	"dokku-sshd/deploy"
	"dokku-sshd/keys"
	"dokku-sshd/metrics"
	"dokku-sshd/output"
	"dokku-sshd/proxy"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/dockerlocal"
	"dokku-sshd/store"
	"dokku-sshd/tui"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	var c config
	if len(args) > 0 && args[0] == "serve" {
		fs, envErr := c.flagSet("dokku-sshd serve", os.LookupEnv)
		if err := fs.Parse(args[1:]); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return output.ExitUsage
		}
		if envErr != nil {
			complain(envErr)
			return output.ExitUsage
		}
		if err := serve(&c); err != nil {
			fmt.Fprintln(os.Stderr, "dokku-sshd:", err)
			return output.ExitCode(err)
		}
		return 0
	}
	rest, err := c.splitLocalArgs(args, os.LookupEnv)
	if err != nil {
		complain(err)
		return output.ExitUsage
	}
	a, err := newApp(&c, nil, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dokku-sshd:", err)
		return output.ExitCode(err)
	}
	_, ttyErr := unix.IoctlGetTermios(int(os.Stdin.Fd()), unix.TCGETS)
	io := commands.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, TTY: ttyErr == nil}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return a.commands.Run(ctx, io, keys.Identity{Name: "root", Local: true, Admin: true}, rest)
}

// complain prints err on stderr, each of its lines (one a setting, when
// several are refused) after the program's name.
func complain(err error) {
	for line := range strings.Lines(err.Error()) {
		fmt.Fprintln(os.Stderr, "dokku-sshd:", strings.TrimSuffix(line, "\n"))
	}
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
	proxy    *proxy.Router          // nil when HTTP routing is off
	commands *commands.Dispatcher
	tui      *tui.Server
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
	a.pipeline, a.docker = newPipeline(st, logger, c.NullBuilderSleep)
	a.proxy = newRouter(c, st, a.docker, logger)
	a.commands = commands.New(commands.Config{Store: st, Keys: a.keys, Version: version, Fallback: c.DokkuBin, Logger: logger, Pipeline: a.pipeline, Proxy: a.proxy,
		Observer: observer[commands.Observer](m)})
	a.pipeline.Observer = observer[deploy.Observer](m)
	a.tui = &tui.Server{Commands: a.commands, Store: st, Builds: a.pipeline.Builds, Events: dashboardEvents(a.pipeline, logger), Logger: logger}
	return a, nil
}

// serve runs the server until SIGTERM or SIGINT.
func serve(c *config) error {
	logger, err := newLogger(c)
	if err != nil {
		return err
	}
	// client-go logs through klog (a stream closed by a client that went
	// away, say): into the server's log, not as other lines on stderr.
	klog.SetSlogLogger(logger.With("component", "client-go"))
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
	srv, err := newServer(c, logger, m)
	if err != nil {
		return err
	}
	listeners, err := listen(c.Listen)
	if err != nil {
		srv.close()
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	return srv.Serve(listeners, sig)
}

// dashboardEvents tells the dashboard's sessions which apps changed: the
// schedulers' process events (Docker's events, pod watches) and builds
// starting and ending.
func dashboardEvents(p *deploy.Pipeline, logger *slog.Logger) *tui.Events {
	ev := &tui.Events{Logger: logger}
	for _, s := range p.Schedulers.All() {
		if w, ok := s.(schedulers.Watcher); ok {
			ev.AddSource(s.Name(), w.Watch)
		}
	}
	p.Builds.OnChange = ev.Publish
	return ev
}
