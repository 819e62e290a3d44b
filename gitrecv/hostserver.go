package gitrecv

import (
	"context"
	"io"
	"strings"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// HostSession is what host mode needs of one SSH session.
type HostSession struct {
	// Dokku runs the key's forced command (Dokku's own `dokku`) with raw
	// as SSH_ORIGINAL_COMMAND, as OpenSSH would, on the given streams, and
	// returns its exit status.
	Dokku func(ctx context.Context, raw string, in io.Reader, out, errw io.Writer) int
	// HookEnv is the environment the forced command's program would get
	// (what OpenSSH and the login shell give it); the repository's hooks
	// start from it, as under git-shell they inherit it.
	HookEnv func(ctx context.Context) ([]string, error)
}

// emptyPush is a receive-pack request with no command: a flush-pkt.
const emptyPush = "0000"

// ServeHost serves one git command in Dokku host mode, where Dokku's git
// plugin does what comes before and after git:
//   - git-upload-pack and git-upload-archive go to Dokku entirely (its
//     git-pre-pull and git-post-pull triggers around upload-pack, its
//     git-shell for the rest);
//   - git-receive-pack first goes through Dokku's front door with a push
//     of nothing: Dokku authorizes it (user-auth), creates the app when
//     allowed (app-maybe-create: post-create triggers, disable-autocreation)
//     and the repository with its pre-receive hook, then hands git-shell an
//     empty command list, on which receive-pack only advertises its refs.
//     A refusal comes back as Dokku's status, with Dokku's words on the
//     client's stderr. Then the push itself is received here, with the
//     repository's own hooks.
//
// No deploy lock is taken: Dokku's pre-receive hook takes it for the build,
// and the refs move compare-and-swap.
func (g *Server) ServeHost(ctx context.Context, hs HostSession, raw string, in io.Reader, out, errw io.Writer) (code int) {
	// Dokku's wrapper splits the command into words and its git plugin
	// takes the path from the second.
	words := strings.Fields(raw)
	if len(words) < 2 || words[0] != ReceivePack {
		return hs.Dokku(ctx, raw, in, out, errw)
	}
	var push *pushRecord
	ctx, in, push = g.startPush(ctx, in)
	defer func() { push.end(code) }()
	// Dokku's ref advertisement is of no use: the push's own comes below.
	if code := hs.Dokku(ctx, raw, strings.NewReader(emptyPush), io.Discard, errw); code != 0 {
		return code
	}
	app := unquotePath(words[1]) // as Dokku: a ".git" suffix stays
	if !store.ValidAppName(app) || !g.Store.AppExists(app) {
		// Dokku let it through but there is no repository to push to.
		output.Warn(errw, "App %s does not exist", app)
		return output.ExitFailure
	}
	env, err := hs.HookEnv(ctx)
	if err != nil {
		output.Warn(errw, "%s", output.Reason(ctx, g.log(), err, "app", app))
		return output.ExitFailure
	}
	ctx = WithHookEnv(ctx, env)
	err = g.Receiver.ReceivePack(ctx, app, g.Store.AppDir(app), in, out, errw)
	if err != nil {
		if ctx.Err() == nil {
			output.Warn(errw, "%s", output.Reason(ctx, g.log(), err, "app", app))
		}
		return output.ExitCode(err)
	}
	return 0
}
