package gitrecv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// git runs a git command in repo with extra environment and returns stdout.
func git(ctx context.Context, repo string, env []string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = repo
	cmd.Env = append(gitEnv(repo), env...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), gitFailed("git "+args[0], err, errb.Bytes())
	}
	return out.Bytes(), nil
}

// gitEnv is the base environment of every git we run: the repo, and nothing
// from the server's own environment that could redirect git elsewhere.
func gitEnv(repo string) []string {
	env := []string{"GIT_DIR=" + repo, "GIT_TERMINAL_PROMPT=0", "LC_ALL=C"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// gitFailed is err of a git run named what, with what git said when it
// said anything (never a message ending in an empty ": ").
func gitFailed(what string, err error, said []byte) error {
	if s := strings.TrimSpace(string(said)); s != "" {
		return fmt.Errorf("%s: %w: %s", what, err, s)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// InitRepo makes dir a bare repository unless it already is one.
func InitRepo(ctx context.Context, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "refs")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("init repo %s: %w", dir, err)
	}
	cmd := exec.CommandContext(ctx, "git", "init", "--bare", "--quiet", dir)
	cmd.Env = append(gitEnv(dir)[1:], "GIT_TEMPLATE_DIR=") // no sample hooks
	if out, err := cmd.CombinedOutput(); err != nil {
		return gitFailed("init repo "+dir, err, out)
	}
	return nil
}

// Ref is one advertised ref.
type Ref struct {
	Name string
	Hash plumbing.Hash
}

// ListRefs returns every ref of repo, sorted by name.
func ListRefs(ctx context.Context, repo string) ([]Ref, error) {
	out, err := git(ctx, repo, nil, nil, "for-each-ref", "--format=%(objectname) %(refname)")
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
	cmd := exec.CommandContext(ctx, "git", "rev-parse", "--verify", "--quiet", ref)
	cmd.Dir = repo
	cmd.Env = gitEnv(repo)
	out, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
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

// AutoGC consolidates packs the way receive-pack's receive.autogc does: every
// push adds a pack, and `git gc --auto` repacks once there are too many (it
// returns at once otherwise). It runs in the foreground (gc.autoDetach off):
// a gc daemonized out of our sight would outlive the deploy lock and the
// server, and the next push or start-up sweep would take its live lock
// files for stale ones. Cancelling ctx, or the server dying, stops it with
// SIGTERM, on which git removes its lock and temporary files.
func AutoGC(ctx context.Context, repo string, log *slog.Logger) {
	cmd := exec.CommandContext(ctx, "git", "-c", "gc.autoDetach=false", "gc", "--auto", "--quiet")
	cmd.Dir = repo
	cmd.Env = gitEnv(repo)
	// Its own process group, so that gc's children (repack, pack-objects,
	// pack-refs) get the signal too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second // then SIGKILL
	var errb tailBuffer
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil && log != nil {
		log.Warn("git gc --auto", "repo", repo, "err", err, "stderr", errb.lastLine())
	}
}
