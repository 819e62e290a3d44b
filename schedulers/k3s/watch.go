package k3s

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dokku-sshd/schedulers"
)

var _ schedulers.Watcher = (*Scheduler)(nil)

// watchRescan is how often Watch looks again at which apps use this
// scheduler (an app moved to k3s, a namespace changed): a read of the
// store, not of the cluster. watchRetry is the pause before a failed
// watch of a namespace is opened again.
var (
	watchRescan = 30 * time.Second
	watchRetry  = 10 * time.Second
)

// Watch follows the pods of every app that uses this scheduler: a pod
// added, deleted or changed (ready, restarted) is a change of its app
// (the part-of label). One watch per cluster and namespace, whatever the
// number of apps in it. A cluster that cannot be reached is tried again
// every watchRetry; Watch itself only returns when ctx ends.
func (s *Scheduler) Watch(ctx context.Context, changed func(app string)) error {
	running := map[watchTarget]context.CancelFunc{}
	defer func() {
		for _, cancel := range running {
			cancel()
		}
	}()
	t := time.NewTicker(watchRescan)
	defer t.Stop()
	for {
		want := s.watchTargets()
		for tg, cancel := range running {
			if _, ok := want[tg]; !ok {
				cancel()
				delete(running, tg)
			}
		}
		for tg, c := range want {
			if _, ok := running[tg]; !ok {
				wctx, cancel := context.WithCancel(ctx)
				running[tg] = cancel
				go s.watchNamespace(wctx, c, changed)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// watchTarget is one namespace of one API server.
type watchTarget struct{ server, ns string }

// watchTargets are the namespaces of the apps that use this scheduler,
// each with a cluster to watch it through.
func (s *Scheduler) watchTargets() map[watchTarget]*cluster {
	apps, err := s.Store.Apps()
	if err != nil {
		s.log().Warn("k3s watch: listing apps", "err", err)
		return nil
	}
	out := map[watchTarget]*cluster{}
	for _, app := range apps {
		if sel, err := schedulers.Selected(s.Store, app); err != nil || sel != Name {
			continue
		}
		c, err := s.open(app)
		if err != nil {
			continue // no kubeconfig yet: nothing of this app runs
		}
		tg := watchTarget{c.server, c.ns}
		if _, ok := out[tg]; !ok {
			out[tg] = c
		}
	}
	return out
}

// watchNamespace reports the app of every pod event in c's namespace
// until ctx ends, opening the watch again when the API server ends it (as
// it does after a while) or it fails.
func (s *Scheduler) watchNamespace(ctx context.Context, c *cluster, changed func(app string)) {
	for ctx.Err() == nil {
		w, err := c.stream.CoreV1().Pods(c.ns).Watch(ctx, metav1.ListOptions{LabelSelector: LabelPartOf})
		if err != nil {
			s.log().Debug("k3s watch", "namespace", c.ns, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(watchRetry):
			}
			continue
		}
		// A new watch starts with an event per existing pod: a burst that
		// names each app once is enough.
		seen := map[string]bool{}
		burst := time.After(time.Second)
	events:
		for {
			select {
			case <-ctx.Done():
				w.Stop()
				return
			case <-burst:
				clear(seen)
				burst = nil
			case ev, ok := <-w.ResultChan():
				if !ok {
					break events
				}
				obj, ok := ev.Object.(metav1.Object)
				if !ok {
					continue
				}
				app := obj.GetLabels()[LabelPartOf]
				if app == "" || (burst != nil && seen[app]) {
					continue
				}
				seen[app] = true
				changed(app)
			}
		}
	}
}
