package k3s

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"dokku-sshd/schedulers"
)

// Inspect writes ps:inspect's view of app on k3s: its Deployments and
// their pods as YAML documents (Deployments first, by name), without the
// managed fields. Config values are not in them: the pods read them from
// the config-APP Secret.
func (s *Scheduler) Inspect(ctx context.Context, app string, w io.Writer) error {
	c, err := s.connect(ctx, app)
	if err != nil {
		return err
	}
	sel := metav1.ListOptions{LabelSelector: appSelector(app, "")}
	deps, err := c.cs.AppsV1().Deployments(c.ns).List(ctx, sel)
	if err != nil {
		return c.fail("listing the Deployments of "+app, err)
	}
	pods, err := c.cs.CoreV1().Pods(c.ns).List(ctx, sel)
	if err != nil {
		return c.fail("listing the pods of "+app, err)
	}
	var docs []any
	sort.Slice(deps.Items, func(i, j int) bool { return deps.Items[i].Name < deps.Items[j].Name })
	for i := range deps.Items {
		d := &deps.Items[i]
		d.ManagedFields = nil
		d.APIVersion, d.Kind = "apps/v1", "Deployment"
		docs = append(docs, d)
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.Labels[LabelJobName] != "" {
			continue // a run's pod, not the app's processes
		}
		p.ManagedFields = nil
		p.APIVersion, p.Kind = "v1", "Pod"
		docs = append(docs, p)
	}
	var b strings.Builder
	for i, doc := range docs {
		data, err := yaml.Marshal(doc)
		if err != nil {
			return fmt.Errorf("inspect %s: %w", app, err)
		}
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(data)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

var _ schedulers.ProcessStatuser = (*Scheduler)(nil)

// ProcessStatuses maps each of app's pods to ps:report's status: dyno
// PROC.N, N counting the process type's pods in name order (as logs -p
// and enter number them), to "<phase> (POD: <name>)", phase lower case
// and "ready" added when it serves. Run pods are not processes. A
// cluster that cannot be asked gives none: the report's processes field
// already says so (-1), and the rest of the report stays readable.
func (s *Scheduler) ProcessStatuses(ctx context.Context, app string) (map[string]string, error) {
	c, err := s.connect(ctx, app)
	if err != nil {
		s.log().Warn("ps:report statuses", "app", app, "err", err)
		return nil, nil
	}
	pods, err := c.cs.CoreV1().Pods(c.ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(app, "")})
	if err != nil {
		s.log().Warn("ps:report statuses", "app", app, "err", err)
		return nil, nil
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	n := map[string]int{}
	out := map[string]string{}
	for i := range pods.Items {
		p := &pods.Items[i]
		proc := p.Labels[LabelName]
		if proc == "" || p.Labels[LabelJobName] != "" {
			continue
		}
		n[proc]++
		state := strings.ToLower(string(p.Status.Phase))
		if podReady(p) {
			state += ", ready"
		}
		out[fmt.Sprintf("%s.%d", proc, n[proc])] = fmt.Sprintf("%s (POD: %s)", state, p.Name)
	}
	return out, nil
}
