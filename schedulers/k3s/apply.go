package k3s

import (
	"context"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"dokku-sshd/output"
)

// apply writes the release's objects: ServiceAccount, Secrets, one
// Deployment per process type, the Services, then the Ingresses.
func (d *run) apply(ctx context.Context) error {
	c, sp := d.c, d.sp
	sa, err := sp.serviceAccount()
	if err != nil {
		return err
	}
	if _, err := c.cs.CoreV1().ServiceAccounts(c.ns).Apply(ctx, sa, applyOptions); err != nil {
		return c.fail("applying ServiceAccount "+d.app, err)
	}
	secret, err := sp.configSecret()
	if err != nil {
		return err
	}
	// From here a failure puts back what the deploy found: the Secrets
	// are the next pods' env, whether or not a Deployment follows.
	d.applied = true
	if _, err := c.cs.CoreV1().Secrets(c.ns).Apply(ctx, secret, applyOptions); err != nil {
		return c.fail("applying Secret "+ConfigSecretName(d.app), err)
	}
	pull, err := sp.pullSecret()
	if err != nil {
		return err
	}
	if pull != nil {
		if _, err := c.cs.CoreV1().Secrets(c.ns).Apply(ctx, pull, applyOptions); err != nil {
			return c.fail("applying Secret "+PullSecretName(d.app), err)
		}
	}
	for _, p := range sp.Procs {
		dep, warnings, err := sp.deployment(p)
		if err != nil {
			return err
		}
		for _, w := range warnings {
			output.Warn(d.out, "%s", w)
		}
		if _, err := c.cs.AppsV1().Deployments(c.ns).Apply(ctx, dep, applyOptions); err != nil {
			return c.fail("applying Deployment "+*dep.Name, err)
		}
	}
	for _, p := range sp.Procs {
		svc, err := sp.service(p.Name)
		if err != nil {
			return err
		}
		if svc == nil {
			continue
		}
		if _, err := c.cs.CoreV1().Services(c.ns).Apply(ctx, svc, applyOptions); err != nil {
			return c.fail("applying Service "+*svc.Name, err)
		}
	}
	return d.s.applyIngresses(ctx, c, d.app, d.out)
}

// minRestoreWait is the least time a rollback's rollout is waited for:
// the previous pod templates ran before, and a short deploy-timeout,
// chosen to give up early on a new release, should not also cut short
// the wait for the way back to the old one.
const minRestoreWait = 5 * time.Minute

// restore puts the Secrets (restoreSecrets) and Deployments back as the
// deploy found them: each Deployment's previous apply (its replicas as
// they were), and those it created deleted. wait waits for their rollout
// (rollback-on-failure), for deploy-timeout but at least minRestoreWait; a cancelled deploy does not
// wait for a client that is gone. It reports whether everything was put
// back (and rolled out, with wait).
func (d *run) restore(ctx context.Context, wait bool) bool {
	bound := max(d.timeout, minRestoreWait)
	ctx, cancel := context.WithTimeout(ctx, bound+APITimeout)
	defer cancel()
	c := d.c
	output.Warn(d.out, "Rolling back %s to the previous pod templates", d.app)
	var names []string
	// The Secrets first: the pods put back read their env from config-APP.
	ok := d.restoreSecrets(ctx)
	for _, p := range d.sp.Procs {
		name := deploymentName(d.app, p.Name)
		prev := d.prev[p.Name]
		if prev == nil {
			err := c.cs.AppsV1().Deployments(c.ns).Delete(ctx, name, foreground())
			if err != nil && !apierrors.IsNotFound(err) {
				output.Warn(d.out, "%v", c.fail("removing Deployment "+name, err))
				ok = false
			}
			continue
		}
		// What this server applied last time is in the object's managed
		// fields; the replicas are taken as they were, whoever set them.
		ac, err := appsv1ac.ExtractDeployment(prev, FieldManager)
		if err != nil || ac.Spec == nil || ac.Spec.Template == nil {
			output.Warn(d.out, "Unable to restore Deployment %s: it was not written by this server", name)
			ok = false
			continue
		}
		if prev.Spec.Replicas != nil {
			ac.Spec.WithReplicas(*prev.Spec.Replicas)
		}
		if _, err := c.cs.AppsV1().Deployments(c.ns).Apply(ctx, ac, applyOptions); err != nil {
			output.Warn(d.out, "%v", c.fail("restoring Deployment "+name, err))
			ok = false
			continue
		}
		names = append(names, name)
	}
	if !wait || len(names) == 0 {
		return ok
	}
	if err := c.waitRollout(ctx, d.app, names, time.Now(), d.out, bound); err != nil {
		output.Warn(d.out, "The rollback of %s did not finish: %v", d.app, err)
		return false
	}
	return ok
}

// secretsNow are the Secrets named names as they are now, nil for one
// that does not exist: what restoreSecrets puts back.
func (c *cluster) secretsNow(ctx context.Context, names ...string) (map[string]*corev1.Secret, error) {
	out := make(map[string]*corev1.Secret, len(names))
	for _, name := range names {
		sec, err := c.cs.CoreV1().Secrets(c.ns).Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			out[name] = nil
		case err != nil:
			return nil, c.fail("reading Secret "+name, err)
		default:
			out[name] = sec
		}
	}
	return out, nil
}

// restoreSecrets puts config-APP and pull-secret-APP back as the deploy
// found them (d.prevSecrets): the data they held, with the labels and
// annotations this server applied; one that did not exist is deleted. It
// reports whether all went back.
func (d *run) restoreSecrets(ctx context.Context) bool {
	c, ok := d.c, true
	for name, prev := range d.prevSecrets {
		if prev == nil {
			err := c.cs.CoreV1().Secrets(c.ns).Delete(ctx, name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				output.Warn(d.out, "%v", c.fail("removing Secret "+name, err))
				ok = false
			}
			continue
		}
		ac, err := corev1ac.ExtractSecret(prev, FieldManager)
		if err != nil {
			output.Warn(d.out, "Unable to restore Secret %s: %v", name, err)
			ok = false
			continue
		}
		// The data as it was, whoever wrote it: applying only the keys
		// this server owned would drop the ones it added since.
		ac.Data, ac.StringData = nil, nil
		ac.WithType(prev.Type)
		if len(prev.Data) > 0 {
			ac.WithData(prev.Data)
		}
		if _, err := c.cs.CoreV1().Secrets(c.ns).Apply(ctx, ac, applyOptions); err != nil {
			output.Warn(d.out, "%v", c.fail("restoring Secret "+name, err))
			ok = false
		}
	}
	return ok
}

// prune deletes the Deployments and Services of process types the
// release no longer runs (or that no longer have ports), once it runs.
func (d *run) prune(ctx context.Context) {
	c := d.c
	keepDeps, keepSvcs := []string{}, []string{}
	for _, p := range d.sp.Procs {
		keepDeps = append(keepDeps, deploymentName(d.app, p.Name))
		if d.sp.hasPorts(p.Name) {
			keepSvcs = append(keepSvcs, deploymentName(d.app, p.Name))
		}
	}
	sel := metav1.ListOptions{LabelSelector: appSelector(d.app, "")}
	if deps, err := c.cs.AppsV1().Deployments(c.ns).List(ctx, sel); err == nil {
		for _, dep := range deps.Items {
			if slices.Contains(keepDeps, dep.Name) {
				continue
			}
			output.Verbose(d.out, "Removing Deployment %s: process type %s is no longer defined", dep.Name, dep.Labels[LabelName])
			if err := c.cs.AppsV1().Deployments(c.ns).Delete(ctx, dep.Name, foreground()); err != nil && !apierrors.IsNotFound(err) {
				output.Warn(d.out, "%v", c.fail("removing Deployment "+dep.Name, err))
			}
		}
	} else {
		output.Warn(d.out, "%v", c.fail("listing the Deployments of "+d.app, err))
	}
	svcs, err := c.cs.CoreV1().Services(c.ns).List(ctx, sel)
	if err != nil {
		output.Warn(d.out, "%v", c.fail("listing the Services of "+d.app, err))
		return
	}
	for _, svc := range svcs.Items {
		if slices.Contains(keepSvcs, svc.Name) || svc.Labels[LabelName] == "" {
			continue
		}
		output.Verbose(d.out, "Removing Service %s", svc.Name)
		if err := c.cs.CoreV1().Services(c.ns).Delete(ctx, svc.Name, foreground()); err != nil && !apierrors.IsNotFound(err) {
			output.Warn(d.out, "%v", c.fail("removing Service "+svc.Name, err))
		}
	}
}

// foreground deletes an object after its dependents (a Deployment's
// ReplicaSets and pods), as Dokku's helm uninstall does.
func foreground() metav1.DeleteOptions {
	p := metav1.DeletePropagationForeground
	return metav1.DeleteOptions{PropagationPolicy: &p}
}
