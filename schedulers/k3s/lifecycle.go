package k3s

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"dokku-sshd/output"
)

// destroyWait bounds how long Destroy waits for the app's pods to go.
const destroyWait = 2 * time.Minute

// Status is Dokku's scheduler-app-status on k3s: the sum of the app's
// Deployments' replicas; false when none is expected or available, mixed
// when fewer are available than expected.
func (s *Scheduler) Status(ctx context.Context, app string) (int, string, error) {
	c, err := s.connect(ctx, app)
	if err != nil {
		return 0, "", err
	}
	list, err := c.cs.AppsV1().Deployments(c.ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(app, "")})
	if err != nil {
		return 0, "", c.fail("listing the Deployments of "+app, err)
	}
	expected, available := 0, 0
	for i := range list.Items {
		expected += int(replicas(&list.Items[i]))
		available += int(list.Items[i].Status.AvailableReplicas)
	}
	return expected, runningState(expected, available), nil
}

func runningState(expected, available int) string {
	switch {
	case expected == 0 || available == 0:
		return "false"
	case available < expected:
		return "mixed"
	}
	return "true"
}

// IsDeployed reports whether app has a Deployment.
func (s *Scheduler) IsDeployed(ctx context.Context, app string) (bool, error) {
	c, err := s.connect(ctx, app)
	if err != nil {
		return false, err
	}
	list, err := c.cs.AppsV1().Deployments(c.ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(app, ""), Limit: 1})
	if err != nil {
		return false, c.fail("listing the Deployments of "+app, err)
	}
	return len(list.Items) > 0, nil
}

// Stop scales each of app's Deployments to 0 (ps:stop); the scale stays
// in ps' property, so ps:start brings them back.
func (s *Scheduler) Stop(ctx context.Context, app string) error {
	return s.StopWithOutput(ctx, app, io.Discard)
}

// StopWithOutput is Stop with Dokku's line per process type on out.
func (s *Scheduler) StopWithOutput(ctx context.Context, app string, out io.Writer) error {
	unlock, err := s.lockApp(ctx, app, "stop", out)
	if err != nil {
		return err
	}
	defer unlock()
	c, err := s.connect(ctx, app)
	if err != nil {
		return err
	}
	list, err := c.cs.AppsV1().Deployments(c.ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(app, "")})
	if err != nil {
		return c.fail("listing the Deployments of "+app, err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	for _, d := range list.Items {
		output.Verbose(out, "Stopping %s process", d.Labels[LabelName])
		// A patch, not an apply: an apply of the replicas alone would
		// give up the rest of this server's fields.
		_, err := c.cs.AppsV1().Deployments(c.ns).Patch(ctx, d.Name, types.MergePatchType,
			[]byte(`{"spec":{"replicas":0}}`), metav1.PatchOptions{FieldManager: FieldManager})
		if err != nil && !apierrors.IsNotFound(err) {
			return c.fail("scaling Deployment "+d.Name+" to 0", err)
		}
	}
	return nil
}

// Retire has nothing to do: a rollout retires the old pods with their
// ReplicaSets.
func (s *Scheduler) Retire(context.Context, string) error { return nil }

// CloneSetup has nothing to do: every object is named after its app, so
// the new app's are its own once it deploys; apps:rename's Destroy of the
// old app removes the old ones.
func (s *Scheduler) CloneSetup(context.Context, string, string) error { return nil }

// Destroy deletes every object of app (labelled part-of=APP, and its
// config-, pull-secret- and tls- Secrets) with foreground propagation,
// then waits, with watches, until its Deployments and pods are gone.
func (s *Scheduler) Destroy(ctx context.Context, app string) error {
	unlock, err := s.lockApp(ctx, app, "destroy", nil)
	if err != nil {
		return err
	}
	defer unlock()
	// With no kubeconfig this server never reached a cluster for the app:
	// there is nothing to delete, and the app must still go.
	files, err := kubeconfigFiles(s.Store)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(files, func(f string) bool { _, err := os.Stat(f); return err == nil }) {
		s.log().Info("destroy: no kubeconfig, nothing deployed on a cluster", "app", app, "files", files)
		return nil
	}
	c, err := s.connect(ctx, app)
	if err != nil {
		return err
	}
	sel := metav1.ListOptions{LabelSelector: appSelector(app, "")}
	for _, k := range c.kinds() {
		names, err := k.list(ctx, sel)
		if err != nil {
			return c.fail("listing the "+k.name+" of "+app, err)
		}
		if k.name == "Secrets" {
			names = append(names, ConfigSecretName(app), PullSecretName(app), "tls-"+app)
		}
		for _, n := range names {
			opts := metav1.DeleteOptions{}
			if k.dependents {
				opts = foreground()
			}
			if err := k.del(ctx, n, opts); err != nil && !apierrors.IsNotFound(err) {
				return c.fail(fmt.Sprintf("removing %s %s", strings.TrimSuffix(k.name, "s"), n), err)
			}
		}
	}
	if err := c.destroyIssuers(ctx, app); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, destroyWait)
	defer cancel()
	if err := c.waitGone(wctx, "deployments", &appsv1.Deployment{}, sel.LabelSelector); err != nil {
		return c.goneError(ctx, app, err)
	}
	if err := c.waitGone(wctx, "pods", &corev1.Pod{}, sel.LabelSelector); err != nil {
		return c.goneError(ctx, app, err)
	}
	return nil
}

func (c *cluster) goneError(ctx context.Context, app string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if wait.Interrupted(err) {
		return output.Userf("The objects of %s were deleted, and its pods had not gone after %s", app, destroyWait)
	}
	return c.fail("waiting for the objects of "+app+" to go", err)
}

// kind is one kind of object an app has, for Destroy.
type kind struct {
	name string
	// dependents: deleted in the foreground, after what they own (a
	// Deployment's ReplicaSets and pods); the others go at once.
	dependents bool
	list       func(context.Context, metav1.ListOptions) ([]string, error)
	del        func(context.Context, string, metav1.DeleteOptions) error
}

// kinds are the kinds of object an app's release and its runs make.
func (c *cluster) kinds() []kind {
	names := func(n int, name func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = name(i)
		}
		return out
	}
	apps, core := c.cs.AppsV1(), c.cs.CoreV1()
	batch, net := c.cs.BatchV1(), c.cs.NetworkingV1()
	return []kind{
		{"Deployments", true, func(ctx context.Context, o metav1.ListOptions) ([]string, error) {
			l, err := apps.Deployments(c.ns).List(ctx, o)
			if err != nil {
				return nil, err
			}
			return names(len(l.Items), func(i int) string { return l.Items[i].Name }), nil
		}, apps.Deployments(c.ns).Delete},
		{"Jobs", true, func(ctx context.Context, o metav1.ListOptions) ([]string, error) {
			l, err := batch.Jobs(c.ns).List(ctx, o)
			if err != nil {
				return nil, err
			}
			return names(len(l.Items), func(i int) string { return l.Items[i].Name }), nil
		}, batch.Jobs(c.ns).Delete},
		{"CronJobs", true, func(ctx context.Context, o metav1.ListOptions) ([]string, error) {
			l, err := batch.CronJobs(c.ns).List(ctx, o)
			if err != nil {
				return nil, err
			}
			return names(len(l.Items), func(i int) string { return l.Items[i].Name }), nil
		}, batch.CronJobs(c.ns).Delete},
		{"Ingresses", false, func(ctx context.Context, o metav1.ListOptions) ([]string, error) {
			l, err := net.Ingresses(c.ns).List(ctx, o)
			if err != nil {
				return nil, err
			}
			return names(len(l.Items), func(i int) string { return l.Items[i].Name }), nil
		}, net.Ingresses(c.ns).Delete},
		{"Services", false, func(ctx context.Context, o metav1.ListOptions) ([]string, error) {
			l, err := core.Services(c.ns).List(ctx, o)
			if err != nil {
				return nil, err
			}
			return names(len(l.Items), func(i int) string { return l.Items[i].Name }), nil
		}, core.Services(c.ns).Delete},
		{"Secrets", false, func(ctx context.Context, o metav1.ListOptions) ([]string, error) {
			l, err := core.Secrets(c.ns).List(ctx, o)
			if err != nil {
				return nil, err
			}
			return names(len(l.Items), func(i int) string { return l.Items[i].Name }), nil
		}, core.Secrets(c.ns).Delete},
		{"ServiceAccounts", false, func(ctx context.Context, o metav1.ListOptions) ([]string, error) {
			l, err := core.ServiceAccounts(c.ns).List(ctx, o)
			if err != nil {
				return nil, err
			}
			return names(len(l.Items), func(i int) string { return l.Items[i].Name }), nil
		}, core.ServiceAccounts(c.ns).Delete},
	}
}

// waitGone waits, with a watch from a list's resourceVersion, until no
// object of resource matches selector.
func (c *cluster) waitGone(ctx context.Context, resource string, obj runtime.Object, selector string) error {
	var rest cache.Getter
	switch obj.(type) {
	case *appsv1.Deployment:
		rest = c.stream.AppsV1().RESTClient()
	default:
		rest = c.stream.CoreV1().RESTClient()
	}
	lw := cache.NewFilteredListWatchFromClient(rest, resource, c.ns, func(o *metav1.ListOptions) { o.LabelSelector = selector })
	var store cache.Store
	_, err := watchtools.UntilWithSync(ctx, lw, obj,
		func(s cache.Store) (bool, error) {
			store = s
			return len(s.List()) == 0, nil
		},
		func(ev watch.Event) (bool, error) { return len(store.List()) == 0, nil })
	return err
}
