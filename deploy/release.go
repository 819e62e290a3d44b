package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"dokku-sshd/appjson"
	"dokku-sshd/internal/gitexec"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// What runs is recorded by schedulers.SaveDeployed once a deploy succeeds
// (image id, revision, Procfile, app.json, time): the functions here read
// it for the deploys that do not build and for the commands that start
// containers of the deployed release (run).

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
	image, err := st.Property("common", app, "deployed-image")
	if err != nil {
		return nil, fmt.Errorf("read the deployed image of %s: %w", app, err)
	}
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
	if d.AppJSON, err = appjson.Current(st, app); err != nil {
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

// Redeploy releases the recorded release again with the app's current
// config and scale (Dokku's `deploy` for ps:restart and ps:scale), or
// only processType when it is set. With no image recorded it falls back
// to a full rebuild, as Dokku does.
func (p *Pipeline) Redeploy(ctx context.Context, app, kind, processType string, out io.Writer) error {
	return p.redeploy(ctx, Request{App: app, Kind: kind, ProcessType: processType, Out: out})
}

// ReleaseAndDeploy is Redeploy of every process type as Dokku's
// release-and-deploy does it (config changes, ps:start): with its
// "Releasing <app>..." line first, whether or not a process runs.
func (p *Pipeline) ReleaseAndDeploy(ctx context.Context, app, kind string, out io.Writer) error {
	return p.redeploy(ctx, Request{App: app, Kind: kind, Releasing: true, Out: out})
}

// redeploy deploys req.App's recorded release for req.
func (p *Pipeline) redeploy(ctx context.Context, req Request) error {
	app, kind, out := req.App, req.Kind, req.Out
	d, err := DeployedRelease(p.Store, app)
	if err != nil {
		return p.failErr(ctx, out, app, "", err)
	}
	if d == nil || d.Ref() == "" {
		output.Warn(out, "No deployed-image-tag property saved, falling back to full release-and-deploy")
		return p.Rebuild(ctx, app, kind, out)
	}
	req.Release = d
	return p.Deploy(ctx, req)
}

// DefaultRevEnvVar is the config var that carries the deployed revision
// when git's rev-env-var is set neither for the app nor --global.
const DefaultRevEnvVar = "GIT_REV"

// revEnvVar is the config var that carries the deployed revision: git's
// rev-env-var (app, then --global), else DefaultRevEnvVar. Set to empty,
// there is none. An unreadable rev-env-var is an error, not the default.
func (p *Pipeline) revEnvVar(app string) (string, error) {
	name, set, err := p.Store.LookupComputedProperty("git", app, "rev-env-var")
	if err != nil {
		return "", fmt.Errorf("read git rev-env-var of %s: %w", app, err)
	}
	if !set {
		return DefaultRevEnvVar, nil
	}
	return name, nil
}

// setRev records rev as the config var name of app, the way Dokku's git
// plugin does (`config_set --no-restart`, quietly): the store's refusal
// (a rev-env-var that is no valid key, a broken ENV file) is Dokku's
// message for the user.
func (p *Pipeline) setRev(app, name, rev string) error {
	err := p.Store.SetEnv(app, map[string]string{name: rev})
	if store.IsRefusal(err) {
		return output.UserError(err)
	}
	return err
}

// A failed deploy puts back what it wrote on its way that a later restart
// reads: the build's GIT_REV and the port map it detected from the
// Dockerfile (only builds write those, one at a time under the deploy
// lock), and the scale the scheduler derives from app.json (written under
// the release lock, as ps:scale writes it).

// keptValue is a property or config var as it was, set or not.
type keptValue struct {
	value string
	set   bool
}

var (
	buildProps = [][2]string{{"ports", "map-detected"}}
	scaleProps = [][2]string{{"ps", "scale"}, {"ps", "scale.old"}, {"ps", "can-scale"}}
)

// keepProps reads props of app.
func (p *Pipeline) keepProps(app string, props [][2]string) ([]keptValue, error) {
	var out []keptValue
	for _, pk := range props {
		v, set, err := p.Store.LookupProperty(pk[0], app, pk[1])
		if err != nil {
			return nil, fmt.Errorf("read %s %s of %s: %w", pk[0], pk[1], app, err)
		}
		out = append(out, keptValue{v, set})
	}
	return out, nil
}

// restoreProps writes back what keepProps read.
func (p *Pipeline) restoreProps(app string, props [][2]string, kept []keptValue) error {
	var errs []error
	for i, pk := range props {
		v := kept[i]
		// The current value is read only to skip a write that changes
		// nothing: unreadable, the kept value is written back anyway.
		cur, set, err := p.Store.LookupProperty(pk[0], app, pk[1])
		switch {
		case err == nil && cur == v.value && set == v.set:
		case v.set:
			errs = append(errs, p.Store.SetProperty(pk[0], app, pk[1], v.value))
		default:
			errs = append(errs, p.Store.DeleteProperty(pk[0], app, pk[1]))
		}
	}
	return errors.Join(errs...)
}

// keepRev reads the config var name of app.
func (p *Pipeline) keepRev(app, name string) (keptValue, error) {
	if name == "" {
		return keptValue{}, nil
	}
	env, err := p.Store.Env(app)
	if err != nil {
		return keptValue{}, fmt.Errorf("read the config of %s: %w", app, err)
	}
	v, set := env[name]
	return keptValue{v, set}, nil
}

// restoreRev puts name back to kept unless someone set it to another
// value than wrote, the build's revision, meanwhile.
func (p *Pipeline) restoreRev(app, name, wrote string, kept keptValue) error {
	if name == "" {
		return nil
	}
	return p.Store.UpdateEnv(app, func(env map[string]string) (bool, error) {
		if cur, set := env[name]; !set || cur != wrote || (kept.set && kept.value == wrote) {
			return false, nil
		}
		if kept.set {
			env[name] = kept.value
		} else {
			delete(env, name)
		}
		return true, nil
	})
}

// Rebuild builds and deploys the tip of the app's deploy branch again
// (ps:rebuild, apps:rename, apps:clone), under the app's deploy lock.
func (p *Pipeline) Rebuild(ctx context.Context, app, kind string, out io.Writer) error {
	lock, err := p.lockDeploy(app, kind, out)
	if err != nil {
		return err
	}
	defer lock.Release()
	branch, rev, err := p.deployRev(ctx, app)
	if err != nil {
		return p.failErr(ctx, out, app, "", err)
	}
	if rev == "" {
		reason := fmt.Sprintf("Cannot build from '%s' as there are no commits stored at that branch.", branch)
		output.Info1(out, "WARNING: %s", reason)
		return failure(reason)
	}
	return p.Deploy(ctx, Request{App: app, Kind: kind, Source: GitSource{Repo: p.Store.AppDir(app), Rev: rev}, Out: out})
}

// HasCode reports whether the app's deploy branch has a commit (apps:clone
// and apps:rename only rebuild apps that do). A deploy branch that cannot
// be read counts as code: the rebuild reports why it cannot run.
func (p *Pipeline) HasCode(ctx context.Context, app string) bool {
	_, rev, err := p.deployRev(ctx, app)
	return err != nil || rev != ""
}

// deployRev returns the deploy branch and its tip ("" without commits).
func (p *Pipeline) deployRev(ctx context.Context, app string) (branch, rev string, err error) {
	if branch, _, err = DeployBranch(p.Store, app); err != nil {
		return "", "", err
	}
	b, err := gitexec.Output(ctx, p.Store.AppDir(app), nil, nil, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch+"^{commit}")
	if err != nil {
		return branch, "", nil
	}
	return branch, strings.TrimSpace(string(b)), nil
}
