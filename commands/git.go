package commands

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"dokku-sshd/deploy"
	"dokku-sshd/gitrecv"
	"dokku-sshd/internal/gitexec"
	"dokku-sshd/output"
	"dokku-sshd/store"
)

// gitDefaults are the computed values when neither app nor --global sets one.
var gitDefaults = map[string]string{
	"archive-max-files": "10000",
	"archive-max-size":  "1073741824",
	"deploy-branch":     deploy.DefaultDeployBranch,
	"keep-git-dir":      deploy.DefaultKeepGitDir,
}

var gitSet = SetSpec{Plugin: "git", Bash: true, Props: []Property{
	{Name: "archive-max-files", App: true, Global: true},
	{Name: "archive-max-size", App: true, Global: true},
	{Name: "deploy-branch", App: true, Global: true},
	{Name: "keep-git-dir", App: true, Global: true},
	{Name: "rev-env-var", App: true, Global: true, KeepEmpty: true},
	{Name: "source-image", App: true},
}}

var gitReport = ReportSpec{
	Command: "git:report", Type: "git", FlagPrefix: "git", BashApp: true,
	App: func(e *Call, app string) (map[string]string, error) {
		out, err := e.gitGlobalFields(app)
		if err != nil {
			return nil, err
		}
		for _, p := range []string{"deploy-branch", "keep-git-dir", "source-image"} {
			if out["git-"+p], err = e.Store.Property("git", app, p); err != nil {
				return nil, err
			}
		}
		// The app's own value, as Dokku's report shows it (a --global
		// rev-env-var is not shown); a deploy reads it with the --global
		// one (deploy's revEnvVar).
		revVar, set, err := e.Store.LookupProperty("git", app, "rev-env-var")
		if err != nil {
			return nil, err
		}
		if !set {
			revVar = deploy.DefaultRevEnvVar
		}
		out["git-rev-env-var"] = revVar
		repo := e.Store.AppDir(app)
		out["git-sha"], out["git-last-updated-at"] = "", ""
		if h, err := gitrecv.ResolveRef(e.Ctx, repo, "HEAD"); err == nil && !h.IsZero() {
			out["git-sha"] = h.String()
		}
		branch := out["git-computed-deploy-branch"]
		if fi, err := os.Stat(filepath.Join(repo, "refs", "heads", branch)); err == nil {
			out["git-last-updated-at"] = fmt.Sprint(fi.ModTime().Unix())
		}
		return out, nil
	},
	Global: func(e *Call) (map[string]string, error) { return e.gitGlobalFields(store.Global) },
}

// gitGlobalFields are the computed and global flags of git:report.
func (e *Call) gitGlobalFields(app string) (map[string]string, error) {
	out := map[string]string{}
	for p, def := range gitDefaults {
		g, err := e.Store.Property("git", store.Global, p)
		if err != nil {
			return nil, err
		}
		out["git-global-"+p] = g
		c, err := e.Store.ComputedProperty("git", app, p, def)
		if err != nil {
			return nil, err
		}
		out["git-computed-"+p] = c
	}
	return out, nil
}

func gitGroup() *Group {
	return &Group{
		Name:        "git",
		Description: "Manage app deploys via git",
		Bash:        true,
		Commands: []*Command{
			{Name: "git:from-image", Args: "[--build-dir DIRECTORY] <app> <docker-image> [<git-username> <git-useremail>]", Help: "Updates an app's git repository with a given docker image", Run: gitFromImage},
			{Name: "git:initialize", Args: "<app>", Help: "Initialize a git repository for an app", Run: gitInitialize},
			{Name: "git:report", Args: "[<app>] [<flag>]", Help: "Displays a git report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(gitReport, args) }},
			{Name: "git:set", Args: "[--global|<app>] <key> (<value>)", Help: "Set or clear a git property for an app",
				Run: func(e *Call, args []string) error { return e.RunSet(gitSet, args) }},
			{Name: "git:status", Args: "<app>", Help: "Show the working tree status for an app", Run: gitStatus},
		},
	}
}

func gitInitialize(e *Call, args []string) error {
	app := firstArg(args)
	if err := e.VerifyAppBash(app); err != nil {
		return err
	}
	e.Info1("Initializing git repository for %s", app)
	if err := gitrecv.InitRepo(e.Ctx, e.Store.AppDir(app)); err != nil {
		return fmt.Errorf("git:initialize %s: %w", app, err)
	}
	deploy.PointHead(e.Ctx, e.Store, app, e.Store.AppDir(app))
	return nil
}

// gitStatus runs `git status` in the app's repository, as Dokku does. The
// repository is bare, so git answers that it needs a work tree and fails
// (Dokku's documented behaviour, kept: it is git's own answer).
func gitStatus(e *Call, args []string) error {
	app := firstArg(args)
	if err := e.VerifyAppBash(app); err != nil {
		return err
	}
	repo := e.Store.AppDir(app)
	if _, err := os.Stat(filepath.Join(repo, "refs")); err != nil {
		// Dokku makes the repository with the app; here the first push
		// or git:initialize does.
		return output.Userf("App %s has no git repository yet: push to it, or run git:initialize", app)
	}
	cmd := gitexec.Command(e.Ctx, repo, nil, "status")
	cmd.Stdout, cmd.Stderr = e.Stdout, e.Stderr
	if err := cmd.Run(); err != nil {
		var xe *exec.ExitError
		if errors.As(err, &xe) {
			return output.Exit(xe.ExitCode())
		}
		return fmt.Errorf("git status: %w", err)
	}
	return nil
}

func gitFromImage(e *Call, args []string) error {
	force := false
	var pos []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--force":
			force = true
		case a == "--build-dir" || strings.HasPrefix(a, "--build-dir="):
			// A build context directory inside the image is not supported:
			// the Dockerfile is all the generated context holds.
			return output.Userf("--build-dir is not supported by this server")
		case strings.HasPrefix(a, "--"):
			return output.Userf("Unknown flag %s", a)
		default:
			pos = append(pos, a)
		}
	}
	force = force || e.Flags.Force
	app := firstArg(pos)
	if err := e.VerifyAppBash(app); err != nil {
		return err
	}
	if len(pos) < 2 || pos[1] == "" {
		return output.Userf("Please specify a docker image")
	}
	p, err := e.pipeline()
	if err != nil {
		return err
	}
	if err := gitrecv.InitRepo(e.Ctx, e.Store.AppDir(app)); err != nil {
		return fmt.Errorf("git:from-image %s: %w", app, err)
	}
	f := deploy.FromImage{App: app, Image: pos[1], Force: force, Out: e.Stdout, Err: e.Stderr}
	if len(pos) > 2 {
		f.UserName = pos[2]
	}
	if len(pos) > 3 {
		f.UserEmail = pos[3]
	}
	return deployError(p.DeployImage(e.Ctx, f))
}

// shortRev is what build listings show of a revision.
func shortRev(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return strings.TrimSpace(rev)
}
