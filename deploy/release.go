package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// What a deploy leaves for the deploys that do not build (ps:restart,
// ps:scale, config changes): the image, as the property
// common/<app>/deployed-image, and the Procfile it was deployed with, where
// Dokku keeps it (LIB/data/ps/<app>/Procfile).

func procfilePath(st *store.Store, app string) string {
	return filepath.Join(st.AppDataDir("ps", app), "Procfile")
}

func saveDeployed(st *store.Store, app, image string, procfile map[string]string) error {
	p := procfilePath(st, app)
	if procfile == nil {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the deployed Procfile: %w", err)
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("keep the deployed Procfile: %w", err)
		}
		if err := store.WriteFileAtomic(p, []byte(FormatProcfile(procfile)), 0o644); err != nil {
			return fmt.Errorf("keep the deployed Procfile: %w", err)
		}
	}
	if image == "" {
		return st.DeleteProperty("common", app, "deployed-image")
	}
	return st.SetProperty("common", app, "deployed-image", image)
}

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

// DeployedProcfile returns the Procfile of the deployed release; nil when
// it had none.
func DeployedProcfile(st *store.Store, app string) (map[string]string, error) {
	data, err := os.ReadFile(procfilePath(st, app))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the deployed Procfile: %w", err)
	}
	return ParseProcfile(data)
}

// DeployedImage returns the image of the app's last successful deploy; ""
// when nothing was deployed (or only by the null builder).
func DeployedImage(st *store.Store, app string) string {
	v, _ := st.Property("common", app, "deployed-image")
	return v
}

// Redeploy releases the deployed image again with the app's current
// config and scale (Dokku's `deploy` for ps:start, ps:restart, ps:scale and
// config changes), or only processType when it is set. With no image saved
// it falls back to a full rebuild, as Dokku does.
func (p *Pipeline) Redeploy(ctx context.Context, app, kind, processType string, out io.Writer) error {
	image := DeployedImage(p.Store, app)
	if image == "" {
		output.Warn(out, "No deployed-image-tag property saved, falling back to full release-and-deploy")
		return p.Rebuild(ctx, app, kind, out)
	}
	return p.Deploy(ctx, Request{App: app, Kind: kind, Image: image, ProcessType: processType, Out: out})
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
		output.Info1(out, "WARNING: Cannot build from '%s' as there are no commits stored at that branch.", branch)
		return ErrFailed
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
