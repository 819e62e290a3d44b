package deploy

import (
	"context"
	"errors"
	"io"
	"strings"

	"dokku-sshd/internal/gitexec"
	"dokku-sshd/output"
	"dokku-sshd/store"
)

// RefUpdate is one ref of a push.
type RefUpdate struct {
	Ref      string
	Old, New string // 40-hex object ids; New is all zeros for a delete
}

func (u RefUpdate) isDelete() bool { return strings.Trim(u.New, "0") == "" }

// DefaultDeployBranch is git's deploy-branch when neither the app nor
// --global sets one.
const DefaultDeployBranch = "master"

// DeployBranch is the app's deploy branch: git's computed deploy-branch
// (app, then --global), else DefaultDeployBranch
// (docs/dokku-behaviour.md#deploy-branch); set reports whether either
// property is set.
func DeployBranch(st *store.Store, app string) (branch string, set bool, err error) {
	v, err := st.ComputedProperty("git", app, "deploy-branch", "")
	if err != nil || v == "" {
		return DefaultDeployBranch, false, err
	}
	return v, true, nil
}

func validBranchName(ctx context.Context, b string) bool {
	_, err := gitexec.Output(ctx, "", nil, nil, "check-ref-format", "--branch", b)
	return err == nil
}

// GitPush applies Dokku's deploy branch rules to the refs of a push (the
// pre-receive hook of docs/dokku-behaviour.md#deploy-branch) and deploys the
// deploy branch (or the tag named like it). An error rejects the whole push.
// Dokku prefixes its own hook warnings with ESC[1G ESC[K to hide git's "remote:
// "; those escape codes garble CI logs (issue #7728), so the lines are written
// plainly.
func (p *Pipeline) GitPush(ctx context.Context, app, repo string, env []string, updates []RefUpdate, out io.Writer) (err error) {
	defer func() {
		// git shows only "pre-receive hook declined": a cause the deploy did
		// not print yet goes on the push's output
		if err != nil && !errors.Is(err, ErrFailed) && ctx.Err() == nil {
			output.Warn(out, "%s", output.Reason(ctx, p.log(), err, "app", app))
		}
	}()
	branch, set, err := DeployBranch(p.Store, app)
	if err != nil {
		return err
	}
	if !validBranchName(ctx, branch) {
		output.Info1(out, "WARNING: Invalid branch name '%s' specified via deploy-branch setting.", branch)
		output.Info1(out, "For more details, please see the man page for 'git-check-ref-format.'")
		return nil
	}
	var deployRev string
	for _, u := range updates {
		if u.isDelete() {
			continue
		}
		switch {
		case u.Ref == "refs/heads/"+branch || u.Ref == "refs/tags/"+branch:
			deployRev = u.New
		case !set && strings.HasPrefix(u.Ref, "refs/heads/") && deployRev == "":
			pushed := strings.TrimPrefix(u.Ref, "refs/heads/")
			output.Info1(out, "Set %s as deploy-branch", pushed)
			if err := p.Store.SetProperty("git", app, "deploy-branch", pushed); err != nil {
				return err
			}
			branch, set, deployRev = pushed, true, u.New
		default:
			pushed := u.Ref
			for _, pre := range []string{"refs/heads/", "refs/tags/"} {
				pushed = strings.TrimPrefix(pushed, pre)
			}
			output.Info1(out, "WARNING: deploy did not complete, you must push to %s.", branch)
			output.Info1(out, "for example, try 'git push <dokku> %s:%s'", pushed, branch)
		}
	}
	if deployRev == "" {
		return nil
	}
	return p.Deploy(ctx, Request{App: app, Kind: "git-hook", DeploySource: "git-push", Source: GitSource{Repo: repo, Rev: deployRev, Env: env}, Out: out})
}

// PointHead makes the repository's HEAD name the deploy branch when that
// branch exists, so that clones check it out.
func PointHead(ctx context.Context, st *store.Store, app, repo string) {
	branch, _, err := DeployBranch(st, app)
	if err != nil {
		// Best effort, as the git commands below: what reads the
		// setting next (a deploy, a rebuild) reports it.
		return
	}
	ref := "refs/heads/" + branch
	if _, err := gitexec.Output(ctx, repo, nil, nil, "rev-parse", "--verify", "--quiet", ref); err != nil {
		return
	}
	_, _ = gitexec.Output(ctx, repo, nil, nil, "symbolic-ref", "HEAD", ref)
}
