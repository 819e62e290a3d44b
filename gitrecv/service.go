package gitrecv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"dokku-sshd/internal/gitexec"
)

// Git commands a client may run over SSH.
const (
	ReceivePack   = "git-receive-pack"
	UploadPack    = "git-upload-pack"
	UploadArchive = "git-upload-archive"
)

// IsGitCommand reports whether a raw SSH command is a git transport command,
// and returns the service and its path argument.
func IsGitCommand(raw string) (service, arg string, ok bool) {
	f := strings.Fields(raw)
	if len(f) == 0 {
		return "", "", false
	}
	switch f[0] {
	case ReceivePack, UploadPack, UploadArchive:
		return f[0], strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(raw), f[0])), true
	case "git": // "git receive-pack 'app'" as some clients send it
		if len(f) >= 2 {
			switch s := "git-" + f[1]; s {
			case ReceivePack, UploadPack, UploadArchive:
				rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(raw), "git"))
				return s, strings.TrimSpace(strings.TrimPrefix(rest, f[1])), true
			}
		}
	}
	return "", "", false
}

// AppFromPath turns git's path argument into an app name as Dokku does
// (docs/dokku-behaviour.md#repo-path): unescaped single quotes removed, \' kept
// as a quote, one leading slash and an optional ".git" suffix stripped.
// Validation of the result is the caller's.
func AppFromPath(arg string) string {
	return strings.TrimSuffix(unquotePath(arg), ".git")
}

// unquotePath is git's path argument with Dokku's quote rules applied and
// one leading slash removed.
func unquotePath(arg string) string {
	var b strings.Builder
	for i := 0; i < len(arg); i++ {
		switch {
		case arg[i] == '\\' && i+1 < len(arg) && arg[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case arg[i] == '\'':
		default:
			b.WriteByte(arg[i])
		}
	}
	return strings.TrimPrefix(b.String(), "/")
}

// UploadPackCmd serves clone and fetch by running git upload-pack (protocol
// v2 through GIT_PROTOCOL, shallow clones, everything git supports).
func UploadPackCmd(ctx context.Context, repo, gitProtocol string, in io.Reader, out, errw io.Writer) error {
	return runGitService(ctx, "upload-pack", repo, gitProtocol, in, out, errw)
}

// UploadArchiveCmd serves `git archive --remote`.
func UploadArchiveCmd(ctx context.Context, repo string, in io.Reader, out, errw io.Writer) error {
	return runGitService(ctx, "upload-archive", repo, "", in, out, errw)
}

func runGitService(ctx context.Context, service, repo, gitProtocol string, in io.Reader, out, errw io.Writer) error {
	args := []string{service}
	if service == "upload-pack" {
		args = append(args, "--strict")
	}
	var env []string
	if gitProtocol != "" {
		env = []string{"GIT_PROTOCOL=" + gitProtocol}
	}
	// no GIT_DIR: upload-pack takes the repository as argument
	cmd := gitexec.Command(ctx, "", env, append(args, repo)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, out, errw
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("git %s exited with %d", service, ee.ExitCode())
	}
	return err
}
