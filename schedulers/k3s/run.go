package k3s

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/watch"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

// One-off processes (Dokku's scheduler-run and friends on k3s): a
// batch/v1 Job APP-run-<10 hex digits> from the image the app's
// Deployments run, whose one pod runs the command exactly once; run
// attaches to that container through pods/attach and exits with the
// command's status, read from the container's terminated state.

var _ schedulers.Runner = (*Scheduler)(nil)

// Run-specific names and limits.
const (
	// runProcess is the name label of run Jobs and their pods (Dokku's).
	runProcess = "run"
	// runTTLAfterFinished is how long a finished run Job stays for its
	// logs before the cluster removes it (Dokku's 60 seconds).
	runTTLAfterFinished = 60
	// attachDrain is how long the attach stream may still deliver output
	// once the container is known to have exited, before it is closed.
	attachDrain = 2 * time.Second
	// detachWait bounds the wait for a detached run's pod to exist.
	detachWait = time.Minute
)

// runSource is what a run Job takes from the app's deployed processes.
type runSource struct {
	image       string
	pullSecrets []corev1.LocalObjectReference
	builder     string // dokku.com/builder-type
	version     string // app.kubernetes.io/version
	workingDir  string
	// args are the start command words of the Procfile key the command
	// names, from its Deployment; nil when it has none.
	args []string
}

// runSource reads the image and settings of app's Deployment for key
// (else web's, else the first one's): a run uses exactly the image its
// processes run, by digest.
func (c *cluster) runSource(ctx context.Context, app, key string) (*runSource, error) {
	list, err := c.cs.AppsV1().Deployments(c.ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(app, "")})
	if err != nil {
		return nil, c.fail("listing the Deployments of "+app, err)
	}
	if len(list.Items) == 0 {
		return nil, output.Userf("App %s has not been deployed", app)
	}
	deps := list.Items
	sort.Slice(deps, func(i, j int) bool { return deps[i].Name < deps[j].Name })
	var dep, own *appsv1.Deployment
	for i := range deps {
		switch deps[i].Labels[LabelName] {
		case key:
			own = &deps[i]
		case "web":
			dep = &deps[i]
		}
	}
	if own != nil {
		dep = own
	} else if dep == nil {
		dep = &deps[0]
	}
	tpl := dep.Spec.Template
	ctr := templateContainer(&tpl)
	if ctr == nil {
		return nil, output.Userf("Deployment %s of app %s has no container", dep.Name, app)
	}
	src := &runSource{
		image: ctr.Image, pullSecrets: tpl.Spec.ImagePullSecrets, workingDir: ctr.WorkingDir,
		builder: tpl.Annotations[AnnotationBuilderType], version: tpl.Annotations[AnnotationVersion],
	}
	if own != nil {
		src.args = ctr.Args
	}
	return src, nil
}

// templateContainer is the pod template's default container, else its
// first.
func templateContainer(tpl *corev1.PodTemplateSpec) *corev1.Container {
	name := tpl.Annotations[AnnotationDefaultCtr]
	for i := range tpl.Spec.Containers {
		if tpl.Spec.Containers[i].Name == name {
			return &tpl.Spec.Containers[i]
		}
	}
	if len(tpl.Spec.Containers) > 0 {
		return &tpl.Spec.Containers[0]
	}
	return nil
}

// runCommand is the run's command: the Procfile command when the first
// word is a Procfile key (the rest appended), the words as given, else the
// shell. A deployed process type's command is its Deployment's, as its
// processes run it; another key's (release, a type not deployed) is the
// Procfile line expanded with the config and Dokku's run port.
func runCommand(o *schedulers.RunOptions, src *runSource) ([]string, error) {
	if len(o.Command) == 0 {
		return schedulers.ShellCommand(o.Shell), nil
	}
	key := o.Command[0]
	line, ok := o.Process[key]
	if !ok || strings.TrimSpace(line) == "" {
		return o.Command, nil
	}
	words := src.args
	if len(words) == 0 {
		var err error
		words, err = schedulers.SplitWords(schedulers.ExpandCommand(line, o.Config, key, schedulers.DefaultContainerPort))
		if err != nil {
			return nil, output.Userf("Invalid Procfile command for %s: %v", key, err)
		}
	}
	if !o.Quiet {
		output.Info1(o.Stdout, "Found '%s' in Procfile, running that command", key)
	}
	return append(append([]string{}, words...), o.Command[1:]...), nil
}

// entrypoint is the container command the builder's images need before
// the run's words (Dokku's: herokuish's /exec, pack's launcher).
func entrypoint(builder string) []string {
	switch builder {
	case "herokuish":
		return []string{"/exec"}
	case "pack":
		return []string{"launcher"}
	}
	return nil
}

// newSuffix is a run Job's name suffix: 10 lowercase hex digits.
func newSuffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// runJob renders the run Job of o: Dokku's labels and annotations,
// backoffLimit 0 (the command runs once), the TTL as its active deadline.
func runJob(o *schedulers.RunOptions, src *runSource, cmd []string, suffix string, ttl int) *batchv1.Job {
	app := o.App
	ctrName := app + "-" + runProcess
	lbls := objectLabels(app, runProcess)
	ann := managedAnnotations(map[string]string{
		AnnotationVersion: src.version, AnnotationBuilderType: src.builder,
		AnnotationJobSuffix: suffix, AnnotationDefaultCtr: ctrName,
	})
	env := make([]corev1.EnvVar, 0, len(o.Env))
	for _, kv := range o.Env {
		k, v, _ := strings.Cut(kv, "=") // the commands checked the form
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	optional := true
	ctr := corev1.Container{
		Name: ctrName, Image: src.image, ImagePullPolicy: corev1.PullAlways,
		Command: entrypoint(src.builder), Args: cmd, WorkingDir: src.workingDir, Env: env,
		EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: ConfigSecretName(app)}, Optional: &optional,
		}}},
		TTY: o.TTY,
	}
	if !o.Detach || o.TTY {
		// Attached: stdin stays open for the one client that attaches.
		ctr.Stdin, ctr.StdinOnce = true, true
	}
	deadline := int64(ttl)
	backoff := int32(0)
	after := int32(runTTLAfterFinished)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: app + "-" + runProcess + "-" + suffix, Labels: lbls, Annotations: ann},
		Spec: batchv1.JobSpec{
			ActiveDeadlineSeconds: &deadline, BackoffLimit: &backoff, TTLSecondsAfterFinished: &after,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: objectLabels(app, runProcess), Annotations: managedAnnotations(ann)},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{ctr}, RestartPolicy: corev1.RestartPolicyNever,
					ServiceAccountName: app, ImagePullSecrets: src.pullSecrets,
				},
			},
		},
	}
}

// Run starts a one-off Job of o.App (see schedulers.Runner). Attached, the
// Job is deleted (foreground) when Run returns, whatever ended it.
func (s *Scheduler) Run(ctx context.Context, o *schedulers.RunOptions) (string, int, error) {
	c, err := s.connect(ctx, o.App)
	if err != nil {
		return "", 1, err
	}
	key := ""
	if len(o.Command) > 0 {
		key = o.Command[0]
	}
	src, err := c.runSource(ctx, o.App, key)
	if err != nil {
		return "", 1, err
	}
	ttl := o.TTL
	if ttl <= 0 {
		ttl = schedulers.DefaultRunTTL
	}
	meta, err := s.runMeta(o.App)
	if err != nil {
		return "", 1, err
	}
	cmd, err := runCommand(o, src)
	if err != nil {
		return "", 1, err
	}
	job, err := c.createRunJob(ctx, o, src, meta, cmd, ttl)
	if err != nil {
		return "", 1, err
	}
	s.log().Info("run job created", "app", o.App, "job", job.Name, "detached", o.Detach, "tty", o.TTY)
	if o.Detach {
		pod, err := c.runPod(ctx, job.Name)
		if err != nil {
			return "", 1, err
		}
		return pod.Name, 0, nil
	}
	defer s.removeRun(c, job.Name)
	limit, err := s.deployTimeout(o.App)
	if err != nil {
		return "", 1, err
	}
	pod, err := c.waitRunStart(ctx, job.Name, limit)
	if err != nil {
		return job.Name, 1, err
	}
	status, err := s.attachRun(ctx, c, o, job, pod)
	return pod.Name, status, err
}

// runMeta is the user's labels and annotations for run Jobs and their
// pods (scheduler-k3s:labels:set / annotations:set, resource types job
// and pod, process type run).
type runMeta struct {
	jobLabels, jobAnnotations, podLabels, podAnnotations map[string]string
}

func (s *Scheduler) runMeta(app string) (*runMeta, error) {
	var m runMeta
	var err error
	if m.jobLabels, m.jobAnnotations, err = s.customMeta(app, "job", runProcess); err != nil {
		return nil, err
	}
	if m.podLabels, m.podAnnotations, err = s.customMeta(app, "pod", runProcess); err != nil {
		return nil, err
	}
	return &m, nil
}

// apply adds the user's labels and annotations to job and its pod
// template; the Job's own (selectors, version, suffix...) win.
func (m *runMeta) apply(job *batchv1.Job) {
	under := func(own, user map[string]string) map[string]string {
		out := maps.Clone(user)
		if out == nil {
			out = map[string]string{}
		}
		maps.Copy(out, own)
		return out
	}
	job.Labels = under(job.Labels, m.jobLabels)
	job.Annotations = under(job.Annotations, m.jobAnnotations)
	tpl := &job.Spec.Template
	tpl.Labels = under(tpl.Labels, m.podLabels)
	tpl.Annotations = under(tpl.Annotations, m.podAnnotations)
}

// createRunJob creates the Job, with another suffix if the name is taken.
func (c *cluster) createRunJob(ctx context.Context, o *schedulers.RunOptions, src *runSource, meta *runMeta, cmd []string, ttl int) (*batchv1.Job, error) {
	for try := 0; ; try++ {
		job := runJob(o, src, cmd, newSuffix(), ttl)
		meta.apply(job)
		created, err := c.cs.BatchV1().Jobs(c.ns).Create(ctx, job, metav1.CreateOptions{FieldManager: FieldManager})
		if err == nil {
			return created, nil
		}
		if !apierrors.IsAlreadyExists(err) || try == 4 {
			return nil, c.fail("creating Job "+job.Name, err)
		}
	}
}

// removeRun deletes an attached run's Job and its pod once the run is
// over, also when the client has gone (ctx ended).
func (s *Scheduler) removeRun(c *cluster, job string) {
	ctx, cancel := context.WithTimeout(context.Background(), APITimeout)
	defer cancel()
	if err := c.deleteRunJob(ctx, job); err != nil {
		s.log().Warn("run: delete job", "job", job, "err", err)
	}
}

// jobSelector selects the pods of a Job.
func jobSelector(job string) string {
	return labels.SelectorFromSet(labels.Set{LabelJobName: job}).String()
}

// runPod waits (a watch, up to detachWait) for the Job's pod to exist.
func (c *cluster) runPod(ctx context.Context, job string) (*corev1.Pod, error) {
	wctx, cancel := context.WithTimeout(ctx, detachWait)
	defer cancel()
	p, err := c.untilPod(wctx, jobSelector(job), "", "the pod of Job "+job, func(ev watch.EventType, _ *corev1.Pod) (bool, error) {
		return ev != watch.Deleted, nil
	})
	if ctx.Err() == nil && !output.IsUserError(err) && errors.Is(err, context.DeadlineExceeded) {
		return nil, output.Userf("Job %s has no pod after %s: see kubectl describe job %s", job, detachWait, job)
	}
	return p, err
}

// waitRunStart waits (a watch, up to limit) for the Job's container to
// run or to have ended, and fails at once when it cannot start.
func (c *cluster) waitRunStart(ctx context.Context, job string, limit time.Duration) (*corev1.Pod, error) {
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	p, err := c.untilPod(wctx, jobSelector(job), "", "the run container of Job "+job, func(ev watch.EventType, p *corev1.Pod) (bool, error) {
		if ev == watch.Deleted {
			return false, c.runGone(job, p.Name, "started")
		}
		st := containerStatus(p)
		if st == nil {
			return false, nil
		}
		if w := st.State.Waiting; w != nil && cannotStart(w.Reason) {
			return false, output.Userf("Unable to start the run container %s: %s: %s", p.Name, w.Reason, w.Message)
		}
		return st.State.Running != nil || st.State.Terminated != nil, nil
	})
	if ctx.Err() == nil && !output.IsUserError(err) && errors.Is(err, context.DeadlineExceeded) {
		return nil, output.Userf("The run container of Job %s did not start within %s", job, limit)
	}
	return p, err
}

// cannotStart reports whether a waiting container's reason means it will
// not start without a change (a wrong image, a missing secret).
func cannotStart(reason string) bool {
	switch reason {
	case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError":
		return true
	}
	return false
}

// containerStatus is the status of p's main container (a run pod's only
// one); nil before it has one.
func containerStatus(p *corev1.Pod) *corev1.ContainerStatus {
	want := mainContainer(p)
	for i := range p.Status.ContainerStatuses {
		if p.Status.ContainerStatuses[i].Name == want {
			return &p.Status.ContainerStatuses[i]
		}
	}
	return nil
}

// jobDeadline reads a Job's active deadline, else the default TTL.
func jobDeadline(j *batchv1.Job) int {
	if d := j.Spec.ActiveDeadlineSeconds; d != nil && *d > 0 {
		return int(*d)
	}
	return schedulers.DefaultRunTTL
}

// errNotStarted marks a run whose container was no longer running when
// the attach was to start.
var errNotStarted = errors.New("the container had exited before the attach")

// attachRun connects the client to the run's container until it exits,
// and returns the command's exit status from the container's terminated
// state. With a TTY the client is attached to it both ways (pods/attach).
// Without one, the output is the container's log followed from its start,
// so that nothing it wrote before the attach connected is lost, and the
// attach carries only the client's stdin; the log has stdout and stderr
// in the order they were written, and goes to the client's stdout.
func (s *Scheduler) attachRun(ctx context.Context, c *cluster, o *schedulers.RunOptions, job *batchv1.Job, pod *corev1.Pod) (int, error) {
	rio := stdioFor(o.Stdio, o.TTY)
	if rio.tty {
		return s.attachTTY(ctx, c, o, job, pod, rio)
	}
	running := isRunning(pod)
	actx, acancel := context.WithCancel(ctx)
	defer acancel()
	attached := make(chan error, 1)
	if running {
		in := remoteIO{stdin: rio.stdin}
		if in.stdin == nil {
			in.stdin = strings.NewReader("") // no input: the command reads its end
		}
		go func() { attached <- c.remote(actx, pod.Name, "attach", attachOptions(mainContainer(pod), in), in) }()
	} else {
		attached <- errNotStarted
	}
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	logged := make(chan error, 1)
	go func() { logged <- c.podLog(lctx, pod, running, rio.stdout) }()

	end, err := c.waitRunEnd(ctx, job, pod.Name)
	if err != nil {
		return 1, err
	}
	// A kubelet ends the log of a container that exited; a runtime that
	// holds it open has delivered what was in flight after attachDrain.
	var lerr error
	select {
	case lerr = <-logged:
	case <-time.After(attachDrain):
		lcancel()
		lerr = <-logged
	}
	acancel()
	if aerr := <-attached; aerr != nil && !errors.Is(aerr, errNotStarted) && !errors.Is(aerr, context.Canceled) {
		s.log().Warn("run: attach stdin", "app", o.App, "pod", pod.Name, "err", aerr)
	}
	if lerr != nil && lctx.Err() == nil {
		s.log().Warn("run: log", "app", o.App, "pod", pod.Name, "err", lerr)
		if rio.stderr != nil {
			output.Warn(rio.stderr, "The output of %s may be incomplete: %v", pod.Name, lerr)
		}
	}
	return int(end.ExitCode), nil
}

// isRunning reports whether pod's main container runs.
func isRunning(pod *corev1.Pod) bool {
	st := containerStatus(pod)
	return st != nil && st.State.Running != nil
}

// attachTTY relays the client's terminal to the running container of pod
// (pods/attach) until it exits. Output a container wrote before the attach
// connected is not replayed (a TTY's output is for a terminal that was
// there); when nothing came through the attach at all (the command ended
// first), its log is shown instead.
func (s *Scheduler) attachTTY(ctx context.Context, c *cluster, o *schedulers.RunOptions, job *batchv1.Job, pod *corev1.Pod, rio remoteIO) (int, error) {
	var written atomic.Int64
	rio.stdout = &countWriter{w: rio.stdout, n: &written}
	actx, acancel := context.WithCancel(ctx)
	defer acancel()
	attached := make(chan error, 1)
	if isRunning(pod) {
		go func() {
			attached <- c.remote(actx, pod.Name, "attach", attachOptions(mainContainer(pod), rio), rio)
		}()
	} else {
		attached <- errNotStarted
	}
	end, err := c.waitRunEnd(ctx, job, pod.Name)
	if err != nil {
		return 1, err
	}
	var aerr error
	select {
	case aerr = <-attached:
	case <-time.After(attachDrain):
		// The stream outlived the container (a runtime that keeps it
		// open): what was in flight has arrived.
		acancel()
		aerr = <-attached
	}
	if written.Load() == 0 {
		lctx, lcancel := context.WithTimeout(ctx, APITimeout)
		if err := c.podLog(lctx, pod, false, rio.stdout); err != nil && aerr == nil {
			aerr = err
		}
		lcancel()
	}
	if aerr != nil && !errors.Is(aerr, errNotStarted) && !errors.Is(aerr, context.Canceled) {
		s.log().Warn("run: attach", "app", o.App, "pod", pod.Name, "err", aerr)
	}
	return int(end.ExitCode), nil
}

// waitRunEnd watches the run's pod until its container has terminated
// (bounded by the Job's deadline, which the cluster enforces, and a
// margin); an API server that stops answering ends it at once.
func (c *cluster) waitRunEnd(ctx context.Context, job *batchv1.Job, pod string) (*corev1.ContainerStateTerminated, error) {
	ttl := jobDeadline(job)
	wctx, cancel := context.WithTimeout(ctx, time.Duration(ttl)*time.Second+time.Minute)
	defer cancel()
	p, err := c.untilPod(wctx, jobSelector(job.Name), "", "the run container "+pod, func(ev watch.EventType, p *corev1.Pod) (bool, error) {
		if ev == watch.Deleted {
			return false, errRunRemoved
		}
		st := containerStatus(p)
		return st != nil && st.State.Terminated != nil, nil
	})
	switch {
	case ctx.Err() != nil:
		return nil, ctx.Err()
	case output.IsUserError(err): // the API server went away, or refused the watch
		return nil, err
	case errors.Is(err, errRunRemoved) || errors.Is(err, context.DeadlineExceeded):
		return nil, c.runGone(job.Name, pod, "exited")
	case err != nil:
		return nil, c.fail("watching pod "+pod, err)
	}
	return containerStatus(p).State.Terminated, nil
}

var errRunRemoved = errors.New("run pod removed")

// runGone says why the run's pod went before it had what (started,
// exited): its deadline (--ttl-seconds) passed, or it was removed (run:stop,
// or by hand).
func (c *cluster) runGone(job, pod, what string) error {
	if j := c.failedJob(job, batchv1.JobReasonDeadlineExceeded); j != nil {
		return output.Userf("The run container %s exceeded its deadline of %d seconds (--ttl-seconds)", pod, jobDeadline(j))
	}
	return output.Userf("The run container %s was removed before it %s", pod, what)
}

// failedJob is the Job when it has failed, or is failing (the
// FailureTarget condition the controller sets before it stops the pod),
// for reason; else nil.
func (c *cluster) failedJob(name, reason string) *batchv1.Job {
	ctx, cancel := context.WithTimeout(context.Background(), APITimeout)
	defer cancel()
	j, err := c.cs.BatchV1().Jobs(c.ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	for _, cond := range j.Status.Conditions {
		failing := cond.Type == batchv1.JobFailed || cond.Type == batchv1.JobFailureTarget
		if failing && cond.Status == corev1.ConditionTrue && cond.Reason == reason {
			return j
		}
	}
	return nil
}

// podLog writes the log of pod's main container, from its start, to w;
// with follow, until the log ends (the container exited) or ctx does.
func (c *cluster) podLog(ctx context.Context, pod *corev1.Pod, follow bool, w io.Writer) error {
	rc, err := c.stream.CoreV1().Pods(c.ns).GetLogs(pod.Name, &corev1.PodLogOptions{Container: mainContainer(pod), Follow: follow}).Stream(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	return err
}

// countWriter counts what is written through it into n (shared by
// stdout and stderr).
type countWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (cw *countWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.n.Add(int64(n))
	return n, err
}
