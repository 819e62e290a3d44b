package k3s

import (
	"context"
	"io"
)

// Images gets an app's image to the registry its cluster pulls from
// (Dokku's registry plugin): a cluster cannot use the host's local images.
type Images interface {
	// Push tags the local image for app's registry repository (registry
	// server and image-repo), pushes it with the Engine's progress as lines
	// to out, and returns the reference by digest (HOST/REPO@sha256:...).
	Push(ctx context.Context, app, image string, out io.Writer) (ref string, err error)
	// Resolve returns ref, an image already in a registry
	// (git:from-image), by digest, without pulling it.
	Resolve(ctx context.Context, app, ref string) (digestRef string, err error)
	// PullSecret is the .dockerconfigjson of app's registry credentials
	// (registry:login) for its pull-secret-APP Secret; nil without any.
	PullSecret(app string) ([]byte, error)
}

// Repositories is an Images that also says which repository app's pushes
// go to now (SERVER/REPO, as Push's references name it): a redeploy pushes
// again instead of using a reference of a registry the app has left.
type Repositories interface {
	Repository(app string) (string, error)
}

// LocalImages is an Images that also removes app's images from the host
// that built them: Destroy calls it once the app's objects are gone, so
// that a destroyed app leaves nothing on the host's disk.
type LocalImages interface {
	RemoveImages(ctx context.Context, app string) error
}
