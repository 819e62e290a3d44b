package deploy

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"dokku-sshd/internal/dockertest"
	"dokku-sshd/internal/k8stest"
	"dokku-sshd/registry"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/null"
)

// pullingScheduler stands for a scheduler whose apps run images from a
// registry (k3s), for the pipeline's side of it: it keeps the releases it
// is given and resolves images through the real registry plugin.
type pullingScheduler struct {
	null.Scheduler
	reg  *registry.Registry
	mu   sync.Mutex
	rels []schedulers.Release
}

func (s *pullingScheduler) Name() string { return "pulling" }

func (s *pullingScheduler) Deploy(_ context.Context, r *schedulers.Release) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rels = append(s.rels, *r)
	return nil
}

func (s *pullingScheduler) ResolveImage(ctx context.Context, app, ref string) (string, error) {
	return s.reg.Resolve(ctx, app, ref)
}

func (s *pullingScheduler) last(t *testing.T) schedulers.Release {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rels) == 0 {
		t.Fatal("nothing deployed")
	}
	return s.rels[len(s.rels)-1]
}

// registryPipeline is a pipeline with real Docker builds, the registry
// plugin on the real Engine, and the null and pulling schedulers, and an
// app of a name of its own (its dokku/<app> images are removed at the
// end) whose registry server is host.
func registryPipeline(t *testing.T, host string) (p *Pipeline, sched *pullingScheduler, app, base string) {
	t.Helper()
	cli := dockertest.Require(t)
	p = testPipeline(t)
	app = dockertest.Name("dst-reg")
	if err := p.Store.CreateApp(app, 1); err != nil {
		t.Fatal(err)
	}
	p.Registry = registry.New(p.Store, cli)
	sched = &pullingScheduler{reg: p.Registry}
	p.Schedulers.Register(sched)
	p.Builders = []Builder{DockerfileDetector{BuildFunc: DockerBuild(cli, p.Store)}, NullBuilder{}}
	dockertest.CleanupApp(t, cli, app)
	if err := p.Store.SetProperty(registry.Plugin, app, registry.PropServer, host); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "init", "--bare", "--quiet", p.Store.AppDir(app))
	cmd.Env = append(os.Environ(), "GIT_TEMPLATE_DIR=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	return p, sched, app, dockertest.EnsureBaseImage(t, cli)
}

func hasManifest(t *testing.T, reg *k8stest.RegistryServer, repo, tag string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _, _, err := reg.Manifest(ctx, repo, tag)
	return err == nil
}

// TestPushOnRelease: with push-on-release a docker-local style app (here
// the null scheduler) is pushed after its build, between Releasing and
// Deploying; a scheduler that pulls from a registry is left to push for
// itself.
func TestPushOnRelease(t *testing.T) {
	reg := k8stest.Registry(t)
	host := reg.Addr
	p, _, app, base := registryPipeline(t, host)
	repo, rev := testRepo(t, map[string]string{"Dockerfile": "FROM " + base + "\nCMD [\"true\"]\n"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	deploy := func() string {
		var out bytes.Buffer
		if err := p.Deploy(ctx, Request{App: app, Kind: "git-hook", Source: GitSource{Repo: repo, Rev: rev}, Out: &out}); err != nil {
			t.Fatalf("deploy: %v\n%s", err, out.String())
		}
		return out.String()
	}

	if out := deploy(); strings.Contains(out, "Pushing image to registry") {
		t.Fatalf("pushed without push-on-release:\n%s", out)
	}
	if err := p.Store.SetProperty(registry.Plugin, app, registry.PropPushOnRelease, "true"); err != nil {
		t.Fatal(err)
	}
	out := deploy()
	t.Logf("deploy output:\n%s", out)
	rel, push, dep := strings.Index(out, "-----> Releasing "+app+"..."), strings.Index(out, "-----> Pushing image to registry"), strings.Index(out, "-----> Deploying "+app+" via the null scheduler...")
	if rel < 0 || push < rel || dep < push {
		t.Fatalf("want Releasing, Pushing, Deploying in that order:\n%s", out)
	}
	if !hasManifest(t, reg, "dokku/"+app, "1") {
		t.Fatalf("dokku/<app>:1 not in the registry after the deploy:\n%s", out)
	}

	if err := p.Store.SetProperty("scheduler", app, "selected", "pulling"); err != nil {
		t.Fatal(err)
	}
	if out := deploy(); strings.Contains(out, "Pushing image to registry") {
		t.Fatalf("the pipeline pushed for a scheduler that pushes itself:\n%s", out)
	}
	if n, _ := registry.TagVersion(p.Store, app); n != 1 {
		t.Fatalf("tag-version %d, want 1", n)
	}
}

// TestFromImageRegistry: git:from-image of an image in a registry, on a
// scheduler that pulls from one, deploys the registry's digest with no
// pull and no build (the pipeline here has no Docker images at all), and
// a redeploy keeps it remote; an image the registry does not have takes
// the docker-local path.
func TestFromImageRegistry(t *testing.T) {
	reg := k8stest.Registry(t)
	host := reg.Addr
	p, sched, app, base := registryPipeline(t, host)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	ref, err := p.Registry.Push(ctx, app, base, &out)
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out.String())
	}
	if err := p.Store.SetProperty("scheduler", app, "selected", "pulling"); err != nil {
		t.Fatal(err)
	}
	p.Images = nil // nothing may be pulled or inspected on the host

	out.Reset()
	if err := p.DeployImage(ctx, FromImage{App: app, Image: host + "/dokku/" + app + ":1", Out: &out}); err != nil {
		t.Fatalf("from-image: %v\n%s", err, out.String())
	}
	t.Logf("from-image output:\n%s", out.String())
	for _, want := range []string{"-----> Image is in a registry, skipping pull and build\n", "       Deploying " + ref + "\n", "=====> Application deployed:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "Step 1") || strings.Contains(out.String(), "Pulling") {
		t.Errorf("built or pulled:\n%s", out.String())
	}
	if r := sched.last(t); !r.Remote || r.Image != ref {
		t.Fatalf("release Remote=%v Image=%q, want remote %q", r.Remote, r.Image, ref)
	}
	d, err := schedulers.LoadDeployed(p.Store, app)
	if err != nil || d == nil || !d.Remote || d.Image != ref || d.ImageID != "" {
		t.Fatalf("deployed record %+v, %v", d, err)
	}
	out.Reset()
	if err := p.Deploy(ctx, Request{App: app, Kind: "ps:restart", Release: d, Out: &out}); err != nil {
		t.Fatalf("redeploy: %v\n%s", err, out.String())
	}
	if r := sched.last(t); !r.Remote || !r.Redeploy || r.Image != ref {
		t.Fatalf("redeploy release Remote=%v Redeploy=%v Image=%q", r.Remote, r.Redeploy, r.Image)
	}

	out.Reset()
	err = p.DeployImage(ctx, FromImage{App: app, Image: host + "/dokku/" + app + ":missing", Out: &out})
	if err == nil || !strings.Contains(err.Error(), "images are not available") || !strings.Contains(out.String(), "Unable to find "+host+"/dokku/"+app+":missing in its registry") {
		t.Fatalf("from-image of an image not in the registry: %v\n%s", err, out.String())
	}
}
