package deploy

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dokku-sshd/internal/gitexec/gitexectest"
)

// cleanGit runs git with no environment but PATH and HOME, whatever the
// test's environment holds, and returns its trimmed output.
func cleanGit(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v: %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestHostileGitEnvironment: GIT_* variables in the server's environment
// that point at another repository change nothing a deploy reads or
// writes: the source's files and archive, the release's deploy branch, the
// HEAD it points, and the commit and ref of a deploy from an image.
func TestHostileGitEnvironment(t *testing.T) {
	src, rev := testRepo(t, map[string]string{"Procfile": "web: run\n"})
	p := testPipeline(t)
	repo := p.Store.AppDir("app")
	cleanGit(t, "clone", "-q", "--bare", src, repo)
	cleanGit(t, "--git-dir", repo, "branch", "prod", rev)
	p.Store.SetProperty("git", "app", "deploy-branch", "prod")

	env, other := gitexectest.HostileEnv(t)
	gitexectest.Setenv(t, env)
	ctx := context.Background()
	source := GitSource{Repo: repo, Rev: rev}
	tests := []struct {
		name string
		run  func() error
	}{
		{"source reads a file", func() error {
			return wantFile(source.ReadFile(ctx, "Procfile"))
		}},
		{"opened source reads a file", func() error {
			opened, done := source.Open(ctx)
			defer done()
			if opened.files == nil {
				return errors.New("cat-file --batch did not start")
			}
			return wantFile(opened.ReadFile(ctx, "Procfile"))
		}},
		{"source archive", func() error {
			var b bytes.Buffer
			if err := source.Archive(ctx, &b); err != nil {
				return err
			}
			tr := tar.NewReader(&b)
			for {
				h, err := tr.Next() // after git's pax header
				if err != nil {
					return errors.New("archive lacks the Procfile")
				}
				if h.Name == "Procfile" {
					return nil
				}
			}
		}},
		{"release finds the deploy branch", func() error {
			if branch, got, err := p.deployRev(ctx, "app"); err != nil || branch != "prod" || got != rev {
				return errors.New("deploy branch prod at " + rev + ", got " + branch + " at " + got)
			}
			return nil
		}},
		{"HEAD points at the deploy branch", func() error {
			PointHead(ctx, p.Store, "app", repo)
			if head, _ := os.ReadFile(filepath.Join(repo, "HEAD")); string(head) != "ref: refs/heads/prod\n" {
				return errors.New("HEAD is " + string(head))
			}
			return nil
		}},
		{"from-image commit and ref update", func() error {
			next, err := commitFile(ctx, repo, rev, "Dockerfile", "FROM x\n", FromImage{Image: "x"})
			if err != nil {
				return err
			}
			if err := updateRef(ctx, repo, "refs/heads/prod", next, rev); err != nil {
				return err
			}
			if got := cleanGit(t, "--git-dir", repo, "show", "refs/heads/prod:Dockerfile"); got != "FROM x" {
				return errors.New("the deploy branch's Dockerfile is " + got)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); err != nil {
				t.Error(err)
			}
		})
	}
	if refs := cleanGit(t, "--git-dir", other, "for-each-ref"); refs != "" {
		t.Errorf("the other repository got refs:\n%s", refs)
	}
	if objs := cleanGit(t, "--git-dir", other, "count-objects"); objs != "0 objects, 0 kilobytes" {
		t.Errorf("the other repository got objects: %s", objs)
	}
}

// wantFile checks a ReadFile of the test repository's Procfile.
func wantFile(data []byte, ok bool, err error) error {
	if err != nil {
		return err
	}
	if !ok || string(data) != "web: run\n" {
		return errors.New("Procfile is " + string(data))
	}
	return nil
}
