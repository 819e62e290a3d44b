// Package schedulers holds the Scheduler interface that runs released
// apps, the registry the deploy pipeline picks one from by name
// (Selected: scheduler:set <app> selected <name>), the release record of
// what runs (record.go) and the ps:scale rules every scheduler shares
// (scale.go).
package schedulers

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"dokku-sshd/output"
)

// Release is what a scheduler deploys: an app at one built revision.
type Release struct {
	App     string
	Image   string            // image reference; "" when nothing was built (null builder)
	Rev     string            // git revision the release was built from
	Config  map[string]string // the app's merged config vars (global, then the app's)
	Process map[string]string // Procfile: process type -> command; nil when there is no Procfile
	Out     io.Writer         // the client's terminal (Dokku's output helpers' format)
	// ProcessType limits the deploy to one process type (Dokku's
	// scheduler-deploy PROCESS_TYPE argument: ps:scale of one type,
	// ps:restart <app> <proc>); "" deploys every type.
	ProcessType string
	// Redeploy marks the recorded release deployed again without a build
	// (see Deployed): Image is its image id and AppJSON its app.json (nil:
	// none), not what a build staged.
	Redeploy bool
	AppJSON  json.RawMessage
	// Legacy marks a redeploy of an app deployed before releases were
	// recorded: Image is only its tag, which a failed build may have
	// moved; a scheduler that knows what the app's processes run starts
	// that instead.
	Legacy bool
	// Remote marks Image as a reference to an image already in a registry,
	// by digest (git:from-image on a RegistryPuller): deployed as is, with
	// no build and no push. AppJSON is then the app.json of the app's tree
	// (nil: none), as nothing was built to stage one.
	Remote bool
}

// RegistryPuller is a scheduler whose apps run images pulled from a
// registry (k3s), never the host's own: git:from-image of an image in a
// registry deploys it by digest with no build (Release.Remote), and the
// scheduler pushes what is built itself, so the pipeline's
// push-on-release leaves it alone.
type RegistryPuller interface {
	// ResolveImage returns ref, an image in a registry, by digest
	// (NAME@sha256:...) without pulling it; an error when ref is not in a
	// registry the scheduler can reach for app.
	ResolveImage(ctx context.Context, app, ref string) (string, error)
}

// Scheduler runs apps. The methods mirror Dokku's scheduler triggers
// (docs/dokku-behaviour.md#scheduler-contract); ps:start, ps:restart and
// ps:rebuild are a Deploy of the deployed image (or a new build), as in Dokku,
// not methods of their own.
type Scheduler interface {
	Name() string
	// Deploy starts the release and retires what ran before
	// (scheduler-deploy).
	Deploy(ctx context.Context, r *Release) error
	// Status reports "<process count> <true|false|mixed>" as Dokku's
	// scheduler-app-status does.
	Status(ctx context.Context, app string) (count int, running string, err error)
	// IsDeployed reports whether anything of app was deployed.
	IsDeployed(ctx context.Context, app string) (bool, error)
	// Destroy removes everything the scheduler keeps for app: containers,
	// images, state (apps:destroy: scheduler-stop with removal,
	// scheduler-post-delete, post-delete).
	Destroy(ctx context.Context, app string) error
	// Stop stops every process of app and keeps what is needed to start
	// it again (ps:stop, scheduler-stop).
	Stop(ctx context.Context, app string) error
	// Retire removes the containers and images of app ("" for every app)
	// whose retirement time has passed (ps:retire, scheduler-retire),
	// saying what it does on out.
	Retire(ctx context.Context, app string, out io.Writer) error
	// Inspect writes what ps:inspect prints (scheduler-inspect).
	Inspect(ctx context.Context, app string, w io.Writer) error
	// CloneSetup is called after the state of from was copied to to by
	// apps:clone or apps:rename (post-app-clone-setup,
	// post-app-rename-setup): what belongs to from's running processes
	// must not be taken over by to.
	CloneSetup(ctx context.Context, from, to string) error
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

// All returns every scheduler, sorted by name.
func (r *Registry) All() []Scheduler {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Scheduler, 0, len(r.m))
	for _, name := range slices.Sorted(maps.Keys(r.m)) {
		out = append(out, r.m[name])
	}
	return out
}

// Get returns the scheduler called name, or the message saying it is not
// available; a nil registry (a server without deploys) has none.
func (r *Registry) Get(name string) (Scheduler, error) {
	names := "none"
	if r != nil {
		r.mu.RLock()
		defer r.mu.RUnlock()
		if s, ok := r.m[name]; ok {
			return s, nil
		}
		if len(r.m) > 0 {
			names = strings.Join(slices.Sorted(maps.Keys(r.m)), ", ")
		}
	}
	return nil, output.Userf("The %s scheduler is not available on this server (available: %s)", name, names)
}

// ProcessStatuser is implemented by schedulers that can tell the state of
// each process of an app (ps:report's --status-<proc>.<n> on docker-local).
type ProcessStatuser interface {
	// ProcessStatuses maps each dyno (web.1) to Dokku's
	// "<state> (CID: <id[:11]>)", state "missing" when the container is gone.
	ProcessStatuses(ctx context.Context, app string) (map[string]string, error)
}

// Checker is implemented by schedulers that run an app's zero-downtime
// checks against its running processes on demand (checks:run).
type Checker interface {
	// RunChecks checks target of app: "" every process type of its scale,
	// "web" one type, "web.2" one process. The transcript goes to out; an
	// unknown type or process, or a failed check, is an error (the
	// transcript already says which checks failed).
	RunChecks(ctx context.Context, app, target string, out io.Writer) error
}

// DomainsUpdater is implemented by schedulers that route an app's domains
// themselves (k3s: its Ingresses). The domains commands call it after
// every change of an app's domains, so the routes change at once, without
// a redeploy; a scheduler does nothing for an app it has not deployed.
type DomainsUpdater interface {
	DomainsUpdated(ctx context.Context, app string, out io.Writer) error
}

// CertsUpdater is implemented by schedulers that serve an app's imported
// certificate themselves (k3s: Secret tls-APP for its Ingresses), the
// scheduler's post-certs-update and post-certs-remove. The certs commands
// call it before they change the app's certificate files, so a scheduler
// that fails leaves the files as they were.
type CertsUpdater interface {
	// CertsUpdated makes crt and key app's certificate.
	CertsUpdated(ctx context.Context, app string, crt, key []byte, out io.Writer) error
	// CertsRemoved stops serving app's imported certificate.
	CertsRemoved(ctx context.Context, app string, out io.Writer) error
}

// Watcher is implemented by schedulers that can tell, as it happens, that
// an app's processes changed (a container started or died, a pod became
// ready): the dashboard's lists then update without polling.
type Watcher interface {
	// Watch calls changed with an app's name each time one of its
	// processes changes, until ctx ends (nil) or the watch fails.
	Watch(ctx context.Context, changed func(app string)) error
}

// Router routes HTTP requests for an app's domains to its web processes
// (the proxy: docker-local's nginx). docker-local calls it once a
// deploy's new containers passed their checks and before the old ones
// retire, and when an app's web processes stop or go.
type Router interface {
	// Route points app's routes at web, the addresses of its web
	// processes (none: requests get 502), after the new config was
	// validated; an error leaves the previous routes in place and says
	// why. Its progress lines go to out.
	Route(ctx context.Context, app string, web []string, out io.Writer) error
	// Unroute removes app's routes.
	Unroute(ctx context.Context, app string) error
}
