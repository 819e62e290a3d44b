package registry_test

import (
	"context"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"dokku-sshd/internal/dockertest"
	"dokku-sshd/registry"
	"dokku-sshd/store"
)

// TestRemoveImages removes an app's images from the real Engine, as
// apps:destroy of a k3s app does: its build (dokku/APP, with a registry tag
// a push left on it), a registry tag left on an image of another name
// (only the tag goes), and not another app's image.
func TestRemoveImages(t *testing.T) {
	cli := dockertest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const server = "127.0.0.1:5999"
	app, other := dockertest.Name("regrm"), dockertest.Name("regkeep")
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetProperty(registry.Plugin, store.Global, registry.PropServer, server); err != nil {
		t.Fatal(err)
	}
	built := uniqueImage(ctx, t, cli, "dokku/"+app+":latest")
	kept := uniqueImage(ctx, t, cli, "dokku/"+other+":latest")
	base := dockertest.EnsureBaseImage(t, cli)
	tag := func(src, target string) {
		if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: src, Target: target}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = cli.ImageRemove(context.Background(), target, client.ImageRemoveOptions{}) })
	}
	tag(built, server+"/dokku/"+app+":4")
	tag(base, server+"/dokku/"+app+":5")
	tag(kept, server+"/dokku/"+other+":1")

	if err := registry.New(st, cli).RemoveImages(ctx, app); err != nil {
		t.Fatalf("RemoveImages: %v", err)
	}
	for _, c := range []struct {
		ref  string
		gone bool
	}{
		{built, true},
		{"dokku/" + app + ":latest", true},
		{server + "/dokku/" + app + ":4", true},
		{server + "/dokku/" + app + ":5", true},
		{base, false},
		{kept, false},
		{"dokku/" + other + ":latest", false},
		{server + "/dokku/" + other + ":1", false},
	} {
		_, err := cli.ImageInspect(ctx, c.ref)
		switch {
		case c.gone && err == nil:
			t.Errorf("%s is still on the Engine", c.ref)
		case c.gone && !cerrdefs.IsNotFound(err):
			t.Errorf("inspect %s: %v", c.ref, err)
		case !c.gone && err != nil:
			t.Errorf("%s was removed too: %v", c.ref, err)
		}
	}
}

// TestRemoveImagesNoDocker: without an Engine, RemoveImages says so.
func TestRemoveImagesNoDocker(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := registry.New(st, nil).RemoveImages(context.Background(), "app"); err == nil {
		t.Fatal("RemoveImages without Docker: no error")
	}
}
