package k3s

import (
	"context"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

var _ schedulers.RegistryPuller = (*Scheduler)(nil)

// ResolveImage makes the k3s scheduler a schedulers.RegistryPuller: its
// cluster pulls from a registry, so git:from-image of an image already in
// one is deployed by the digest the registry reports, with no build.
func (s *Scheduler) ResolveImage(ctx context.Context, app, ref string) (string, error) {
	if s.Images == nil {
		return "", output.Userf("No registry is configured on this server for the k3s scheduler")
	}
	return s.Images.Resolve(ctx, app, ref)
}
