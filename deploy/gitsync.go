package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"regexp"
	"strings"

	"dokku-sshd/internal/gitexec"
	"dokku-sshd/output"
	"dokku-sshd/store"
)

// SyncBuild says whether git:sync builds after updating the repository.
type SyncBuild int

const (
	SyncNoBuild        SyncBuild = iota // update the repository only
	SyncBuildAlways                     // --build
	SyncBuildIfChanges                  // --build-if-changes
)

// GitSync is one git:sync: bring Remote's Ref (a branch, tag or commit; the
// deploy branch when empty) into the app's repository as its deploy branch,
// then build as Build says.
type GitSync struct {
	App, Remote, Ref string
	Build            SyncBuild
	// SkipDeployBranch keeps the deploy-branch setting when the first
	// sync's Ref is a branch (Dokku sets deploy-branch to it otherwise).
	SkipDeployBranch bool
	// InitRepo makes the app's repository when it has none (gitrecv's,
	// which deploy cannot import); called once the remote answered. nil:
	// the repository exists.
	InitRepo func(ctx context.Context, dir string) error
	Quiet    bool // --quiet: no "Cloning" line
	Out, Err io.Writer
}

// syncRefs is where a sync fetches to before it moves the deploy branch;
// it is emptied before and after every sync.
const syncRefs = "refs/dokku-sync/"

// What a git:sync deploy records, as Dokku does: the build's source
// (dokku_setup_build_capture <app> git:sync) and the app's deploy-source
// (deploy-source-set <app> git-sync <remote>#<rev>).
const (
	SyncKind         = "git:sync"
	SyncDeploySource = "git-sync"
)

// GitSync runs git:sync (docs/dokku-behaviour.md#git-sync). A remote that
// cannot be read fails with git's message and leaves the repository as it
// was. The deploy lock is held throughout: with a build as a deploy's
// (apps:lock refuses it), without one as the repository's (a running
// deploy refuses it, apps:lock does not).
func (p *Pipeline) GitSync(ctx context.Context, s GitSync) error {
	var lock *store.DeployLock
	var err error
	if s.Build != SyncNoBuild {
		lock, err = p.lockDeploy(s.App, "git:sync", s.Err)
	} else {
		lock, err = p.takeLock(p.Store.TryRepoLock, s.App, "git:sync", s.Err)
	}
	if err != nil {
		return err
	}
	defer lock.Release()

	repo := p.Store.AppDir(s.App)
	shown := redactRemote(s.Remote)
	branch, current, err := p.deployRev(ctx, s.App)
	if err != nil {
		return err
	}
	var rev string
	if current == "" {
		if !s.Quiet {
			output.Info1(s.Out, "Cloning %s from %s#%s", s.App, shown, s.Ref)
		}
		rev, err = p.syncClone(ctx, s, repo, branch)
	} else {
		output.Verbose(s.Out, "Fetching remote code for %s from %s#%s", s.App, shown, s.Ref)
		rev, err = p.syncFetch(ctx, s, repo, branch, current)
	}
	if err != nil {
		return err
	}
	switch {
	case s.Build == SyncNoBuild:
		return nil
	case s.Build == SyncBuildIfChanges && rev == current:
		output.Verbose(s.Out, "Skipping build as no changes were detected")
		return nil
	}
	return p.Deploy(ctx, Request{App: s.App, Kind: SyncKind, DeploySource: SyncDeploySource, Metadata: shown + "#" + rev,
		Source: GitSource{Repo: repo, Rev: rev}, Out: s.Out})
}

// syncClone is the first sync of an app: its deploy branch has no commit.
// A Ref that is a branch of the remote becomes the deploy branch unless
// SkipDeployBranch.
func (p *Pipeline) syncClone(ctx context.Context, s GitSync, repo, branch string) (string, error) {
	ref := s.Ref
	if ref == "" {
		ref = branch
	}
	remoteRefs, err := p.lsRemote(ctx, s.Remote)
	if err != nil {
		return "", err
	}
	if s.InitRepo != nil {
		if err := s.InitRepo(ctx, repo); err != nil {
			return "", err
		}
	}
	full := remoteRef(remoteRefs, ref)
	rev, err := p.syncFetchRef(ctx, repo, s.Remote, ref, full)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(full, "refs/heads/") {
		if s.SkipDeployBranch {
			output.Verbose(s.Out, "Detected branch %s, skipping deploy-branch setting", ref)
		} else {
			output.Verbose(s.Out, "Detected branch, setting deploy-branch to %s", ref)
			if err := p.Store.SetProperty("git", s.App, "deploy-branch", ref); err != nil {
				return "", err
			}
			branch = ref
		}
	}
	// The first sync replaces what the branch of a newly chosen name
	// held, as Dokku's clone does.
	if err := p.moveBranch(ctx, s.App, repo, branch, rev, ""); err != nil {
		return "", err
	}
	return rev, nil
}

// syncFetch updates an app whose deploy branch has a commit, current: to
// the remote's branch (or tag) of the deploy branch's name, or to Ref.
func (p *Pipeline) syncFetch(ctx context.Context, s GitSync, repo, branch, current string) (string, error) {
	ref := s.Ref
	if ref == "" {
		ref = branch
	}
	remoteRefs, err := p.lsRemote(ctx, s.Remote)
	if err != nil {
		return "", err
	}
	full := remoteRef(remoteRefs, ref)
	if s.Ref == "" && full == "" {
		return "", refNotFound(ref) // the deploy branch is a name, never a commit
	}
	rev, err := p.syncFetchRef(ctx, repo, s.Remote, ref, full)
	if err != nil {
		return "", err
	}
	if rev != current {
		if err := p.moveBranch(ctx, s.App, repo, branch, rev, current); err != nil {
			return "", err
		}
	}
	return rev, nil
}

// moveBranch sets the deploy branch from old ("": whatever it is) to rev
// and points HEAD at it.
func (p *Pipeline) moveBranch(ctx context.Context, app, repo, branch, rev, old string) error {
	args := []string{"update-ref", "refs/heads/" + branch, rev}
	if old != "" {
		args = append(args, old)
	}
	if _, err := gitexec.Output(ctx, repo, nil, nil, args...); err != nil {
		return err
	}
	PointHead(ctx, p.Store, app, repo)
	return nil
}

// remoteRef is the full name of ref among the remote's refs: a branch
// first, then a tag (as `git clone --branch` looks for it); "" when it is
// neither.
func remoteRef(refs map[string]bool, ref string) string {
	for _, full := range []string{"refs/heads/" + ref, "refs/tags/" + ref} {
		if refs[full] {
			return full
		}
	}
	return ""
}

// commitish is what git:sync takes for a commit: an object name, in full
// or abbreviated.
var commitish = regexp.MustCompile(`^[0-9a-fA-F]{4,64}$`)

func refNotFound(ref string) error {
	return &output.Error{Msg: "fatal: couldn't find remote ref " + ref, Code: 128, Plain: true}
}

// syncFetchRef fetches the remote's ref full (a branch or tag), or, when
// full is empty, every branch and tag to find the commit ref names, and
// returns the commit.
func (p *Pipeline) syncFetchRef(ctx context.Context, repo, remote, ref, full string) (string, error) {
	if err := clearSyncRefs(ctx, repo); err != nil {
		return "", err
	}
	defer func() { _ = clearSyncRefs(context.WithoutCancel(ctx), repo) }()
	spec := []string{"+" + full + ":" + syncRefs + "ref"}
	want := syncRefs + "ref"
	if full == "" {
		if !commitish.MatchString(ref) {
			return "", refNotFound(ref)
		}
		spec = []string{"+refs/heads/*:" + syncRefs + "heads/*", "+refs/tags/*:" + syncRefs + "tags/*"}
		want = ref
	}
	args := append([]string{"fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--end-of-options", remote}, spec...)
	if _, err := p.remoteGit(ctx, repo, args...); err != nil {
		return "", err
	}
	out, err := gitexec.Output(ctx, repo, nil, nil, "rev-parse", "--verify", "--quiet", "--end-of-options", want+"^{commit}")
	if err != nil {
		return "", refNotFound(ref)
	}
	return strings.TrimSpace(string(out)), nil
}

// clearSyncRefs deletes what a sync fetched to syncRefs.
func clearSyncRefs(ctx context.Context, repo string) error {
	out, err := gitexec.Output(ctx, repo, nil, nil, "for-each-ref", "--format=delete %(refname)", syncRefs)
	if err != nil || len(out) == 0 {
		return err
	}
	_, err = gitexec.Output(ctx, repo, nil, bytes.NewReader(out), "update-ref", "--stdin")
	return err
}

// lsRemote returns the names of the remote's refs.
func (p *Pipeline) lsRemote(ctx context.Context, remote string) (map[string]bool, error) {
	out, err := p.remoteGit(ctx, "", "ls-remote", "--end-of-options", remote)
	if err != nil {
		return nil, err
	}
	refs := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if _, name, ok := strings.Cut(line, "\t"); ok {
			refs[name] = true
		}
	}
	return refs, nil
}

// syncProtocols are the transports a git:sync remote may use: no ext::,
// fd:: or other remote helpers from a client's URL.
const syncProtocols = "file:git:http:https:ssh"

// remoteGit runs git on a remote: with git:auth's netrc (curl reads
// $HOME/.netrc) and only syncProtocols. A failure is git's own message,
// server paths cut, with git's exit status, as Dokku shows it.
func (p *Pipeline) remoteGit(ctx context.Context, repo string, args ...string) ([]byte, error) {
	env := []string{"HOME=" + p.Store.Paths.NetrcHome(), "GIT_ALLOW_PROTOCOL=" + syncProtocols}
	cmd := gitexec.Command(ctx, repo, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	var xe *exec.ExitError
	if errors.As(err, &xe) && ctx.Err() == nil {
		msg := output.CutPaths(strings.TrimSpace(stderr.String()))
		if msg == "" {
			msg = fmt.Sprintf("git %s failed", args[0])
		}
		return nil, &output.Error{Msg: msg, Code: xe.ExitCode(), Plain: true}
	}
	return nil, fmt.Errorf("git %s: %w", args[0], err)
}

// redactRemote is the remote as messages and records show it: a URL's
// password replaced (git:auth is the place for credentials).
func redactRemote(remote string) string {
	if u, err := url.Parse(remote); err == nil && u.User != nil && u.Scheme != "" {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
	}
	return remote
}
