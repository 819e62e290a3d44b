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
	"k8s.io/apimachinery/pkg/api/meta"
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
	c, err := s.open(app)
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
	c, err := s.open(app)
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
	c, err := s.open(app)
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
func (s *Scheduler) Retire(context.Context, string, io.Writer) error { return nil }

// CloneSetup forgets the copied tls-cert-imported: every object is named
// after its app, so the new app's are its own once it deploys (apps:rename's
// Destroy of the old app removes the old ones), and no Secret tls-TO holds
// a certificate until certs:add or certs:update for the new app makes it.
func (s *Scheduler) CloneSetup(_ context.Context, _, to string) error {
	return s.Store.DeleteProperty(Plugin, to, propCertImported)
}

// Destroy deletes every object of app (labelled part-of=APP, and its
// config-, pull-secret- and tls- Secrets) with foreground propagation,
// waits, with watches, until its Deployments and pods are gone, and then
// removes the app's images from this host when Images can (LocalImages).
func (s *Scheduler) Destroy(ctx context.Context, app string) error {
	unlock, err := s.lockApp(ctx, app, "destroy", nil)
	if err != nil {
		return err
	}
	defer unlock()
	if err := s.destroyObjects(ctx, app); err != nil {
		return err
	}
	s.removeImages(ctx, app)
	return nil
}

// removeImages removes app's local images. A failure (an Engine that is
// down) is logged, not returned: the cluster side, what the user asked
// for, is done, and the images can still be removed by hand.
func (s *Scheduler) removeImages(ctx context.Context, app string) {
	li, ok := s.Images.(LocalImages)
	if !ok {
		return
	}
	if err := li.RemoveImages(ctx, app); err != nil {
		s.log().Warn("destroy: the app's local images were not removed", "app", app, "err", err)
	}
}

// haveKubeconfig reports whether a kubeconfig file exists; without one
// this server never reached a cluster for app, so nothing of it is on one
// (doing names the caller in the log line).
func (s *Scheduler) haveKubeconfig(doing, app string) (bool, error) {
	files, err := kubeconfigFiles(s.Store)
	if err != nil {
		return false, err
	}
	if !slices.ContainsFunc(files, func(f string) bool { _, err := os.Stat(f); return err == nil }) {
		s.log().Info(doing+": no kubeconfig, nothing deployed on a cluster", "app", app, "files", files)
		return false, nil
	}
	return true, nil
}

// destroyObjects deletes app's objects and waits until they are gone.
func (s *Scheduler) destroyObjects(ctx context.Context, app string) error {
	// With no kubeconfig this server never reached a cluster for the app:
	// there is nothing to delete, and the app must still go.
	if ok, err := s.haveKubeconfig("destroy", app); err != nil || !ok {
		return err
	}
	c, err := s.open(app)
	if err != nil {
		return err
	}
	sel := metav1.ListOptions{LabelSelector: appSelector(app, "")}
	// cert-manager's certificate Secrets carry no label of the app: they
	// are found by name before the Ingresses and Deployments naming them go.
	certs, err := c.certSecrets(ctx, app)
	if err != nil {
		return err
	}
	for _, k := range c.kinds() {
		names, err := k.list(ctx, sel)
		if err != nil {
			return c.fail("listing the "+k.name+" of "+app, err)
		}
		if k.name == "Secrets" {
			names = append(names, ConfigSecretName(app), PullSecretName(app), TLSSecretName(app))
			names = append(names, certs...)
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

// certSecrets are the Secrets cert-manager keeps app's certificates in:
// tls-APP-PROC of each process type with a Deployment, and each Secret
// the app's Ingresses name.
func (c *cluster) certSecrets(ctx context.Context, app string) ([]string, error) {
	sel := metav1.ListOptions{LabelSelector: appSelector(app, "")}
	deps, err := c.cs.AppsV1().Deployments(c.ns).List(ctx, sel)
	if err != nil {
		return nil, c.fail("listing the Deployments of "+app, err)
	}
	ings, err := c.cs.NetworkingV1().Ingresses(c.ns).List(ctx, sel)
	if err != nil {
		return nil, c.fail("listing the Ingresses of "+app, err)
	}
	var names []string
	for _, d := range deps.Items {
		if proc := d.Labels[LabelName]; proc != "" {
			names = append(names, "tls-"+app+"-"+proc)
		}
	}
	for _, ing := range ings.Items {
		for _, t := range ing.Spec.TLS {
			if t.SecretName != "" {
				names = append(names, t.SecretName)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
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
	apps, core := c.cs.AppsV1(), c.cs.CoreV1()
	batch, net := c.cs.BatchV1(), c.cs.NetworkingV1()
	deps, jobs, crons := apps.Deployments(c.ns), batch.Jobs(c.ns), batch.CronJobs(c.ns)
	ings, svcs := net.Ingresses(c.ns), core.Services(c.ns)
	secrets, sas := core.Secrets(c.ns), core.ServiceAccounts(c.ns)
	return []kind{
		kindOf("Deployments", true, deps.List, deps.Delete),
		kindOf("Jobs", true, jobs.List, jobs.Delete),
		kindOf("CronJobs", true, crons.List, crons.Delete),
		kindOf("Ingresses", false, ings.List, ings.Delete),
		kindOf("Services", false, svcs.List, svcs.Delete),
		kindOf("Secrets", false, secrets.List, secrets.Delete),
		kindOf("ServiceAccounts", false, sas.List, sas.Delete),
	}
}

// kindOf is the kind whose typed client lists with list and deletes with
// del.
func kindOf[L runtime.Object](name string, dependents bool,
	list func(context.Context, metav1.ListOptions) (L, error),
	del func(context.Context, string, metav1.DeleteOptions) error,
) kind {
	names := func(ctx context.Context, o metav1.ListOptions) ([]string, error) {
		l, err := list(ctx, o)
		if err != nil {
			return nil, err
		}
		return objectNames(l)
	}
	return kind{name: name, dependents: dependents, list: names, del: del}
}

// objectNames are the names of a list's items.
func objectNames(list runtime.Object) ([]string, error) {
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, fmt.Errorf("reading a list: %w", err)
	}
	names := make([]string, 0, len(items))
	for _, it := range items {
		o, err := meta.Accessor(it)
		if err != nil {
			return nil, fmt.Errorf("reading a list: %w", err)
		}
		names = append(names, o.GetName())
	}
	return names, nil
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
