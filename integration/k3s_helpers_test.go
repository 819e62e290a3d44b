package integration

import (
	"context"
	"encoding/base64"
	"io"
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"dokku-sshd/internal/dockertest"
	"dokku-sshd/internal/k8stest"
)

// The k3s tests deploy through the server to the test binary's shared
// control plane (internal/k8stest), each test in a namespace of its own,
// with images built by the real Docker Engine and pushed to a real registry
// of the test's own. kwok runs the pods: no container runs, so the app's
// image only has to exist in the registry.

// k3sTimeout bounds one deploying command or push; it only stops hangs.
const k3sTimeout = 4 * time.Minute

// k3sEnv is a server whose k3s scheduler reaches the shared cluster, and a
// git client whose key is registered on it.
type k3sEnv struct {
	s    *server
	key  *keyPair
	c    *gitClient
	cli  *client.Client
	cl   *k8stest.Cluster
	cs   kubernetes.Interface
	reg  *k8stest.RegistryServer
	base string // the local busybox image apps are built FROM
	ns   string // the namespace the server deploys into
}

// newK3sEnv sets the server up as a user would over ssh: the registry, the
// kubeconfig, a namespace and deploy-timeout. Skips without Docker, the
// control plane or the registry; fails under CI=true.
func newK3sEnv(t *testing.T, deployTimeout string) *k3sEnv {
	t.Helper()
	cli := dockertest.Require(t)
	e := &k3sEnv{cli: cli, base: dockertest.EnsureBaseImage(t, cli)}
	e.cl = k8stest.Shared(t)
	e.cs = e.cl.Clientset()
	e.reg = k8stest.Registry(t)
	e.s = startPushServer(t, pushServerOpts{})
	e.key = newKey(t, "ed25519", "pusher")
	e.s.addKey(t, "pusher", e.key)
	e.c = newGitClient(t, e.s, e.key)
	e.ns = dockertest.Name("ns")
	t.Cleanup(func() { e.deleteNamespace(t) })
	e.must(t, "registry:set", "--global", "server", e.reg.Addr)
	e.must(t, "scheduler-k3s:set", "--global", "kubeconfig-path", e.cl.Kubeconfig)
	e.must(t, "scheduler-k3s:set", "--global", "namespace", e.ns)
	e.must(t, "scheduler-k3s:set", "--global", "deploy-timeout", deployTimeout)
	return e
}

// newApp creates an app on the k3s scheduler; its local images are removed
// when the test ends.
func (e *k3sEnv) newApp(t *testing.T, prefix string) string {
	t.Helper()
	app := dockertest.Name(prefix)
	dockertest.CleanupApp(t, e.cli, app)
	e.must(t, "apps:create", app)
	e.must(t, "scheduler:set", app, "selected", "k3s")
	return app
}

// sshK runs a command over ssh with a timeout fit for a rollout.
func (e *k3sEnv) sshK(t testing.TB, words ...string) result {
	t.Helper()
	return e.s.sshWith(t, e.key, sshOpts{Timeout: k3sTimeout}, words...)
}

// must is sshK for commands that must exit 0.
func (e *k3sEnv) must(t testing.TB, words ...string) result {
	t.Helper()
	r := e.sshK(t, words...)
	if r.Code != 0 {
		t.Fatalf("ssh %s: %s\nserver log:\n%s", strings.Join(words, " "), r, e.s.Log())
	}
	return r
}

// pushDockerfile commits index.html (new content every time, so every
// build is a new image), files and a Dockerfile FROM the base image running
// busybox httpd on $PORT into dir in one commit, and pushes main to app.
func (e *k3sEnv) pushDockerfile(t testing.TB, dir, app string, files map[string]string) result {
	t.Helper()
	all := map[string]string{
		"index.html": "hello from " + app + " " + randHex(t, 4) + "\n",
		"Dockerfile": strings.Replace(httpDockerfile, "%s", e.base, 1),
	}
	maps.Copy(all, files)
	for name, content := range all {
		writeFile(t, filepath.Join(dir, name), content)
	}
	e.c.mustGit(t, dir, "add", "-A")
	e.c.mustGit(t, dir, "commit", "-q", "-m", "deploy "+randHex(t, 4))
	return e.c.gitT(t, dir, k3sTimeout, "push", e.c.url(app), "main")
}

// deployment returns APP-PROC in the test's namespace, nil when missing.
func (e *k3sEnv) deployment(t testing.TB, app, proc string) *appsv1.Deployment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := e.cs.AppsV1().Deployments(e.ns).Get(ctx, app+"-"+proc, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("get deployment %s-%s: %v", app, proc, err)
	}
	return d
}

// image is the first container's image of a Deployment.
func image(d *appsv1.Deployment) string {
	if d == nil || len(d.Spec.Template.Spec.Containers) == 0 {
		return ""
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// appKinds are the kinds of object the server makes for an app.
var appKinds = []schema.GroupVersionResource{
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Group: "apps", Version: "v1", Resource: "replicasets"},
	{Version: "v1", Resource: "pods"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "secrets"},
	{Version: "v1", Resource: "serviceaccounts"},
	{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"},
	{Group: "batch", Version: "v1", Resource: "jobs"},
}

// appObjects lists the kinds and names of every object in the namespace
// that carries app's label, the label apps:destroy deletes by; one being
// deleted (a deletionTimestamp: foreground deletion, finalizers) is marked
// so.
func (e *k3sEnv) appObjects(t testing.TB, app string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mc, err := metadata.NewForConfig(e.cl.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	sel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=" + app}
	var out []string
	for _, gvr := range appKinds {
		list, err := mc.Resource(gvr).Namespace(e.ns).List(ctx, sel)
		if err != nil {
			t.Fatalf("list %s: %v", gvr.Resource, err)
		}
		for _, o := range list.Items {
			name := gvr.Resource + "/" + o.Name
			if o.DeletionTimestamp != nil {
				name += " (being deleted)"
			}
			out = append(out, name)
		}
	}
	return out
}

// deleteNamespace removes the test's namespace from the shared cluster.
func (e *k3sEnv) deleteNamespace(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := e.cs.CoreV1().Namespaces().Delete(ctx, e.ns, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Logf("delete namespace %s: %v", e.ns, err)
	}
}

// pushImage tags the local image src as target (HOST/REPO:TAG of the
// test's registry) and pushes it through the Engine, for git:from-image
// of an image that is already in a registry.
func (e *k3sEnv) pushImage(t testing.TB, src, target string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := e.cli.ImageTag(ctx, client.ImageTagOptions{Source: src, Target: target}); err != nil {
		t.Fatalf("tag %s as %s: %v", src, target, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = e.cli.ImageRemove(ctx, target, client.ImageRemoveOptions{})
	})
	// The registry has no authentication: an empty credential.
	auth := base64.URLEncoding.EncodeToString([]byte("{}"))
	resp, err := e.cli.ImagePush(ctx, target, client.ImagePushOptions{RegistryAuth: auth})
	if err != nil {
		t.Fatalf("push %s: %v", target, err)
	}
	defer resp.Close()
	body, err := io.ReadAll(resp)
	if err != nil || strings.Contains(string(body), `"error"`) {
		t.Fatalf("push %s: %v %s", target, err, body)
	}
}

// localImages lists app's images left on the Engine: dokku/APP, those
// labelled for app, and tags of its registry repository (SERVER/dokku/APP).
func (e *k3sEnv) localImages(t testing.TB, app string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	left, err := dockertest.Leftovers(ctx, e.cli, app)
	if err != nil {
		t.Fatalf("list the images of %s: %v", app, err)
	}
	imgs, err := e.cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("reference", e.reg.Addr+"/dokku/"+app)})
	if err != nil {
		t.Fatalf("list the registry tags of %s: %v", app, err)
	}
	for _, im := range imgs.Items {
		left = append(left, "image "+im.ID+" "+strings.Join(im.RepoTags, ","))
	}
	return left
}

// removeLocalImages removes what a failed apps:destroy left of app's
// images, so that a failing run does not fill the disk either.
func (e *k3sEnv) removeLocalImages(t testing.TB, app string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := dockertest.RemoveApp(ctx, e.cli, app); err != nil {
		t.Logf("remove the images of %s: %v", app, err)
	}
}
