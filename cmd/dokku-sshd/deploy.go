package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"dokku-sshd/deploy"
	"dokku-sshd/gitrecv"
	"github.com/moby/moby/client"

	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/dockerlocal"
	nullsched "dokku-sshd/schedulers/null"
	"dokku-sshd/store"
)

// newPipeline wires builders and schedulers into the deploy pipeline.
func newPipeline(st *store.Store, logger *slog.Logger) *deploy.Pipeline {
	var null deploy.NullBuilder
	if v := os.Getenv("DOKKU_SSHD_NULL_BUILDER_SLEEP"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			null.Sleep = d
		} else {
			logger.Warn("ignoring DOKKU_SSHD_NULL_BUILDER_SLEEP", "value", v, "err", err)
		}
	}
	df := deploy.DockerfileDetector{}
	scheds := []schedulers.Scheduler{nullsched.Scheduler{}}
	// The Docker client does not connect until used: a host without Docker
	// still serves everything else, and a Docker deploy says why it fails.
	if cli, err := client.New(client.FromEnv); err == nil {
		df.BuildFunc = deploy.DockerBuild(cli, st)
		scheds = append(scheds, dockerlocal.New(cli, st, logger))
	} else {
		logger.Warn("docker client unavailable: dockerfile builds and docker-local deploys are off", "err", err)
	}
	return &deploy.Pipeline{
		Store:      st,
		Builds:     deploy.NewBuilds(st),
		Builders:   []deploy.Builder{df, null},
		Schedulers: schedulers.NewRegistry(scheds...),
		Logger:     logger,
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
