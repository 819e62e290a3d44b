package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"dokku-sshd/deploy"
	"dokku-sshd/internal/dockertest"
)

// directApp is one app deployed with direct Engine API calls.
type directApp struct {
	cli      *client.Client
	app      string
	base     string
	poll     time.Duration
	stopWait int
	prevID   string // container running as <app>.web.1
	prevImg  string
	deploys  int
}

// dyno is the one process a direct deploy runs.
const dyno = "web.1"

// deploy builds files as dokku/<app>:latest (the build, then the release
// step with the labels), runs it as <app>.web.1, waits for it to answer
// with marker, then swaps names and retires the previous container and
// image. Phases are in ms; "running" is the push-to-running equivalent.
func (d *directApp) deploy(ctx context.Context, files map[string]string, marker, rev string) (phases, error) {
	p := phases{}
	dpid := dockerdPID()
	dcpu0 := dockerdCPU(dpid)
	cpu0 := selfCPU()
	t0 := time.Now()
	releasedID, t2, err := d.build(ctx, p, files, t0)
	if err != nil {
		return nil, err
	}
	id, ip, t5, err := d.start(ctx, p, rev, t2)
	if err != nil {
		return nil, err
	}
	if err := d.untilAnswer(ctx, ip, marker); err != nil {
		return nil, err
	}
	t6 := time.Now()
	p["until_answer"] = ms(t6.Sub(t5))
	p["running"] = ms(t6.Sub(t0))
	if err := d.swap(ctx, id, releasedID); err != nil {
		return nil, err
	}
	t7 := time.Now()
	p["after_running"] = ms(t7.Sub(t6))
	p["client_cpu"] = selfCPU() - cpu0
	time.Sleep(100 * time.Millisecond) // as on the server path: counters settled
	p["dockerd_cpu"] = dockerdCPU(dpid) - dcpu0
	d.prevID, d.prevImg = id, releasedID
	d.deploys++
	return p, nil
}

func (d *directApp) image() string { return "dokku/" + d.app + ":latest" }

// build is the app's build (classic builder, same options as dokku-sshd),
// then the release step: FROM the built image, the labels, the tag. It
// returns the released image and when the release ended.
func (d *directApp) build(ctx context.Context, p phases, files map[string]string, t0 time.Time) (string, time.Time, error) {
	tarball, err := contextTar(files)
	if err != nil {
		return "", time.Time{}, err
	}
	builtID, firstStep, err := classicBuild(ctx, d.cli, tarball, client.ImageBuildOptions{Dockerfile: "Dockerfile"})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("build: %w", err)
	}
	if builtID == "" {
		return "", time.Time{}, errors.New("build: no image ID reported")
	}
	t1 := time.Now()
	if !firstStep.IsZero() {
		p["before_build"] = ms(firstStep.Sub(t0))
		p["docker_build"] = ms(t1.Sub(firstStep))
	}

	rel, err := contextTar(map[string]string{"Dockerfile": deploy.ReleaseDockerfile(d.app)})
	if err != nil {
		return "", time.Time{}, err
	}
	releasedID, _, err := classicBuild(ctx, d.cli, rel, client.ImageBuildOptions{
		Tags: []string{d.image()}, BuildArgs: map[string]*string{"APP_IMAGE": &builtID},
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("release: %w", err)
	}
	t2 := time.Now()
	p["release"] = ms(t2.Sub(t1))
	return releasedID, t2, nil
}

// webConfig is web.1's container, configured as docker-local configures it.
func (d *directApp) webConfig(rev string) (*container.Config, *container.HostConfig) {
	cfg := &container.Config{
		Image: d.image(),
		Env:   []string{"GIT_REV=" + rev, "DYNO=" + dyno, "PORT=" + webPort},
		Labels: map[string]string{
			"com.dokku.app-name":              d.app,
			"com.dokku.container-type":        "deploy",
			"com.dokku.process-type":          "web",
			"com.dokku.dyno":                  dyno,
			"org.label-schema.schema-version": "1.0",
			"org.label-schema.vendor":         "dokku",
			"dokku":                           "",
		},
	}
	withInit := true
	hc := &container.HostConfig{
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyOnFailure, MaximumRetryCount: 10},
		Init:          &withInit,
	}
	return cfg, hc
}

// start creates, starts and inspects the new web.1 (t2: when the release
// ended). It returns the container, its bridge address and when the
// inspection ended.
func (d *directApp) start(ctx context.Context, p phases, rev string, t2 time.Time) (string, string, time.Time, error) {
	cfg, hc := d.webConfig(rev)
	name := fmt.Sprintf("%s.%s.upcoming-%d", d.app, dyno, mrand.IntN(32768))
	created, err := d.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: hc})
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("create: %w", err)
	}
	t3 := time.Now()
	p["create"] = ms(t3.Sub(t2))
	if _, err := d.cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		return "", "", time.Time{}, fmt.Errorf("start: %w", err)
	}
	t4 := time.Now()
	p["start"] = ms(t4.Sub(t3))
	ins, err := d.cli.ContainerInspect(ctx, created.ID, client.ContainerInspectOptions{})
	if err != nil {
		return "", "", time.Time{}, fmt.Errorf("inspect: %w", err)
	}
	ip := ""
	if ns := ins.Container.NetworkSettings; ns != nil {
		if ep := ns.Networks["bridge"]; ep != nil && ep.IPAddress.IsValid() {
			ip = ep.IPAddress.String()
		}
	}
	if ip == "" {
		return "", "", time.Time{}, errors.New("the new container has no bridge address")
	}
	t5 := time.Now()
	p["inspect"] = ms(t5.Sub(t4))
	p["container"] = ms(t5.Sub(t2))
	return created.ID, ip, t5, nil
}

// untilAnswer polls the new container until it answers with marker.
func (d *directApp) untilAnswer(ctx context.Context, ip, marker string) error {
	hctx, hcancel := context.WithTimeout(ctx, 60*time.Second)
	defer hcancel()
	for !answers(hctx, ip, webPort, marker) {
		if err := sleepCtx(hctx, d.poll); err != nil {
			return fmt.Errorf("the new container never answered at %s: %w", ip, err)
		}
	}
	return nil
}

// swap renames the old web.1 away and the new one (id) to web.1, then
// stops and removes the old one, and its image unless it is released.
func (d *directApp) swap(ctx context.Context, id, released string) error {
	cli := d.cli
	if d.prevID != "" {
		away := fmt.Sprintf("%s.%s.%d", d.app, dyno, time.Now().Unix())
		if _, err := cli.ContainerRename(ctx, d.prevID, client.ContainerRenameOptions{NewName: away}); err != nil {
			return fmt.Errorf("rename away: %w", err)
		}
	}
	if _, err := cli.ContainerRename(ctx, id, client.ContainerRenameOptions{NewName: d.app + "." + dyno}); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	if d.prevID == "" {
		return nil
	}
	no := container.RestartPolicy{Name: container.RestartPolicyDisabled}
	_, _ = cli.ContainerUpdate(ctx, d.prevID, client.ContainerUpdateOptions{RestartPolicy: &no})
	t := d.stopWait
	if _, err := cli.ContainerStop(ctx, d.prevID, client.ContainerStopOptions{Timeout: &t}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("stop old: %w", err)
	}
	if _, err := cli.ContainerRemove(ctx, d.prevID, client.ContainerRemoveOptions{Force: true}); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("remove old: %w", err)
	}
	if d.prevImg != "" && d.prevImg != released {
		_, _ = cli.ImageRemove(ctx, d.prevImg, client.ImageRemoveOptions{PruneChildren: true})
	}
	return nil
}

func cmdDirect(args []string) error {
	fs := flag.NewFlagSet("direct", flag.ExitOnError)
	runs := fs.Int("runs", 5, "deploys: a first one, then redeploys")
	app := fs.String("app", "", "app name (default pdd<random>)")
	poll := fs.Duration("poll", 5*time.Millisecond, "HTTP poll interval")
	keep := fs.Bool("keep", false, "keep the app's containers and images")
	_ = fs.Parse(args)
	if *runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	if *app == "" {
		*app = "pdd" + newNonce()
	}
	return withClient(30*time.Minute, func(ctx context.Context, cli *client.Client) error {
		return directRuns(ctx, cli, *app, *runs, *poll, *keep)
	})
}

// directRuns deploys app runs times and prints each deploy's phases.
func directRuns(ctx context.Context, cli *client.Client, app string, runs int, poll time.Duration, keep bool) error {
	if err := ensureBase(ctx, cli); err != nil {
		return err
	}
	if !keep {
		defer func() {
			cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer ccancel()
			if err := dockertest.RemoveApp(cctx, cli, app); err != nil {
				fmt.Fprintln(os.Stderr, "pushdocker: cleanup:", err)
			}
		}()
	}
	d := &directApp{cli: cli, app: app, base: dockertest.BaseImage, poll: poll, stopWait: 30}
	cols := []string{"before_build", "docker_build", "release", "create", "start", "inspect", "until_answer", "running", "after_running", "client_cpu"}
	fmt.Printf("direct deploys of %s (ms)\n| run | %s |\n|---|%s\n", app, strings.Join(cols, " | "), strings.Repeat("---:|", len(cols)))
	for i := 0; i < runs; i++ {
		marker := fmt.Sprintf("direct %s run %d %s", app, i+1, newNonce())
		p, err := d.deploy(ctx, map[string]string{"Dockerfile": dockerfile(d.base), "index.html": indexHTML(marker)}, marker, fmt.Sprintf("%040x", i+1))
		if err != nil {
			return err
		}
		var cells []string
		for _, c := range cols {
			cells = append(cells, fmt.Sprintf("%.0f", p[c]))
		}
		kind := "redeploy"
		if i == 0 {
			kind = "first"
		}
		fmt.Printf("| %d %s | %s |\n", i+1, kind, strings.Join(cells, " | "))
	}
	return nil
}
