package k3s

import (
	"context"
	"errors"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dokku-sshd/internal/k8stest"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

// Exit codes on the run path come from the run container's terminated
// state, which kwok sets from the container's KWOK_EXIT_CODE env when the
// pod ends (after KWOK_EXIT_DELAY, or at once through ExitPod).

var runPodName = regexp.MustCompile(`^shop-run-[0-9a-f]{10}-[a-z0-9]{5}$`)

type runResult struct {
	name   string
	status int
	err    error
}

// TestRunAttachedCluster runs attached one-off Jobs, with and without a
// TTY: the exit status is the command's, the Job is Dokku's, its command
// ran once, and it is deleted afterwards. With a TTY the output comes
// through pods/attach; without one it is the container's log from its
// start, so what the command wrote before the attach connected arrives
// too (it was lost when the output came through the attach).
func TestRunAttachedCluster(t *testing.T) {
	e := newProcsEnv(t)
	e.deployProc(t, "web", 1, "./server", "--port", "5000")
	tests := []struct {
		name   string
		code   string
		tty    bool
		status int
	}{
		{"exit 3", "3", false, 3},
		{"exit 0", "0", false, 0},
		{"tty, exit 42", "42", true, 42},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testCtx(t)
			out, raw := newSyncBuffer(), newSyncBuffer()
			o := &schedulers.RunOptions{
				App: e.app, Command: []string{"web", "--once"}, Process: map[string]string{"web": "./server"},
				Env:   []string{"KWOK_EXIT_CODE=" + tt.code, "KWOK_EXIT_DELAY=1h"},
				Stdio: schedulers.Stdio{Stdout: out, Stderr: out},
			}
			attachOut := out
			if tt.tty {
				o.TTY = true
				o.Terminal = &schedulers.Terminal{Width: 100, Height: 30, Raw: struct {
					io.Reader
					io.Writer
				}{strings.NewReader(""), raw}}
				attachOut = raw
			}
			// kwok's log is every container's, from the cluster's start:
			// this line is in the run container's log before any attach.
			before := "before-attach-" + randHex(4)
			if err := e.cl.LogLines(before); err != nil {
				t.Fatal(err)
			}
			readers := e.cl.AttachReaders() + 1
			done := make(chan runResult, 1)
			go func() {
				name, status, err := e.s.Run(ctx, o)
				done <- runResult{name, status, err}
			}()
			if err := e.cl.WaitAttach(ctx, readers); err != nil {
				t.Fatal(err)
			}
			job := e.checkRunJob(ctx, t, tt.code, tt.tty)
			pod := e.runPodName(ctx, t)
			marker := "attached-" + randHex(4)
			if err := e.cl.AttachLines(marker); err != nil {
				t.Fatal(err)
			}
			if !tt.tty {
				// The output is the log: a line written there while the
				// run runs arrives after the one written before.
				marker = "logged-" + randHex(4)
				if err := e.cl.LogLines(marker); err != nil {
					t.Fatal(err)
				}
			}
			attachOut.waitFor(ctx, t, "the attached line", func(s string) bool { return strings.Contains(s, marker) })
			if got := attachOut.String(); !tt.tty && !strings.Contains(got, before+"\n") {
				t.Errorf("output lacks %q, written before the attach:\n%s", before, got)
			}
			if err := e.cl.ExitPod(ctx, e.ns, pod); err != nil {
				t.Fatal(err)
			}
			r := <-done
			if r.err != nil || r.status != tt.status || r.name != pod {
				t.Fatalf("run: (%q, %d, %v), want (%q, %d, nil)", r.name, r.status, r.err, pod, tt.status)
			}
			if !strings.Contains(out.String(), "-----> Found 'web' in Procfile, running that command\n") {
				t.Errorf("output %q has no Procfile line", out.String())
			}
			if !e.jobGone(ctx, t, job.Name) {
				t.Errorf("Job %s is still there after the run", job.Name)
			}
		})
	}
}

// checkRunJob checks the run Job as the cluster has it while it runs:
// Dokku's name, labels and annotations, one pod (the command runs once),
// the Procfile command, the -e env after the config Secret.
func (e *procsEnv) checkRunJob(ctx context.Context, t *testing.T, code string, tty bool) *batchv1.Job {
	t.Helper()
	jobs, err := e.cs.BatchV1().Jobs(e.ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(e.app, runProcess)})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs.Items) != 1 {
		t.Fatalf("%d run Jobs, want 1", len(jobs.Items))
	}
	j := &jobs.Items[0]
	if !regexp.MustCompile(`^shop-run-[0-9a-f]{10}$`).MatchString(j.Name) || j.Annotations[AnnotationJobSuffix] != strings.TrimPrefix(j.Name, "shop-run-") {
		t.Errorf("Job %s, suffix annotation %q", j.Name, j.Annotations[AnnotationJobSuffix])
	}
	if j.Labels[LabelInstance] != "shop-run" || j.Labels[LabelName] != "run" || j.Labels[LabelPartOf] != "shop" ||
		j.Annotations[AnnotationVersion] != "1700000000" || j.Annotations[Managed] != "true" {
		t.Errorf("labels %v annotations %v", j.Labels, j.Annotations)
	}
	if *j.Spec.BackoffLimit != 0 || *j.Spec.ActiveDeadlineSeconds != schedulers.DefaultRunTTL {
		t.Errorf("backoffLimit %d activeDeadlineSeconds %d", *j.Spec.BackoffLimit, *j.Spec.ActiveDeadlineSeconds)
	}
	c := j.Spec.Template.Spec.Containers[0]
	wantEnv := []corev1.EnvVar{{Name: "KWOK_EXIT_CODE", Value: code}, {Name: "KWOK_EXIT_DELAY", Value: "1h"}}
	if c.Image != testImage || !reflect.DeepEqual(c.Args, []string{"./server", "--port", "5000", "--once"}) ||
		!reflect.DeepEqual(c.Env, wantEnv) || c.EnvFrom[0].SecretRef.Name != "config-shop" ||
		!c.Stdin || !c.StdinOnce || c.TTY != tty {
		t.Errorf("container %+v", c)
	}
	pods, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: jobSelector(j.Name)})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 {
		t.Errorf("%d pods of Job %s, want 1", len(pods.Items), j.Name)
	}
	return j
}

// TestRunQuickExitCluster: a command that ends before anything came
// through the attach still gives its status, and the Job goes.
func TestRunQuickExitCluster(t *testing.T) {
	e := newProcsEnv(t)
	e.deployProc(t, "web", 1)
	ctx := testCtx(t)
	var out strings.Builder
	o := &schedulers.RunOptions{App: e.app, Command: []string{"true"}, Env: []string{"KWOK_EXIT_CODE=7", "KWOK_EXIT_DELAY=0s"},
		Stdio: schedulers.Stdio{Stdout: &out, Stderr: &out}}
	name, status, err := e.s.Run(ctx, o)
	if err != nil || status != 7 || !runPodName.MatchString(name) {
		t.Fatalf("run: (%q, %d, %v), want a run pod's name and 7", name, status, err)
	}
	list, err := e.s.RunList(ctx, e.app)
	if err != nil || len(list) != 0 {
		t.Errorf("run:list after the run: %v, %v", list, err)
	}
}

// TestRunCancelCluster: the client going away ends an attached run and
// deletes its Job.
func TestRunCancelCluster(t *testing.T) {
	e := newProcsEnv(t)
	e.deployProc(t, "web", 1)
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	readers := e.cl.AttachReaders() + 1
	done := make(chan runResult, 1)
	go func() {
		name, status, err := e.s.Run(ctx, &schedulers.RunOptions{App: e.app, Command: []string{"sleep", "1d"},
			Env: []string{"KWOK_EXIT_DELAY=1h"}, Stdio: schedulers.Stdio{Stdout: io.Discard, Stderr: io.Discard}})
		done <- runResult{name, status, err}
	}()
	if err := e.cl.WaitAttach(ctx, readers); err != nil {
		t.Fatal(err)
	}
	jobs, err := e.cs.BatchV1().Jobs(e.ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(e.app, runProcess)})
	if err != nil || len(jobs.Items) != 1 {
		t.Fatalf("run Jobs: %d, %v", len(jobs.Items), err)
	}
	cancel()
	if r := <-done; !errors.Is(r.err, context.Canceled) {
		t.Errorf("run after the client went away: (%q, %d, %v)", r.name, r.status, r.err)
	}
	if !e.jobGone(testCtx(t), t, jobs.Items[0].Name) {
		t.Errorf("Job %s is still there", jobs.Items[0].Name)
	}
}

// TestRunDetachedCluster: run:detached prints the pod's name; run:list
// shows it; run:stop refuses other names and deletes it; run:retire
// removes a Job past its deadline and keeps the others.
func TestRunDetachedCluster(t *testing.T) {
	e := newProcsEnv(t)
	web := e.deployProc(t, "web", 1)
	ctx := testCtx(t)
	// The user's annotations for run pods (annotations:set --process-type
	// run --resource-type pod) reach them.
	if err := SetMeta(e.s.Store, Annotations, e.app, runProcess, "pod", "example.com/note", "one-off"); err != nil {
		t.Fatal(err)
	}
	detach := func(ttl int) string {
		t.Helper()
		name, status, err := e.s.Run(ctx, &schedulers.RunOptions{App: e.app, Command: []string{"sleep", "1d"}, Detach: true, TTL: ttl,
			Env: []string{"KWOK_EXIT_DELAY=1h"}, Stdio: schedulers.Stdio{Stdout: io.Discard, Stderr: io.Discard}})
		if err != nil || status != 0 || !runPodName.MatchString(name) {
			t.Fatalf("run:detached: (%q, %d, %v)", name, status, err)
		}
		return name
	}
	first, second := detach(0), detach(0)
	pod, err := e.cs.CoreV1().Pods(e.ns).Get(ctx, first, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Annotations["example.com/note"] != "one-off" {
		t.Errorf("run pod %s: annotations %v", first, pod.Annotations)
	}
	list, err := e.s.RunList(ctx, e.app)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range list {
		names = append(names, c.Name)
		if c.Command != "sleep 1d" || (c.State != "pending" && c.State != "running") || c.Created.IsZero() {
			t.Errorf("run:list entry %+v", c)
		}
	}
	if !slices.Equal(names, []string{first, second}) && !slices.Equal(names, []string{second, first}) {
		t.Errorf("run:list %v, want %s and %s", names, first, second)
	}

	for _, tc := range []struct{ name, err string }{
		{"shop-run-0000000000", schedulers.ErrNoSuchContainer.Error()},
		{web[0], "Specified container must be a run container"},
	} {
		if _, err := e.s.RunStop(ctx, e.app, tc.name); errText(err) != tc.err {
			t.Errorf("run:stop %s: %v, want %q", tc.name, err, tc.err)
		}
	}
	stopped, err := e.s.RunStop(ctx, e.app, first)
	if err != nil || !slices.Equal(stopped, []string{first}) {
		t.Fatalf("run:stop %s: %v, %v", first, stopped, err)
	}
	stopped, err = e.s.RunStop(ctx, e.app, "")
	if err != nil || !slices.Equal(stopped, []string{second}) {
		t.Fatalf("run:stop: %v, %v", stopped, err)
	}
	if _, err := e.s.RunStop(ctx, e.app, ""); !errors.Is(err, schedulers.ErrNoRunContainers) {
		t.Errorf("run:stop with nothing running: %v", err)
	}

	expiring, keep := detach(1), detach(0)
	e.waitJobFailed(ctx, t, expiring[:len(expiring)-len("-abcde")]) // the pod name less its suffix
	if err := e.s.RunRetire(ctx, ""); err != nil {
		t.Fatal(err)
	}
	list, err = e.s.RunList(ctx, e.app)
	if err != nil || len(list) != 1 || list[0].Name != keep {
		t.Errorf("run:list after run:retire: %+v, %v; want only %s", list, err, keep)
	}
}

// waitJobFailed waits (a watch) until the Job has failed.
func (e *procsEnv) waitJobFailed(ctx context.Context, t *testing.T, name string) {
	t.Helper()
	for {
		j, err := e.cs.BatchV1().Jobs(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
				return
			}
		}
		w, err := e.cs.BatchV1().Jobs(e.ns).Watch(ctx, metav1.ListOptions{
			FieldSelector: "metadata.name=" + name, ResourceVersion: j.ResourceVersion,
		})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-w.ResultChan():
		case <-ctx.Done():
			t.Fatalf("Job %s never failed", name)
		}
		w.Stop()
	}
}

// TestRunFailuresCluster: a run whose image cannot be pulled fails at
// once with the reason, and one past its --ttl-seconds says so; neither
// leaves its Job.
func TestRunFailuresCluster(t *testing.T) {
	tests := []struct {
		name  string
		image string
		ttl   int
		want  *regexp.Regexp
	}{
		{"unpullable", "registry.test/" + k8stest.UnpullableImage + "@sha256:" + strings.Repeat("e", 64), 0,
			regexp.MustCompile(`^Unable to start the run container shop-run-[0-9a-f]{10}-[a-z0-9]{5}: (ErrImagePull|ImagePullBackOff): `)},
		{"deadline", testImage, 1,
			regexp.MustCompile(`^The run container shop-run-[0-9a-f]{10}-[a-z0-9]{5} exceeded its deadline of 1 seconds \(--ttl-seconds\)$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newProcsEnv(t)
			e.deployImage(t, "web", 0, tt.image)
			ctx := testCtx(t)
			_, status, err := e.s.Run(ctx, &schedulers.RunOptions{App: e.app, Command: []string{"sleep", "1d"}, TTL: tt.ttl,
				Env: []string{"KWOK_EXIT_DELAY=1h"}, Stdio: schedulers.Stdio{Stdout: io.Discard, Stderr: io.Discard}})
			if status == 0 || !output.IsUserError(err) || !tt.want.MatchString(err.Error()) {
				t.Fatalf("run: %d, %v; want an error matching %s", status, err, tt.want)
			}
			jobs, err := e.cs.BatchV1().Jobs(e.ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(e.app, runProcess)})
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range jobs.Items {
				if j.DeletionTimestamp == nil {
					t.Errorf("Job %s left after the failed run", j.Name)
				}
			}
		})
	}
}

// TestRunNotDeployed: run needs a Deployment to take the image from.
func TestRunNotDeployed(t *testing.T) {
	e := newProcsEnv(t)
	_, _, err := e.s.Run(testCtx(t), &schedulers.RunOptions{App: e.app, Stdio: schedulers.Stdio{Stdout: io.Discard}})
	if !output.IsUserError(err) || err.Error() != "App shop has not been deployed" {
		t.Errorf("run of an app without Deployments: %v", err)
	}
}
