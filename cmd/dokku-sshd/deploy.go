package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/moby/moby/client"

	"dokku-sshd/deploy"
	"dokku-sshd/gitrecv"
	"dokku-sshd/registry"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/dockerlocal"
	"dokku-sshd/schedulers/k3s"
	nullsched "dokku-sshd/schedulers/null"
	"dokku-sshd/store"
)

// newPipeline wires builders and schedulers into the deploy pipeline. The
// docker-local scheduler is returned too (nil without a Docker client) for
// its retirement loop. nullSleep is the null builder's test knob
// (DOKKU_SSHD_NULL_BUILDER_SLEEP).
func newPipeline(st *store.Store, logger *slog.Logger, nullSleep time.Duration) (*deploy.Pipeline, *dockerlocal.Scheduler) {
	null := deploy.NullBuilder{Sleep: nullSleep}
	df := deploy.DockerfileDetector{}
	// The registry plugin works without Docker too (its properties, the
	// stored logins, pull secrets); its Engine calls then say Docker is
	// missing.
	reg := registry.New(st, nil)
	// The k3s scheduler connects to its cluster only when an app uses it,
	// and gets its images there through the registry plugin.
	scheds := []schedulers.Scheduler{nullsched.Scheduler{}, k3s.New(st, reg, logger)}
	var dl *dockerlocal.Scheduler
	var images deploy.Images
	// The Docker client does not connect until used: a host without Docker
	// still serves everything else, and a Docker deploy says why it fails.
	if cli, err := client.New(client.FromEnv); err == nil {
		reg.Client = cli
		df.BuildFunc = deploy.DockerBuild(cli, st)
		dl = dockerlocal.New(cli, st, logger)
		images = deploy.DockerImages{Client: cli}
		scheds = append(scheds, dl)
	} else {
		logger.Warn("docker client unavailable: dockerfile builds and docker-local deploys are off", "err", err)
	}
	return &deploy.Pipeline{
		Store:      st,
		Builds:     deploy.NewBuilds(st),
		Builders:   []deploy.Builder{df, null},
		Schedulers: schedulers.NewRegistry(scheds...),
		Images:     images,
		Registry:   reg,
		Logger:     logger,
	}, dl
}

// retireLoop removes retired containers and images whose time has come,
// and run containers past their ttl, as Dokku's dokku-retire timer runs
// ps:retire: once at start (what a restart interrupted) and every
// interval after, until ctx ends. A round is passed over while ps:retire
// holds the retirement lock.
func retireLoop(ctx context.Context, interval time.Duration, st *store.Store, dl *dockerlocal.Scheduler, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		retireOnce(ctx, st, dl, logger)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func retireOnce(ctx context.Context, st *store.Store, dl *dockerlocal.Scheduler, logger *slog.Logger) {
	unlock, ok, err := st.TryRetireLock()
	if err != nil {
		logger.Warn("retiring old containers: take the retirement lock", "err", err)
		return
	}
	if !ok {
		return
	}
	defer unlock()
	if err := dl.Retire(ctx, "", io.Discard); err != nil && ctx.Err() == nil {
		logger.Warn("retiring old containers", "err", err)
	}
	// One-off containers past their --ttl-seconds (scheduler-run-retire),
	// also those a restart of the server left without a timer.
	if err := dl.RunRetire(ctx, ""); err != nil && ctx.Err() == nil {
		logger.Warn("retiring expired run containers", "err", err)
	}
}

// gitHook runs the deploy branch rules and the pipeline inside a push,
// where Dokku runs its pre-receive hook.
func gitHook(p *deploy.Pipeline) gitrecv.Hook {
	return func(ctx context.Context, push *gitrecv.Push) error {
		updates := make([]deploy.RefUpdate, 0, len(push.Commands))
		for _, c := range push.Commands {
			updates = append(updates, deploy.RefUpdate{Ref: c.Ref, Old: c.Old.String(), New: c.New.String()})
		}
		return p.GitPush(ctx, push.App, push.Repo, push.Env, updates, push.Out)
	}
}
