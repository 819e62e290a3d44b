package k3s

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"dokku-sshd/internal/k8stest"
	"dokku-sshd/store"
)

// Tests of logs, run and enter against a real API server, with kwok as
// the node: pods/log, pods/attach and pods/exec are real byte streams
// through the API server and client-go's streaming code. The app's pods
// come from Deployments made here with the deploy's labels and
// annotations, so these tests do not depend on Deploy.

// testTimeout only stops a hang; nothing is timed.
const testTimeout = 2 * time.Minute

// procsEnv is one test's app on the shared cluster, in a namespace of its
// own.
type procsEnv struct {
	cl  *k8stest.Cluster
	cs  kubernetes.Interface
	s   *Scheduler
	app string
	ns  string
}

func newProcsEnv(t *testing.T) *procsEnv {
	t.Helper()
	return newProcsEnvOn(t, k8stest.Shared(t))
}

// newProcsEnvOn is newProcsEnv on cl (a private cluster).
func newProcsEnvOn(t *testing.T, cl *k8stest.Cluster) *procsEnv {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	app := "shop"
	if err := st.CreateApp(app, time.Now().Unix()); err != nil {
		t.Fatal(err)
	}
	ns := "procs-" + randHex(4)
	for _, p := range []struct{ app, key, value string }{
		{store.Global, "kubeconfig-path", cl.Kubeconfig},
		{app, "namespace", ns},
	} {
		if err := st.SetProperty(Plugin, p.app, p.key, p.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetProperty("scheduler", app, "selected", Name); err != nil {
		t.Fatal(err)
	}
	cs := cl.Clientset()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	})
	return &procsEnv{cl: cl, cs: cs, s: New(st, nil, nil), app: app, ns: ns}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// testImage is the image the test Deployments name, by digest.
const testImage = "registry.test/dokku/shop@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// deployProc makes the Deployment APP-PROC of testImage as the deploy
// does (labels, template annotations, container APP-PROC) and waits until
// its pods are ready; it returns their names, sorted.
func (e *procsEnv) deployProc(t *testing.T, proc string, replicas int32, args ...string) []string {
	t.Helper()
	return e.deployImage(t, proc, replicas, testImage, args...)
}

// deployImage is deployProc with another image.
func (e *procsEnv) deployImage(t *testing.T, proc string, replicas int32, image string, args ...string) []string {
	t.Helper()
	return e.deploy(t, proc, replicas, corev1.Container{Image: image, Args: args}, podReady)
}

// deploy makes the Deployment APP-PROC with the container ctr (named by
// deploy) and waits until replicas of its pods are up by isUp.
func (e *procsEnv) deploy(t *testing.T, proc string, replicas int32, ctr corev1.Container, isUp func(*corev1.Pod) bool) []string {
	t.Helper()
	ctx := testCtx(t)
	name := e.app + "-" + proc
	lbls := objectLabels(e.app, proc)
	ctr.Name = name
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls, Annotations: managedAnnotations(nil)},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls, Annotations: managedAnnotations(map[string]string{
					AnnotationVersion: "1700000000", AnnotationBuilderType: "dockerfile", AnnotationDefaultCtr: name,
				})},
				Spec: corev1.PodSpec{
					Containers:         []corev1.Container{ctr},
					ServiceAccountName: e.app,
				},
			},
		},
	}
	if _, err := e.s.connect(ctx, e.app); err != nil { // creates the namespace
		t.Fatal(err)
	}
	if _, err := e.cs.AppsV1().Deployments(e.ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		list, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(e.app, proc)})
		if err != nil {
			t.Fatal(err)
		}
		names = names[:0]
		for i := range list.Items {
			if isUp(&list.Items[i]) && list.Items[i].DeletionTimestamp == nil {
				names = append(names, list.Items[i].Name)
			}
		}
		if len(names) == int(replicas) {
			break
		}
		e.waitPodChange(ctx, t, list.ResourceVersion, appSelector(e.app, proc))
	}
	return names // the API lists by name
}

// waitPodChange returns at the next change of the selected pods after
// resourceVersion rv.
func (e *procsEnv) waitPodChange(ctx context.Context, t *testing.T, rv, sel string) {
	t.Helper()
	w, err := e.cs.CoreV1().Pods(e.ns).Watch(ctx, metav1.ListOptions{LabelSelector: sel, ResourceVersion: rv})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	select {
	case <-w.ResultChan():
	case <-ctx.Done():
		t.Fatal("no pod change before the test's timeout")
	}
}

// syncBuffer is a Writer tests read while it is written, with a wait for
// content.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return n, err
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until the content satisfies ok.
func (s *syncBuffer) waitFor(ctx context.Context, t *testing.T, what string, ok func(string) bool) {
	t.Helper()
	for !ok(s.String()) {
		select {
		case <-s.changed:
		case <-ctx.Done():
			t.Fatalf("never got %s; output so far:\n%s", what, s.String())
		}
	}
}

// jobGone reports whether the Job is deleted or being deleted.
func (e *procsEnv) jobGone(ctx context.Context, t *testing.T, name string) bool {
	t.Helper()
	j, err := e.cs.BatchV1().Jobs(e.ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return j.DeletionTimestamp != nil
}

// runPodName is the name of the (only) run pod of the app, once it has one.
func (e *procsEnv) runPodName(ctx context.Context, t *testing.T) string {
	t.Helper()
	for {
		list, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(e.app, runProcess)})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning {
				return p.Name
			}
		}
		e.waitPodChange(ctx, t, list.ResourceVersion, appSelector(e.app, runProcess))
	}
}

func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
