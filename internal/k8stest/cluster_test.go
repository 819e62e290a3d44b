package k8stest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
)

// waitLimit only stops a hang; nothing asserts on how long things take.
const waitLimit = 2 * time.Minute

func randHex() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// namespace makes a namespace of its own for the test, deleted after it.
func namespace(t *testing.T, c *Cluster) string {
	t.Helper()
	name := "t-" + randHex()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := c.Clientset().CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	t.Cleanup(func() {
		_ = c.Clientset().CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	return name
}

// until polls cond until it holds, failing the test after waitLimit.
func until(t *testing.T, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, waitLimit, true, cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func container(name, image string, env ...corev1.EnvVar) corev1.Container {
	return corev1.Container{Name: name, Image: image, Env: env}
}

func deployment(name string, replicas int32, c corev1.Container) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{c}},
			},
		},
	}
}

// runningPod creates a Deployment of one replica and returns its pod once
// Running.
func runningPod(t *testing.T, c *Cluster, ns, name string) *corev1.Pod {
	t.Helper()
	cs := c.Clientset()
	ctx := context.Background()
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment(name, 1, container("web", "example/web:1")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod *corev1.Pod
	until(t, "a Running pod of "+name, func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return false, err
		}
		for i := range pods.Items {
			if pods.Items[i].Status.Phase == corev1.PodRunning {
				pod = &pods.Items[i]
				return true, nil
			}
		}
		return false, nil
	})
	return pod
}

func TestDeploymentBecomesAvailable(t *testing.T) {
	c := Shared(t)
	ns := namespace(t, c)
	cs := c.Clientset()
	ctx := context.Background()
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("web", 3, container("web", "example/web:1")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	until(t, "3 available replicas", func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == 3 && d.Status.ObservedGeneration == d.Generation, err
	})
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != NodeName || p.Status.Phase != corev1.PodRunning || p.Status.PodIP == "" {
			t.Errorf("pod %s: node %q phase %s IP %q", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.PodIP)
		}
	}
	// Foreground deletion needs the garbage collector: the Deployment goes
	// only after its ReplicaSets and pods.
	fg := metav1.DeletePropagationForeground
	if err := cs.AppsV1().Deployments(ns).Delete(ctx, "web", metav1.DeleteOptions{PropagationPolicy: &fg}); err != nil {
		t.Fatal(err)
	}
	until(t, "the Deployment and its pods to go", func(ctx context.Context) (bool, error) {
		_, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		pods, lerr := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		return err != nil && lerr == nil && len(pods.Items) == 0, lerr
	})
}

func TestJobExitCode(t *testing.T) {
	c := Shared(t)
	ns := namespace(t, c)
	cs := c.Clientset()
	for _, tc := range []struct {
		name      string
		env       []corev1.EnvVar
		wantCode  int32
		wantPhase corev1.PodPhase
	}{
		{"default", nil, 0, corev1.PodSucceeded},
		{"three", []corev1.EnvVar{{Name: ExitCodeEnv, Value: "3"}}, 3, corev1.PodFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			name := "run-" + tc.name
			job := &batchv1.Job{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: batchv1.JobSpec{
					BackoffLimit: new(int32),
					Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
						RestartPolicy: corev1.RestartPolicyNever,
						Containers:    []corev1.Container{container("run", "example/web:1", tc.env...)},
					}},
				},
			}
			if _, err := cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			var pod corev1.Pod
			until(t, "the Job's pod to end", func(ctx context.Context) (bool, error) {
				pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + name})
				if err != nil || len(pods.Items) == 0 {
					return false, err
				}
				pod = pods.Items[0]
				return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed, nil
			})
			if pod.Status.Phase != tc.wantPhase || len(pod.Status.ContainerStatuses) != 1 ||
				pod.Status.ContainerStatuses[0].State.Terminated == nil ||
				pod.Status.ContainerStatuses[0].State.Terminated.ExitCode != tc.wantCode {
				t.Fatalf("pod ended %s with %+v, want %s with exit code %d", pod.Status.Phase, pod.Status.ContainerStatuses, tc.wantPhase, tc.wantCode)
			}
			until(t, "the Job's status", func(ctx context.Context) (bool, error) {
				j, err := cs.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				if tc.wantCode == 0 {
					return j.Status.Succeeded == 1, nil
				}
				return j.Status.Failed == 1, nil
			})
		})
	}
}

// TestJobExitPod holds a Job's pod Running with a long KWOK_EXIT_DELAY
// and ends it with ExitPod.
func TestJobExitPod(t *testing.T) {
	c := Shared(t)
	ns := namespace(t, c)
	cs := c.Clientset()
	ctx := context.Background()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "held"},
		Spec: batchv1.JobSpec{
			BackoffLimit: new(int32),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{container("run", "example/web:1",
					corev1.EnvVar{Name: ExitDelayEnv, Value: "1h"}, corev1.EnvVar{Name: ExitCodeEnv, Value: "7"})},
			}},
		},
	}
	if _, err := cs.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	until(t, "the Job's pod to run", func(ctx context.Context) (bool, error) {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=held"})
		if err != nil || len(pods.Items) == 0 {
			return false, err
		}
		pod = pods.Items[0]
		return pod.Status.Phase == corev1.PodRunning, nil
	})
	if err := c.ExitPod(ctx, ns, pod.Name); err != nil {
		t.Fatal(err)
	}
	until(t, "the pod to end", func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pod = *p
		return p.Status.Phase == corev1.PodFailed, nil
	})
	if st := pod.Status.ContainerStatuses[0].State.Terminated; st == nil || st.ExitCode != 7 {
		t.Fatalf("terminated state %+v, want exit code 7", pod.Status.ContainerStatuses[0].State)
	}
}

// readLine reads lines from r until one contains want.
func readLine(t *testing.T, r *bufio.Reader, want string) {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if strings.Contains(line, want) {
			return
		}
		if err != nil {
			t.Fatalf("stream ended (%v) before a line with %q", err, want)
		}
	}
}

func TestPodLogsFollow(t *testing.T) {
	c := Shared(t)
	ns := namespace(t, c)
	pod := runningPod(t, c, ns, "logs")
	first, later := "first-"+randHex(), "later-"+randHex()
	if err := c.LogLines(first); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	req := c.Clientset().CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{Follow: true})
	stream, err := req.Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	r := bufio.NewReader(stream)
	readLine(t, r, first)
	if err := c.LogLines(later); err != nil {
		t.Fatal(err)
	}
	readLine(t, r, later)

	// Without follow, tailLines gives the last lines and the stream ends.
	tail := int64(1)
	b, err := c.Clientset().CoreV1().Pods(ns).GetLogs(pod.Name, &corev1.PodLogOptions{TailLines: &tail}).DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(b)); got != later {
		t.Fatalf("tailLines=1 gave %q, want %q", got, later)
	}
}

// subresourceExecutor is client-go's executor for pods/exec or
// pods/attach: WebSocket, falling back to SPDY.
func subresourceExecutor(t *testing.T, c *Cluster, ns, pod, sub string, opts runtime.Object) remotecommand.Executor {
	t.Helper()
	req := c.Clientset().CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource(sub).
		VersionedParams(opts, scheme.ParameterCodec)
	cfg := c.RESTConfig()
	ws, err := remotecommand.NewWebSocketExecutor(cfg, "GET", req.URL().String())
	if err != nil {
		t.Fatal(err)
	}
	spdy, err := remotecommand.NewSPDYExecutor(cfg, "POST", req.URL())
	if err != nil {
		t.Fatal(err)
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

func TestPodExec(t *testing.T) {
	c := Shared(t)
	ns := namespace(t, c)
	pod := runningPod(t, c, ns, "exec")
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	marker := "made-" + randHex()
	var stdout, stderr bytes.Buffer
	ex := execExecutor(t, c, ns, pod.Name, []string{"sh", "-c", "pwd; touch " + marker}, false)
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("exec: %v (stderr %q)", err, stderr.String())
	}
	if got := strings.TrimSpace(stdout.String()); got != c.ExecDir {
		t.Errorf("pwd printed %q, want ExecDir %q", got, c.ExecDir)
	}
	if _, err := os.Stat(filepath.Join(c.ExecDir, marker)); err != nil {
		t.Errorf("the command did not run in ExecDir: %v", err)
	}

	// stdin reaches the command.
	stdout.Reset()
	ex = execExecutor(t, c, ns, pod.Name, []string{"head", "-c", "3"}, true)
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: strings.NewReader("abcdef"), Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("exec with stdin: %v", err)
	}
	if stdout.String() != "abc" {
		t.Errorf("head -c 3 printed %q, want abc", stdout.String())
	}
}

func execExecutor(t *testing.T, c *Cluster, ns, pod string, cmd []string, stdin bool) remotecommand.Executor {
	t.Helper()
	return subresourceExecutor(t, c, ns, pod, "exec", &corev1.PodExecOptions{
		Container: "web", Command: cmd, Stdin: stdin, Stdout: true, Stderr: true,
	})
}

func TestPodAttach(t *testing.T) {
	c := Shared(t)
	ns := namespace(t, c)
	pod := runningPod(t, c, ns, "attach")
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	before := c.AttachReaders()
	pr, pw := io.Pipe()
	ex := subresourceExecutor(t, c, ns, pod.Name, "attach", &corev1.PodAttachOptions{
		Container: "web", Stdout: true, Stderr: true,
	})
	done := make(chan error, 1)
	actx, stop := context.WithCancel(ctx)
	go func() {
		done <- ex.StreamWithContext(actx, remotecommand.StreamOptions{Stdout: pw, Stderr: pw})
		pw.Close()
	}()
	if err := c.WaitAttach(ctx, before+1); err != nil {
		t.Fatal(err)
	}
	line := "attached-" + randHex()
	if err := c.AttachLines(line); err != nil {
		t.Fatal(err)
	}
	readLine(t, bufio.NewReader(pr), line)
	stop()
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("attach ended with %v", err)
	}
}

// TestKubeconfigWithKubectl uses the Kubeconfig file from kubectl: the
// current context reaches the cluster, trusting its certificate, in
// namespace default.
func TestKubeconfigWithKubectl(t *testing.T) {
	kubectl := NeedKubectl(t)
	c := Shared(t)
	out, err := exec.Command(kubectl, "--kubeconfig", c.Kubeconfig, "get", "nodes", "-o", "name").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "node/"+NodeName {
		t.Fatalf("kubectl get nodes: %v: %s", err, out)
	}
	out, err = exec.Command(kubectl, "--kubeconfig", c.Kubeconfig, "config", "view", "--minify", "-o", "jsonpath={.contexts[0].context.namespace}").CombinedOutput()
	if err != nil || string(out) != "default" {
		t.Fatalf("namespace of the current context: %v: %q", err, out)
	}
	if c.Kubectl() != kubectl {
		t.Errorf("Kubectl() = %q, want %q", c.Kubectl(), kubectl)
	}
}
