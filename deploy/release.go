package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"sort"
	"strings"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// What runs is recorded by schedulers.SaveDeployed once a deploy succeeds
// (image id, revision, Procfile, app.json, time): the functions here read
// it for the deploys that do not build and for the commands that start
// containers of the deployed release (run).

// FormatProcfile writes process types sorted by name, one `type: command`
// line each.
func FormatProcfile(procs map[string]string) string {
	names := make([]string, 0, len(procs))
	for n := range procs {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s: %s\n", n, procs[n])
	}
	return b.String()
}

// DeployedRelease returns the release app runs; nil when nothing was
// deployed.
//
// An app deployed before releases were recorded has no record: its
// release is made up from what was kept then, the common/deployed-image
// property (the dokku/<app>:latest tag, which a failed build may have
// moved since), the deployed Procfile (LIB/data/ps/<app>/Procfile) and the
// app.json the scheduler last committed (the docker-local scheduler starts
// the image the app's containers run, from its state files, rather than
// the tag). Its next successful deploy writes a record.
func DeployedRelease(st *store.Store, app string) (*schedulers.Deployed, error) {
	d, err := schedulers.LoadDeployed(st, app)
	if err != nil || d != nil {
		return d, err
	}
	image, _ := st.Property("common", app, "deployed-image")
	if image == "" {
		return nil, nil
	}
	d = &schedulers.Deployed{Image: image, Legacy: true}
	data, err := os.ReadFile(schedulers.LegacyProcfilePath(st, app))
	switch {
	case err == nil:
		if d.Procfile, err = ParseProcfile(data); err != nil {
			return nil, fmt.Errorf("read the deployed Procfile of %s: %w", app, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read the deployed Procfile of %s: %w", app, err)
	}
	if d.AppJSON, err = schedulers.CurrentAppJSON(st, app); err != nil {
		return nil, fmt.Errorf("read the app.json of %s: %w", app, err)
	}
	return d, nil
}

// DeployedProcfile returns the Procfile of the deployed release; nil when
// it had none.
func DeployedProcfile(st *store.Store, app string) (map[string]string, error) {
	d, err := DeployedRelease(st, app)
	if err != nil || d == nil {
		return nil, err
	}
	return d.Procfile, nil
}

// DeployedImage returns the image of the app's last successful deploy, by
// id (by name for an app deployed before releases were recorded); "" when
// nothing was deployed (or only by the null builder).
func DeployedImage(st *store.Store, app string) string {
	d, _ := DeployedRelease(st, app)
	if d == nil {
		return ""
	}
	return d.Ref()
}

// Redeploy releases the recorded release again with the app's current
// config and scale (Dokku's `deploy` for ps:start, ps:restart, ps:scale and
// config changes), or only processType when it is set. With no image
// recorded it falls back to a full rebuild, as Dokku does.
func (p *Pipeline) Redeploy(ctx context.Context, app, kind, processType string, out io.Writer) error {
	d, err := DeployedRelease(p.Store, app)
	if err != nil {
		return fail(out, "%v", err)
	}
	if d == nil || d.Ref() == "" {
		output.Warn(out, "No deployed-image-tag property saved, falling back to full release-and-deploy")
		return p.Rebuild(ctx, app, kind, out)
	}
	return p.Deploy(ctx, Request{App: app, Kind: kind, Release: d, ProcessType: processType, Out: out})
}

// revEnvVar is the config var that carries the deployed revision
// (git:set rev-env-var names it; set to empty, there is none).
func (p *Pipeline) revEnvVar(app string) string {
	name, set, _ := p.Store.LookupProperty("git", app, "rev-env-var")
	if !set {
		name, set, _ = p.Store.LookupProperty("git", store.Global, "rev-env-var")
	}
	if !set {
		return "GIT_REV"
	}
	return name
}

// keptProps are the properties a deploy writes on its way that a later
// restart reads: the port map detected from the Dockerfile, and the scale
// the scheduler derives from app.json.
var keptProps = [][2]string{
	{"ports", "map-detected"},
	{"ps", "scale"},
	{"ps", "scale.old"},
	{"ps", "can-scale"},
}

// kept is the state of the deployed release before a deploy starts.
type kept struct {
	props  []keptValue
	rev    keptValue
	revVar string
}

type keptValue struct {
	value string
	set   bool
}

func (p *Pipeline) keep(app string) (*kept, error) {
	k := &kept{revVar: p.revEnvVar(app)}
	for _, pk := range keptProps {
		v, set, err := p.Store.LookupProperty(pk[0], app, pk[1])
		if err != nil {
			return nil, fmt.Errorf("read %s %s of %s: %w", pk[0], pk[1], app, err)
		}
		k.props = append(k.props, keptValue{v, set})
	}
	if k.revVar != "" {
		env, err := p.Store.Env(app)
		if err != nil {
			return nil, fmt.Errorf("read the config of %s: %w", app, err)
		}
		k.rev.value, k.rev.set = env[k.revVar]
	}
	return k, nil
}

// restoreKept puts back what keep saw, after a failed deploy.
func (p *Pipeline) restoreKept(app string, k *kept) error {
	var errs []error
	for i, pk := range keptProps {
		v := k.props[i]
		cur, set, _ := p.Store.LookupProperty(pk[0], app, pk[1])
		if cur == v.value && set == v.set {
			continue
		}
		if v.set {
			errs = append(errs, p.Store.SetProperty(pk[0], app, pk[1], v.value))
		} else {
			errs = append(errs, p.Store.DeleteProperty(pk[0], app, pk[1]))
		}
	}
	if k.revVar != "" {
		errs = append(errs, p.Store.UpdateEnv(app, func(env map[string]string) (bool, error) {
			cur, set := env[k.revVar]
			if cur == k.rev.value && set == k.rev.set {
				return false, nil
			}
			if k.rev.set {
				env[k.revVar] = k.rev.value
			} else {
				delete(env, k.revVar)
			}
			return true, nil
		}))
	}
	return errors.Join(errs...)
}

// Rebuild builds and deploys the tip of the app's deploy branch again
// (ps:rebuild, apps:rename, apps:clone), under the app's deploy lock.
func (p *Pipeline) Rebuild(ctx context.Context, app, kind string, out io.Writer) error {
	lock, err := p.lockDeploy(app, kind, out)
	if err != nil {
		return err
	}
	defer lock.Release()
	branch, rev := p.deployRev(ctx, app)
	if rev == "" {
		reason := fmt.Sprintf("Cannot build from '%s' as there are no commits stored at that branch.", branch)
		output.Info1(out, "WARNING: %s", reason)
		return &Failure{Reason: reason}
	}
	return p.Deploy(ctx, Request{App: app, Kind: kind, Source: GitSource{Repo: p.Store.AppDir(app), Rev: rev}, Out: out})
}

// HasCode reports whether the app's deploy branch has a commit (apps:clone
// and apps:rename only rebuild apps that do).
func (p *Pipeline) HasCode(ctx context.Context, app string) bool {
	_, rev := p.deployRev(ctx, app)
	return rev != ""
}

// deployRev returns the deploy branch and its tip ("" without commits).
func (p *Pipeline) deployRev(ctx context.Context, app string) (branch, rev string) {
	branch, _ = DeployBranch(p.Store, app)
	b, err := exec.CommandContext(ctx, "git", "--git-dir", p.Store.AppDir(app), "rev-parse", "--verify", "--quiet", "refs/heads/"+branch+"^{commit}").Output()
	if err != nil {
		return branch, ""
	}
	return branch, strings.TrimSpace(string(b))
}
