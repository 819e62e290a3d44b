// Package k3s is Dokku's scheduler-k3s on client-go: any Kubernetes cluster
// reachable by a kubeconfig runs an app as one Deployment per process type,
// with Dokku's object model (names, labels, annotations, selectors;
// docs/dokku-behaviour.md#k3s-objects), written by server-side apply with
// typed objects instead of a Helm chart.
package k3s

import (
	"context"
	"io"
	"log/slog"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// Name is the scheduler's name (scheduler:set APP selected k3s).
const Name = "k3s"

// FieldManager owns the fields the server writes by server-side apply, so
// a redeploy changes only what changed and other writers' fields stay.
const FieldManager = "dokku-sshd"

// Scheduler is the k3s scheduler.
type Scheduler struct {
	Store  *store.Store
	Images Images // nil: no registry to push to, so only git:from-image of a registry image deploys
	Logger *slog.Logger

	locks schedulers.AppLocks // per-app serialisation of Deploy/Stop/Destroy/DomainsUpdated
}

// New returns the k3s scheduler.
func New(st *store.Store, images Images, logger *slog.Logger) *Scheduler {
	return &Scheduler{Store: st, Images: images, Logger: logger}
}

// Name is "k3s".
func (s *Scheduler) Name() string { return Name }

func (s *Scheduler) log() *slog.Logger { return schedulers.Logger(s.Logger) }

// lockApp serialises the work on one app's objects; doing ("deploy",
// "stop"...) is what the holder does. A caller that has to wait says so on
// out (when not nil), and gives up when ctx ends.
func (s *Scheduler) lockApp(ctx context.Context, app, doing string, out io.Writer) (func(), error) {
	return s.locks.LockOrSay(ctx, app, doing, func(holder string) {
		if out == nil || out == io.Discard {
			return
		}
		if holder == "" {
			holder = "work"
		}
		output.Info1(out, "Waiting for the %s of %s to finish", holder, app)
	})
}
