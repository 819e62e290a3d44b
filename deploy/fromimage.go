package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/moby/moby/client"

	"dokku-sshd/internal/gitexec"
	"dokku-sshd/output"
	"dokku-sshd/store"
)

// Images looks up and fetches images for git:from-image.
type Images interface {
	Exists(ctx context.Context, ref string) (bool, error)
	Pull(ctx context.Context, ref string, out io.Writer) error
}

// DockerImages is Images on the Docker Engine API.
type DockerImages struct{ Client *client.Client }

// Exists reports whether ref is on the host.
func (d DockerImages) Exists(ctx context.Context, ref string) (bool, error) {
	_, err := d.Client.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// Pull fetches ref, writing the daemon's status lines to out.
func (d DockerImages) Pull(ctx context.Context, ref string, out io.Writer) error {
	resp, err := d.Client.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return err
	}
	for msg, err := range resp.JSONMessages(ctx) {
		if err != nil {
			return err
		}
		if msg.Error != nil {
			return errors.New(msg.Error.Message)
		}
		if msg.Status != "" && msg.Progress == nil {
			output.Verbose(out, "%s", strings.TrimSpace(msg.ID+" "+msg.Status))
		}
	}
	return nil
}

// FromImage is git:from-image: it commits a Dockerfile `FROM image` to the
// app's deploy branch and deploys it; a failed deploy takes the commit back.
type FromImage struct {
	App       string
	Image     string
	Force     bool   // pull even when the image is on the host
	UserName  string // commit author; default Dokku
	UserEmail string // default automated@dokku.sh
	Out       io.Writer
	Err       io.Writer // the warnings that end it before a deploy; default Out
}

// ErrNoChange is returned when the image is the one already committed.
var ErrNoChange = errors.New("no changes detected")

// DeployImage runs git:from-image under the app's deploy lock.
func (p *Pipeline) DeployImage(ctx context.Context, f FromImage) error {
	out, errw := f.Out, f.Err
	if errw == nil {
		errw = out
	}
	lock, err := p.lockDeploy(f.App, "git:from-image", out)
	if err != nil {
		return err
	}
	defer lock.Release()

	// The name goes into a Dockerfile: only an image reference may.
	if _, err := reference.ParseNormalizedNamed(f.Image); err != nil {
		return fail(errw, "Invalid docker image specified: %s (%v)", f.Image, err)
	}
	output.Info1(out, "Generating build context")
	remote, isRemote := p.registryImage(ctx, f, out)
	if isRemote {
		output.Info1(out, "Image is in a registry, skipping pull and build")
		output.Verbose(out, "Deploying %s", remote)
	} else if err := p.fetchImage(ctx, f, out, errw); err != nil {
		return err
	}

	output.Info1(out, "Updating git repository with specified build context")
	branch, parent, err := p.deployRev(ctx, f.App)
	if err != nil {
		return err
	}
	repo := p.Store.AppDir(f.App)
	dockerfile := fmt.Sprintf("FROM %s\nLABEL com.dokku.docker-image-labeler/alternate-tags=[\"%s\"]\n", f.Image, f.Image)
	rev, err := commitFile(ctx, repo, parent, "Dockerfile", dockerfile, f)
	if errors.Is(err, ErrNoChange) {
		output.Warn(errw, "No changes detected, skipping git commit")
		output.Warn(errw, "Call 'ps:rebuild' on app to rebuild the app from existing source")
		return failure("No changes detected, skipping git commit")
	}
	if err != nil {
		return err
	}
	ref := "refs/heads/" + branch
	if err := updateRef(ctx, repo, ref, rev, parent); err != nil {
		return err
	}
	PointHead(ctx, p.Store, f.App, repo)
	err = p.Deploy(ctx, Request{App: f.App, Kind: "git:from-image", DeploySource: "docker-image", Metadata: f.Image, Source: GitSource{Repo: repo, Rev: rev}, Out: out, Remote: remote})
	if err != nil {
		// The branch goes back to what it was, as Dokku's from-image does.
		if rerr := updateRef(context.WithoutCancel(ctx), repo, ref, parent, rev); rerr != nil {
			p.log().Warn("roll back from-image commit", "app", f.App, "err", rerr)
		}
	}
	return err
}

// fetchImage makes sure f.Image is on the host for the build FROM it:
// pulled when it is missing, or always with f.Force.
func (p *Pipeline) fetchImage(ctx context.Context, f FromImage, out, errw io.Writer) error {
	if p.Images == nil {
		return errors.New("images are not available on this server (no Docker client)")
	}
	exists, err := p.Images.Exists(ctx, f.Image)
	if err != nil {
		return fmt.Errorf("inspect image %s: %w", f.Image, err)
	}
	switch {
	case f.Force:
		output.Info1(out, "Force pulling image")
	case exists:
		output.Info1(out, "Image exists on host, skipping pull")
	default:
		output.Info1(out, "Pulling image")
	}
	if f.Force || !exists {
		if err := p.Images.Pull(ctx, f.Image, out); err != nil {
			output.Warn(errw, "Failed to pull image: %s", f.Image)
			p.log().Warn("pull failed", "app", f.App, "image", f.Image, "err", err)
			return failure(fmt.Sprintf("Failed to pull image %s: %s", f.Image, output.CutPaths(err.Error())))
		}
	}
	return nil
}

// lockDeploy takes app's deploy lock, with Dokku's message when it is held.
func (p *Pipeline) lockDeploy(app, holder string, out io.Writer) (*store.DeployLock, error) {
	return p.takeLock(p.Store.TryDeployLock, app, holder, out)
}

// takeLock takes app's deploy lock with try (the store's TryDeployLock, or
// TryRepoLock for work on the repository that is no deploy), with Dokku's
// message when it is held.
func (p *Pipeline) takeLock(try func(app, holder string) (*store.DeployLock, error), app, holder string, out io.Writer) (*store.DeployLock, error) {
	lock, err := try(app, fmt.Sprintf("pid %d %s", os.Getpid(), holder))
	if errors.Is(err, store.ErrDeployLocked) {
		output.Warn(out, "%s currently has a deploy lock in place. Exiting...", app)
		output.Warn(out, "Run 'apps:unlock' to release the existing deploy lock")
		return nil, failure(app + " currently has a deploy lock in place")
	}
	if err != nil {
		return nil, fmt.Errorf("deploy lock of %s: %w", app, err)
	}
	return lock, nil
}

// commitFile makes a commit whose tree is parent's with name set to
// content (a one-file tree without parent); ErrNoChange when the tree
// would not change.
func commitFile(ctx context.Context, repo, parent, name, content string, f FromImage) (string, error) {
	git := func(stdin string, env []string, args ...string) (string, error) {
		out, err := gitexec.Output(ctx, repo, env, strings.NewReader(stdin), args...)
		return strings.TrimSpace(string(out)), err
	}
	blob, err := git(content, nil, "hash-object", "-w", "--stdin")
	if err != nil {
		return "", err
	}
	// The parent's entries, with name replaced; a temporary index keeps
	// the repository's own untouched.
	index, err := os.CreateTemp("", "from-image-index-*")
	if err != nil {
		return "", err
	}
	index.Close()
	os.Remove(index.Name()) // git wants to create it
	defer os.Remove(index.Name())
	env := []string{"GIT_INDEX_FILE=" + index.Name()}
	if parent != "" {
		if _, err := git("", env, "read-tree", parent); err != nil {
			return "", err
		}
	}
	if _, err := git("", env, "update-index", "--add", "--cacheinfo", "100644,"+blob+","+name); err != nil {
		return "", err
	}
	tree, err := git("", env, "write-tree")
	if err != nil {
		return "", err
	}
	args := []string{"commit-tree", tree, "-m", "Deploy image " + f.Image}
	if parent != "" {
		old, err := git("", nil, "rev-parse", parent+"^{tree}")
		if err != nil {
			return "", err
		}
		if old == tree {
			return "", ErrNoChange
		}
		args = append(args, "-p", parent)
	}
	who, mail := f.UserName, f.UserEmail
	if who == "" {
		who = "Dokku"
	}
	if mail == "" {
		mail = "automated@dokku.sh"
	}
	return git("", []string{"GIT_AUTHOR_NAME=" + who, "GIT_AUTHOR_EMAIL=" + mail, "GIT_COMMITTER_NAME=" + who, "GIT_COMMITTER_EMAIL=" + mail}, args...)
}

// updateRef moves ref from old ("" for none) to rev, compare-and-swap.
func updateRef(ctx context.Context, repo, ref, rev, old string) error {
	if old == "" {
		old = strings.Repeat("0", 40)
	}
	args := []string{"update-ref", ref, rev, old}
	if strings.Trim(rev, "0") == "" || rev == "" {
		args = []string{"update-ref", "-d", ref, old}
	}
	return gitexec.Run(gitexec.Command(ctx, repo, nil, args...), "git update-ref "+ref)
}
