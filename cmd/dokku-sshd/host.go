package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"dokku-sshd/commands"
	"dokku-sshd/forcedcmd"
	"dokku-sshd/output"
	"dokku-sshd/sshd"
)

// hostMode runs sessions' commands on a Dokku host: the keys' sshcommand
// forced commands (Dokku's own dokku) as OpenSSH's sshd runs them.
type hostMode struct {
	runner *forcedcmd.Runner
	// running counts the forced commands under way, which shutdown waits
	// for: a session ended at the grace's end hangs its command up, and
	// kills it Runner.Grace later, which must happen before the server
	// exits.
	running sync.WaitGroup
	log     *slog.Logger
}

// newHostMode looks up the user the server runs as (euid), whose login
// shell, home and name the commands get, as sshd gives them to that user's
// sessions. It refuses root: sshd runs the keys' commands as the dokku
// user, for whom Dokku's dokku refuses its root-only commands
// (plugin:install, ssh-keys:add); as root every key could run them, and
// plugin:install runs code as root. It refuses to run as anyone but user,
// the login user clients name, as whom OpenSSH would run the commands.
func newHostMode(logger *slog.Logger, euid int, user string) (*hostMode, error) {
	if euid == 0 {
		return nil, fmt.Errorf("dokku host mode: refusing to run as root; run the server as the Dokku user (--user %s), as sshd runs the keys' commands", user)
	}
	login, err := forcedcmd.LookupLogin(euid)
	if err != nil {
		return nil, fmt.Errorf("dokku host mode: %w", err)
	}
	if login.Name != user {
		return nil, fmt.Errorf("dokku host mode: the server runs as %s, but clients log in as %s (--user): run it as %s, as sshd runs the keys' commands as the login user", login.Name, user, user)
	}
	tz, _ := os.LookupEnv("TZ")
	return &hostMode{runner: &forcedcmd.Runner{Login: login, TZ: tz}, log: logger}, nil
}

// hostSSHKeys is what of ssh-keys the server runs itself in host mode, with
// its admin-key policy, exactly as in native mode; any other ssh-keys:*
// goes to Dokku like every command the server does not implement.
var hostSSHKeys = map[string]bool{
	"ssh-keys": true, "ssh-keys:help": true, "ssh-keys:add": true, "ssh-keys:list": true, "ssh-keys:remove": true,
}

// hostCommand serves a session's command in Dokku host mode: hostSSHKeys
// stays in the server; everything else, help and version included, is the
// key's forced command's business.
func (srv *server) hostCommand(s *sshd.Session) int {
	if hostSSHKeys[commands.Verb(s.RawCommand)] {
		return srv.command(s)
	}
	req, ok := srv.forcedRequest(s)
	if !ok {
		return 1
	}
	req.Original, req.Stdin, req.Stdout, req.Stderr = s.RawCommand, s.Stdin, s.Stdout, s.Stderr
	req.Exec = !s.Shell // an exec of "" still sets SSH_ORIGINAL_COMMAND, as sshd does
	if s.PTY != nil {
		req.Stdin, req.Stdout, req.Stderr = s.Raw, s.Raw, nil
		req.Terminal = hostTerminal(s)
	}
	return srv.runForced(s.Context, s, req, s.Stderr)
}

// forcedRequest is the request for the session key's forced command, with
// no command line or streams yet; a refused session is told why on its
// stderr.
func (srv *server) forcedRequest(s *sshd.Session) (forcedcmd.Request, bool) {
	forced, refusal := srv.forcedCommand(s)
	if refusal != "" {
		output.Warn(s.Stderr, "%s", refusal)
		return forcedcmd.Request{}, false
	}
	return forcedcmd.Request{Command: forced, Remote: s.RemoteAddr, Local: s.LocalAddr}, true
}

// wait waits for the forced commands under way, at most the runner's
// grace (and a little) after their sessions ended.
func (h *hostMode) wait() {
	done := make(chan struct{})
	go func() {
		h.running.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(h.runner.Grace + forcedcmd.DefaultGrace + 2*time.Second): // Grace 0 means DefaultGrace
	}
}

// signalledStatus is the status of a forced command a signal ended:
// OpenSSH's client exits 255 when the server reports an exit-signal, and
// a caller that reads the status (a push's front door) must not take the
// 0 of no exit status for a success.
const signalledStatus = 255

// runForced runs req, the session's forced command, and returns its exit
// status. A failure to run it is told on errw; a signal that ended it
// becomes the session's exit-signal, and its status signalledStatus.
func (srv *server) runForced(ctx context.Context, s *sshd.Session, req forcedcmd.Request, errw io.Writer) int {
	srv.host.running.Add(1)
	defer srv.host.running.Done()
	exit, err := srv.host.runner.Run(ctx, req)
	if err != nil {
		output.Warn(errw, "%s", output.Reason(clientContext(s), srv.log, err, "name", s.Identity.Name))
		return 1
	}
	if exit.Signal != "" {
		s.ExitSignal = &sshd.ExitSignal{Signal: exit.Signal, CoreDumped: exit.CoreDumped}
		return signalledStatus
	}
	return exit.Code
}

// forcedCommand is the session key's command="..." option, or why the
// session is refused: a certificate or a key line without a forced
// command would get a shell from OpenSSH, which this server never gives.
func (srv *server) forcedCommand(s *sshd.Session) (cmd, refusal string) {
	const noCommand = "Dokku host mode runs only the command=\"...\" of a key's authorized_keys line (sshcommand's); this key has none"
	if s.Identity.Cert {
		return "", noCommand
	}
	cmd, ok, err := srv.app.keys.ForcedCommand(s.Identity.Fingerprint)
	switch {
	case err != nil:
		return "", output.Reason(clientContext(s), srv.log, err, "name", s.Identity.Name)
	case !ok:
		return "", "This key is no longer in authorized_keys"
	case cmd == "":
		return "", noCommand
	}
	return cmd, ""
}

// hostTerminal is the session's terminal for forcedcmd.
func hostTerminal(s *sshd.Session) *forcedcmd.Terminal {
	resize := resizes(s, func(w sshd.Window) forcedcmd.Size { return forcedcmd.Size{Width: w.Width, Height: w.Height} })
	return &forcedcmd.Terminal{Term: s.PTY.Term, Width: s.PTY.Width, Height: s.PTY.Height, Modes: s.PTY.Modes, Resize: resize}
}
