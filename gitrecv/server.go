package gitrecv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"dokku-sshd/domains"
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
	// AfterPush runs after a push was answered (git gc --auto), before the
	// session's exit status and still under the deploy lock, as C git's
	// receive-pack does; on a context of its own, since libgit2 and go-git
	// hang up once they have read the report. A push of the same app to
	// this server waits for it; Shutdown cancels it.
	AfterPush func(ctx context.Context, app, repo string)
	// AfterPushTimeout bounds one AfterPush (default 30 minutes).
	AfterPushTimeout time.Duration

	mu       sync.Mutex
	running  map[string]chan struct{} // app -> closed when its AfterPush is over
	wg       sync.WaitGroup
	bg       context.Context // parent of every AfterPush; Shutdown cancels it
	cancelBG context.CancelFunc
	closed   bool

	Observer PushObserver // nil: no metrics
}

// Serve runs one git command and returns its exit status. Refusals before
// the protocol starts go to errw as Dokku's ` !     ` lines (git shows them
// before "Could not read from remote repository").
func (g *Server) Serve(ctx context.Context, raw, gitProtocol string, in io.Reader, out, errw io.Writer) (code int) {
	service, arg, ok := IsGitCommand(raw)
	if !ok {
		output.Warn(errw, "Unsupported git command")
		return output.ExitFailure
	}
	app := AppFromPath(arg)
	switch service {
	case ReceivePack:
		var push *pushRecord
		ctx, in, push = g.startPush(ctx, in)
		defer func() { push.end(code) }()
		if code := g.prepareReceive(ctx, app, errw); code != 0 {
			return code
		}
		// The previous push's after-push step holds the lock: wait for it
		// rather than refuse a client that pushes again at once.
		if err := g.waitAfterPush(ctx, app); err != nil {
			return output.ExitFailure
		}
		lock, err := g.Store.TryDeployLock(app, fmt.Sprintf("pid %d git-receive-pack", os.Getpid()))
		if errors.Is(err, store.ErrDeployLocked) {
			output.Warn(errw, "%s currently has a deploy lock in place. Exiting...", app)
			output.Warn(errw, "Run 'apps:unlock' to release the existing deploy lock")
			return output.ExitFailure
		}
		if err != nil {
			output.Warn(errw, "Unable to take the deploy lock for %s: %s", app, output.Reason(ctx, g.log(), err, "app", app))
			return output.ExitFailure
		}
		err = g.Receiver.ReceivePack(ctx, app, g.Store.AppDir(app), in, out, errw)
		// Refs may have moved even when the report could not be sent.
		g.afterPush(ctx, app, g.Store.AppDir(app), lock)
		if err != nil {
			if ctx.Err() == nil {
				output.Warn(errw, "%s", output.Reason(ctx, g.log(), err, "app", app))
			}
			return output.ExitCode(err)
		}
		return 0
	default:
		if !store.ValidAppName(app) {
			output.Warn(errw, store.AppNameRules)
			return output.ExitFailure
		}
		if !g.Store.AppExists(app) {
			output.Warn(errw, "App %s does not exist", app)
			return output.ExitAppMissing
		}
		repo := g.Store.AppDir(app)
		if err := InitRepo(ctx, repo); err != nil {
			output.Warn(errw, "Unable to initialize the repository of %s: %s", app, output.Reason(ctx, g.log(), err, "app", app))
			return output.ExitFailure
		}
		var err error
		if service == UploadPack {
			err = UploadPackCmd(ctx, repo, gitProtocol, in, out, errw)
		} else {
			err = UploadArchiveCmd(ctx, repo, in, out, errw)
		}
		if err != nil {
			return output.ExitFailure
		}
		return 0
	}
}

// prepareReceive validates the app and creates it when allowed.
func (g *Server) prepareReceive(ctx context.Context, app string, errw io.Writer) int {
	if !g.Store.AppExists(app) {
		if msg := store.NewAppNameProblem(app); msg != "" {
			output.Warn(errw, "%s", msg)
			return output.ExitFailure
		}
		// An unreadable disable-autocreation creates nothing: it may be
		// "true".
		disabled, err := g.Store.Property("apps", store.Global, "disable-autocreation")
		if err != nil {
			err = fmt.Errorf("read apps --global disable-autocreation: %w", err)
			output.Warn(errw, "Unable to create app %s: %s", app, output.Reason(ctx, g.log(), err, "app", app))
			return 1
		}
		if disabled == "true" {
			output.Warn(errw, "App auto-creation disabled.")
			output.Warn(errw, "Re-enable app auto-creation or create an app with 'dokku apps:create %s'", app)
			return output.ExitFailure
		}
		err = g.Store.CreateApp(app, g.Now())
		if err == nil {
			// APP.GLOBAL-DOMAIN, as apps:create gives it.
			_, err = domains.SetupDefaults(g.Store, app)
		}
		if err != nil && !errors.Is(err, store.ErrAppExists) {
			output.Warn(errw, "Unable to create app %s: %s", app, output.Reason(ctx, g.log(), err, "app", app))
			return output.ExitFailure
		}
		g.log().Info("app auto-created by push", "app", app)
	}
	if err := InitRepo(ctx, g.Store.AppDir(app)); err != nil {
		output.Warn(errw, "Unable to initialize the repository of %s: %s", app, output.Reason(ctx, g.log(), err, "app", app))
		return output.ExitFailure
	}
	return 0
}

func (g *Server) log() *slog.Logger {
	if g.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return g.Logger
}

// afterPush runs AfterPush and then releases the deploy lock (at once
// without AfterPush or after Shutdown). Its context keeps the session's
// values but not its cancellation.
func (g *Server) afterPush(ctx context.Context, app, repo string, lock *store.DeployLock) {
	g.mu.Lock()
	if g.AfterPush == nil || g.closed {
		g.mu.Unlock()
		lock.Release()
		return
	}
	if g.bg == nil {
		g.bg, g.cancelBG = context.WithCancel(context.Background())
	}
	if g.running == nil {
		g.running = map[string]chan struct{}{}
	}
	done := make(chan struct{})
	g.running[app] = done
	g.wg.Add(1)
	bg := g.bg
	g.mu.Unlock()

	timeout := g.AfterPushTimeout
	if timeout <= 0 {
		timeout = 30 * time.Minute
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	stop := context.AfterFunc(bg, cancel)
	defer func() {
		stop()
		cancel()
		lock.Release()
		g.mu.Lock()
		delete(g.running, app)
		g.mu.Unlock()
		close(done)
		g.wg.Done()
	}()
	g.AfterPush(actx, app, repo)
}

// waitAfterPush waits until no AfterPush of app runs in this server.
func (g *Server) waitAfterPush(ctx context.Context, app string) error {
	g.mu.Lock()
	done := g.running[app]
	g.mu.Unlock()
	if done == nil {
		return nil
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown, called once the SSH server has shut down, lets running
// AfterPush steps and host-mode pushes' hooks finish until ctx is done,
// then cancels them (git gc is stopped with SIGTERM, which removes its lock
// files; a hook's process group gets SIGTERM, then SIGKILL) and waits for
// them to return. No AfterPush or hook starts afterwards.
func (g *Server) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	cancel := g.cancelBG
	g.mu.Unlock()
	idle := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(idle)
	}()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = ctx.Err()
		g.log().Warn("shutdown grace over, stopping the after-push work still running")
		if cancel != nil {
			cancel()
		}
		<-idle
	}
	if cancel != nil {
		cancel()
	}
	return err
}
