package k3s

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

var _ schedulers.Enterer = (*Scheduler)(nil)

// enterReadyWait is how long enter waits for the chosen pod to be ready
// (Dokku's 10 seconds).
const enterReadyWait = 10 * time.Second

// Enter executes a command in one of app's pods through pods/exec
// (scheduler-enter): the pod named by --container-id, the N-th pod of
// PROC.N, the first of PROC, or the first of the only process type. With
// the client's terminal the command gets a TTY that follows the window's
// size; without one stdin is still attached, so input can be piped in.
func (s *Scheduler) Enter(ctx context.Context, o *schedulers.EnterOptions) (int, error) {
	c, err := s.open(o.App)
	if err != nil {
		return 1, err
	}
	pod, err := c.enterPod(ctx, o)
	if err != nil {
		return 1, err
	}
	if pod, err = c.waitReady(ctx, o.App, pod); err != nil {
		return 1, err
	}
	cmd := o.Command
	if len(cmd) == 0 {
		cmd = schedulers.ShellCommand(o.Shell)
	}
	if pod.Annotations[AnnotationBuilderType] == "herokuish" {
		cmd = append([]string{"/exec"}, cmd...) // herokuish's environment set-up
	}
	rio := stdioFor(o.Stdio, o.Terminal != nil)
	container := mainContainer(pod)
	s.log().Info("enter", "app", o.App, "pod", pod.Name, "container", container, "tty", rio.tty)
	err = c.remote(ctx, pod.Name, "exec", execOptions(container, cmd, rio), rio)
	if ctx.Err() != nil {
		// The client went away: the stream is closed, and the runtime
		// hangs up the exec'd process's TTY.
		return 1, ctx.Err()
	}
	status, err := exitStatus(err)
	if err != nil {
		return 1, c.fail("executing a command in pod "+pod.Name, err)
	}
	return status, nil
}

// enterPod picks the pod to enter, with Dokku's messages when none fits.
func (c *cluster) enterPod(ctx context.Context, o *schedulers.EnterOptions) (*corev1.Pod, error) {
	if o.ID != "" {
		return c.podByID(ctx, o.App, o.ID)
	}
	d, err := parseDyno(o.App, o.Target)
	if err != nil {
		return nil, err
	}
	all, err := c.appPods(ctx, o.App, d.proc)
	if err != nil {
		return nil, err
	}
	// Pods that are going or gone cannot be entered; one-off run pods
	// only when asked for by type.
	var pods []corev1.Pod
	for _, p := range all {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if d.proc == "" && p.Labels[LabelJobName] != "" {
			continue
		}
		pods = append(pods, p)
	}
	if len(pods) == 0 {
		return nil, output.Userf("No pods found for app %s", o.App)
	}
	if d.proc == "" {
		types := podTypes(pods)
		if len(types) > 1 {
			return nil, output.Userf("No container type specified.\nAvailable types for app (%s): %s", o.App, strings.Join(types, " "))
		}
	}
	if d.index == 0 {
		d.index = 1
	}
	picked, err := d.pick(o.App, pods)
	if err != nil {
		return nil, err
	}
	return &picked[0], nil
}

// podByID is the app's pod named id, or the only one whose name starts
// with it.
func (c *cluster) podByID(ctx context.Context, app, id string) (*corev1.Pod, error) {
	pods, err := c.appPods(ctx, app, "")
	if err != nil {
		return nil, err
	}
	var match []*corev1.Pod
	names := make([]string, 0, len(pods))
	for i := range pods {
		if pods[i].Name == id {
			return &pods[i], nil
		}
		if strings.HasPrefix(pods[i].Name, id) {
			match = append(match, &pods[i])
		}
		names = append(names, pods[i].Name)
	}
	if len(match) == 1 {
		return match[0], nil
	}
	return nil, output.Userf("Invalid container id for app: %s\nAvailable ids for app (%s): %s", id, app, strings.Join(names, " "))
}

// podTypes are the process types (name labels) of pods, sorted.
func podTypes(pods []corev1.Pod) []string {
	var types []string
	for _, p := range pods {
		if t := p.Labels[LabelName]; !slices.Contains(types, t) {
			types = append(types, t)
		}
	}
	slices.Sort(types)
	return types
}

// waitReady returns pod once it is ready, watching it for up to
// enterReadyWait.
func (c *cluster) waitReady(ctx context.Context, app string, pod *corev1.Pod) (*corev1.Pod, error) {
	if podReady(pod) {
		return pod, nil
	}
	wctx, cancel := context.WithTimeout(ctx, enterReadyWait)
	defer cancel()
	p, err := c.untilPod(wctx, appSelector(app, ""), fields.OneTermEqualSelector("metadata.name", pod.Name).String(),
		"pod "+pod.Name, func(ev watch.EventType, p *corev1.Pod) (bool, error) {
			if ev == watch.Deleted || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				return false, output.Userf("Pod %s of app %s is no longer running", p.Name, app)
			}
			return podReady(p), nil
		})
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case errors.Is(err, context.DeadlineExceeded):
		return nil, output.Userf("Pod %s of app %s is not ready after %s", pod.Name, app, enterReadyWait)
	case output.IsUserError(err):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("wait for pod %s: %w", pod.Name, err)
	}
	return p, nil
}
