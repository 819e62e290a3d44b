package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"dokku-sshd/internal/dockertest"
	"dokku-sshd/internal/k8stest"
	"dokku-sshd/store"
)

// appImage gives app an image of its own on the Engine (the BusyBox base
// image tagged dokku/<app>:latest, as a build leaves it), removed when the
// test ends with every tag the test put on it.
func appImage(t *testing.T, cli *client.Client, app string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	base := dockertest.EnsureBaseImage(t, cli)
	image := "dokku/" + app + ":latest"
	if _, err := cli.ImageTag(ctx, client.ImageTagOptions{Source: base, Target: image}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, err := cli.ImageInspect(ctx, image)
		if err != nil {
			return
		}
		for _, tag := range res.RepoTags {
			if strings.Contains(tag, app) {
				_, _ = cli.ImageRemove(ctx, tag, client.ImageRemoveOptions{})
			}
		}
	})
	return image
}

// manifestDigest asks the registry itself for repo:tag's manifest digest.
func manifestDigest(t *testing.T, reg *k8stest.RegistryServer, repo, tag string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _, digest, err := reg.Manifest(ctx, repo, tag)
	if err != nil {
		t.Fatal(err)
	}
	return digest
}

// TestPushResolve pushes an app's image to a real registry through the
// real Engine: Dokku's tag scheme, progress lines, the digest the
// registry has, Resolve of the pushed tag, the next push's number, and the
// host's tags left as they were.
func TestPushResolve(t *testing.T) {
	cli := dockertest.Require(t)
	reg := k8stest.Registry(t)
	host := reg.Addr
	st := testStore(t)
	app := dockertest.Name("regpush")
	image := appImage(t, cli, app)
	r := New(st, cli)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Nothing configured: Docker Hub's dokku/ namespace is not the user's.
	var out bytes.Buffer
	if _, err := r.Push(ctx, app, image, &out); err == nil || err.Error() != "No registry server is set for "+app+": set one with 'registry:set "+app+" server HOST' or 'registry:set --global server HOST'" || out.Len() != 0 {
		t.Fatalf("push with no registry set: %v\n%s", err, out.String())
	}
	if n, _ := TagVersion(st, app); n != 0 {
		t.Fatalf("tag-version bumped by a refused push: %d", n)
	}

	set(t, st, app, PropServer, host)
	set(t, st, app, PropPushExtraTags, "stable")
	ref, err := r.Push(ctx, app, image, &out)
	if err != nil {
		t.Fatalf("Push: %v\n%s", err, out.String())
	}
	repo := "dokku/" + app
	digest := manifestDigest(t, reg, repo, "1")
	if want := host + "/" + repo + "@" + digest; ref != want {
		t.Fatalf("Push = %q, want %q (the registry's digest)", ref, want)
	}
	if got := manifestDigest(t, reg, repo, "stable"); got != digest {
		t.Errorf("extra tag stable = %s, want %s", got, digest)
	}
	checkPushOutput(t, out.String(), host, repo)
	checkResolve(ctx, t, r, app, host+"/"+repo, ref)

	out.Reset()
	if _, err := r.Push(ctx, app, image, &out); err != nil {
		t.Fatalf("second Push: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Bumping tag to 2") || !strings.Contains(out.String(), "Layer already exists") {
		t.Errorf("second push:\n%s", out.String())
	}
	if n, _ := TagVersion(st, app); n != 2 {
		t.Errorf("tag-version = %d, want 2", n)
	}
	res, err := cli.ImageInspect(ctx, image)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range res.RepoTags {
		if strings.HasPrefix(tag, host+"/") {
			t.Errorf("registry tag left on the host: %q", res.RepoTags)
		}
	}
}

// checkPushOutput checks a first push's lines: Dokku's tag scheme, the
// Engine's progress, and not every progress tick.
func checkPushOutput(t *testing.T, lines, host, repo string) {
	t.Helper()
	t.Logf("push output:\n%s", lines)
	for _, want := range []string{
		"-----> Pushing image to registry\n",
		"       Bumping tag to 1\n",
		"       Tagging " + repo + ":1 in registry format\n",
		"       Tagging " + repo + " as stable in registry format\n",
		"       Pushing " + host + "/" + repo + ":stable\n",
		"       Pushing " + host + "/" + repo + ":1\n",
		": Pushed\n",
		"       Image " + host + "/" + repo + ":1 pushed\n",
	} {
		if !strings.Contains(lines, want) {
			t.Errorf("push output lacks %q:\n%s", want, lines)
		}
	}
	if strings.Count(lines, ": Pushing\n") > strings.Count(lines, ": Preparing\n") {
		t.Errorf("more Pushing lines than layers (every tick printed?):\n%s", lines)
	}
}

// checkResolve resolves named (host/repo) and its pushed tag 1 to ref, a
// digest to itself, and a tag the registry lacks to a message.
func checkResolve(ctx context.Context, t *testing.T, r *Registry, app, named, ref string) {
	t.Helper()
	if got, err := r.Resolve(ctx, app, named+":1"); err != nil || got != ref {
		t.Fatalf("Resolve = %q, %v; want %q", got, err, ref)
	}
	if got, err := r.Resolve(ctx, app, ref); err != nil || got != ref {
		t.Fatalf("Resolve of a digest = %q, %v", got, err)
	}
	if _, err := r.Resolve(ctx, app, named+":nope"); err == nil || !strings.Contains(err.Error(), "Unable to find "+named+":nope in its registry") {
		t.Fatalf("Resolve of a missing tag: %v", err)
	}
}

// TestLoginPushAuth logs in to a registry that wants a password through
// the real Engine: a bad password is refused with the Engine's message and
// stores nothing; a good one is stored and used by the push, and the pull
// secret decodes to it; without a login the push fails with the Engine's
// message.
func TestLoginPushAuth(t *testing.T) {
	cli := dockertest.Require(t)
	const user, pass = "dokku", "s3cret"
	reg := k8stest.Registry(t, k8stest.WithAuth(user, pass))
	host := reg.Addr
	st := testStore(t)
	app := dockertest.Name("regauth")
	image := appImage(t, cli, app)
	set(t, st, store.Global, PropServer, host)
	r := New(st, cli)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	var out bytes.Buffer
	_, err := r.Push(ctx, app, image, &out)
	if err == nil || !strings.Contains(err.Error(), "Unable to push image "+host+"/dokku/"+app+":1: ") {
		t.Fatalf("push without a login: %v\n%s", err, out.String())
	}
	t.Logf("push without a login: %v", err)
	err = r.Login(ctx, app, host, user, "wrong")
	t.Logf("bad login: %v", err)
	if err == nil || !strings.HasPrefix(err.Error(), "Unable to run docker login: ") || len(err.Error()) <= len("Unable to run docker login: ") {
		t.Fatalf("login with a bad password: %v", err)
	}
	if _, ok, _ := Lookup(st, app, host); ok {
		t.Fatal("a refused login was stored")
	}
	if err := r.Login(ctx, app, host, user, pass); err != nil {
		t.Fatalf("login: %v", err)
	}
	c, ok, err := Lookup(st, app, host)
	if err != nil || !ok || c.Username != user || c.Password != pass {
		t.Fatalf("stored login = %+v, %v, %v", c, ok, err)
	}
	out.Reset()
	ref, err := r.Push(ctx, app, image, &out)
	if err != nil {
		t.Fatalf("push with the login: %v\n%s", err, out.String())
	}
	if digest := manifestDigest(t, reg, "dokku/"+app, "2"); ref != host+"/dokku/"+app+"@"+digest {
		t.Fatalf("Push = %q, registry digest %s", ref, digest)
	}
	if got, err := r.Resolve(ctx, app, host+"/dokku/"+app+":2"); err != nil || got != ref {
		t.Fatalf("Resolve with the login = %q, %v", got, err)
	}

	secret, err := r.PullSecret(app)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Auths map[string]struct{ Auth string }
	}
	if err := json.Unmarshal(secret, &doc); err != nil {
		t.Fatalf("%s: %v", secret, err)
	}
	raw, _ := base64.StdEncoding.DecodeString(doc.Auths[host].Auth)
	if string(raw) != user+":"+pass {
		t.Fatalf("pull secret for %s = %s", host, secret)
	}
}
