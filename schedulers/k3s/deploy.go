package k3s

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dokku-sshd/appjson"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

var _ schedulers.Scheduler = (*Scheduler)(nil)

// ErrNoImage is returned when the release has no image (the null builder).
var ErrNoImage = output.Userf("The k3s scheduler needs an image, and nothing was built: select a builder that builds one, or the null scheduler")

// builderType is the dokku.com/builder-type of what this server builds:
// its one image builder is the Dockerfile builder, and a registry image
// deployed as is (git:from-image) is one too for Dokku.
const builderType = "dockerfile"

// applyOptions are every apply's: the server's field manager, which takes
// over fields another writer changed (kubectl edit) as Dokku's chart does.
var applyOptions = metav1.ApplyOptions{FieldManager: FieldManager, Force: true}

// run is one Deploy in progress.
type run struct {
	s       *Scheduler
	r       *schedulers.Release
	out     io.Writer
	c       *cluster
	app     string
	appJSON *appjson.File
	sp      *spec
	// prev is each process type's Deployment as the deploy found it (nil
	// entries absent): what a failed or cancelled rollout puts back.
	prev map[string]*appsv1.Deployment
	// prevSecrets are config-APP and pull-secret-APP as the deploy found
	// them (nil entries absent), put back with prev.
	prevSecrets map[string]*corev1.Secret
	applied     bool // a Secret or Deployment was written: a failure must put prev back
	timeout     time.Duration
	rollback    bool // rollback-on-failure
}

// Deploy applies the release's objects by server-side apply and waits,
// with watches, until every Deployment is rolled out; then the Deployments
// and Services of process types the release no longer has are deleted. A
// rollout that fails or passes deploy-timeout fails the deploy with the
// failing pods' events (rollback-on-failure puts the previous Secrets and
// pod templates back first); a cancelled ctx (the client went away) puts
// them back at once. docs/dokku-behaviour.md#k3s-objects.
func (s *Scheduler) Deploy(ctx context.Context, r *schedulers.Release) (err error) {
	if r.Image == "" {
		return ErrNoImage
	}
	unlock, err := s.lockApp(ctx, r.App, "deploy", r.Out)
	if err != nil {
		return err
	}
	defer unlock()
	d := &run{s: s, r: r, out: r.Out, app: r.App}
	if d.out == nil {
		d.out = io.Discard
	}
	defer func() {
		if err != nil && ctx.Err() != nil {
			output.Warn(d.out, "Deployment of %s has been cancelled", r.App)
			if d.applied {
				d.restore(context.WithoutCancel(ctx), false)
			}
			err = ctx.Err()
		}
	}()
	if err := d.plan(ctx); err != nil {
		return err
	}
	output.Info2(d.out, "Installing %s", r.App)
	start := time.Now()
	if err := d.apply(ctx); err != nil {
		if d.applied && ctx.Err() == nil {
			d.restore(context.WithoutCancel(ctx), d.rollback)
		}
		return err
	}
	if err := d.c.waitRollout(ctx, d.app, d.deploymentNames(), start, d.out, d.timeout); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return d.failed(ctx, err)
	}
	d.prune(ctx)
	if !r.Redeploy {
		if err := appjson.Commit(s.Store, r.App, r.Image); err != nil {
			s.log().Warn("commit app.json", "app", r.App, "err", err)
		}
	}
	output.Info1(d.out, "Running post-deploy")
	return nil
}

// failed ends a rollout that failed: with rollback-on-failure the previous
// pod templates go back and are waited for.
func (d *run) failed(ctx context.Context, err error) error {
	if !d.rollback {
		return err
	}
	var ue *output.Error
	if d.restore(ctx, true) && errors.As(err, &ue) {
		return output.Userf("%s; rolled back to the previous release", ue.Msg)
	}
	return err
}

// plan reads everything the deploy writes: the image by digest, app.json,
// the scale, the app's settings and its Deployments as they are now.
func (d *run) plan(ctx context.Context) error {
	s, r := d.s, d.r
	image, err := s.releaseImage(ctx, r, d.out)
	if err != nil {
		return err
	}
	if d.appJSON, err = releaseAppJSON(s, r); err != nil {
		return err
	}
	scale, err := schedulers.SyncScale(s.Store, r.App, d.appJSON, r.Process)
	if err != nil {
		return err
	}
	if d.timeout, err = s.deployTimeout(r.App); err != nil {
		return err
	}
	rb, err := s.prop(r.App, "rollback-on-failure")
	if err != nil {
		return err
	}
	if d.rollback, err = strconv.ParseBool(rb); err != nil {
		return output.Userf("Invalid rollback-on-failure value specified: %s (true or false)", rb)
	}
	if d.c, err = s.connect(ctx, r.App); err != nil {
		return err
	}
	if d.prev, err = d.c.processDeployments(ctx, r.App); err != nil {
		return err
	}
	d.sp, err = s.buildSpec(r, image, d.appJSON, scale, d.prev)
	if err != nil {
		return err
	}
	d.sp.Namespace = d.c.ns
	// Read before pullSecret, which may delete pull-secret-APP.
	if d.prevSecrets, err = d.c.secretsNow(ctx, ConfigSecretName(r.App), PullSecretName(r.App)); err != nil {
		return err
	}
	return s.pullSecret(ctx, d.c, d.sp)
}

// releaseImage is the image the cluster pulls, by digest: a reference
// with a digest as it is, a registry image (git:from-image) resolved, a
// built image pushed to the app's registry once, after its build; a
// redeploy of that build deploys what the push made, with no Docker, no
// local image and no new tag.
func (s *Scheduler) releaseImage(ctx context.Context, r *schedulers.Release, out io.Writer) (string, error) {
	if strings.Contains(r.Image, "@sha256:") {
		return r.Image, nil
	}
	if r.Redeploy && !r.Remote {
		ref, err := s.pushedRef(r.App, r.Image)
		if err != nil || ref != "" {
			return ref, err
		}
	}
	if s.Images == nil {
		return "", output.Userf("The k3s scheduler deploys images from a registry, and no registry is set for %s: set one with 'registry:set --global server HOST' (or 'registry:set %s server HOST')", r.App, r.App)
	}
	if r.Remote {
		return s.Images.Resolve(ctx, r.App, r.Image)
	}
	ref, err := s.Images.Push(ctx, r.App, r.Image, out)
	if err != nil {
		return "", err
	}
	if err := recordPushed(s.Store, r.App, r.Image, ref); err != nil {
		// The deploy goes on: a redeploy without the record pushes again.
		s.log().Warn("record the pushed image", "app", r.App, "err", err)
	}
	return ref, nil
}

// releaseAppJSON is the app.json the release runs with (as docker-local
// reads it): a redeploy's own, a registry image's (Remote) the one of the
// app's tree, as nothing was built to stage one, else the one its build
// staged.
func releaseAppJSON(s *Scheduler, r *schedulers.Release) (*appjson.File, error) {
	if r.Redeploy || r.Remote {
		if len(r.AppJSON) > 0 {
			return appjson.Parse(r.AppJSON)
		}
		return nil, nil
	}
	return appjson.ForDeploy(s.Store, r.App, r.Image)
}

// processDeployments are app's Deployments by process type.
func (c *cluster) processDeployments(ctx context.Context, app string) (map[string]*appsv1.Deployment, error) {
	list, err := c.cs.AppsV1().Deployments(c.ns).List(ctx, metav1.ListOptions{LabelSelector: appSelector(app, "")})
	if err != nil {
		return nil, c.fail("listing the Deployments of "+app, err)
	}
	out := map[string]*appsv1.Deployment{}
	for i := range list.Items {
		dep := &list.Items[i]
		if proc := dep.Labels[LabelName]; proc != "" {
			out[proc] = dep
		}
	}
	return out, nil
}

// buildSpec renders the release into a spec (the namespace and pull
// secret are the caller's).
func (s *Scheduler) buildSpec(r *schedulers.Release, image string, aj *appjson.File, scale []schedulers.ProcessCount, prev map[string]*appsv1.Deployment) (*spec, error) {
	maps, err := schedulers.PortMaps(s.Store, r.App)
	if err != nil {
		return nil, err
	}
	ports, primary, err := k3sPortMaps(maps)
	if err != nil {
		return nil, output.Userf("Invalid port map for %s: %v", r.App, err)
	}
	shm, err := s.prop(r.App, "shm-size")
	if err != nil {
		return nil, err
	}
	startCmd, err := s.Store.Property("ps", r.App, "dockerfile-start-cmd")
	if err != nil {
		return nil, fmt.Errorf("read ps dockerfile-start-cmd of %s: %w", r.App, err)
	}
	sp := &spec{
		App: r.App, Image: image, BuilderType: builderType, Config: r.Config,
		Ports: ports, PrimaryPort: primary, ShmSize: shm,
		meta: func(resource, proc string) (map[string]string, map[string]string, error) {
			return s.customMeta(r.App, resource, proc)
		},
	}
	version := nextVersion(time.Now(), prev)
	for _, pc := range scale {
		cmd := startCmd
		if cmd == "" && r.Process != nil {
			if r.Process[pc.Proc] == "" {
				continue // left the Procfile: pruned once the rollout is done
			}
			cmd = schedulers.ExpandCommand(r.Process[pc.Proc], r.Config, pc.Proc, int(primary))
		}
		args, err := schedulers.SplitWords(cmd)
		if err != nil {
			return nil, output.Userf("Invalid start command for %s: %v", pc.Proc, err)
		}
		p := procSpec{Name: pc.Proc, Replicas: int32(pc.Count), Args: args, Version: version}
		if r.ProcessType != "" && pc.Proc != r.ProcessType {
			// Only the named process type rolls: the others keep their
			// pod template's version.
			if v := templateVersion(prev[pc.Proc]); v != "" {
				p.Version = v
			}
		}
		if aj != nil {
			p.Checks = aj.Healthchecks[pc.Proc]
		}
		sp.Procs = append(sp.Procs, p)
	}
	if r.ProcessType != "" && !slices.ContainsFunc(sp.Procs, func(p procSpec) bool { return p.Name == r.ProcessType }) {
		return nil, output.Userf("Process type %s not found in the scale for app %s", r.ProcessType, r.App)
	}
	sort.Slice(sp.Procs, func(i, j int) bool { return sp.Procs[i].Name < sp.Procs[j].Name })
	return sp, nil
}

// templateVersion is the app.kubernetes.io/version of a Deployment's pod
// template; "" for none.
func templateVersion(d *appsv1.Deployment) string {
	if d == nil {
		return ""
	}
	return d.Spec.Template.Annotations[AnnotationVersion]
}

// nextVersion is the deploy's id, Dokku's unix seconds of the deploy, made
// greater than every current one so that two deploys in one second still
// roll.
func nextVersion(now time.Time, prev map[string]*appsv1.Deployment) string {
	v := now.Unix()
	for _, d := range prev {
		if n, err := strconv.ParseInt(templateVersion(d), 10, 64); err == nil && n >= v {
			v = n + 1
		}
	}
	return strconv.FormatInt(v, 10)
}

// pullSecret decides the pods' pull secret: the image-pull-secrets
// property names one of the user's; else the registry's credentials
// become pull-secret-APP, which goes when there are none.
func (s *Scheduler) pullSecret(ctx context.Context, c *cluster, sp *spec) error {
	named, err := s.prop(sp.App, "image-pull-secrets")
	if err != nil {
		return err
	}
	if named == "" && s.Images != nil {
		if sp.PullSecret, err = s.Images.PullSecret(sp.App); err != nil {
			return err
		}
		if sp.PullSecret != nil {
			named = PullSecretName(sp.App)
		}
	}
	sp.ImagePullSecret = named
	if sp.PullSecret == nil {
		err := c.cs.CoreV1().Secrets(c.ns).Delete(ctx, PullSecretName(sp.App), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return c.fail("removing Secret "+PullSecretName(sp.App), err)
		}
	}
	return nil
}

// deploymentNames are the names of the release's Deployments.
func (d *run) deploymentNames() []string {
	names := make([]string, 0, len(d.sp.Procs))
	for _, p := range d.sp.Procs {
		names = append(names, deploymentName(d.app, p.Name))
	}
	return names
}
