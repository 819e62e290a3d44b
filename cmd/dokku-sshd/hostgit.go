package main

import (
	"context"
	"io"

	"dokku-sshd/forcedcmd"
	"dokku-sshd/gitrecv"
	"dokku-sshd/output"
	"dokku-sshd/sshd"
)

// hostGitSession serves a session's git command in Dokku host mode: Dokku
// (the key's forced command) does what comes before and after git, the
// push itself is received in the server with the repository's hooks.
func (srv *server) hostGitSession(s *sshd.Session) int {
	forced, refusal := srv.forcedCommand(s)
	if refusal != "" {
		output.Warn(s.Stderr, "%s", refusal)
		return 1
	}
	req := forcedcmd.Request{Command: forced, Original: s.RawCommand, Remote: s.RemoteAddr, Local: s.LocalAddr}
	hs := gitrecv.HostSession{
		Dokku: func(ctx context.Context, raw string, in io.Reader, out, errw io.Writer) int {
			r := req
			r.Original, r.Stdin, r.Stdout, r.Stderr = raw, in, out, errw
			exit, err := srv.host.runner.Run(ctx, r)
			if err != nil {
				output.Warn(errw, "%s", output.Reason(clientContext(s), srv.log, err, "name", s.Identity.Name))
				return 1
			}
			if exit.Signal != "" {
				s.ExitSignal = &sshd.ExitSignal{Signal: exit.Signal, CoreDumped: exit.CoreDumped}
			}
			return exit.Code
		},
		// Under OpenSSH the hooks inherit the forced command's environment
		// with the variables its opening assignments set (sshcommand's
		// NAME and FINGERPRINT, which Dokku's user-auth reads).
		Env: append(srv.host.runner.Environ(req), forcedcmd.Assignments(forced)...),
	}
	return srv.git.ServeHost(clientContext(s), hs, s.RawCommand, s.Stdin, s.Stdout, s.Stderr)
}
