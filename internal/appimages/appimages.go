// Package appimages removes an app's images from the Docker Engine of this
// host, for apps:destroy on every scheduler that builds here: the images
// named dokku/APP, those labelled com.dokku.app-name=APP, and the tags of
// the app's registry repositories.
package appimages

import (
	"context"
	"errors"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// LabelApp is the label every image built for an app carries.
const LabelApp = "com.dokku.app-name"

// Remove force-removes app's images: every image named dokku/APP or
// labelled for app, with all its tags, and then every tag left in repos
// (the app's registry repositories, SERVER/REPO as the Engine names them
// locally). A repository's tags go, not the image they point at: the
// image may be another app's or the base of a build, and an image known
// only by such tags goes with its last one. Errors are joined; images
// already gone are not errors.
func Remove(ctx context.Context, cli *client.Client, app string, repos ...string) error {
	var errs []error
	for _, f := range []client.Filters{
		make(client.Filters).Add("reference", "dokku/"+app),
		make(client.Filters).Add("label", LabelApp+"="+app),
	} {
		errs = append(errs, remove(ctx, cli, f, ""))
	}
	for _, repo := range repos {
		errs = append(errs, remove(ctx, cli, make(client.Filters).Add("reference", repo), repo))
	}
	return errors.Join(errs...)
}

// remove removes the images f lists with all their tags or, given repo,
// only their tags in repo.
func remove(ctx context.Context, cli *client.Client, f client.Filters, repo string) error {
	imgs, err := cli.ImageList(ctx, client.ImageListOptions{Filters: f})
	if err != nil {
		return err
	}
	var errs []error
	for _, im := range imgs.Items {
		refs := append(im.RepoTags, im.ID)
		if repo != "" {
			refs = nil
			for _, t := range im.RepoTags {
				if strings.HasPrefix(t, repo+":") {
					refs = append(refs, t)
				}
			}
		}
		for _, ref := range refs {
			if ref == "<none>:<none>" {
				continue
			}
			if _, err := cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !cerrdefs.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
