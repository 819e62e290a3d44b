package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"dokku-sshd/internal/dockertest"
)

func cmdCleanup(args []string) error {
	fs := flag.NewFlagSet("cleanup", flag.ExitOnError)
	prefix := fs.String("prefix", "", "remove the containers and images of every app whose name starts with this (required)")
	_ = fs.Parse(args)
	if len(*prefix) < 4 {
		return errors.New("cleanup: -prefix of at least 4 characters is required")
	}
	return withClient(3*time.Minute, func(ctx context.Context, cli *client.Client) error {
		return cleanupPrefix(ctx, cli, *prefix)
	})
}

// cleanupPrefix force-removes the containers labelled or named for apps
// starting with prefix, and the images dokku/<app> or labelled for them.
func cleanupPrefix(ctx context.Context, cli *client.Client, prefix string) error {
	apps := map[string]bool{}
	cs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs.Items {
		mine := strings.HasPrefix(c.Labels["com.dokku.app-name"], prefix)
		for _, n := range c.Names {
			if strings.HasPrefix(strings.TrimPrefix(n, "/"), prefix) {
				mine = true
			}
		}
		if !mine {
			continue
		}
		if a := c.Labels["com.dokku.app-name"]; a != "" {
			apps[a] = true
		}
		if _, err := cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	imgs, err := cli.ImageList(ctx, client.ImageListOptions{All: true})
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, im := range imgs.Items {
		if a := im.Labels["com.dokku.app-name"]; strings.HasPrefix(a, prefix) {
			apps[a] = true
		}
		for _, t := range im.RepoTags {
			if rest, ok := strings.CutPrefix(t, "dokku/"+prefix); ok {
				apps[prefix+strings.SplitN(rest, ":", 2)[0]] = true
			}
		}
	}
	for a := range apps {
		if err := dockertest.RemoveApp(ctx, cli, a); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a, err))
		}
	}
	return errors.Join(errs...)
}
