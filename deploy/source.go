// Package deploy is the pipeline from a source (a pushed git tree, later an
// image) through a builder to a release handed to a scheduler, with Dokku's
// transcript on the client's terminal and a record of every build.
package deploy

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"dokku-sshd/internal/gitexec"
)

// DefaultKeepGitDir is git's keep-git-dir when neither the app nor
// --global sets one: the build context holds the tree alone.
const DefaultKeepGitDir = "false"

// GitSource is a revision of an app's repository. Env makes git see objects
// that are still in a push's quarantine.
type GitSource struct {
	Repo string
	Rev  string
	Env  []string
	// KeepGitDir ships the repository as .git beside the tree, with HEAD
	// on Branch at Rev (git's keep-git-dir), so that git works in the
	// image. The pipeline sets both from the app's settings.
	KeepGitDir bool
	Branch     string
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
// checkout on disk); with KeepGitDir, the repository follows as .git.
func (s GitSource) Archive(ctx context.Context, w io.Writer) error {
	if !s.KeepGitDir {
		return s.git(ctx, w, "archive", "--format=tar", s.Rev)
	}
	return s.archiveWithGitDir(ctx, w)
}

// withGitDir returns src with the app's keep-git-dir applied (a source
// without a repository stays as it is).
func (p *Pipeline) withGitDir(app string, src GitSource) (GitSource, error) {
	if src.Repo == "" {
		return src, nil
	}
	keep, err := p.Store.ComputedProperty("git", app, "keep-git-dir", DefaultKeepGitDir)
	if err != nil || keep != "true" {
		return src, err
	}
	branch, _, err := DeployBranch(p.Store, app)
	if err != nil {
		return src, err
	}
	src.KeepGitDir, src.Branch = true, branch
	return src, nil
}

// archiveWithGitDir writes the tree, then the repository as .git: a full
// clone of the app's repository (every branch and tag, as Dokku ships it)
// whose Branch is Rev and checked out, with an index of Rev's tree, so
// that `git status` is clean and `git rev-parse HEAD` is Rev in the image.
func (s GitSource) archiveWithGitDir(ctx context.Context, w io.Writer) error {
	tmp, err := os.MkdirTemp("", "dokku-git-dir-*")
	if err != nil {
		return fmt.Errorf("keep-git-dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	gitDir := filepath.Join(tmp, ".git")
	if err := s.makeGitDir(ctx, gitDir); err != nil {
		return fmt.Errorf("keep-git-dir: %w", err)
	}
	tw := tar.NewWriter(w)
	if err := s.copyTree(ctx, tw); err != nil {
		return err
	}
	if err := addDir(tw, gitDir, ".git"); err != nil {
		return fmt.Errorf("keep-git-dir: %w", err)
	}
	return tw.Close()
}

// makeGitDir makes gitDir the repository a keep-git-dir build ships.
func (s GitSource) makeGitDir(ctx context.Context, gitDir string) error {
	// A bare clone: no checkout, and no sample hooks.
	if _, err := gitexec.Output(ctx, "", []string{"GIT_TEMPLATE_DIR="}, nil, "clone", "--bare", "--quiet", "--", s.Repo, gitDir); err != nil {
		return err
	}
	// Rev may still be in a push's quarantine, which the clone does not
	// see: push it from the repository, with the quarantine's objects in
	// view. git forbids ref updates while GIT_QUARANTINE_PATH is set, and
	// the receiving side would inherit it.
	var env []string
	for _, v := range s.Env {
		if !strings.HasPrefix(v, "GIT_QUARANTINE_PATH=") {
			env = append(env, v)
		}
	}
	branch := "refs/heads/" + s.Branch
	if _, err := gitexec.Output(ctx, s.Repo, env, nil, "push", "--quiet", "--no-verify", gitDir, "+"+s.Rev+":"+branch); err != nil {
		return err
	}
	for _, args := range [][]string{
		// where the image came from is no business of the image
		{"config", "--remove-section", "remote.origin"},
		{"config", "core.bare", "false"},
		{"symbolic-ref", "HEAD", branch},
		{"read-tree", s.Rev},
	} {
		if _, err := gitexec.Output(ctx, gitDir, nil, nil, args...); err != nil {
			if args[0] == "config" && args[1] == "--remove-section" {
				continue // no origin to remove (git said so, exit 128)
			}
			return err
		}
	}
	return nil
}

// copyTree writes the entries of `git archive` of Rev to tw.
func (s GitSource) copyTree(ctx context.Context, tw *tar.Writer) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := s.git(ctx, pw, "archive", "--format=tar", s.Rev)
		pw.CloseWithError(err)
		done <- err
	}()
	err := func() error {
		tr := tar.NewReader(pr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if h.Typeflag == tar.TypeXGlobalHeader {
				continue // git's comment with the commit id
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if _, err := io.Copy(tw, tr); err != nil {
				return err
			}
		}
	}()
	pr.CloseWithError(io.ErrClosedPipe)
	if aerr := <-done; aerr != nil && !errors.Is(aerr, io.ErrClosedPipe) {
		return aerr
	}
	return err
}

// addDir writes the tree under dir to tw as entries under name, owned by
// root as git archive's are.
func addDir(tw *tar.Writer, dir, name string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(filepath.Join(name, rel))
		if d.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
}
