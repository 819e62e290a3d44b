package deploy

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"dokku-sshd/appjson"
	"dokku-sshd/internal/dockertest"
	"dokku-sshd/store"
)

func TestDockerignore(t *testing.T) {
	ign, err := parseDockerignore([]byte("# comment\n*.log\n/secret\nnode_modules\n**/tmp/*.txt\n!keep.log\ndocs/?.md\n[ab].bin\n"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{
		"app.log":             true,
		"keep.log":            false,
		"dir/app.log":         false, // * does not cross directories
		"secret":              true,
		"secret/key":          true, // a parent matches
		"node_modules/x/y.js": true,
		"src/node_modules":    false,
		"tmp/a.txt":           true,
		"x/y/tmp/a.txt":       true,
		"x/tmp/a.md":          false,
		"docs/a.md":           true,
		"docs/ab.md":          false,
		"a.bin":               true,
		"c.bin":               false,
		"index.html":          false,
		"Dockerfile":          false,
		"secretive/file":      false,
	} {
		if got := ign.excluded(name); got != want {
			t.Errorf("excluded(%q) = %v, want %v", name, got, want)
		}
	}
	if ign, _ := parseDockerignore([]byte("\n# only comments\n")); ign != nil {
		t.Error("empty .dockerignore is not nil")
	}
}

func TestStreamBuild(t *testing.T) {
	stream := `{"stream":"Step 1/2 : FROM x\n"}` + "\n" +
		`{"stream":"partial "}{"stream":"line\nnext"}` + "\n" +
		`{"status":"Downloading","id":"abc"}` + "\n" +
		`{"aux":{"ID":"sha256:1234"}}` + "\n"
	var out bytes.Buffer
	id, err := streamBuild(strings.NewReader(stream), &out)
	if err != nil || id != "sha256:1234" {
		t.Fatalf("id %q err %v", id, err)
	}
	if want := "Step 1/2 : FROM x\npartial line\nnext\nabc: Downloading\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	_, err = streamBuild(strings.NewReader(`{"stream":"Step 2/2 : RUN false\n"}{"errorDetail":{"code":1,"message":"The command '/bin/sh -c false' returned a non-zero code: 1"},"error":"x"}`), &out)
	if err == nil || !strings.Contains(err.Error(), "returned a non-zero code: 1") {
		t.Errorf("error %v", err)
	}
	// An error with no message still says what failed.
	if _, err = streamBuild(strings.NewReader(`{"errorDetail":{"message":" "},"error":""}`), &out); err == nil || err.Error() == "" {
		t.Errorf("an error without a message: %v", err)
	}
}

func TestReleaseDockerfile(t *testing.T) {
	got := ReleaseDockerfile("my-app")
	want := "ARG APP_IMAGE\nFROM $APP_IMAGE\nLABEL \"com.dokku.app-name\"=\"my-app\" \"com.dokku.builder-type\"=\"dockerfile\" \"com.dokku.image-stage\"=\"release\" \"dokku\"=\"\" \"org.label-schema.schema-version\"=\"1.0\" \"org.label-schema.vendor\"=\"dokku\"\n"
	if got != want {
		t.Errorf("got %q", got)
	}
}

// dockerBuild sets up a store, an app and a builder against the real
// daemon; the app's images are removed when the test ends.
func dockerBuild(t *testing.T) (*DockerBuilder, *store.Store, string, string) {
	t.Helper()
	cli := dockertest.Require(t)
	base := dockertest.EnsureBaseImage(t, cli)
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	app := dockertest.Name("dst-build")
	st.CreateApp(app, 1)
	dockertest.CleanupApp(t, cli, app)
	return &DockerBuilder{Client: cli, Store: st}, st, app, base
}

func TestDockerBuild(t *testing.T) {
	t.Parallel()
	d, st, app, base := dockerBuild(t)
	ctx := context.Background()
	repo, rev := testRepo(t, map[string]string{
		"Dockerfile":    "FROM " + base + "\nCOPY . /app\nRUN test ! -e /app/secret.txt && test -e /app/keep.txt && echo built-ok\nEXPOSE 8080\nEXPOSE 9000/udp\n",
		".dockerignore": "secret.txt\n",
		"secret.txt":    "no\n",
		"keep.txt":      "yes\n",
		"app.json":      `{"healthchecks":{"web":[{"type":"startup","path":"/"}]}}`,
	})
	var out bytes.Buffer
	b := &Build{App: app, Source: GitSource{Repo: repo, Rev: rev}, Out: &out}
	if err := d.Build(ctx, b); err != nil {
		t.Fatalf("build: %v\n%s", err, out.String())
	}
	if b.Image != "dokku/"+app+":latest" {
		t.Errorf("image %q", b.Image)
	}
	for _, w := range []string{"Step 1/5 : FROM " + base + "\n", "built-ok\n", "Successfully built "} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	img, err := d.Client.ImageInspect(ctx, b.Image)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"com.dokku.app-name": app, "com.dokku.image-stage": "release", "com.dokku.builder-type": "dockerfile", "dokku": "", "org.label-schema.vendor": "dokku", "org.label-schema.schema-version": "1.0"} {
		if got, ok := img.Config.Labels[k]; !ok || got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
	if v, _ := st.Property("ports", app, "map-detected"); v != "http:8080:8080\nudp:9000:9000" {
		t.Errorf("map-detected %q", v)
	}
	aj, err := appjson.ForDeploy(st, app, img.ID)
	if err != nil || aj == nil || len(aj.Healthchecks["web"]) != 1 {
		t.Errorf("staged app.json: %+v %v", aj, err)
	}
	if cur, _ := appjson.ForDeploy(st, app, ""); cur != nil {
		t.Error("app.json current before any deploy")
	}

	// A failing build leaves the tag where it was.
	repo2, rev2 := testRepo(t, map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo about-to-fail && false\n"})
	out.Reset()
	b2 := &Build{App: app, Source: GitSource{Repo: repo2, Rev: rev2}, Out: &out}
	err = d.Build(ctx, b2)
	if err == nil || !strings.Contains(err.Error(), "returned a non-zero code: 1") {
		t.Fatalf("failing build: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "about-to-fail\n") {
		t.Errorf("output of the failing step missing:\n%s", out.String())
	}
	if now, _ := d.Client.ImageInspect(ctx, b.Image); now.ID != img.ID {
		t.Errorf("failed build moved the tag: %s -> %s", img.ID, now.ID)
	}

	// No Dockerfile.
	repo3, rev3 := testRepo(t, map[string]string{"index.html": "x"})
	err = d.Build(ctx, &Build{App: app, Source: GitSource{Repo: repo3, Rev: rev3}, Out: &out})
	if err == nil || err.Error() != "No Dockerfile found in source code directory" {
		t.Errorf("no Dockerfile: %v", err)
	}
}

// syncWriter signals when a string shows up in what is written.
type syncWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func TestDockerBuildCancel(t *testing.T) {
	t.Parallel()
	d, _, app, base := dockerBuild(t)
	ctx := context.Background()
	repo, rev := testRepo(t, map[string]string{"Dockerfile": "FROM " + base + "\nCMD [\"true\"]\n"})
	b := &Build{App: app, Source: GitSource{Repo: repo, Rev: rev}, Out: &bytes.Buffer{}}
	if err := d.Build(ctx, b); err != nil {
		t.Fatal(err)
	}
	before, err := d.Client.ImageInspect(ctx, b.Image)
	if err != nil {
		t.Fatal(err)
	}

	marker := "sleeping-" + app
	repo2, rev2 := testRepo(t, map[string]string{"Dockerfile": "FROM " + base + "\nRUN echo " + marker + " && sleep 60\n"})
	w := &syncWriter{want: marker + "\n", seen: make(chan struct{})}
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Build(cctx, &Build{App: app, Source: GitSource{Repo: repo2, Rev: rev2}, Out: w}) }()
	select {
	case <-w.seen:
	case err := <-done:
		t.Fatalf("build ended before the cancel: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("the RUN step never started")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled build returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("build did not stop after cancel")
	}
	t.Logf("stopped %v after cancel", time.Since(start))
	after, err := d.Client.ImageInspect(ctx, b.Image)
	if err != nil || after.ID != before.ID {
		t.Errorf("cancelled build changed %s: %s -> %s (%v)", b.Image, before.ID, after.ID, err)
	}
	// The daemon removes the container of the interrupted step.
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := d.Client.ContainerList(ctx, client.ContainerListOptions{All: true})
		if err != nil {
			t.Fatal(err)
		}
		var left []string
		for _, c := range list.Items {
			if strings.Contains(c.Command, marker) {
				left = append(left, c.ID)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("build containers left after cancel: %v", left)
			for _, id := range left {
				d.Client.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true})
			}
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestDockerBuildSharedLayers: two apps built from the same files share
// the built image (the layer cache). The other app's cleanup between this
// build and its release step removes untagged parents with its images;
// the build must survive that, and leave no tag of its own behind.
func TestDockerBuildSharedLayers(t *testing.T) {
	t.Parallel()
	d, _, app, base := dockerBuild(t)
	other := dockertest.Name("dst-shared")
	dockertest.CleanupApp(t, d.Client, other)
	ctx := context.Background()
	files := map[string]string{"Dockerfile": "FROM " + base + "\nCOPY f /f\n", "f": "shared " + app + "\n"}
	repo, rev := testRepo(t, files)
	var out bytes.Buffer
	if err := d.Build(ctx, &Build{App: other, Source: GitSource{Repo: repo, Rev: rev}, Out: &out}); err != nil {
		t.Fatalf("build of %s: %v\n%s", other, err, out.String())
	}
	d.beforeRelease = func(builtID string) {
		// The other app goes, as apps:destroy removes its images.
		if _, err := d.Client.ImageRemove(ctx, ImageName(other), client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("remove %s: %v", ImageName(other), err)
		}
	}
	b := &Build{App: app, Source: GitSource{Repo: repo, Rev: rev}, Out: &out}
	if err := d.Build(ctx, b); err != nil {
		t.Fatalf("build after the shared image's other owner went: %v\n%s", err, out.String())
	}
	if _, err := d.Client.ImageInspect(ctx, b.Image); err != nil {
		t.Errorf("released image: %v", err)
	}
	if _, err := d.Client.ImageInspect(ctx, "dokku/"+app+":build"); err == nil {
		t.Error("the build tag is left after the release")
	}
}
