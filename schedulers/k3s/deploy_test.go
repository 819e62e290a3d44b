package k3s

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"dokku-sshd/internal/k8stest"
	"dokku-sshd/internal/testbuf"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// env is a store whose k3s scheduler deploys into a namespace of its own
// on a test cluster.
type env struct {
	t  *testing.T
	st *store.Store
	s  *Scheduler
	cs kubernetes.Interface
	ns string
}

func newEnv(t *testing.T, c *k8stest.Cluster) *env {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ns := "t-" + randHex(5)
	for k, v := range map[string]string{"kubeconfig-path": c.Kubeconfig, "namespace": ns} {
		if err := st.SetProperty(Plugin, store.Global, k, v); err != nil {
			t.Fatal(err)
		}
	}
	e := &env{t: t, st: st, s: New(st, nil, nil), cs: c.Clientset(), ns: ns}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = e.cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	})
	return e
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// image is a registry reference by digest; kwok pulls nothing.
func image(name string) string {
	return "registry.test/" + name + "@sha256:" + strings.Repeat(hex.EncodeToString([]byte(name))[:2], 32)
}

// app creates app with the given scale lines.
func (e *env) app(app, scale string) {
	e.t.Helper()
	if err := e.st.CreateApp(app, time.Now().Unix()); err != nil {
		e.t.Fatal(err)
	}
	if scale != "" {
		if err := e.st.SetProperty("ps", app, "scale", scale); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *env) set(app, key, value string) {
	e.t.Helper()
	if err := e.st.SetProperty(Plugin, app, key, value); err != nil {
		e.t.Fatal(err)
	}
}

// release is a redeploy of img with procfile and app.json, as ps:restart
// makes one.
func release(app, img string, procfile map[string]string, appJSON string, out *outBuf) *schedulers.Release {
	r := &schedulers.Release{App: app, Image: img, Process: procfile, Config: map[string]string{"GREETING": "hi"},
		Redeploy: true, Out: out}
	if appJSON != "" {
		r.AppJSON = []byte(appJSON)
	}
	return r
}

func (e *env) deployment(name string) *appsv1.Deployment {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := e.cs.AppsV1().Deployments(e.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("get Deployment %s: %v", name, err)
	}
	return d
}

// outBuf is a deploy's output that tells a test when a line appears.
type outBuf struct {
	testbuf.Buffer
	mu    sync.Mutex
	waits map[string]chan struct{}
}

func (o *outBuf) Write(p []byte) (int, error) {
	n, err := o.Buffer.Write(p)
	s := o.String()
	o.mu.Lock()
	for sub, ch := range o.waits {
		if strings.Contains(s, sub) {
			close(ch)
			delete(o.waits, sub)
		}
	}
	o.mu.Unlock()
	return n, err
}

// when is closed once the output holds sub.
func (o *outBuf) when(sub string) <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	ch := make(chan struct{})
	if strings.Contains(o.String(), sub) {
		close(ch)
		return ch
	}
	if o.waits == nil {
		o.waits = map[string]chan struct{}{}
	}
	o.waits[sub] = ch
	return ch
}

func TestDeployLifecycle(t *testing.T) {
	e := newEnv(t, k8stest.Shared(t))
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	const app = "shop"
	e.app(app, "web=3\nworker=1\n")
	procfile := map[string]string{"web": "httpd -f -p $PORT", "worker": "sh -c 'while true; do sleep 1; done'"}
	img := image("shop")

	out := &outBuf{}
	if err := e.s.Deploy(ctx, release(app, img, procfile, "", out)); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out.String())
	}
	e.checkDeployed(ctx, app, img, out)

	t.Run("restart of one process type", func(t *testing.T) { e.restartOne(ctx, t, app, img, procfile) })
	t.Run("scale", func(t *testing.T) {
		e.app2scale(app, "web=1\nworker=1\n")
		r := release(app, img, procfile, "", &outBuf{})
		r.ProcessType = "web"
		if err := e.s.Deploy(ctx, r); err != nil {
			t.Fatal(err)
		}
		if d := e.deployment("shop-web"); *d.Spec.Replicas != 1 || d.Status.Replicas != 1 {
			t.Errorf("shop-web replicas %d, status %d", *d.Spec.Replicas, d.Status.Replicas)
		}
	})
	t.Run("process type removed", func(t *testing.T) {
		o := &outBuf{}
		if err := e.s.Deploy(ctx, release(app, img, map[string]string{"web": procfile["web"]}, "", o)); err != nil {
			t.Fatal(err)
		}
		_, err := e.cs.AppsV1().Deployments(e.ns).Get(ctx, "shop-worker", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) && (err != nil || !strings.Contains(o.String(), "Removing Deployment shop-worker")) {
			t.Errorf("shop-worker after it left the Procfile: %v\n%s", err, o.String())
		}
	})
	t.Run("stop and start", func(t *testing.T) {
		o := &outBuf{}
		if err := e.s.StopWithOutput(ctx, app, o); err != nil || !strings.Contains(o.String(), "Stopping web process") {
			t.Fatalf("stop: %v\n%s", err, o.String())
		}
		if n, running, err := e.s.Status(ctx, app); err != nil || n != 0 || running != "false" {
			t.Errorf("Status after stop = %d %s %v, want 0 false", n, running, err)
		}
		if err := e.s.Deploy(ctx, release(app, img, map[string]string{"web": procfile["web"]}, "", &outBuf{})); err != nil {
			t.Fatal(err)
		}
		if n, running, err := e.s.Status(ctx, app); err != nil || n != 1 || running != "true" {
			t.Errorf("Status after start = %d %s %v, want 1 true", n, running, err)
		}
	})
	t.Run("destroy", func(t *testing.T) {
		if err := e.s.Destroy(ctx, app); err != nil {
			t.Fatal(err)
		}
		e.checkNothingLeft(ctx, app)
		if ok, err := e.s.IsDeployed(ctx, app); err != nil || ok {
			t.Errorf("IsDeployed after destroy = %v %v", ok, err)
		}
	})
}

// checkDeployed checks shop's first deploy: its output, the Deployments,
// the other objects, status, is-deployed and inspect.
func (e *env) checkDeployed(ctx context.Context, app, img string, out *outBuf) {
	t := e.t
	t.Helper()
	t.Logf("deploy output:\n%s", out.String())
	for _, want := range []string{"=====> Installing shop", "web: new ReplicaSet shop-web-", "web: ready 3/3", "worker: ready 1/1", "-----> Running post-deploy"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("deploy output lacks %q:\n%s", want, out.String())
		}
	}
	web := e.deployment("shop-web")
	if web.Status.AvailableReplicas != 3 || web.Spec.Template.Spec.Containers[0].Image != img {
		t.Errorf("shop-web: available %d image %s", web.Status.AvailableReplicas, web.Spec.Template.Spec.Containers[0].Image)
	}
	checkLabels(t, web.Labels, map[string]string{LabelPartOf: app, LabelName: "web", LabelInstance: "shop-web"})
	if got := web.Spec.Template.Spec.Containers[0].Args; strings.Join(got, " ") != "httpd -f -p 5000" {
		t.Errorf("web args %q", got)
	}
	e.checkObjects(ctx, app)
	if n, running, err := e.s.Status(ctx, app); err != nil || n != 4 || running != "true" {
		t.Errorf("Status = %d %s %v, want 4 true", n, running, err)
	}
	if ok, err := e.s.IsDeployed(ctx, app); err != nil || !ok {
		t.Errorf("IsDeployed = %v %v", ok, err)
	}
	var inspect strings.Builder
	if err := e.s.Inspect(ctx, app, &inspect); err != nil || !strings.Contains(inspect.String(), "kind: Deployment") || !strings.Contains(inspect.String(), "kind: Pod") {
		t.Errorf("Inspect: %v\n%s", err, inspect.String())
	}
}

func (e *env) app2scale(app, scale string) {
	e.t.Helper()
	if err := e.st.SetProperty("ps", app, "scale", scale); err != nil {
		e.t.Fatal(err)
	}
}

func checkLabels(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
}

// checkObjects checks the objects beside the Deployments: the Service's
// ports, the config Secret, the ServiceAccount.
func (e *env) checkObjects(ctx context.Context, app string) {
	t := e.t
	svc, err := e.cs.CoreV1().Services(e.ns).Get(ctx, app+"-web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http-80-5000" || svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort.IntVal != 5000 {
		t.Errorf("service ports %+v", svc.Spec.Ports)
	}
	if _, err := e.cs.CoreV1().Services(e.ns).Get(ctx, app+"-worker", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("worker has a Service: %v", err)
	}
	sec, err := e.cs.CoreV1().Secrets(e.ns).Get(ctx, "config-"+app, metav1.GetOptions{})
	if err != nil || string(sec.Data["GREETING"]) != "hi" {
		t.Errorf("config secret: %v %v", err, sec)
	}
	sa, err := e.cs.CoreV1().ServiceAccounts(e.ns).Get(ctx, app, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkLabels(t, sa.Labels, map[string]string{LabelPartOf: app, LabelName: "service-account"})
	ns, err := e.cs.CoreV1().Namespaces().Get(ctx, e.ns, metav1.GetOptions{})
	if err != nil || ns.Labels[Managed] != "true" {
		t.Errorf("namespace %s: %v %v", e.ns, err, ns.Labels)
	}
}

// restartOne redeploys with only worker named: worker's pods roll, web's
// Deployment and the other objects are left as they are.
func (e *env) restartOne(ctx context.Context, t *testing.T, app, img string, procfile map[string]string) {
	rv := func() map[string]string {
		web := e.deployment(app + "-web")
		svc, _ := e.cs.CoreV1().Services(e.ns).Get(ctx, app+"-web", metav1.GetOptions{})
		sec, _ := e.cs.CoreV1().Secrets(e.ns).Get(ctx, "config-"+app, metav1.GetOptions{})
		sa, _ := e.cs.CoreV1().ServiceAccounts(e.ns).Get(ctx, app, metav1.GetOptions{})
		// The Deployment's status is the controller's to write: its
		// generation says whether its spec changed.
		return map[string]string{"deployment": strconv.FormatInt(web.Generation, 10), "service": svc.ResourceVersion,
			"secret": sec.ResourceVersion, "serviceaccount": sa.ResourceVersion}
	}
	before := rv()
	workerBefore := templateVersion(e.deployment(app + "-worker"))
	r := release(app, img, procfile, "", &outBuf{})
	r.ProcessType = "worker"
	if err := e.s.Deploy(ctx, r); err != nil {
		t.Fatal(err)
	}
	if after := rv(); after["deployment"] != before["deployment"] || after["service"] != before["service"] ||
		after["secret"] != before["secret"] || after["serviceaccount"] != before["serviceaccount"] {
		t.Errorf("generation or resourceVersions changed by a restart of worker: before %v, after %v", before, after)
	}
	if v := templateVersion(e.deployment(app + "-worker")); v == workerBefore {
		t.Errorf("worker's version stayed %s", v)
	}
}

// checkNothingLeft checks that no object of app is left.
func (e *env) checkNothingLeft(ctx context.Context, app string) {
	t := e.t
	sel := metav1.ListOptions{LabelSelector: appSelector(app, "")}
	deps, err1 := e.cs.AppsV1().Deployments(e.ns).List(ctx, sel)
	rss, err2 := e.cs.AppsV1().ReplicaSets(e.ns).List(ctx, sel)
	pods, err3 := e.cs.CoreV1().Pods(e.ns).List(ctx, sel)
	svcs, err4 := e.cs.CoreV1().Services(e.ns).List(ctx, sel)
	secs, err5 := e.cs.CoreV1().Secrets(e.ns).List(ctx, sel)
	sas, err6 := e.cs.CoreV1().ServiceAccounts(e.ns).List(ctx, sel)
	if err := errors.Join(err1, err2, err3, err4, err5, err6); err != nil {
		t.Fatal(err)
	}
	if n := len(deps.Items) + len(rss.Items) + len(pods.Items) + len(svcs.Items) + len(secs.Items) + len(sas.Items); n != 0 {
		t.Errorf("%d objects of %s left: %d Deployments, %d ReplicaSets, %d pods, %d Services, %d Secrets, %d ServiceAccounts",
			n, app, len(deps.Items), len(rss.Items), len(pods.Items), len(svcs.Items), len(secs.Items), len(sas.Items))
	}
}

// failureCase is a release whose rollout can never finish, and how its
// web pod shows that.
type failureCase struct {
	name    string
	image   string
	appJSON string
	during  []string // lines the deploy writes while it waits
	reason  string   // the reason of the web pod's Warning event
	report  []string // lines of the report at deploy-timeout
}

var failureCases = []failureCase{
	{name: "unpullable image", image: image(k8stest.UnpullableImage),
		during: []string{"web: pod bad-web-", "is waiting: ", ": Failed: Failed to pull image"},
		reason: "Failed",
		report: []string{"web: 0 of 1 updated replicas are available", "is Pending and not ready", "    Warning Failed: Failed to pull image"}},
	{name: "readiness probe fails", image: image("probe"),
		appJSON: `{"healthchecks":{"web":[{"type":"readiness","path":"` + k8stest.FailingProbePath + `"}]}}`,
		during:  []string{"web: pod bad-web-", ": Unhealthy: Readiness probe failed"},
		reason:  "Unhealthy",
		report:  []string{"web: 0 of 1 updated replicas are available", "is Running and not ready", "    Warning Unhealthy: Readiness probe failed"}},
}

// TestDeployFailures: a rollout that cannot finish shows its pods'
// failure while it waits, and a deploy that passes deploy-timeout fails
// with the not-ready pods and their last events. Nothing depends on how
// fast the cluster is: the lines are waited for, and the deploy that
// times out finds the failing pod and its events already there.
func TestDeployFailures(t *testing.T) {
	c := k8stest.Shared(t)
	for _, tc := range failureCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("shown while it waits", func(t *testing.T) { failureShown(t, newEnv(t, c), tc) })
			t.Run("deploy-timeout", func(t *testing.T) { failureTimesOut(t, newEnv(t, c), tc) })
		})
	}
}

// failureShown deploys tc's release with a deploy-timeout that never
// comes, waits for its lines in the output and then cancels the deploy.
func failureShown(t *testing.T, e *env, tc failureCase) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	e.app("bad", "")
	e.set("bad", "deploy-timeout", "10m")
	dctx, dcancel := context.WithCancel(ctx)
	defer dcancel()
	out := &outBuf{}
	errc := make(chan error, 1)
	go func() {
		errc <- e.s.Deploy(dctx, release("bad", tc.image, map[string]string{"web": "httpd"}, tc.appJSON, out))
	}()
	for _, w := range tc.during {
		select {
		case <-out.when(w):
		case err := <-errc:
			t.Fatalf("deploy ended before %q: %v\n%s", w, err, out.String())
		case <-ctx.Done():
			t.Fatalf("no %q in the output (hang guard)\n%s", w, out.String())
		}
	}
	dcancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("deploy = %v, want it cancelled\n%s", err, out.String())
	}
}

// failureTimesOut deploys tc's release with a short deploy-timeout, which
// leaves the failing pods in place, and waits for the web pod's event and
// the Deployment's count of it.
// A restart of worker then passes deploy-timeout with web as it was: its
// report must show the web pod and its events.
func failureTimesOut(t *testing.T, e *env, tc failureCase) {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	e.app("bad", "web=1\nworker=1\n")
	procfile := map[string]string{"web": "httpd", "worker": "httpd"}
	e.set("bad", "deploy-timeout", "1s")
	out := &outBuf{}
	err := e.s.Deploy(ctx, release("bad", tc.image, procfile, tc.appJSON, out))
	if err == nil || !strings.Contains(err.Error(), "did not finish within 1s (deploy-timeout)") {
		t.Fatalf("first deploy = %v, want deploy-timeout\n%s", err, out.String())
	}
	e.waitPodEvent(ctx, "bad-web-", tc.reason)
	e.waitUpdated(ctx, "bad-web")
	e.set("bad", "deploy-timeout", "20s")
	out = &outBuf{}
	r := release("bad", tc.image, procfile, tc.appJSON, out)
	r.ProcessType = "worker"
	err = e.s.Deploy(ctx, r)
	if err == nil || !strings.Contains(err.Error(), "did not finish within 20s (deploy-timeout)") {
		t.Fatalf("restart of worker = %v, want deploy-timeout\n%s", err, out.String())
	}
	for _, w := range tc.report {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}

// waitPodEvent waits until a pod whose name starts with prefix has an
// event with reason.
func (e *env) waitPodEvent(ctx context.Context, prefix, reason string) {
	e.t.Helper()
	sel := fields.Set{"involvedObject.kind": "Pod", "reason": reason}.AsSelector()
	e.waitUntil(ctx, e.cs.CoreV1().RESTClient(), "events", sel, &corev1.Event{}, func(obj runtime.Object) bool {
		ev, ok := obj.(*corev1.Event)
		return ok && strings.HasPrefix(ev.InvolvedObject.Name, prefix)
	})
}

// waitUpdated waits until the Deployment controller has counted every
// replica of Deployment name as updated.
func (e *env) waitUpdated(ctx context.Context, name string) {
	e.t.Helper()
	sel := fields.OneTermEqualSelector("metadata.name", name)
	e.waitUntil(ctx, e.cs.AppsV1().RESTClient(), "deployments", sel, &appsv1.Deployment{}, func(obj runtime.Object) bool {
		d, ok := obj.(*appsv1.Deployment)
		return ok && d.Status.ObservedGeneration == d.Generation && d.Status.UpdatedReplicas == replicas(d)
	})
}

// waitUntil lists and watches the namespace's resource (of obj's type)
// matching sel until cond holds for one of them.
func (e *env) waitUntil(ctx context.Context, rest cache.Getter, resource string, sel fields.Selector, obj runtime.Object, cond func(runtime.Object) bool) {
	e.t.Helper()
	lw := cache.NewListWatchFromClient(rest, resource, e.ns, sel)
	_, err := watchtools.UntilWithSync(ctx, lw, obj, func(st cache.Store) (bool, error) {
		return slices.ContainsFunc(st.List(), func(o any) bool { return cond(o.(runtime.Object)) }), nil
	}, func(ev watch.Event) (bool, error) { return cond(ev.Object), nil })
	if err != nil {
		e.t.Fatalf("waiting for %s %s: %v", resource, sel, err)
	}
}

// TestRollbackOnFailure: a rollout that passes deploy-timeout with
// rollback-on-failure puts the previous pod template back and waits for
// it, however short deploy-timeout is.
func TestRollbackOnFailure(t *testing.T) {
	e := newEnv(t, k8stest.Shared(t))
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	const app = "rb"
	e.app(app, "web=2\n")
	good := image("good")
	procfile := map[string]string{"web": "httpd"}
	if err := e.s.Deploy(ctx, withFoo(release(app, good, procfile, "", &outBuf{}), "1")); err != nil {
		t.Fatal(err)
	}
	version := templateVersion(e.deployment(app + "-web"))
	e.set(app, "rollback-on-failure", "true")
	// The unpullable image never becomes ready, so the deploy always
	// times out; the rollback's wait is not bound by this timeout.
	e.set(app, "deploy-timeout", "5s")
	out := &outBuf{}
	err := e.s.Deploy(ctx, withFoo(release(app, image(k8stest.UnpullableImage), procfile, "", out), "2"))
	if err == nil || !strings.Contains(err.Error(), "did not finish within 5s (deploy-timeout); rolled back") {
		t.Fatalf("deploy: %v\n%s", err, out.String())
	}
	e.wantConfig(app, "1")
	d := e.deployment(app + "-web")
	if img := d.Spec.Template.Spec.Containers[0].Image; img != good || templateVersion(d) != version {
		t.Errorf("after the rollback: image %s version %s, want %s %s", img, templateVersion(d), good, version)
	}
	if msg, done, _ := deploymentStatus(d); !done || d.Status.AvailableReplicas != 2 {
		t.Errorf("after the rollback: %s, %d available\n%s", msg, d.Status.AvailableReplicas, out.String())
	}
}

// TestRollbackFirstDeploy: a first deploy that fails with
// rollback-on-failure leaves no config Secret behind, as it found none.
func TestRollbackFirstDeploy(t *testing.T) {
	e := newEnv(t, k8stest.Shared(t))
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	const app = "rbfirst"
	e.app(app, "")
	e.set(app, "rollback-on-failure", "true")
	e.set(app, "deploy-timeout", "5s")
	out := &outBuf{}
	err := e.s.Deploy(ctx, release(app, image(k8stest.UnpullableImage), map[string]string{"web": "httpd"}, "", out))
	if err == nil || !strings.Contains(err.Error(), "did not finish within 5s (deploy-timeout)") {
		t.Fatalf("deploy: %v\n%s", err, out.String())
	}
	gctx, gcancel := context.WithTimeout(context.Background(), time.Minute)
	defer gcancel()
	_, err = e.cs.CoreV1().Secrets(e.ns).Get(gctx, ConfigSecretName(app), metav1.GetOptions{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("after the rollback of a first deploy, get Secret %s: %v, want not found", ConfigSecretName(app), err)
	}
}

// withFoo sets FOO=foo in r's config (a config:set before the deploy).
func withFoo(r *schedulers.Release, foo string) *schedulers.Release {
	r.Config["FOO"] = foo
	return r
}

// wantConfig checks that config-APP holds FOO=foo, as a rolled back
// deploy must leave it: the pods put back read their env from it.
func (e *env) wantConfig(app, foo string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sec, err := e.cs.CoreV1().Secrets(e.ns).Get(ctx, ConfigSecretName(app), metav1.GetOptions{})
	if err != nil {
		e.t.Fatalf("get Secret %s: %v", ConfigSecretName(app), err)
	}
	if got := string(sec.Data["FOO"]); got != foo || string(sec.Data["GREETING"]) != "hi" {
		e.t.Errorf("after the rollback %s holds FOO=%q GREETING=%q, want FOO=%q GREETING=\"hi\"",
			ConfigSecretName(app), got, sec.Data["GREETING"], foo)
	}
}

func TestDeployCancelled(t *testing.T) {
	e := newEnv(t, k8stest.Shared(t))
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	const app = "cx"
	e.app(app, "")
	good := image("good")
	procfile := map[string]string{"web": "httpd"}
	if err := e.s.Deploy(ctx, withFoo(release(app, good, procfile, "", &outBuf{}), "1")); err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithCancel(ctx)
	out := &outBuf{}
	go func() {
		select {
		case <-out.when("web: new ReplicaSet"):
			dcancel() // the client went away during the rollout
		case <-ctx.Done():
		}
	}()
	err := e.s.Deploy(dctx, withFoo(release(app, image(k8stest.UnpullableImage), procfile, "", out), "2"))
	dcancel()
	if !errors.Is(err, context.Canceled) || !strings.Contains(out.String(), "Deployment of cx has been cancelled") {
		t.Fatalf("deploy: %v\n%s", err, out.String())
	}
	e.wantConfig(app, "1")
	if img := e.deployment(app + "-web").Spec.Template.Spec.Containers[0].Image; img != good {
		t.Errorf("after the cancel the template runs %s, want %s back", img, good)
	}
}

func TestDeployAPIServerGoesAway(t *testing.T) {
	c := k8stest.Start(t)
	e := newEnv(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	e.app("gone", "")
	out := &outBuf{}
	go func() {
		select {
		case <-out.when("web: new ReplicaSet"):
			c.StopAPIServer()
		case <-ctx.Done():
		}
	}()
	err := e.s.Deploy(ctx, release("gone", image(k8stest.UnpullableImage), map[string]string{"web": "httpd"}, "", out))
	if err == nil || ctx.Err() != nil {
		t.Fatalf("deploy: %v (hang guard: %v)\n%s", err, ctx.Err(), out.String())
	}
	t.Logf("error: %v\noutput:\n%s", err, out.String())
	if msg := err.Error(); !strings.Contains(msg, c.Server) || !strings.Contains(msg, "Unable to reach the Kubernetes API server") {
		t.Errorf("error %q does not name the server %s and the cause", msg, c.Server)
	}
}

// TestDeployForbiddenWatch: a credential that may apply the app's objects
// but not watch its pods fails the deploy at once, with the API server's
// refusal, instead of waiting out deploy-timeout.
func TestDeployForbiddenWatch(t *testing.T) {
	c := k8stest.Shared(t)
	e := newEnv(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	admin := c.Clientset()
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	user := "deployer-" + randHex(4)
	all := []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: e.ns}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments", "replicasets"}, Verbs: all},
		{APIGroups: []string{""}, Resources: []string{"secrets", "serviceaccounts", "services"}, Verbs: all},
		{APIGroups: []string{"networking.k8s.io", "cert-manager.io"}, Resources: []string{"*"}, Verbs: all},
	}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: e.ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: user},
		Subjects: []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: user}}}
	if _, err := admin.RbacV1().Roles(e.ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().RoleBindings(e.ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.set(store.Global, "kubeconfig-path", kubeconfigAs(t, c, user))
	e.app("fw", "")
	e.set("fw", "deploy-timeout", "10m")
	out := &outBuf{}
	err := e.s.Deploy(ctx, release("fw", image("fw"), map[string]string{"web": "httpd"}, "", out))
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "refused watching the rollout of fw") || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("deploy = %v (hang guard: %v), want the API server's refusal to watch\n%s", err, ctx.Err(), out.String())
	}
}
