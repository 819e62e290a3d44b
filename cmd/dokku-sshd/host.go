package main

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"dokku-sshd/commands"
	"dokku-sshd/forcedcmd"
	"dokku-sshd/output"
	"dokku-sshd/sshd"
)

// hostMode runs sessions' commands on a Dokku host: the keys' sshcommand
// forced commands (Dokku's own dokku) as OpenSSH's sshd runs them.
type hostMode struct {
	runner *forcedcmd.Runner
	log    *slog.Logger
}

// newHostMode looks up the user the server runs as, whose login shell,
// home and name the commands get, as sshd gives them to that user's
// sessions.
func newHostMode(logger *slog.Logger) (*hostMode, error) {
	login, err := forcedcmd.LookupLogin(os.Geteuid())
	if err != nil {
		return nil, fmt.Errorf("dokku host mode: %w", err)
	}
	tz, _ := os.LookupEnv("TZ")
	return &hostMode{runner: &forcedcmd.Runner{Login: login, TZ: tz}, log: logger}, nil
}

// hostCommand serves a session's command in Dokku host mode. ssh-keys:*
// stays in the server, with its admin-key policy, exactly as in native
// mode; everything else, help and version included, is the key's forced
// command's business.
func (srv *server) hostCommand(s *sshd.Session) int {
	if strings.HasPrefix(commands.Verb(s.RawCommand), "ssh-keys:") {
		return srv.command(s)
	}
	forced, refusal := srv.forcedCommand(s)
	if refusal != "" {
		output.Warn(s.Stderr, "%s", refusal)
		return 1
	}
	req := forcedcmd.Request{
		Command: forced, Original: s.RawCommand, Remote: s.RemoteAddr, Local: s.LocalAddr,
		Stdin: s.Stdin, Stdout: s.Stdout, Stderr: s.Stderr,
	}
	if s.PTY != nil {
		req.Stdin, req.Stdout, req.Stderr = s.Raw, s.Raw, nil
		req.Terminal = hostTerminal(s)
	}
	exit, err := srv.host.runner.Run(s.Context, req)
	if err != nil {
		output.Warn(s.Stderr, "%s", output.Reason(clientContext(s), srv.log, err, "name", s.Identity.Name))
		return 1
	}
	if exit.Signal != "" {
		s.ExitSignal = &sshd.ExitSignal{Signal: exit.Signal, CoreDumped: exit.CoreDumped}
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
