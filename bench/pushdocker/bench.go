package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"dokku-sshd/internal/dockertest"
)

// result is one deploy's phases, on one path.
type result struct {
	Regime string
	Path   string // server | direct
	Round  int
	Index  int // 0: first deploy
	P      phases
}

func (r result) kind() string {
	if r.Index == 0 {
		return "first"
	}
	return "redeploy"
}

// benchOpts are the bench command's flags.
type benchOpts struct {
	url, data, work, prefix, out, serverLog string
	pid, rounds, redeploys                  int
	regimes                                 []string
	poll, settle, timeout                   time.Duration
}

func parseBenchFlags(args []string) (benchOpts, error) {
	var o benchOpts
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.StringVar(&o.url, "url", "", "ssh://dokku@127.0.0.1:PORT/ (required)")
	fs.StringVar(&o.data, "data", "", "dokku-sshd's data dir (required)")
	fs.IntVar(&o.pid, "pid", 0, "dokku-sshd's pid (required)")
	fs.StringVar(&o.work, "work", "", "directory for the client repositories (required)")
	fs.StringVar(&o.prefix, "prefix", "", "app name prefix (required)")
	fs.IntVar(&o.rounds, "rounds", 1, "rounds: each is a first deploy of new apps, then -redeploys redeploys")
	fs.IntVar(&o.redeploys, "redeploys", 4, "redeploys per round")
	regimes := fs.String("regimes", "skip,min", "check regimes, in order: skip (checks skipped=_all_), min (default-wait 0: uptime 0 + listening check)")
	fs.DurationVar(&o.poll, "poll", 5*time.Millisecond, "poll interval of the state files and of HTTP, both paths")
	fs.DurationVar(&o.settle, "settle", 500*time.Millisecond, "pause between deploys")
	fs.StringVar(&o.out, "out", "", "directory for raw results (results.csv, transcripts)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "limit of one push")
	fs.StringVar(&o.serverLog, "log", "", "the server's log file (text format), to split git receive from the pipeline")
	_ = fs.Parse(args)
	if o.url == "" || o.data == "" || o.pid <= 0 || o.work == "" || len(o.prefix) < 4 || o.out == "" {
		return o, errors.New("bench: -url, -data, -pid, -work, -prefix and -out are required")
	}
	if o.rounds < 1 || o.redeploys < 0 {
		return o, errors.New("bench: -rounds >= 1 and -redeploys >= 0")
	}
	for _, r := range strings.Split(*regimes, ",") {
		r = strings.TrimSpace(r)
		if r != "skip" && r != "min" {
			return o, fmt.Errorf("bench: unknown regime %q (skip, min)", r)
		}
		o.regimes = append(o.regimes, r)
	}
	return o, nil
}

func cmdBench(args []string) error {
	o, err := parseBenchFlags(args)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	ctx := context.Background()
	cli, err := newClient(ctx)
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := ensureBase(ctx, cli); err != nil {
		return err
	}
	b := &bench{benchOpts: o, cli: cli, base: dockertest.BaseImage}
	for _, reg := range o.regimes {
		for r := 1; r <= o.rounds; r++ {
			if err := b.round(ctx, reg, r); err != nil {
				return err
			}
		}
	}
	if err := writeCSV(filepath.Join(o.out, "results.csv"), b.results); err != nil {
		return err
	}
	if info, err := cli.Info(ctx, client.InfoOptions{}); err == nil {
		fmt.Printf("Docker %s (storage driver %s, cgroup v%s), %d CPUs; %d rounds x (1 first deploy + %d redeploys) per regime and path; poll %v\n",
			info.Info.ServerVersion, info.Info.Driver, info.Info.CgroupVersion, info.Info.NCPU, o.rounds, o.redeploys, o.poll)
	}
	report(os.Stdout, b.results, o.regimes)
	return nil
}

// bench runs server pushes and direct deploys and keeps their results.
type bench struct {
	benchOpts
	cli     *client.Client
	base    string
	results []result
}

// round is round r of regime reg: a first deploy of two new apps, one
// through the server and one direct, then the redeploys, the two paths
// alternating which goes first.
func (b *bench) round(ctx context.Context, reg string, r int) error {
	sapp := fmt.Sprintf("%s-%s%d", b.prefix, reg, r)
	dapp := sapp + "-d"
	if reg == "skip" {
		// An app property, written before the app exists: the
		// first push creates it and keeps its properties.
		dir := filepath.Join(b.data, "lib", "config", "checks", sapp)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "skipped"), []byte("_all_"), 0o644); err != nil {
			return err
		}
	}
	srv := &serverApp{url: b.url, data: b.data, pid: b.pid, app: sapp, repo: filepath.Join(b.work, sapp), poll: b.poll, timeout: b.timeout, cli: b.cli, logFile: b.serverLog}
	dir := &directApp{cli: b.cli, app: dapp, base: b.base, poll: b.poll, stopWait: 30}
	for i := 0; i <= b.redeploys; i++ {
		runServer := func() error { return b.serverPush(ctx, srv, reg, r, i) }
		runDirect := func() error { return b.directDeploy(ctx, dir, reg, r, i) }
		// Alternate which path goes first.
		order := []func() error{runServer, runDirect}
		if (i+r)%2 == 1 {
			order = []func() error{runDirect, runServer}
		}
		for _, f := range order {
			if err := f(); err != nil {
				_ = writeCSV(filepath.Join(b.out, "results.csv"), b.results)
				return err
			}
			time.Sleep(b.settle)
		}
	}
	// This round's containers and images go; the next round starts clean.
	cctx, ccancel := context.WithTimeout(ctx, 2*time.Minute)
	defer ccancel()
	for _, a := range []string{sapp, dapp} {
		if err := dockertest.RemoveApp(cctx, b.cli, a); err != nil {
			fmt.Fprintf(os.Stderr, "pushdocker: cleanup of %s: %v\n", a, err)
		}
	}
	return nil
}

// serverPush is deploy i of round r through the server; its transcript
// is kept in the -out directory.
func (b *bench) serverPush(ctx context.Context, srv *serverApp, reg string, r, i int) error {
	marker := fmt.Sprintf("server %s %d %s", srv.app, i, newNonce())
	p, transcript, err := srv.push(ctx, map[string]string{"Dockerfile": dockerfile(b.base), "index.html": indexHTML(marker)}, marker)
	_ = os.WriteFile(filepath.Join(b.out, fmt.Sprintf("%s.%d.transcript", srv.app, i)), []byte(transcript), 0o644)
	if err != nil {
		return fmt.Errorf("server %s push %d: %w", srv.app, i, err)
	}
	if reg == "skip" && p["checks_skipped"] != 1 {
		return fmt.Errorf("server %s: checks were not skipped (see the transcript)", srv.app)
	}
	b.add(result{Regime: reg, Path: "server", Round: r, Index: i, P: p})
	return nil
}

// directDeploy is deploy i of round r with direct Engine API calls.
func (b *bench) directDeploy(ctx context.Context, dir *directApp, reg string, r, i int) error {
	marker := fmt.Sprintf("direct %s %d %s", dir.app, i, newNonce())
	p, err := dir.deploy(ctx, map[string]string{"Dockerfile": dockerfile(b.base), "index.html": indexHTML(marker)}, marker, fmt.Sprintf("%040x", i+1))
	if err != nil {
		return fmt.Errorf("direct %s deploy %d: %w", dir.app, i, err)
	}
	b.add(result{Regime: reg, Path: "direct", Round: r, Index: i, P: p})
	return nil
}

func (b *bench) add(res result) {
	b.results = append(b.results, res)
	logResult(res)
}

func logResult(r result) {
	fmt.Fprintf(os.Stderr, "==> %s %s round %d %s %d: running %.0f ms (before_build %.0f, docker_build %.0f, release %.0f, container %.0f, until_answer %.0f)\n",
		r.Regime, r.Path, r.Round, r.kind(), r.Index, r.P["running"], r.P["before_build"], r.P["docker_build"], r.P["release"], r.P["container"], r.P["until_answer"])
}
