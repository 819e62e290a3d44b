package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

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
		HookEnv: func(ctx context.Context) ([]string, error) { return srv.forcedEnv(ctx, req) },
	}
	return srv.git.ServeHost(clientContext(s), hs, s.RawCommand, s.Stdin, s.Stdout, s.Stderr)
}

// forcedEnv is the environment the program of req's forced command gets:
// the login shell, run as for the command, prints it with the variables the
// command's opening assignments set (sshcommand's NAME and FINGERPRINT,
// which Dokku's user-auth reads) and whatever the shell's start-up files
// export. Under git-shell the push's hooks inherit it, through Dokku's
// dokku, a bash script, whose own shell level they see.
func (srv *server) forcedEnv(ctx context.Context, req forcedcmd.Request) ([]string, error) {
	var out, errb bytes.Buffer
	req.Command = strings.TrimSpace(forcedcmd.AssignmentPrefix(req.Command) + " exec env -0")
	req.Stdin, req.Stdout, req.Stderr = strings.NewReader(""), &out, &errb
	exit, err := srv.host.runner.Run(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("environment of the forced command: %w", err)
	}
	if exit.Code != 0 || exit.Signal != "" {
		return nil, fmt.Errorf("environment of the forced command: exit %d %s: %s", exit.Code, exit.Signal, strings.TrimSpace(errb.String()))
	}
	env := strings.Split(strings.TrimSuffix(out.String(), "\x00"), "\x00")
	for i, kv := range env {
		if lvl, ok := strings.CutPrefix(kv, "SHLVL="); ok {
			var n int
			fmt.Sscan(lvl, &n)
			env[i] = fmt.Sprintf("SHLVL=%d", n+1)
		}
	}
	return env, nil
}
