package gitrecv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// Server routes git's SSH commands for the apps: app name from the path,
// validation before any file is touched, auto-creation on push, the deploy
// lock for the whole push.
type Server struct {
	Store    *store.Store
	Receiver *Receiver
	Logger   *slog.Logger
	Now      func() int64 // unix seconds, for created-at
	// AfterPush runs after a push was answered, still under the deploy
	// lock (to point HEAD at the deploy branch, for clones).
	AfterPush func(ctx context.Context, app, repo string)
}

// Serve runs one git command and returns its exit status. Refusals before
// the protocol starts go to errw as Dokku's ` !     ` lines (git shows them
// before "Could not read from remote repository").
func (g *Server) Serve(ctx context.Context, raw, gitProtocol string, in io.Reader, out, errw io.Writer) int {
	service, arg, ok := IsGitCommand(raw)
	if !ok {
		output.Warn(errw, "Unsupported git command")
		return 1
	}
	app := AppFromPath(arg)
	switch service {
	case ReceivePack:
		if code := g.prepareReceive(ctx, app, errw); code != 0 {
			return code
		}
		lock, err := g.Store.TryDeployLock(app, fmt.Sprintf("pid %d git-receive-pack", os.Getpid()))
		if errors.Is(err, store.ErrDeployLocked) {
			output.Warn(errw, "%s currently has a deploy lock in place. Exiting...", app)
			output.Warn(errw, "Run 'apps:unlock' to release the existing deploy lock")
			return 1
		}
		if err != nil {
			output.Warn(errw, "Unable to take the deploy lock for %s: %s", app, output.Reason(ctx, g.log(), err, "app", app))
			return 1
		}
		defer lock.Release()
		if err := g.Receiver.ReceivePack(ctx, app, g.Store.AppDir(app), in, out, errw); err != nil {
			if ctx.Err() == nil {
				output.Warn(errw, "%s", output.Reason(ctx, g.log(), err, "app", app))
			}
			return 1
		}
		if g.AfterPush != nil {
			g.AfterPush(ctx, app, g.Store.AppDir(app))
		}
		return 0
	default:
		if !store.ValidAppName(app) {
			output.Warn(errw, store.AppNameRules)
			return 1
		}
		if !g.Store.AppExists(app) {
			output.Warn(errw, "App %s does not exist", app)
			return 20
		}
		repo := g.Store.AppDir(app)
		if err := InitRepo(ctx, repo); err != nil {
			output.Warn(errw, "Unable to initialize the repository of %s: %s", app, output.Reason(ctx, g.log(), err, "app", app))
			return 1
		}
		var err error
		if service == UploadPack {
			err = UploadPackCmd(ctx, repo, gitProtocol, in, out, errw)
		} else {
			err = UploadArchiveCmd(ctx, repo, in, out, errw)
		}
		if err != nil {
			return 1
		}
		return 0
	}
}

// prepareReceive validates the app and creates it when allowed.
func (g *Server) prepareReceive(ctx context.Context, app string, errw io.Writer) int {
	if !g.Store.AppExists(app) {
		if msg := store.NewAppNameProblem(app); msg != "" {
			output.Warn(errw, "%s", msg)
			return 1
		}
		if v, _ := g.Store.Property("apps", store.Global, "disable-autocreation"); v == "true" {
			output.Warn(errw, "App auto-creation disabled.")
			output.Warn(errw, "Re-enable app auto-creation or create an app with 'dokku apps:create %s'", app)
			return 1
		}
		if err := g.Store.CreateApp(app, g.Now()); err != nil && !errors.Is(err, store.ErrAppExists) {
			output.Warn(errw, "Unable to create app %s: %s", app, output.Reason(ctx, g.log(), err, "app", app))
			return 1
		}
		g.log().Info("app auto-created by push", "app", app)
	}
	if err := InitRepo(ctx, g.Store.AppDir(app)); err != nil {
		output.Warn(errw, "Unable to initialize the repository of %s: %s", app, output.Reason(ctx, g.log(), err, "app", app))
		return 1
	}
	return 0
}

func (g *Server) log() *slog.Logger {
	if g.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Logger
}
