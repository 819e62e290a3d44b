package deploy

import (
	"context"
	"io"
	"strings"

	"dokku-sshd/appjson"
	"dokku-sshd/output"
	"dokku-sshd/registry"
	"dokku-sshd/schedulers"
)

// buildOrResolve builds b, or, for an image already in a registry
// (req.Remote), takes that image as what was built: only the tree's
// Procfile and app.json are read.
func (p *Pipeline) buildOrResolve(ctx context.Context, req Request, b *Build) error {
	if req.Remote == "" {
		return p.build(ctx, b)
	}
	if err := p.readProcfile(ctx, b); err != nil {
		return err
	}
	path, err := p.Store.ComputedProperty("app-json", b.App, "appjson-path", "app.json")
	if err != nil {
		return err
	}
	path = strings.Trim(path, "/")
	data, ok, err := b.Source.ReadFile(ctx, path)
	if err != nil {
		return err
	}
	if ok {
		if _, err := appjson.Parse(data); err != nil {
			return output.Userf("Unable to parse %s: %v", path, err)
		}
		b.AppJSON = data
	}
	b.Image = req.Remote
	return nil
}

// pushOnRelease pushes what b built to the app's registry when its
// push-on-release is true, after the build as Dokku's post-release-builder
// does. A scheduler that pulls from a registry pushes for itself, and a
// release without an image has nothing to push.
func (p *Pipeline) pushOnRelease(ctx context.Context, b *Build, out io.Writer) error {
	if p.Registry == nil || b.ImageID == "" {
		return nil
	}
	on, err := registry.PushOnRelease(p.Store, b.App)
	if err != nil || !on {
		return err
	}
	if _, sched, err := p.scheduler(b.App); err == nil {
		if _, ok := sched.(schedulers.RegistryPuller); ok {
			return nil
		}
	}
	_, err = p.Registry.Push(ctx, b.App, b.ImageID, out)
	return err
}

// registryImage returns f.Image by digest when the app's scheduler pulls
// from a registry and the image is in one: git:from-image then deploys it
// with no pull and no build. ok is false otherwise (the image is then
// pulled if need be and built FROM, as on docker-local); why the registry
// did not have it is shown as a verbose line.
func (p *Pipeline) registryImage(ctx context.Context, f FromImage, out io.Writer) (ref string, ok bool) {
	_, sched, err := p.scheduler(f.App)
	if err != nil {
		return "", false
	}
	rp, isPuller := sched.(schedulers.RegistryPuller)
	if !isPuller {
		return "", false
	}
	ref, err = rp.ResolveImage(ctx, f.App, f.Image)
	if err != nil {
		output.Verbose(out, "%s", output.Reason(ctx, p.log(), err, "app", f.App))
		return "", false
	}
	return ref, true
}
