package registry_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"

	"dokku-sshd/deploy"
	"dokku-sshd/internal/dockertest"
	"dokku-sshd/internal/k8stest"
	"dokku-sshd/internal/testenv"
	"dokku-sshd/registry"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/k3s"
	"dokku-sshd/store"
)

func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }

// TestK3sDeployFromRegistry is the k3s scheduler with this registry
// plugin on a real cluster, a real registry that wants a login and the
// real Engine: a deploy pushes the built image, the Deployment names it by
// the digest the registry has, and pull-secret-APP holds the login.
func TestK3sDeployFromRegistry(t *testing.T) {
	cli := dockertest.Require(t)
	c := k8stest.Shared(t)
	const user, pass = "dokku", "pw"
	reg := k8stest.Registry(t, k8stest.WithAuth(user, pass))
	st, ns := k3sStore(t, c)
	cs := c.Clientset()
	app := dockertest.Name("regk3s")
	if err := st.CreateApp(app, time.Now().Unix()); err != nil {
		t.Fatal(err)
	}
	if err := st.SetProperty(registry.Plugin, store.Global, registry.PropServer, reg.Addr); err != nil {
		t.Fatal(err)
	}
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
		_, _ = cli.ImageRemove(ctx, image, client.ImageRemoveOptions{}) // the tag only: the image is the shared base
	})

	r := registry.New(st, cli)
	if err := r.Login(ctx, "", reg.Addr, user, pass); err != nil {
		t.Fatal(err)
	}
	s := k3s.New(st, r, nil)
	var out bytes.Buffer
	rel := &schedulers.Release{App: app, Image: image, Process: map[string]string{"web": "httpd -f -p 5000"}, Config: map[string]string{}, Out: &out}
	if err := s.Deploy(ctx, rel); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out.String())
	}
	t.Logf("deploy output:\n%s", out.String())
	_, _, digest, err := reg.Manifest(ctx, "dokku/"+app, "1")
	if err != nil {
		t.Fatal(err)
	}
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, app+"-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := dep.Spec.Template.Spec
	if got, want := spec.Containers[0].Image, reg.Addr+"/dokku/"+app+"@"+digest; got != want {
		t.Errorf("Deployment image %q, want %q", got, want)
	}
	if len(spec.ImagePullSecrets) != 1 || spec.ImagePullSecrets[0].Name != "pull-secret-"+app {
		t.Errorf("imagePullSecrets %+v", spec.ImagePullSecrets)
	}
	sec, err := cs.CoreV1().Secrets(ns).Get(ctx, "pull-secret-"+app, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sec.Type != corev1.SecretTypeDockerConfigJson {
		t.Errorf("pull secret type %q", sec.Type)
	}
	var doc struct {
		Auths map[string]struct{ Auth string }
	}
	if err := json.Unmarshal(sec.Data[corev1.DockerConfigJsonKey], &doc); err != nil {
		t.Fatal(err)
	}
	if raw, _ := base64.StdEncoding.DecodeString(doc.Auths[reg.Addr].Auth); string(raw) != user+":"+pass {
		t.Errorf("pull secret %s", sec.Data[corev1.DockerConfigJsonKey])
	}
	if !strings.Contains(out.String(), "Pushing image to registry") {
		t.Errorf("no push in the deploy output:\n%s", out.String())
	}
}

// TestK3sFromImage is git:from-image of an image in a registry on a k3s
// app, through the deploy pipeline, on a real cluster: nothing is pulled
// or built (the pipeline has no Docker images at all), the Deployment
// names the registry's digest, and the app.json of the app's tree gives
// the probes.
func TestK3sFromImage(t *testing.T) {
	cli := dockertest.Require(t)
	c := k8stest.Shared(t)
	reg := k8stest.Registry(t)
	st, ns := k3sStore(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The image in the registry: the base image, pushed as another app's.
	if err := st.SetProperty(registry.Plugin, store.Global, registry.PropServer, reg.Addr); err != nil {
		t.Fatal(err)
	}
	r := registry.New(st, cli)
	var out bytes.Buffer
	ref, err := r.Push(ctx, "source", dockertest.EnsureBaseImage(t, cli), &out)
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out.String())
	}

	app := dockertest.Name("regfrom")
	if err := st.CreateApp(app, time.Now().Unix()); err != nil {
		t.Fatal(err)
	}
	gitRepo(t, st.AppDir(app), map[string]string{"app.json": `{"healthchecks":{"web":[{"type":"readiness","path":"/healthz"}]}}`})
	if err := st.SetProperty("scheduler", app, "selected", k3s.Name); err != nil {
		t.Fatal(err)
	}
	p := &deploy.Pipeline{Store: st, Builds: deploy.NewBuilds(st), Builders: []deploy.Builder{deploy.NullBuilder{}},
		Schedulers: schedulers.NewRegistry(k3s.New(st, r, nil)), Registry: r}
	out.Reset()
	if err := p.DeployImage(ctx, deploy.FromImage{App: app, Image: reg.Addr + "/dokku/source:1", Out: &out}); err != nil {
		t.Fatalf("from-image: %v\n%s", err, out.String())
	}
	t.Logf("from-image output:\n%s", out.String())
	if strings.Contains(out.String(), "Pushing") || strings.Contains(out.String(), "Pulling") {
		t.Errorf("pushed or pulled:\n%s", out.String())
	}
	dep, err := c.Clientset().AppsV1().Deployments(ns).Get(ctx, app+"-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctr := dep.Spec.Template.Spec.Containers[0]
	if ctr.Image != ref {
		t.Errorf("Deployment image %q, want %q", ctr.Image, ref)
	}
	if ctr.ReadinessProbe == nil || ctr.ReadinessProbe.HTTPGet == nil || ctr.ReadinessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("readiness probe from the tree's app.json: %+v", ctr.ReadinessProbe)
	}
}

// k3sStore is a store whose k3s apps go to a namespace of their own on c.
func k3sStore(t *testing.T, c *k8stest.Cluster) (*store.Store, string) {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	ns := "reg-" + hex.EncodeToString(b[:])
	for k, v := range map[string]string{"kubeconfig-path": c.Kubeconfig, "namespace": ns} {
		if err := st.SetProperty(k3s.Plugin, store.Global, k, v); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = c.Clientset().CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	})
	return st, ns
}

// gitRepo makes dir a bare repository whose master holds files.
func gitRepo(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	testenv.Tool(t, "git")
	work := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"init", "-q", "-b", "master", work},
		{"-C", work, "add", "-A"},
		{"-C", work, "commit", "-q", "-m", "c"},
		{"init", "-q", "--bare", dir},
		{"-C", work, "push", "-q", dir, "master"},
	} {
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x", "GIT_CONFIG_NOSYSTEM=1", "HOME="+work, "GIT_TEMPLATE_DIR=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
	}
}

// TestK3sRedeployPushesOnce: a build is pushed once, by its deploy; a
// redeploy of it (ps:restart, ps:scale, config:set) deploys the digest
// that push made, with no push, no new tag and no local image, unless the
// app's registry settings moved since.
func TestK3sRedeployPushesOnce(t *testing.T) {
	cli := dockertest.Require(t)
	c := k8stest.Shared(t)
	reg := k8stest.Registry(t)
	st, ns := k3sStore(t, c)
	app := dockertest.Name("regonce")
	if err := st.CreateApp(app, time.Now().Unix()); err != nil {
		t.Fatal(err)
	}
	if err := st.SetProperty(registry.Plugin, store.Global, registry.PropServer, reg.Addr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	id := uniqueImage(ctx, t, cli, "dokku/"+app+":latest")
	s := k3s.New(st, registry.New(st, cli), nil)
	deploy := func(redeploy, wantPush bool, wantTag int) string {
		t.Helper()
		var out bytes.Buffer
		rel := &schedulers.Release{App: app, Image: id, Redeploy: redeploy, Process: map[string]string{"web": "httpd -f -p 5000"},
			Config: map[string]string{}, Out: &out}
		if err := s.Deploy(ctx, rel); err != nil {
			t.Fatalf("deploy (redeploy %v): %v\n%s", redeploy, err, out.String())
		}
		dep, err := c.Clientset().AppsV1().Deployments(ns).Get(ctx, app+"-web", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := registry.TagVersion(st, app); n != wantTag {
			t.Errorf("tag-version %d after the deploy (redeploy %v), want %d", n, redeploy, wantTag)
		}
		if pushed := strings.Contains(out.String(), "Pushing"); pushed != wantPush {
			t.Errorf("redeploy %v pushed %v, want %v:\n%s", redeploy, pushed, wantPush, out.String())
		}
		return dep.Spec.Template.Spec.Containers[0].Image
	}
	built := deploy(false, true, 1)
	if !strings.HasPrefix(built, reg.Addr+"/dokku/"+app+"@sha256:") {
		t.Fatalf("Deployment image %q, want the registry's digest", built)
	}
	if again := deploy(true, false, 1); again != built {
		t.Errorf("redeploy deployed %q, want %q", again, built)
	}
	// The app's repository moved: the redeploy pushes there, once.
	if err := st.SetProperty(registry.Plugin, app, registry.PropImageRepo, "moved/"+app); err != nil {
		t.Fatal(err)
	}
	moved := deploy(true, true, 2)
	if !strings.HasPrefix(moved, reg.Addr+"/moved/"+app+"@sha256:") {
		t.Fatalf("Deployment image %q, want the moved repository's digest", moved)
	}
	// The local image is gone (pruned): the redeploy needs none.
	if _, err := cli.ImageRemove(ctx, id, client.ImageRemoveOptions{Force: true}); err != nil {
		t.Fatal(err)
	}
	if again := deploy(true, false, 2); again != moved {
		t.Errorf("redeploy deployed %q, want %q", again, moved)
	}
}

// uniqueImage builds an image of its own from the base image (a label
// makes it unique), tagged ref, and returns its id; it is removed at the
// end of the test.
func uniqueImage(ctx context.Context, t *testing.T, cli *client.Client, ref string) string {
	t.Helper()
	base := dockertest.EnsureBaseImage(t, cli)
	var b [8]byte
	_, _ = rand.Read(b[:])
	dockerfile := "FROM " + base + "\nLABEL dokku-sshd-test=" + hex.EncodeToString(b[:]) + "\n"
	var tarball bytes.Buffer
	tw := tar.NewWriter(&tarball)
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(dockerfile))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(dockerfile)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := cli.ImageBuild(ctx, &tarball, client.ImageBuildOptions{Tags: []string{ref}, Remove: true, Version: build.BuilderV1})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	img, err := cli.ImageInspect(ctx, ref)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, body)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{Force: true})
	})
	return img.ID
}
