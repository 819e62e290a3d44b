// Package schedulers holds the Scheduler interface that runs released
// apps, and the registry the deploy pipeline picks one from by name
// (scheduler:set <app> selected <name>).
package schedulers

import (
	"context"
	"fmt"
	"io"
	"sort"
	"sync"
)

// Release is what a scheduler deploys: an app at one built revision.
type Release struct {
	App     string
	Image   string            // image reference; "" when nothing was built (null builder)
	Rev     string            // git revision the release was built from
	Env     map[string]string // the app's merged config
	Process map[string]string // Procfile: process type -> command
	Out     io.Writer         // the client's terminal (Dokku's output helpers' format)
}

// Scheduler runs apps.
type Scheduler interface {
	Name() string
	// Deploy starts the release and retires what ran before.
	Deploy(ctx context.Context, r *Release) error
	// Status reports "<process count> <true|false|mixed>" as Dokku's
	// scheduler-app-status does.
	Status(ctx context.Context, app string) (count int, running string, err error)
	// IsDeployed reports whether anything of app was deployed.
	IsDeployed(ctx context.Context, app string) (bool, error)
	// Destroy removes everything the scheduler keeps for app.
	Destroy(ctx context.Context, app string) error
}

// Registry maps names to schedulers.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Scheduler
}

// NewRegistry returns a registry holding ss.
func NewRegistry(ss ...Scheduler) *Registry {
	r := &Registry{m: map[string]Scheduler{}}
	for _, s := range ss {
		r.Register(s)
	}
	return r
}

// Register adds or replaces a scheduler.
func (r *Registry) Register(s Scheduler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[s.Name()] = s
}

// Get returns the scheduler called name.
func (r *Registry) Get(name string) (Scheduler, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if s, ok := r.m[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("the %s scheduler is not available on this server (available: %s)", name, r.namesLocked())
}

func (r *Registry) namesLocked() string {
	names := make([]string, 0, len(r.m))
	for n := range r.m {
		names = append(names, n)
	}
	sort.Strings(names)
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
