package k3s

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"dokku-sshd/output"
)

// The pods of an app's processes, as logs and enter pick them: selected by
// Dokku's labels (part-of=APP, name=PROC), in the API's list order (by
// name), which is the order PROC.N counts in.

// dyno is a parsed PROC or PROC.N; index 0 means no index was given.
type dyno struct {
	proc  string
	index int
}

// parseDyno reads "", "web" or "web.2" (N counts from 1).
func parseDyno(app, s string) (dyno, error) {
	proc, n, ok := strings.Cut(s, ".")
	if !ok {
		return dyno{proc: s}, nil
	}
	i, err := strconv.Atoi(n)
	if err != nil || proc == "" {
		return dyno{}, output.Userf("Invalid process %s for app %s: expected PROCESS or PROCESS.N", s, app)
	}
	if i < 1 {
		return dyno{}, output.Userf("Process index %d out of range for app %s", i, app)
	}
	return dyno{proc: proc, index: i}, nil
}

// appPods lists app's pods (only proc's when set), sorted by name.
func (c *cluster) appPods(ctx context.Context, app, proc string) ([]corev1.Pod, error) {
	list, err := c.cs.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(app, proc)})
	if err != nil {
		return nil, c.fail(fmt.Sprintf("listing the pods of %s", app), err)
	}
	pods := list.Items
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods, nil
}

// pick is the index-th pod (1-based; 0 keeps them all).
func (d dyno) pick(app string, pods []corev1.Pod) ([]corev1.Pod, error) {
	if d.index == 0 {
		return pods, nil
	}
	if d.index > len(pods) {
		return nil, output.Userf("Process index %d out of range for app %s", d.index, app)
	}
	return pods[d.index-1 : d.index], nil
}

// mainContainer is the container logs and enter use: the pod's
// kubectl.kubernetes.io/default-container, else its first one.
func mainContainer(p *corev1.Pod) string {
	if name := p.Annotations[AnnotationDefaultCtr]; name != "" {
		return name
	}
	if len(p.Spec.Containers) > 0 {
		return p.Spec.Containers[0].Name
	}
	return ""
}

// podCondition is a wait's test of one pod event (Deleted included): done
// and the pod, or an error that ends the wait.
type podCondition func(ev watch.EventType, p *corev1.Pod) (bool, error)

// untilPod watches the pods matching the label and field selectors (a
// list, then a watch from its resourceVersion, re-listed when the watch
// breaks) until cond is done for one of them, and returns that pod. It
// ends with ctx; its error is then ctx's. An API server that stops
// answering, or refuses the list or watch, ends it at once with the
// user's error saying so, which names what is watched ("pod NAME").
func (c *cluster) untilPod(ctx context.Context, labelSel, fieldSel, what string, cond podCondition) (*corev1.Pod, error) {
	g, err := c.newAPIGuard()
	if err != nil {
		return nil, err
	}
	defer g.close()
	opts := func(o *metav1.ListOptions) {
		o.LabelSelector, o.FieldSelector = labelSel, fieldSel
	}
	pods := g.cs.CoreV1().Pods(c.ns)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			opts(&o)
			l, err := pods.List(ctx, o)
			g.report(err)
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			opts(&o)
			w, err := pods.Watch(ctx, o)
			g.report(err)
			return w, err
		},
	}
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	failed := make(chan error, 1)
	go g.watch(wctx, "watching "+what, "waiting for "+what, func(err error) {
		failed <- err
		cancel(err)
	})
	ev, err := watchtools.UntilWithSync(wctx, lw, &corev1.Pod{}, nil, func(ev watch.Event) (bool, error) {
		p, ok := ev.Object.(*corev1.Pod)
		if !ok {
			return false, nil // not a pod (an error event): the informer re-lists
		}
		return cond(ev.Type, p)
	})
	select {
	case ferr := <-failed:
		return nil, ferr
	default:
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return ev.Object.(*corev1.Pod), nil
}
