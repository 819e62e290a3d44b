package k3s

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"dokku-sshd/output"
)

// revisionAnnotation is the Deployment controller's revision of a
// Deployment and of each of its ReplicaSets: the new ReplicaSet has the
// Deployment's.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// eventsShown is how many of a failing pod's last events are printed.
const eventsShown = 5

// rollout follows the rollout of an app's Deployments through informers
// (list, then watch from the list's resourceVersion) on its Deployments,
// ReplicaSets, Pods and the Events of pods, and says each change once.
type rollout struct {
	c     *cluster
	app   string
	names []string // the Deployments waited for
	start time.Time
	out   io.Writer

	deps   appslisters.DeploymentLister
	rss    appslisters.ReplicaSetLister
	pods   corelisters.PodLister
	events corelisters.EventLister
	said   map[string]string // what was said last, per subject
}

// waitRollout waits until every Deployment in names is rolled out as
// `kubectl rollout status` decides, for at most timeout, streaming a line
// per change to out. A rollout that does not finish fails with what its
// pods are waiting for and their last events; an API server that stops
// answering fails at once with the server's address and the cause.
func (c *cluster) waitRollout(ctx context.Context, app string, names []string, start time.Time, out io.Writer, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	g, err := c.newAPIGuard()
	if err != nil {
		return err
	}
	defer g.close()
	stream := g.cs
	byApp := informers.NewSharedInformerFactoryWithOptions(stream, 0, informers.WithNamespace(c.ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = appSelector(app, "") }))
	podEvents := informers.NewSharedInformerFactoryWithOptions(stream, 0, informers.WithNamespace(c.ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "involvedObject.kind=Pod" }))
	defer func() {
		cancel()
		byApp.Shutdown()
		podEvents.Shutdown()
	}()
	ro := &rollout{
		c: c, app: app, names: names, start: start, out: out, said: map[string]string{},
		deps:   byApp.Apps().V1().Deployments().Lister(),
		rss:    byApp.Apps().V1().ReplicaSets().Lister(),
		pods:   byApp.Core().V1().Pods().Lister(),
		events: podEvents.Core().V1().Events().Lister(),
	}
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { poke() }, UpdateFunc: func(any, any) { poke() }, DeleteFunc: func(any) { poke() },
	}
	infs := []cache.SharedIndexInformer{
		byApp.Apps().V1().Deployments().Informer(), byApp.Apps().V1().ReplicaSets().Informer(),
		byApp.Core().V1().Pods().Informer(), podEvents.Core().V1().Events().Informer(),
	}
	synced := make([]cache.InformerSynced, 0, len(infs))
	for _, inf := range infs {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("watch the rollout of %s: %w", app, err)
		}
		_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) { g.report(err) })
		synced = append(synced, inf.HasSynced)
	}
	byApp.Start(wctx.Done())
	podEvents.Start(wctx.Done())
	var isSynced atomic.Bool
	go func() {
		if cache.WaitForCacheSync(wctx.Done(), synced...) {
			isSynced.Store(true)
			poke()
		}
	}()
	return ro.loop(ctx, wctx, changed, g, &isSynced, timeout)
}

// apiGuard ends a wait made of informers or watches as soon as it cannot
// succeed: informers retry a refused connection quietly, forever, so the
// wait's own client tells the guard about every request that fails, and
// the guard then asks the API server whether it is still there. A
// credential that may not list or watch what the wait needs fails it too.
type apiGuard struct {
	c         *cluster
	cs        kubernetes.Interface // the wait's own client, for its informers and watches
	errs      chan error
	transport http.RoundTripper
}

// newAPIGuard makes a wait's guard and client; close it when the wait ends.
func (c *cluster) newAPIGuard() (*apiGuard, error) {
	g := &apiGuard{c: c, errs: make(chan error, 1)}
	cfg := rest.CopyConfig(c.config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		g.transport = rt
		return reportErrors{rt, g.errs}
	})
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	g.cs = cs
	return g, nil
}

// close closes the idle connections of the wait's client: they go with it.
func (g *apiGuard) close() {
	if t, ok := g.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

// report hands the guard the error of a list or watch (an informer's
// error handler, a ListWatch), without waiting.
func (g *apiGuard) report(err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	select {
	case g.errs <- err:
	default:
	}
}

// check is the user's error when err ends the wait (the API server's
// refusal of what was refused, or an API server that no longer answers
// while gone), else nil: a watch error is often passing (an expired
// resourceVersion).
func (g *apiGuard) check(err error, refused, gone string) error {
	if apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err) {
		return g.c.fail(refused, err)
	}
	if _, perr := g.c.cs.Discovery().ServerVersion(); perr != nil {
		return g.c.fail(gone, perr)
	}
	return nil
}

// watch checks, until ctx ends, each error reported, and hands the first
// that ends the wait to stop.
func (g *apiGuard) watch(ctx context.Context, refused, gone string, stop func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case err := <-g.errs:
			if ferr := g.check(err, refused, gone); ferr != nil {
				stop(ferr)
				return
			}
		}
	}
}

// reportErrors is a transport that sends the errors of requests that were
// not cancelled to ch, without waiting.
type reportErrors struct {
	rt http.RoundTripper
	ch chan<- error
}

func (r reportErrors) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.rt.RoundTrip(req)
	if err != nil && req.Context().Err() == nil {
		select {
		case r.ch <- err:
		default:
		}
	}
	return resp, err
}

// loop evaluates the rollout on every change until it is done, fails or
// runs out of time.
func (ro *rollout) loop(ctx, wctx context.Context, changed <-chan struct{}, g *apiGuard, synced *atomic.Bool, timeout time.Duration) error {
	ready := false
	for {
		select {
		case <-changed:
			ready = ready || synced.Load()
			if !ready {
				continue
			}
			done, err := ro.step()
			if err != nil || done {
				return err
			}
		case err := <-g.errs:
			if ferr := g.check(err, "watching the rollout of "+ro.app, "waiting for the rollout of "+ro.app); ferr != nil {
				return ferr
			}
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			ro.report()
			return output.Userf("Deploy of %s failed: the rollout did not finish within %s (deploy-timeout)", ro.app, timeout)
		}
	}
}

// step says what changed and reports whether every Deployment is rolled
// out; a Deployment past its progress deadline fails the rollout.
func (ro *rollout) step() (bool, error) {
	all := true
	for _, name := range ro.names {
		d, err := ro.deps.Deployments(ro.c.ns).Get(name)
		if err != nil {
			all = false // not seen yet
			continue
		}
		proc := d.Labels[LabelName]
		rs := ro.newReplicaSet(d)
		if rs != nil {
			what := "new ReplicaSet " + rs.Name
			if rs.CreationTimestamp.Time.Before(ro.start.Truncate(time.Second)) {
				what = "ReplicaSet " + rs.Name
			}
			ro.say("rs/"+proc, rs.Name, output.Verbose, "%s: %s (revision %s)", proc, what, rs.Annotations[revisionAnnotation])
		}
		ro.sayPods(d, rs)
		msg, done, err := deploymentStatus(d)
		if err != nil {
			ro.report()
			return false, output.Userf("Deploy of %s failed: %s", ro.app, err)
		}
		if !done {
			all = false
			continue
		}
		ro.say("done/"+proc, d.Status.ObservedGeneration, output.Verbose, "%s: %s", proc, msg)
	}
	return all, nil
}

// say writes a line about subject when what differs from what was said
// last about it.
func (ro *rollout) say(subject string, what any, line func(io.Writer, string, ...any), format string, args ...any) {
	v := fmt.Sprint(what)
	if old, ok := ro.said[subject]; ok && old == v {
		return
	}
	ro.said[subject] = v
	line(ro.out, format, args...)
}

// newReplicaSet is d's ReplicaSet of its current revision; nil before the
// controller made it.
func (ro *rollout) newReplicaSet(d *appsv1.Deployment) *appsv1.ReplicaSet {
	rev := d.Annotations[revisionAnnotation]
	if rev == "" || d.Generation > d.Status.ObservedGeneration {
		return nil
	}
	for _, rs := range ro.ownedReplicaSets(d) {
		if rs.Annotations[revisionAnnotation] == rev {
			return rs
		}
	}
	return nil
}

func (ro *rollout) ownedReplicaSets(d *appsv1.Deployment) []*appsv1.ReplicaSet {
	all, _ := ro.rss.ReplicaSets(ro.c.ns).List(labels.Everything())
	var out []*appsv1.ReplicaSet
	for _, rs := range all {
		if ref := metav1.GetControllerOf(rs); ref != nil && ref.UID == d.UID {
			out = append(out, rs)
		}
	}
	return out
}

// podsOf are the pods of d's ReplicaSets (only of rs when rs is not nil),
// by name.
func (ro *rollout) podsOf(d *appsv1.Deployment, rs *appsv1.ReplicaSet) []*corev1.Pod {
	owners := map[types.UID]bool{}
	if rs != nil {
		owners[rs.UID] = true
	} else {
		for _, o := range ro.ownedReplicaSets(d) {
			owners[o.UID] = true
		}
	}
	all, _ := ro.pods.Pods(ro.c.ns).List(labels.Everything())
	var out []*corev1.Pod
	for _, p := range all {
		if ref := metav1.GetControllerOf(p); ref != nil && owners[ref.UID] {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// sayPods says, for d's pods, when each new one is scheduled, what a
// container waits for (an image that cannot be pulled) and every warning
// event (a failing probe); then how many new ones are ready.
func (ro *rollout) sayPods(d *appsv1.Deployment, rs *appsv1.ReplicaSet) {
	proc := d.Labels[LabelName]
	ready := 0
	for _, p := range ro.podsOf(d, nil) {
		if ref := metav1.GetControllerOf(p); rs != nil && ref != nil && ref.UID == rs.UID {
			if p.Spec.NodeName != "" {
				ro.say("sched/"+p.Name, p.Spec.NodeName, output.Verbose, "%s: pod %s scheduled on %s", proc, p.Name, p.Spec.NodeName)
			}
			for _, cs := range p.Status.ContainerStatuses {
				if w := cs.State.Waiting; w != nil && w.Reason != "ContainerCreating" && w.Reason != "PodInitializing" {
					ro.say("wait/"+p.Name, w.Reason, output.Warn, "%s: pod %s is waiting: %s %s", proc, p.Name, w.Reason, w.Message)
				}
			}
			if podReady(p) && p.DeletionTimestamp == nil {
				ready++
			}
		}
		for _, ev := range ro.podEvents(p) {
			if ev.Type == corev1.EventTypeWarning {
				key := "ev/" + string(p.UID) + "/" + ev.Reason + "/" + ev.Message
				ro.say(key, "", output.Warn, "%s: pod %s: %s: %s", proc, p.Name, ev.Reason, ev.Message)
			}
		}
	}
	if want := replicas(d); rs != nil && want > 0 {
		ro.say("ready/"+proc, fmt.Sprintf("%d/%d", ready, want), output.Verbose, "%s: ready %d/%d", proc, ready, want)
	}
}

// podEvents are p's events, oldest first.
func (ro *rollout) podEvents(p *corev1.Pod) []*corev1.Event {
	all, _ := ro.events.Events(ro.c.ns).List(labels.Everything())
	var out []*corev1.Event
	for _, ev := range all {
		if ev.InvolvedObject.UID == p.UID || (ev.InvolvedObject.UID == "" && ev.InvolvedObject.Name == p.Name) {
			out = append(out, ev)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return eventTime(out[i]).Before(eventTime(out[j])) })
	return out
}

func eventTime(ev *corev1.Event) time.Time {
	switch {
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp.Time
	case !ev.EventTime.IsZero():
		return ev.EventTime.Time
	}
	return ev.CreationTimestamp.Time
}

// report says why the Deployments that are not rolled out are not: their
// status, and each of their pods that is not ready with its last events.
func (ro *rollout) report() {
	for _, name := range ro.names {
		d, err := ro.deps.Deployments(ro.c.ns).Get(name)
		if err != nil {
			output.Warn(ro.out, "%s: the Deployment was not seen", name)
			continue
		}
		msg, done, err := deploymentStatus(d)
		if done {
			continue
		}
		if err != nil {
			msg = err.Error()
		}
		proc := d.Labels[LabelName]
		output.Warn(ro.out, "%s: %s", proc, msg)
		for _, p := range ro.podsOf(d, nil) {
			if podReady(p) {
				continue
			}
			output.Warn(ro.out, "%s: pod %s is %s and not ready", proc, p.Name, p.Status.Phase)
			evs := ro.podEvents(p)
			if len(evs) > eventsShown {
				evs = evs[len(evs)-eventsShown:]
			}
			for _, ev := range evs {
				output.Warn(ro.out, "    %s %s: %s", ev.Type, ev.Reason, ev.Message)
			}
		}
	}
}

// deploymentStatus is `kubectl rollout status`'s verdict on d: done once
// the controller saw its generation and every replica is updated,
// available, and no old one is left; an error once its progress deadline
// passed.
func deploymentStatus(d *appsv1.Deployment) (msg string, done bool, err error) {
	if d.Generation > d.Status.ObservedGeneration {
		return "waiting for the Deployment spec update to be observed", false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return "", false, fmt.Errorf("deployment %q exceeded its progress deadline", d.Name)
		}
	}
	want := replicas(d)
	st := d.Status
	switch {
	case st.UpdatedReplicas < want:
		return fmt.Sprintf("%d out of %d new replicas have been updated", st.UpdatedReplicas, want), false, nil
	case st.Replicas > st.UpdatedReplicas:
		return fmt.Sprintf("%d old replicas are pending termination", st.Replicas-st.UpdatedReplicas), false, nil
	case st.AvailableReplicas < st.UpdatedReplicas:
		return fmt.Sprintf("%d of %d updated replicas are available", st.AvailableReplicas, st.UpdatedReplicas), false, nil
	}
	return fmt.Sprintf("rolled out (%d/%d available)", st.AvailableReplicas, want), true, nil
}

func replicas(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas == nil {
		return 1
	}
	return *d.Spec.Replicas
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
