package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"dokku-sshd/forcedcmd"
	"dokku-sshd/gitrecv"
	"dokku-sshd/sshd"
)

// hostGitSession serves a session's git command in Dokku host mode: Dokku
// (the key's forced command) does what comes before and after git, the
// push itself is received in the server with the repository's hooks.
func (srv *server) hostGitSession(s *sshd.Session) int {
	req, ok := srv.forcedRequest(s)
	if !ok {
		return 1
	}
	req.Original = s.RawCommand
	hs := gitrecv.HostSession{
		Dokku: func(ctx context.Context, raw string, in io.Reader, out, errw io.Writer) int {
			r := req
			r.Original, r.Stdin, r.Stdout, r.Stderr = raw, in, out, errw
			return srv.runForced(ctx, s, r, errw)
		},
		HookEnv: func(ctx context.Context) ([]string, error) { return srv.forcedEnv(ctx, req) },
	}
	return srv.git.ServeHost(clientContext(s), hs, s.RawCommand, s.Stdin, s.Stdout, s.Stderr)
}

// forcedEnv is the environment the push's hooks start from, as under
// git-shell they inherit it from Dokku's dokku: the login shell, run as for
// req's forced command, prints it with the variables the command's opening
// assignments set (sshcommand's NAME and FINGERPRINT, which Dokku's
// user-auth reads) and whatever the shell's start-up files export.
//
// What Dokku's dokku does to it before git-shell, forcedEnv does too:
//   - it un-exports SSH_ORIGINAL_COMMAND and runs itself again on its
//     words; a hook that saw it would have Dokku's `dokku git-hook` run
//     itself again as `dokku git-receive-pack 'APP'`;
//   - that second dokku is a child bash script of the first: the hooks see
//     its shell level, two above what `exec env` sees (bash lowers SHLVL
//     for an exec, and each of the two scripts' bash raises it by one).
//
// What it does not do: Dokku's dokku also exports its configuration
// (DOKKU_ROOT, DOKKU_LIB_ROOT, PLUGIN_PATH and the like, DOCKER_BIN, what
// /etc/default/dokku and dokkurc set) and DOKKU_PID, which the hooks
// inherit under git-shell. They are left out: the pre-receive hook's
// `dokku git-hook` re-reads the same configuration files and sets the same
// defaults itself, and takes its own pid as DOKKU_PID, which then names the
// deploy's temporary files throughout as the first dokku's pid would.
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
	var env []string
	level := 0 // bash's reading of a missing or bad SHLVL (a login shell other than bash sets none)
	for _, kv := range strings.Split(strings.TrimSuffix(out.String(), "\x00"), "\x00") {
		name, val, _ := strings.Cut(kv, "=")
		switch name {
		case "SSH_ORIGINAL_COMMAND":
			continue
		case "SHLVL":
			if n, err := strconv.Atoi(val); err == nil && n >= 0 {
				level = n
			}
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "SHLVL="+strconv.Itoa(level+2))
	return env, nil
}
