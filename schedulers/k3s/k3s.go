// Package k3s is Dokku's scheduler-k3s on client-go: any Kubernetes cluster
// reachable by a kubeconfig runs an app as one Deployment per process type,
// with Dokku's object model (names, labels, annotations, selectors;
// docs/dokku-behaviour.md#k3s-objects), written by server-side apply with
// typed objects instead of a Helm chart.
package k3s

import (
	"log/slog"
	"sync"

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

	mu   sync.Mutex
	apps map[string]*sync.Mutex // per-app serialisation of Deploy/Stop/Destroy
}

// New returns the k3s scheduler.
func New(st *store.Store, images Images, logger *slog.Logger) *Scheduler {
	return &Scheduler{Store: st, Images: images, Logger: logger}
}

// Name is "k3s".
func (s *Scheduler) Name() string { return Name }

func (s *Scheduler) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// lockApp serialises the work on one app's objects.
func (s *Scheduler) lockApp(app string) func() {
	s.mu.Lock()
	if s.apps == nil {
		s.apps = map[string]*sync.Mutex{}
	}
	m := s.apps[app]
	if m == nil {
		m = &sync.Mutex{}
		s.apps[app] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}
