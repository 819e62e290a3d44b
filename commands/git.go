package commands

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"dokku-sshd/deploy"
	"dokku-sshd/gitrecv"
	"dokku-sshd/internal/gitexec"
	"dokku-sshd/internal/netrc"
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
			{Name: "git:auth", Args: "<host> [<username> <password>]", Help: "Configures netrc authentication for a given git server", Run: gitAuth},
			{Name: "git:auth-status", Args: "<host> [<username> <password>]", Help: "Reports whether the netrc entry matches the requested state (exit 0 if matches)", Run: gitAuthStatus},
			{Name: "git:from-image", Args: "[--build-dir DIRECTORY] <app> <docker-image> [<git-username> <git-useremail>]", Help: "Updates an app's git repository with a given docker image", Run: gitFromImage},
			{Name: "git:initialize", Args: "<app>", Help: "Initialize a git repository for an app", Run: gitInitialize},
			{Name: "git:report", Args: "[<app>] [<flag>]", Help: "Displays a git report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(gitReport, args) }},
			{Name: "git:set", Args: "[--global|<app>] <key> (<value>)", Help: "Set or clear a git property for an app",
				Run: func(e *Call, args []string) error { return e.RunSet(gitSet, args) }},
			{Name: "git:status", Args: "<app>", Help: "Show the working tree status for an app", Run: gitStatus},
			{Name: "git:sync", Args: "[--build|--build-if-changes] [--skip-deploy-branch] <app> <repository> [<git-ref>]", Help: "Clone or fetch an app from remote git repo", Run: gitSync},
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

// gitSync clones or fetches an app's code from a remote repository, and
// builds it with --build, or --build-if-changes when the deploy branch
// moved. Dokku's flags may come anywhere; its other arguments are the app,
// the remote and the ref.
func gitSync(e *Call, args []string) error {
	s := deploy.GitSync{Quiet: e.Flags.Quiet, Out: e.Stdout, Err: e.Stderr, InitRepo: gitrecv.InitRepo}
	var pos []string
	for _, a := range args {
		switch {
		case a == "--build":
			s.Build = deploy.SyncBuildAlways
		case a == "--build-if-changes":
			s.Build = deploy.SyncBuildIfChanges
		case a == "--skip-deploy-branch":
			s.SkipDeployBranch = true
		case strings.HasPrefix(a, "-") && a != "-":
			return output.Userf("Unknown flag %s", a)
		default:
			pos = append(pos, a)
		}
	}
	pos = append(pos, "", "", "")
	s.App, s.Remote, s.Ref = pos[0], pos[1], pos[2]
	if err := e.VerifyAppBash(s.App); err != nil {
		return err
	}
	if s.Remote == "" {
		return output.Userf("Missing GIT_REMOTE parameter")
	}
	p, err := e.pipeline()
	if err != nil {
		return err
	}
	return deployError(p.GitSync(e.Ctx, s))
}

// maxNetrcPassword bounds the password git:auth reads from stdin.
const maxNetrcPassword = 64 << 10

// netrcArgs are git:auth's and git:auth-status's arguments: a host, and a
// login whose password, when not on the line, comes from the first line of
// stdin (not from a terminal), as in Dokku.
func (e *Call) netrcArgs(args []string) (host, login, password string, err error) {
	args = append(args, "", "", "")
	host, login, password = args[0], args[1], args[2]
	if host == "" {
		return "", "", "", output.Userf("Please supply a git host")
	}
	if login != "" && password == "" && !e.TTY && e.Stdin != nil {
		line, _ := bufio.NewReader(io.LimitReader(e.Stdin, maxNetrcPassword)).ReadString('\n')
		password = strings.TrimRight(line, "\r\n")
	}
	if login != "" && password == "" {
		return "", "", "", output.Userf("Missing password for netrc auth entry")
	}
	return host, login, password, nil
}

// netrcFailed is what a client is told of a git:auth that could not read
// or write the netrc file. The cause is logged here, without the command
// line (it may hold a password), and the client's message is a user error
// so that the dispatcher logs nothing more.
func (e *Call) netrcFailed(err error) error {
	if errors.Is(err, netrc.ErrBadValue) {
		return output.Userf("Invalid netrc auth entry: %v", err)
	}
	return output.Userf("Unable to update the netrc file: %s", output.Reason(e.Ctx, e.Dispatcher.cfg.Logger, err, "command", "git:auth"))
}

// gitAuth sets (host, login, password) or removes (host alone) the netrc
// entry git uses for an HTTP(S) remote's host.
func gitAuth(e *Call, args []string) error {
	host, login, password, err := e.netrcArgs(args)
	if err != nil {
		return err
	}
	unlock, err := e.Store.AppLock(store.Global)
	if err != nil {
		return e.netrcFailed(err)
	}
	defer unlock()
	path := e.Store.Paths.Netrc()
	var text string
	if login == "" {
		e.Info1("Removing netrc auth entry for host %s", host)
		var found bool
		if text, found, err = netrc.Unset(path, host); err != nil {
			return e.netrcFailed(err)
		}
		if !found {
			return nil
		}
	} else {
		if err := netrc.Check(host, login, password); err != nil {
			return e.netrcFailed(err)
		}
		e.Info1("Setting netrc auth entry for host %s", host)
		if text, err = netrc.Set(path, host, login, password); err != nil {
			return e.netrcFailed(err)
		}
	}
	if err := store.WriteFileAtomic(path, []byte(text), 0o600); err != nil {
		return e.netrcFailed(err)
	}
	return nil
}

// gitAuthStatus exits 0 when host's netrc entry is as asked (absent without
// a login; that login and password with one), 1 otherwise, silently.
func gitAuthStatus(e *Call, args []string) error {
	host, login, password, err := e.netrcArgs(args)
	if err != nil {
		return err
	}
	curLogin, curPassword, ok, err := netrc.Get(e.Store.Paths.Netrc(), host)
	if err != nil {
		return e.netrcFailed(err)
	}
	if login == "" && !ok || login != "" && ok && curLogin == login && curPassword == password {
		return nil
	}
	return output.Exit(output.ExitFailure)
}
