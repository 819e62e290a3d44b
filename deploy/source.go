// Package deploy is the pipeline from a source (a pushed git tree, later an
// image) through a builder to a release handed to a scheduler, with Dokku's
// transcript on the client's terminal and a record of every build.
package deploy

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// GitSource is a revision of an app's repository. Env makes git see objects
// that are still in a push's quarantine.
type GitSource struct {
	Repo string
	Rev  string
	Env  []string
}

func (s GitSource) git(ctx context.Context, stdout io.Writer, args ...string) error {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = s.Repo
	cmd.Env = append(os.Environ(), "GIT_DIR="+s.Repo)
	cmd.Env = append(cmd.Env, s.Env...)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = stdout, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("git %s: %w: %s", args[0], err, strings.TrimSpace(errb.String()))
	}
	return nil
}

// ReadFile returns a file of the tree; ok is false when it does not exist.
func (s GitSource) ReadFile(ctx context.Context, path string) (data []byte, ok bool, err error) {
	var b bytes.Buffer
	// ls-tree first: cat-file cannot tell "missing" from other failures.
	if err := s.git(ctx, &b, "ls-tree", "--name-only", s.Rev, "--", path); err != nil {
		return nil, false, err
	}
	if strings.TrimSpace(b.String()) == "" {
		return nil, false, nil
	}
	b.Reset()
	if err := s.git(ctx, &b, "cat-file", "blob", s.Rev+":"+path); err != nil {
		return nil, false, err
	}
	return b.Bytes(), true, nil
}

// Archive streams the tree as a tar archive (a build context needs no
// checkout on disk).
func (s GitSource) Archive(ctx context.Context, w io.Writer) error {
	return s.git(ctx, w, "archive", "--format=tar", s.Rev)
}
