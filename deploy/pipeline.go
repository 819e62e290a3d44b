package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"dokku-sshd/output"
	"dokku-sshd/registry"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
	"dokku-sshd/urls"
)

// Build is one run of a builder.
type Build struct {
	App      string
	Source   GitSource
	Out      io.Writer
	Image    string            // set by the builder; "" when nothing is built
	ImageID  string            // set by the builder: the id of Image as built
	AppJSON  []byte            // set by the builder: the tree's app.json; nil without one
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

// ps properties the pipeline reads, with their values when neither the
// app nor --global sets them.
const (
	DefaultSkipDeploy   = "false"
	DefaultProcfilePath = "Procfile"
)

// Pipeline runs source -> builder -> release -> scheduler.
type Pipeline struct {
	Store      *store.Store
	Builds     *Builds
	Builders   []Builder // in detection order
	Schedulers *schedulers.Registry
	// Images finds and pulls images for git:from-image; nil without Docker.
	Images Images
	// Registry pushes a built image when the app's push-on-release is set
	// (registry:*); nil: no pushes.
	Registry *registry.Registry
	Logger   *slog.Logger

	Observer Observer // builds and deploys, for metrics; nil: none
}

func (p *Pipeline) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

// Request is one deploy.
type Request struct {
	App string
	// Kind is what started it, recorded as the build's source the way
	// Dokku's builds plugin names it: git-hook (a push, and the rebuild
	// of a renamed or cloned app), ps:rebuild, ps:restart, deploy
	// (ps:start), config-redeploy, git:from-image.
	Kind   string
	Source GitSource
	Out    io.Writer
	// Release, when set, is the recorded release deployed again without
	// a build (ps:start, ps:restart, ps:scale, config changes,
	// ps:restore): its image by id, its Procfile and app.json; Source is
	// not read.
	Release *schedulers.Deployed
	// ProcessType limits the deploy to one process type ("" for all).
	ProcessType string
	// Releasing prints Dokku's "Releasing <app>..." line before a
	// Release is deployed again (release-and-deploy; a build prints it
	// anyway).
	Releasing bool
	// DeploySource is recorded as apps' deploy-source once the deploy
	// succeeds (git-push, docker-image), with Metadata as its
	// deploy-source-metadata (default: the revision); "" leaves both as
	// they are (a rebuild, a restart).
	DeploySource string
	Metadata     string
	// Remote, when set, is an image in a registry by digest that the
	// app's scheduler (a schedulers.RegistryPuller) runs as it is: nothing
	// is built, Source gives only the Procfile and app.json.
	Remote string
}

// ErrFailed matches every deploy failure (errors.Is): one whose reason
// was already reported on Out. The error itself wraps a *Failure that
// carries the reason, for the callers that report it again elsewhere
// (config:set's "Failure while restarting app: <reason>").
var ErrFailed = output.Userf("deploy failed")

// Failure is a deploy that failed for Reason, a sentence already printed
// on the deploy's output.
type Failure struct{ Reason string }

func (f *Failure) Error() string { return f.Reason }

// Is makes every Failure match ErrFailed.
func (f *Failure) Is(target error) bool { return target == ErrFailed }

// failure is a Failure marked as a message for the client: its reason was
// made a sentence for the client (failErr cuts an unexpected error's
// paths) when reported.
func failure(reason string) error { return output.UserError(&Failure{Reason: reason}) }

// fail reports a failure on out and returns it.
func fail(out io.Writer, format string, args ...any) error {
	reason := fmt.Sprintf(format, args...)
	output.Warn(out, "%s", reason)
	return failure(reason)
}

// failErr reports err, after prefix, as output.Reason tells it to a client
// (an unexpected error logged in full, its server paths cut), and returns
// it as a Failure.
func (p *Pipeline) failErr(ctx context.Context, out io.Writer, app, prefix string, err error) error {
	return fail(out, "%s%s", prefix, output.Reason(ctx, p.log(), err, "app", app))
}

// Deploy runs the pipeline. Output goes to req.Out as it is written and to
// the build's log; a client that goes away cancels ctx, which stops the
// build.
//
// Deploy keeps the build's record and log; buildAndRelease does the work.
func (p *Pipeline) Deploy(ctx context.Context, req Request) (err error) {
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if req.Release != nil {
		req.Source = GitSource{Rev: req.Release.Rev}
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
			err = fail(out, "Build %s was canceled", rec.ID)
		}
		logFile.Close()
		p.Builds.finish(rec, err, canceled)
		if err != nil {
			log.Info("deploy finished", "app", req.App, "build", rec.ID, "status", rec.Status, "reason", err.Error())
		} else {
			log.Info("deploy finished", "app", req.App, "build", rec.ID, "status", rec.Status)
		}
	}()
	log.Info("deploy started", "app", req.App, "build", rec.ID, "kind", req.Kind, "rev", req.Source.Rev)

	if req.Release != nil {
		if req.Releasing {
			output.Info1(out, "Releasing %s...", req.App)
		}
		return p.release(bctx, req, &Build{App: req.App, Out: out}, out)
	}
	return p.buildAndRelease(ctx, bctx, req, out)
}

// buildAndRelease builds req's source and releases the result; a failure
// puts back the state the build changed (the revision, the build
// properties), so that it leaves nothing behind that a later restart
// reads. ctx is the client's, bctx the build's.
func (p *Pipeline) buildAndRelease(ctx, bctx context.Context, req Request, out io.Writer) (err error) {
	revVar, err := p.revEnvVar(req.App)
	if err != nil {
		return p.failErr(ctx, out, req.App, "", err)
	}
	keptRev, err := p.keepRev(req.App, revVar)
	if err != nil {
		return p.failErr(ctx, out, req.App, "", err)
	}
	keptProps, err := p.keepProps(req.App, buildProps)
	if err != nil {
		return p.failErr(ctx, out, req.App, "", err)
	}
	defer func() {
		if err != nil {
			if rerr := errors.Join(p.restoreRev(req.App, revVar, req.Source.Rev, keptRev), p.restoreProps(req.App, buildProps, keptProps)); rerr != nil {
				p.log().Warn("restore the state of the deployed release", "app", req.App, "err", rerr)
			}
		}
	}()

	if req.Source, err = p.withGitDir(req.App, req.Source); err != nil {
		return p.failErr(ctx, out, req.App, "", err)
	}
	src, closeSrc := req.Source.Open(bctx)
	defer closeSrc()
	b := &Build{App: req.App, Source: src, Out: out}

	if name := revVar; name != "" {
		if err := p.setRev(req.App, name, req.Source.Rev); err != nil {
			return p.failErr(ctx, out, req.App, "Unable to set "+name+": ", err)
		}
	}

	if err := p.buildOrResolve(bctx, req, b); err != nil {
		if bctx.Err() != nil {
			return err // reported as canceled
		}
		reason := output.Reason(ctx, p.log(), err, "app", req.App)
		output.Warn(out, "%s", reason)
		output.Warn(out, "App build failed")
		return failure("App build failed: " + reason)
	}
	output.Info1(out, "Releasing %s...", req.App)
	if err := p.pushOnRelease(bctx, b, out); err != nil {
		if bctx.Err() != nil {
			return err // reported as canceled
		}
		return p.failErr(ctx, out, req.App, "", err)
	}
	if skip, err := p.Store.ComputedProperty("ps", req.App, "skip-deploy", DefaultSkipDeploy); err != nil {
		return p.failErr(ctx, out, req.App, "", err)
	} else if skip == "true" {
		output.Info1(out, "Skipping deployment")
		return nil
	}
	if err := p.release(bctx, req, b, out); err != nil {
		return err
	}
	if req.DeploySource == "" {
		return nil
	}
	return p.recordSource(req)
}

// recordSource records what a deploy was made from, as Dokku's apps
// plugin does (deploy-source, deploy-source-metadata).
func (p *Pipeline) recordSource(req Request) error {
	if err := p.Store.SetProperty("apps", req.App, "deploy-source", req.DeploySource); err != nil {
		return err
	}
	meta := req.Metadata
	if meta == "" {
		meta = req.Source.Rev
	}
	return p.Store.SetProperty("apps", req.App, "deploy-source-metadata", meta)
}

// release hands the built image, or the recorded release, to the app's
// scheduler; once a built image runs it becomes the recorded release, the
// one every redeploy without a build starts again.
func (p *Pipeline) release(bctx context.Context, req Request, b *Build, out io.Writer) (err error) {
	schedName, sched, err := p.scheduler(req.App)
	if err != nil {
		return p.failErr(bctx, out, req.App, "", err)
	}
	output.Info1(out, "Deploying %s via the %s scheduler...", req.App, schedName)
	unlock, err := schedulers.LockRelease(bctx, p.Store, req.App)
	if err != nil {
		if bctx.Err() != nil {
			return err // reported as canceled
		}
		return p.failErr(bctx, out, req.App, "", err)
	}
	defer unlock()
	if req.Release != nil {
		// A deploy that ended while this one waited for the lock recorded
		// what runs now: that is the release to start again.
		d, err := DeployedRelease(p.Store, req.App)
		if err != nil {
			return p.failErr(bctx, out, req.App, "", err)
		}
		if d != nil && d.Ref() != "" {
			req.Release = d
		}
	}
	config, err := p.Store.MergedEnv(req.App)
	if err != nil {
		return p.failErr(bctx, out, req.App, "Unable to read the config of "+req.App+": ", err)
	}
	rel, err := p.schedulerRelease(req, b, config, out)
	if err != nil {
		return p.failErr(bctx, out, req.App, "", err)
	}
	var keptScale []keptValue
	if req.Release == nil {
		if keptScale, err = p.keepProps(req.App, scaleProps); err != nil {
			return p.failErr(bctx, out, req.App, "", err)
		}
	}
	start := time.Now()
	err = sched.Deploy(bctx, rel)
	p.observeDeploy(bctx, schedName, start, err)
	if err != nil {
		if keptScale != nil {
			if rerr := p.restoreProps(req.App, scaleProps, keptScale); rerr != nil {
				p.log().Warn("restore the scale of the deployed release", "app", req.App, "err", rerr)
			}
		}
		if bctx.Err() != nil {
			return err // reported as canceled
		}
		return p.failErr(bctx, out, req.App, "", err)
	}
	if err := p.recordRelease(req, b); err != nil {
		return err
	}
	output.Info2(out, "Application deployed:")
	p.printURLs(out, req.App)
	_, _ = io.WriteString(out, "\n")
	return nil
}

// schedulerRelease is what the scheduler is handed: the recorded release
// started again (req.Release), else the image b built. config becomes the
// release's.
func (p *Pipeline) schedulerRelease(req Request, b *Build, config map[string]string, out io.Writer) (*schedulers.Release, error) {
	rel := &schedulers.Release{App: req.App, Rev: req.Source.Rev, Config: config, Out: out, ProcessType: req.ProcessType}
	d := req.Release
	if d == nil {
		rel.Image, rel.Process = b.ImageID, b.Procfile
		if rel.Image == "" {
			rel.Image = b.Image
		}
		if req.Remote != "" {
			rel.Remote, rel.AppJSON = true, b.AppJSON
		}
		return rel, nil
	}
	rel.Image, rel.Rev, rel.Process, rel.AppJSON, rel.Redeploy, rel.Legacy = d.Ref(), d.Rev, d.Procfile, d.AppJSON, true, d.Legacy
	rel.Remote = d.Remote
	// The revision in the config is the one of what runs, whatever a
	// build that failed (or was cut short) wrote there.
	name, err := p.revEnvVar(req.App)
	if err != nil {
		return nil, err
	}
	if name != "" && d.Rev != "" {
		config[name] = d.Rev
	}
	return rel, nil
}

// recordRelease marks app deployed and, once a built image runs, records
// it as the release every redeploy without a build starts again.
func (p *Pipeline) recordRelease(req Request, b *Build) error {
	if err := p.Store.SetProperty("common", req.App, "deployed", "true"); err != nil {
		return err
	}
	if req.Release != nil {
		return nil
	}
	d := &schedulers.Deployed{ImageID: b.ImageID, Image: b.Image, Rev: req.Source.Rev, Procfile: b.Procfile, AppJSON: b.AppJSON, DeployedAt: time.Now().UTC(), Remote: req.Remote != ""}
	return schedulers.SaveDeployed(p.Store, req.App, d)
}

// scheduler returns the name and the scheduler selected for app.
func (p *Pipeline) scheduler(app string) (string, schedulers.Scheduler, error) {
	name, err := schedulers.Selected(p.Store, app)
	if err != nil {
		return "", nil, err
	}
	s, err := p.Schedulers.Get(name)
	return name, s, err
}

// build selects the builder (property, else detection) and runs it.
func (p *Pipeline) build(ctx context.Context, b *Build) error {
	name, err := p.Store.ComputedProperty("builder", b.App, "selected", "")
	if err != nil {
		return err
	}
	var builder Builder
	if name != "" {
		for _, bl := range p.Builders {
			if bl.Name() == name {
				builder = bl
			}
		}
		if builder == nil {
			return output.Userf("Selected builder %q is not available on this server", name)
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
			return output.Userf("No builder detected: add a Dockerfile to the repository, or select one with 'builder:set <app> selected null'")
		}
	}
	if err := p.readProcfile(ctx, b); err != nil {
		return err
	}
	start := time.Now()
	err = builder.Build(ctx, b)
	p.observeBuild(ctx, builder.Name(), start, err)
	return err
}

// readProcfile sets b.Procfile from the tree's Procfile (ps's
// procfile-path), when there is one.
func (p *Pipeline) readProcfile(ctx context.Context, b *Build) error {
	procfilePath, err := p.Store.ComputedProperty("ps", b.App, "procfile-path", DefaultProcfilePath)
	if err != nil {
		return err
	}
	if data, ok, err := b.Source.ReadFile(ctx, procfilePath); err != nil {
		return err
	} else if ok {
		procs, err := ParseProcfile(data)
		if err != nil {
			return err
		}
		b.Procfile = procs
	}
	return nil
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

// printURLs prints app's URLs under "Application deployed:", each indented
// as Dokku's deploy does; the deploy has succeeded, so a failure to compute
// them is only logged.
func (p *Pipeline) printURLs(out io.Writer, app string) {
	list, err := urls.List(p.Store, app)
	if err != nil {
		p.log().Warn("list the app's URLs", "app", app, "err", err)
		return
	}
	for _, u := range list {
		output.Verbose(out, "%s", u)
	}
}
