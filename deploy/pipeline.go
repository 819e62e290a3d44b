package deploy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// DefaultScheduler is used when neither the app nor --global selects one.
const DefaultScheduler = "docker-local"

// Build is one run of a builder.
type Build struct {
	App      string
	Source   GitSource
	Out      io.Writer
	Image    string            // set by the builder; "" when nothing is built
	Procfile map[string]string // process types, from the Procfile when there is one
}

// Builder turns a source into something a scheduler can run.
type Builder interface {
	Name() string
	// Detect reports whether the source is for this builder (used when no
	// builder is selected).
	Detect(ctx context.Context, src GitSource) (bool, error)
	Build(ctx context.Context, b *Build) error
}

// Pipeline runs source -> builder -> release -> scheduler.
type Pipeline struct {
	Store      *store.Store
	Builds     *Builds
	Builders   []Builder // in detection order
	Schedulers *schedulers.Registry
	// SetConfig records config vars (GIT_REV) the way `config:set
	// --no-restart` does, output included; nil writes nothing.
	SetConfig func(ctx context.Context, app string, vars map[string]string, out io.Writer) error
	// Env returns the app's merged config for the release; nil: none.
	Env func(app string) (map[string]string, error)
	// Images finds and pulls images for git:from-image; nil without Docker.
	Images Images
	Logger *slog.Logger
}

func (p *Pipeline) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// Request is one deploy.
type Request struct {
	App    string
	Kind   string // what started it: git-push, ps:rebuild, ps:restart, ...
	Source GitSource
	Out    io.Writer
	// Image, when set, is released again without a build (ps:start,
	// ps:restart, ps:scale, config changes): Source is not read and the
	// Procfile is the one kept from the deploy of that image.
	Image string
	// ProcessType limits the deploy to one process type ("" for all).
	ProcessType string
	// Metadata is recorded as apps' deploy-source-metadata (default: the
	// revision).
	Metadata string
}

// ErrFailed is returned after the failure was reported on Out.
var ErrFailed error = message("deploy failed")

// property resolves plugin/key for app, then --global, then def.
func (p *Pipeline) property(plugin, app, key, def string) string {
	if v, _ := p.Store.Property(plugin, app, key); v != "" {
		return v
	}
	if v, _ := p.Store.Property(plugin, store.Global, key); v != "" {
		return v
	}
	return def
}

// Deploy runs the pipeline. Output goes to req.Out as it is written and to
// the build's log; a client that goes away cancels ctx, which stops the
// build.
func (p *Pipeline) Deploy(ctx context.Context, req Request) (err error) {
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rec, logFile, bctx, cancel, err := p.Builds.start(ctx, req.App, req.Kind, req.Source.Rev)
	if err != nil {
		return err
	}
	defer cancel()
	out := &tee{client: req.Out, log: logFile}
	defer func() {
		canceled := bctx.Err() != nil && err != nil
		if canceled {
			output.Warn(out, "Build %s was canceled", rec.ID)
		}
		logFile.Close()
		p.Builds.finish(rec, err, canceled)
		log.Info("deploy finished", "app", req.App, "build", rec.ID, "status", rec.Status)
	}()
	log.Info("deploy started", "app", req.App, "build", rec.ID, "kind", req.Kind, "rev", req.Source.Rev)

	src, closeSrc := req.Source.Open(bctx)
	defer closeSrc()
	b := &Build{App: req.App, Source: src, Out: out}
	if req.Image != "" {
		b.Image = req.Image
		if b.Procfile, err = DeployedProcfile(p.Store, req.App); err != nil {
			output.Warn(out, "%s", output.Reason(ctx, log, err, "app", req.App))
			return ErrFailed
		}
		return p.release(bctx, req, b, out)
	}

	// GIT_REV (git:set rev-env-var names it; set to empty, it is off).
	name, set, _ := p.Store.LookupProperty("git", req.App, "rev-env-var")
	if !set {
		name, set, _ = p.Store.LookupProperty("git", store.Global, "rev-env-var")
	}
	if !set {
		name = "GIT_REV"
	}
	if p.SetConfig != nil && name != "" {
		if err := p.SetConfig(bctx, req.App, map[string]string{name: req.Source.Rev}, out); err != nil {
			output.Warn(out, "Unable to set %s: %s", name, output.Reason(ctx, log, err, "app", req.App))
			return ErrFailed
		}
	}

	if err := p.build(bctx, b); err != nil {
		if bctx.Err() == nil {
			output.Warn(out, "%s", output.Reason(ctx, log, err, "app", req.App))
			output.Warn(out, "App build failed")
		}
		return ErrFailed
	}
	output.Info1(out, "Releasing %s...", req.App)
	if p.property("ps", req.App, "skip-deploy", "false") == "true" {
		output.Info1(out, "Skipping deployment")
		return nil
	}
	if err := p.release(bctx, req, b, out); err != nil {
		return err
	}
	if err := p.Store.SetProperty("apps", req.App, "deploy-source", req.Kind); err != nil {
		return err
	}
	meta := req.Metadata
	if meta == "" {
		meta = req.Source.Rev
	}
	return p.Store.SetProperty("apps", req.App, "deploy-source-metadata", meta)
}

// release hands the built (or kept) image to the app's scheduler and
// records what was deployed: the image and its Procfile, for the
// redeploys that do not build.
func (p *Pipeline) release(bctx context.Context, req Request, b *Build, out io.Writer) (err error) {
	schedName := p.property("scheduler", req.App, "selected", DefaultScheduler)
	sched, err := p.Schedulers.Get(schedName)
	if err != nil {
		output.Warn(out, "%s", output.Reason(bctx, p.log(), err, "app", req.App))
		return ErrFailed
	}
	output.Info1(out, "Deploying %s via the %s scheduler...", req.App, schedName)
	var env map[string]string
	if p.Env != nil {
		if env, err = p.Env(req.App); err != nil {
			output.Warn(out, "Unable to read the config of %s: %s", req.App, output.Reason(bctx, p.log(), err, "app", req.App))
			return ErrFailed
		}
	}
	rel := &schedulers.Release{App: req.App, Image: b.Image, Rev: req.Source.Rev, Env: env, Process: b.Procfile, Out: out, ProcessType: req.ProcessType}
	if err := sched.Deploy(bctx, rel); err != nil {
		if bctx.Err() == nil {
			output.Warn(out, "%s", output.Reason(bctx, p.log(), err, "app", req.App))
		}
		return ErrFailed
	}
	if err := p.Store.SetProperty("common", req.App, "deployed", "true"); err != nil {
		return err
	}
	if err := saveDeployed(p.Store, req.App, b.Image, b.Procfile); err != nil {
		return err
	}
	output.Info2(out, "Application deployed:")
	_, _ = io.WriteString(out, "\n")
	return nil
}

// build selects the builder (property, else detection) and runs it.
func (p *Pipeline) build(ctx context.Context, b *Build) error {
	name := p.property("builder", b.App, "selected", "")
	var builder Builder
	if name != "" {
		for _, bl := range p.Builders {
			if bl.Name() == name {
				builder = bl
			}
		}
		if builder == nil {
			return message(fmt.Sprintf("Selected builder %q is not available on this server", name))
		}
	} else {
		for _, bl := range p.Builders {
			ok, err := bl.Detect(ctx, b.Source)
			if err != nil {
				return err
			}
			if ok {
				builder = bl
				break
			}
		}
		if builder == nil {
			return message("No builder detected: add a Dockerfile to the repository, or select one with 'builder:set <app> selected null'")
		}
	}
	if data, ok, err := b.Source.ReadFile(ctx, p.property("ps", b.App, "procfile-path", "Procfile")); err != nil {
		return err
	} else if ok {
		procs, err := ParseProcfile(data)
		if err != nil {
			return err
		}
		b.Procfile = procs
	}
	return builder.Build(ctx, b)
}

// tee writes to the build log always and to the client while it listens: a
// client that went away must not stop the record of the build.
type tee struct {
	mu        sync.Mutex
	client    io.Writer
	clientErr bool
	log       *os.File
}

func (t *tee) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, _ = t.log.Write(p)
	if !t.clientErr {
		if _, err := t.client.Write(p); err != nil {
			t.clientErr = true
		}
	}
	return len(p), nil
}
