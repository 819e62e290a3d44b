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
	"strconv"
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
// One `git cat-file --batch` answers both questions: it prints
// "<name> missing" for a path that is not there, and the object otherwise.
func (s GitSource) ReadFile(ctx context.Context, path string) (data []byte, ok bool, err error) {
	cmd := exec.CommandContext(ctx, "git", "cat-file", "--batch")
	cmd.Dir = s.Repo
	cmd.Env = append(os.Environ(), "GIT_DIR="+s.Repo)
	cmd.Env = append(cmd.Env, s.Env...)
	cmd.Stdin = strings.NewReader(s.Rev + ":" + path + "\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, false, fmt.Errorf("git cat-file %s:%s: %w: %s", s.Rev, path, err, strings.TrimSpace(errb.String()))
	}
	header, body, _ := bytes.Cut(out.Bytes(), []byte("\n"))
	fields := strings.Fields(string(header))
	switch {
	case len(fields) == 2 && fields[1] == "missing":
		return nil, false, nil
	case len(fields) != 3:
		return nil, false, fmt.Errorf("git cat-file %s:%s: unexpected answer %q", s.Rev, path, header)
	case fields[1] != "blob":
		return nil, false, nil // a directory (or submodule) of that name is not a file
	}
	size, err := strconv.Atoi(fields[2])
	if err != nil || size > len(body) {
		return nil, false, fmt.Errorf("git cat-file %s:%s: short answer", s.Rev, path)
	}
	return body[:size], true, nil
}

// Archive streams the tree as a tar archive (a build context needs no
// checkout on disk).
func (s GitSource) Archive(ctx context.Context, w io.Writer) error {
	return s.git(ctx, w, "archive", "--format=tar", s.Rev)
}
