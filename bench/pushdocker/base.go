package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/moby/moby/client"

	"dokku-sshd/internal/dockertest"
)

func cmdBase(args []string) error {
	fs := flag.NewFlagSet("base", flag.ExitOnError)
	_ = fs.Parse(args)
	return withClient(5*time.Minute, ensureBase)
}

// ensureBase imports dockertest.BaseImage from the host's BusyBox when it
// is missing (no registry is reachable; it is kept between runs like a
// pulled base image).
func ensureBase(ctx context.Context, cli *client.Client) error {
	if _, err := cli.ImageInspect(ctx, dockertest.BaseImage); err == nil {
		return nil
	}
	if _, err := os.Stat(dockertest.BusyBoxPath); err != nil {
		return fmt.Errorf("%s is missing (apt-get install -y busybox-static)", dockertest.BusyBoxPath)
	}
	rootfs, err := dockertest.RootFS(ctx, dockertest.BusyBoxPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "==> importing %s from %s\n", dockertest.BaseImage, dockertest.BusyBoxPath)
	return dockertest.ImportImage(ctx, cli, bytes.NewReader(rootfs), dockertest.BaseImage)
}
