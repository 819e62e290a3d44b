package k3s

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"dokku-sshd/internal/k8stest"
	"dokku-sshd/schedulers"
)

// TestEnterCluster execs into an app's pods through pods/exec (kwok runs
// the command on this host, in ExecDir): the pod chosen by type, PROC.N or
// --container-id, stdin and output, a TTY, and Dokku's errors.
func TestEnterCluster(t *testing.T) {
	e := newProcsEnv(t)
	logs := newSyncBuffer()
	e.s.Logger = slog.New(slog.NewTextHandler(logs, nil))
	web := e.deployProc(t, "web", 2)
	worker := e.deployProc(t, "worker", 1)

	tests := []struct {
		name       string
		target, id string
		cmd        []string
		stdin      string
		pod        string // the pod entered
		out, err   string
		status     int
	}{
		{name: "type", target: "web", cmd: []string{"pwd"}, pod: web[0], out: e.cl.ExecDir + "\n"},
		{name: "dyno", target: "web.2", cmd: []string{"pwd"}, pod: web[1], out: e.cl.ExecDir + "\n"},
		{name: "other type", target: "worker", cmd: []string{"echo", "hi"}, pod: worker[0], out: "hi\n"},
		{name: "container id", id: web[1], cmd: []string{"echo", "id"}, pod: web[1], out: "id\n"},
		{name: "container id prefix", id: worker[0][:len(worker[0])-2], cmd: []string{"echo", "prefix"}, pod: worker[0], out: "prefix\n"},
		{name: "stdin", target: "web", cmd: []string{"head", "-c", "3"}, stdin: "abcdef", pod: web[0], out: "abc"},
		{name: "no type", err: "No container type specified.\nAvailable types for app (shop): web worker"},
		{name: "index out of range", target: "web.3", err: "Process index 3 out of range for app shop"},
		{name: "unknown type", target: "nope", err: "No pods found for app shop"},
		{name: "ambiguous id", id: "shop-web-", err: "Invalid container id for app: shop-web-\nAvailable ids for app (shop): " +
			strings.Join(append(append([]string{}, web...), worker...), " ")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			var out, errOut strings.Builder
			o := &schedulers.EnterOptions{App: e.app, Target: tt.target, ID: tt.id, Command: tt.cmd,
				Stdio: schedulers.Stdio{Stdin: strings.NewReader(tt.stdin), Stdout: &out, Stderr: &errOut}}
			status, err := e.s.Enter(ctx, o)
			if errText(err) != tt.err {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			if tt.err != "" {
				return
			}
			if status != tt.status || out.String() != tt.out {
				t.Errorf("status %d, output %q (stderr %q); want %d, %q", status, out.String(), errOut.String(), tt.status, tt.out)
			}
			if !strings.Contains(logs.String(), "pod="+tt.pod+" ") {
				t.Errorf("entered another pod than %s:\n%s", tt.pod, logs.String())
			}
		})
	}
}

// TestEnterTTYCluster runs a command with a TTY over the client's
// terminal stream, and checks that a failing command fails: kwok reports
// a non-zero exit as an error of the stream without its code (exitStatus
// maps a kubelet's NonZeroExitCode; see TestExitStatus).
func TestEnterTTYCluster(t *testing.T) {
	e := newProcsEnv(t)
	e.deployProc(t, "web", 1)
	ctx := testCtx(t)
	raw := newSyncBuffer()
	resize := make(chan schedulers.WindowSize, 1)
	resize <- schedulers.WindowSize{Width: 120, Height: 40}
	// An ssh -t client's keyboard stays open while the command runs:
	// kwok's exec ends a TTY command whose stdin ended at once, before
	// its output is read, which no client of a terminal does.
	keys, hold := io.Pipe()
	defer hold.Close()
	// The command stays a moment after its output: kwok runs it on a
	// local pty and, when the process has already exited, can close the
	// stream before it has read the pty (CI under load: the output lost,
	// exit 0; 2 runs in 6).
	o := &schedulers.EnterOptions{App: e.app, Command: []string{"sh", "-c", "echo tty-ok; sleep 1"},
		Stdio: schedulers.Stdio{Stdout: io.Discard, Stderr: io.Discard, Terminal: &schedulers.Terminal{
			Width: 80, Height: 24, Resize: resize, Raw: struct {
				io.Reader
				io.Writer
			}{keys, raw},
		}}}
	status, err := e.s.Enter(ctx, o)
	if err != nil || status != 0 || !strings.Contains(raw.String(), "tty-ok") {
		t.Errorf("enter with a TTY: %d, %v, terminal output %q", status, err, raw.String())
	}

	o = &schedulers.EnterOptions{App: e.app, Command: []string{"sh", "-c", "exit 3"},
		Stdio: schedulers.Stdio{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}}
	if status, err := e.s.Enter(ctx, o); status == 0 {
		t.Errorf("a failing command: status %d, %v", status, err)
	}
}

// TestEnterCancelCluster: the client going away ends the exec stream.
func TestEnterCancelCluster(t *testing.T) {
	e := newProcsEnv(t)
	e.deployProc(t, "web", 1)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	out := newSyncBuffer()
	done := make(chan error, 1)
	go func() {
		_, err := e.s.Enter(ctx, &schedulers.EnterOptions{App: e.app, Command: []string{"sh", "-c", "echo started; sleep 60"},
			Stdio: schedulers.Stdio{Stdin: strings.NewReader(""), Stdout: out, Stderr: io.Discard}})
		done <- err
	}()
	out.waitFor(ctx, t, "the command's first line", func(s string) bool { return strings.Contains(s, "started") })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("enter after the client went away: %v", err)
	}
}

// TestEnterNotReadyCluster: enter waits up to 10 seconds for the pod to be
// ready (a watch), then says it is not.
func TestEnterNotReadyCluster(t *testing.T) {
	e := newProcsEnv(t)
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
		Path: k8stest.FailingProbePath, Port: intstr.FromInt32(5000),
	}}}
	running := func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning }
	pods := e.deploy(t, "web", 1, corev1.Container{Image: testImage, ReadinessProbe: probe}, running)
	_, err := e.s.Enter(testCtx(t), &schedulers.EnterOptions{App: e.app, Command: []string{"true"},
		Stdio: schedulers.Stdio{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard}})
	if want := "Pod " + pods[0] + " of app shop is not ready after 10s"; errText(err) != want {
		t.Errorf("enter into a pod that is not ready: %v, want %q", err, want)
	}
}
