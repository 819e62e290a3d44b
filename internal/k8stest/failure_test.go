package k8stest

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestFailureStages checks the pods the failure cases of the scheduler's
// tests rely on: an image that cannot be pulled and a readiness probe that
// fails, each with the state and the event a kubelet would give.
func TestFailureStages(t *testing.T) {
	c := Shared(t)
	ns := namespace(t, c)
	cs := c.Clientset()
	probe := container("web", "example/web:1")
	probe.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
		HTTPGet: &corev1.HTTPGetAction{Path: FailingProbePath, Port: intstr.FromInt32(5000)},
	}}
	for _, tc := range []struct {
		name       string
		c          corev1.Container
		state      func(p *corev1.Pod) bool
		event      string // reason
		message    string // prefix
		eventType  string
		wantPhase  corev1.PodPhase
		wantReason string
	}{
		{
			name: "unpullable", c: container("web", "example/"+UnpullableImage+":1"),
			state: func(p *corev1.Pod) bool {
				return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil &&
					p.Status.ContainerStatuses[0].State.Waiting.Reason == "ImagePullBackOff"
			},
			event: "Failed", eventType: corev1.EventTypeWarning, message: `Failed to pull image "example/` + UnpullableImage + `:1": `,
			wantPhase: corev1.PodPending,
		},
		{
			name: "probe", c: probe,
			state: func(p *corev1.Pod) bool {
				return p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1 &&
					p.Status.ContainerStatuses[0].State.Running != nil
			},
			event: "Unhealthy", eventType: corev1.EventTypeWarning, message: "Readiness probe failed:",
			wantPhase: corev1.PodRunning,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(tc.name, 1, tc.c), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			var pod corev1.Pod
			until(t, tc.name+" pod state", func(ctx context.Context) (bool, error) {
				pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + tc.name})
				if err != nil || len(pods.Items) == 0 {
					return false, err
				}
				pod = pods.Items[0]
				return tc.state(&pod), nil
			})
			until(t, tc.name+" event "+tc.event, func(ctx context.Context) (bool, error) {
				evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{
					FieldSelector: "involvedObject.name=" + pod.Name + ",reason=" + tc.event})
				if err != nil {
					return false, err
				}
				for _, e := range evs.Items {
					if e.Type == tc.eventType && strings.HasPrefix(e.Message, tc.message) {
						return true, nil
					}
				}
				return false, nil
			})
			if pod.Status.Phase != tc.wantPhase || isReady(&pod) {
				t.Fatalf("pod phase %s ready %v, want %s and not ready", pod.Status.Phase, isReady(&pod), tc.wantPhase)
			}
			d, err := cs.AppsV1().Deployments(ns).Get(ctx, tc.name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Status.AvailableReplicas != 0 {
				t.Fatalf("deployment has %d available replicas, want 0", d.Status.AvailableReplicas)
			}
		})
	}
}

func isReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
