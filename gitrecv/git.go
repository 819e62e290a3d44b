package gitrecv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"dokku-sshd/internal/gitexec"

	"github.com/go-git/go-git/v5/plumbing"
)

// InitRepo makes dir a bare repository unless it already is one.
func InitRepo(ctx context.Context, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "refs")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("init repo %s: %w", dir, err)
	}
	cmd := gitexec.Command(ctx, "", []string{"GIT_TEMPLATE_DIR="}, "init", "--bare", "--quiet", dir) // no sample hooks
	return gitexec.Run(cmd, "init repo "+dir)
}

// Ref is one advertised ref.
type Ref struct {
	Name string
	Hash plumbing.Hash
}

// ListRefs returns every ref of repo, sorted by name.
func ListRefs(ctx context.Context, repo string) ([]Ref, error) {
	out, err := gitexec.Output(ctx, repo, nil, nil, "for-each-ref", "--format=%(objectname) %(refname)")
	if err != nil {
		return nil, err
	}
	var refs []Ref
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		h, name, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if hash, ok := parseHash(h); ok {
			refs = append(refs, Ref{Name: name, Hash: hash})
		}
	}
	return refs, nil
}

// ResolveRef returns the ref's current value, zero when it does not exist.
func ResolveRef(ctx context.Context, repo, ref string) (plumbing.Hash, error) {
	out, err := gitexec.Output(ctx, repo, nil, nil, "rev-parse", "--verify", "--quiet", ref)
	if err != nil {
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == 1 {
			return plumbing.ZeroHash, nil
		}
		return plumbing.ZeroHash, fmt.Errorf("resolve %s: %w", ref, err)
	}
	h, ok := parseHash(strings.TrimSpace(string(out)))
	if !ok {
		return plumbing.ZeroHash, fmt.Errorf("resolve %s: unexpected %q", ref, out)
	}
	return h, nil
}

// gcCommand is `git gc --auto --quiet` in repo, with git options before
// it, in a process group of its own so that gc's children (repack,
// pack-objects, pack-refs) get the signal too: cancelling ctx, or the
// server dying, sends the group SIGTERM, then SIGKILL 10 s later.
func gcCommand(ctx context.Context, repo string, opts ...string) *exec.Cmd {
	cmd := gitexec.Command(ctx, repo, nil, append(opts, "gc", "--auto", "--quiet")...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// AutoGC consolidates packs the way receive-pack's receive.autogc does: every
// push adds a pack, and `git gc --auto` repacks once there are too many (it
// returns at once otherwise). It runs in the foreground (gc.autoDetach off):
// a gc daemonized out of our sight would outlive the deploy lock and the
// server, and the next push or start-up sweep would take its live lock
// files for stale ones. Cancelling ctx, or the server dying, stops it with
// SIGTERM, on which git removes its lock and temporary files.
func AutoGC(ctx context.Context, repo string, log *slog.Logger) {
	cmd := gcCommand(ctx, repo, "-c", "gc.autoDetach=false")
	var errb tailBuffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil && log != nil {
		log.Warn("git gc --auto", "repo", repo, "err", err, "stderr", errb.lastLine())
	}
}
