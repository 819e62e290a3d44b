// Package deploy is the pipeline from a source (a pushed git tree, later an
// image) through a builder to a release handed to a scheduler, with Dokku's
// transcript on the client's terminal and a record of every build.
package deploy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"dokku-sshd/internal/gitexec"
)

// GitSource is a revision of an app's repository. Env makes git see objects
// that are still in a push's quarantine.
type GitSource struct {
	Repo string
	Rev  string
	Env  []string
	// files, when set by Open, answers ReadFile from one running
	// `git cat-file --batch`.
	files *batchReader
}

func (s GitSource) command(ctx context.Context, args ...string) *exec.Cmd {
	return gitexec.Command(ctx, s.Repo, s.Env, args...)
}

// Open returns the source with one `git cat-file --batch` running for its
// ReadFile calls, and the function that ends it: a deploy reads several
// files (Dockerfile, Procfile, app.json, .dockerignore), and a git process
// each cost tens of milliseconds on a busy host. Without a process (it
// failed to start, or broke) ReadFile starts one per call.
func (s GitSource) Open(ctx context.Context) (GitSource, func()) {
	if s.Repo == "" || s.files != nil {
		return s, func() {}
	}
	cmd := s.command(ctx, "cat-file", "--batch")
	in, err := cmd.StdinPipe()
	if err != nil {
		return s, func() {}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return s, func() {}
	}
	if err := cmd.Start(); err != nil {
		return s, func() {}
	}
	b := &batchReader{in: in, out: bufio.NewReader(out)}
	s.files = b
	return s, sync.OnceFunc(func() {
		b.mu.Lock()
		b.broken = true
		b.mu.Unlock()
		in.Close() // cat-file ends at EOF
		_ = cmd.Wait()
	})
}

// batchReader is a running `git cat-file --batch`, one question at a time.
type batchReader struct {
	mu     sync.Mutex
	in     io.WriteCloser
	out    *bufio.Reader
	broken bool
}

func (b *batchReader) read(spec string) (data []byte, ok bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.broken {
		return nil, false, errBatchGone
	}
	if _, err := io.WriteString(b.in, spec+"\n"); err != nil {
		b.broken = true
		return nil, false, errBatchGone
	}
	data, ok, err = readBatchAnswer(b.out, spec)
	if err != nil {
		b.broken = true // the stream's position is unknown now
	}
	return data, ok, err
}

var errBatchGone = errors.New("git cat-file --batch is not running")

// readBatchAnswer reads cat-file --batch's answer about spec: "<spec>
// missing", or "<oid> <type> <size>" and the object. Only a blob is a file.
func readBatchAnswer(r *bufio.Reader, spec string) ([]byte, bool, error) {
	header, err := r.ReadString('\n')
	if err != nil {
		return nil, false, fmt.Errorf("git cat-file %s: %w", spec, err)
	}
	header = strings.TrimSuffix(header, "\n")
	if header == spec+" missing" {
		return nil, false, nil
	}
	fields := strings.Fields(header)
	if len(fields) != 3 {
		return nil, false, fmt.Errorf("git cat-file %s: unexpected answer %q", spec, header)
	}
	size, err := strconv.Atoi(fields[2])
	if err != nil || size < 0 {
		return nil, false, fmt.Errorf("git cat-file %s: unexpected answer %q", spec, header)
	}
	body := make([]byte, size+1) // the object and a newline
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, false, fmt.Errorf("git cat-file %s: %w", spec, err)
	}
	if fields[1] != "blob" {
		return nil, false, nil // a directory (or submodule) of that name is not a file
	}
	return body[:size], true, nil
}

func (s GitSource) git(ctx context.Context, stdout io.Writer, args ...string) error {
	cmd := s.command(ctx, args...)
	cmd.Stdout = stdout
	return gitexec.Run(cmd, "")
}

// ReadFile returns a file of the tree; ok is false when it does not exist.
// `git cat-file --batch` answers both questions at once: "<name> missing"
// for a path that is not there, the object otherwise.
func (s GitSource) ReadFile(ctx context.Context, path string) (data []byte, ok bool, err error) {
	spec := s.Rev + ":" + path
	if s.files != nil {
		if data, ok, err := s.files.read(spec); !errors.Is(err, errBatchGone) {
			return data, ok, err
		}
	}
	cmd := s.command(ctx, "cat-file", "--batch")
	cmd.Stdin = strings.NewReader(spec + "\n")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := gitexec.Run(cmd, "git cat-file "+spec); err != nil {
		return nil, false, err
	}
	return readBatchAnswer(bufio.NewReader(&out), spec)
}

// Archive streams the tree as a tar archive (a build context needs no
// checkout on disk).
func (s GitSource) Archive(ctx context.Context, w io.Writer) error {
	return s.git(ctx, w, "archive", "--format=tar", s.Rev)
}
