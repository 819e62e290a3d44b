package k3s

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

// run:list, run:stop and run:retire on k3s work on the app's run Jobs
// (labels part-of=APP, name=run). Dokku's k3s run:list shows the app's
// CronJobs instead; here it lists the one-off processes, as on
// docker-local, each by the name of its pod (what run:detached printed).

// runEntry is one run Job with its newest pod (nil before it has one).
type runEntry struct {
	job *batchv1.Job
	pod *corev1.Pod
}

// name is what the user sees: the pod's name, else the Job's.
func (e runEntry) name() string {
	if e.pod != nil {
		return e.pod.Name
	}
	return e.job.Name
}

// finished reports whether the Job has completed or failed.
func (e runEntry) finished() bool {
	for _, c := range e.job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// state is the pod's phase in lower case (pending, running, succeeded,
// failed), or the Job's state when it has no pod.
func (e runEntry) state() string {
	switch {
	case e.pod != nil:
		return strings.ToLower(string(e.pod.Status.Phase))
	case e.finished():
		return "finished"
	}
	return "pending"
}

// runEntries lists app's run Jobs, oldest first, with their pods.
func (c *cluster) runEntries(ctx context.Context, app string) ([]runEntry, error) {
	sel := metav1.ListOptions{LabelSelector: appSelector(app, runProcess)}
	jobs, err := c.cs.BatchV1().Jobs(c.ns).List(ctx, sel)
	if err != nil {
		return nil, c.fail("listing the run Jobs of "+app, err)
	}
	pods, err := c.cs.CoreV1().Pods(c.ns).List(ctx, sel)
	if err != nil {
		return nil, c.fail("listing the run pods of "+app, err)
	}
	newest := map[string]*corev1.Pod{}
	for i := range pods.Items {
		p := &pods.Items[i]
		j := p.Labels[LabelJobName]
		if old := newest[j]; old == nil || old.CreationTimestamp.Before(&p.CreationTimestamp) {
			newest[j] = p
		}
	}
	out := make([]runEntry, 0, len(jobs.Items))
	for i := range jobs.Items {
		j := &jobs.Items[i]
		if j.DeletionTimestamp != nil {
			continue // stopped already; its pod is going
		}
		out = append(out, runEntry{job: j, pod: newest[j.Name]})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].job, out[j].job
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
	return out, nil
}

// RunList lists app's run Jobs, oldest first (scheduler-run-list).
func (s *Scheduler) RunList(ctx context.Context, app string) ([]schedulers.RunContainer, error) {
	c, err := s.connect(ctx, app)
	if err != nil {
		return nil, err
	}
	entries, err := c.runEntries(ctx, app)
	if err != nil {
		return nil, err
	}
	list := make([]schedulers.RunContainer, 0, len(entries))
	for _, e := range entries {
		cmd := ""
		if ctr := templateContainer(&e.job.Spec.Template); ctr != nil {
			cmd = strings.Join(append(append([]string{}, ctr.Command...), ctr.Args...), " ")
		}
		list = append(list, schedulers.RunContainer{
			Name: e.name(), State: e.state(), Command: cmd, Created: e.job.CreationTimestamp.Time,
		})
	}
	return list, nil
}

// RunStop deletes app's unfinished run Jobs, or the one whose Job or pod
// is called name (scheduler-run-stop), with their pods.
func (s *Scheduler) RunStop(ctx context.Context, app, name string) ([]string, error) {
	c, err := s.connect(ctx, app)
	if err != nil {
		return nil, err
	}
	entries, err := c.runEntries(ctx, app)
	if err != nil {
		return nil, err
	}
	var stop []runEntry
	for _, e := range entries {
		switch {
		case name != "" && (e.job.Name == name || e.name() == name):
			stop = append(stop, e)
		case name == "" && !e.finished():
			stop = append(stop, e)
		}
	}
	if len(stop) == 0 {
		if name == "" {
			return nil, schedulers.ErrNoRunContainers
		}
		return nil, c.notRunContainer(ctx, name)
	}
	var stopped []string
	for _, e := range stop {
		if err := c.deleteRunJob(ctx, e.job.Name); err != nil {
			return stopped, err
		}
		stopped = append(stopped, e.name())
	}
	return stopped, nil
}

// notRunContainer is run:stop's error for a name that is none of the
// app's run Jobs or pods: Dokku's "must be a run container" when a pod or
// Job of that name exists, else "does not exist".
func (c *cluster) notRunContainer(ctx context.Context, name string) error {
	_, perr := c.cs.CoreV1().Pods(c.ns).Get(ctx, name, metav1.GetOptions{})
	_, jerr := c.cs.BatchV1().Jobs(c.ns).Get(ctx, name, metav1.GetOptions{})
	switch {
	case perr == nil || jerr == nil:
		return output.Userf("Specified container must be a run container")
	case apierrors.IsNotFound(perr) && apierrors.IsNotFound(jerr):
		return schedulers.ErrNoSuchContainer
	case !apierrors.IsNotFound(perr):
		return c.fail("reading pod "+name, perr)
	}
	return c.fail("reading Job "+name, jerr)
}

// deleteRunJob deletes a Job, its pods first (foreground propagation).
func (c *cluster) deleteRunJob(ctx context.Context, name string) error {
	fg := metav1.DeletePropagationForeground
	err := c.cs.BatchV1().Jobs(c.ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &fg})
	if err != nil && !apierrors.IsNotFound(err) {
		return c.fail("deleting Job "+name, err)
	}
	return nil
}

// RunRetire deletes the run Jobs of app ("" for every app of this server
// on k3s) that outlived their active deadline (scheduler-run-retire). The
// cluster stops such a Job's pod itself; this removes what is left.
func (s *Scheduler) RunRetire(ctx context.Context, app string) error {
	apps := []string{app}
	if app == "" {
		var err error
		if apps, err = s.k3sApps(); err != nil {
			return err
		}
	}
	var errs []error
	for _, a := range apps {
		errs = append(errs, s.retireApp(ctx, a))
	}
	return errors.Join(errs...)
}

func (s *Scheduler) retireApp(ctx context.Context, app string) error {
	c, err := s.connect(ctx, app)
	if err != nil {
		return err
	}
	entries, err := c.runEntries(ctx, app)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, e := range entries {
		ttl := jobDeadline(e.job)
		if now.Sub(e.job.CreationTimestamp.Time) < time.Duration(ttl)*time.Second {
			continue
		}
		s.log().Info("retiring run job past its deadline", "app", app, "job", e.job.Name, "ttl", ttl)
		if err := c.deleteRunJob(ctx, e.job.Name); err != nil {
			return err
		}
	}
	return nil
}

// k3sApps are this server's apps whose scheduler is k3s.
func (s *Scheduler) k3sApps() ([]string, error) {
	all, err := s.Store.Apps()
	if err != nil {
		return nil, err
	}
	var apps []string
	for _, a := range all {
		if sel, err := schedulers.Selected(s.Store, a); err == nil && sel == Name {
			apps = append(apps, a)
		}
	}
	return apps, nil
}
