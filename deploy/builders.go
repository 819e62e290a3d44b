package deploy

import (
	"context"
	"time"

	"dokku-sshd/output"
)

// NullBuilder builds nothing: the release is the source as is (for apps a
// scheduler runs from elsewhere, and for tests).
type NullBuilder struct {
	// Sleep makes the build take this long, silently (set from
	// DOKKU_SSHD_NULL_BUILDER_SLEEP): a stand-in for a slow, quiet build
	// step in tests of keepalives, progress lines, cancellation and crashes.
	Sleep time.Duration
}

// Name is "null".
func (NullBuilder) Name() string { return "null" }

// Detect never selects the null builder: it is chosen explicitly.
func (NullBuilder) Detect(context.Context, GitSource) (bool, error) { return false, nil }

// Build prints what it (does not) do.
func (n NullBuilder) Build(ctx context.Context, b *Build) error {
	output.Info1(b.Out, "Skipping build of %s: the null builder is selected", b.App)
	if n.Sleep > 0 {
		select {
		case <-time.After(n.Sleep):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// DockerfileDetector is the dockerfile builder's detection: a Dockerfile at
// the root of the tree. Build is supplied by the Docker integration.
type DockerfileDetector struct {
	// BuildFunc builds the image; nil means Docker builds are not
	// available on this server.
	BuildFunc func(ctx context.Context, b *Build) error
}

// Name is "dockerfile".
func (DockerfileDetector) Name() string { return "dockerfile" }

// Detect looks for a Dockerfile.
func (DockerfileDetector) Detect(ctx context.Context, src GitSource) (bool, error) {
	_, ok, err := src.ReadFile(ctx, "Dockerfile")
	return ok, err
}

// Build builds with BuildFunc, which reads the Dockerfile (at the
// builder's dockerfile-path) itself; without one, the tree is still checked
// so that a push without a Dockerfile hears about that first.
func (d DockerfileDetector) Build(ctx context.Context, b *Build) error {
	if d.BuildFunc == nil {
		if ok, err := d.Detect(ctx, b.Source); err != nil {
			return err
		} else if !ok {
			return output.Userf("Dockerfile not found in the pushed tree: the dockerfile builder needs a Dockerfile at the repository root")
		}
		return output.Userf("Docker builds are not available on this server")
	}
	output.Info1(b.Out, "Building %s from Dockerfile", b.App)
	return d.BuildFunc(ctx, b)
}
