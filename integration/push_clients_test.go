package integration

// Pushes from the other git implementations: libgit2 (pygit2) and go-git.
// Both close the connection as soon as they have read the report-status,
// without waiting for the exit status as C git does, so whatever the server
// does after the refs moved must not depend on the client staying there.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gogit "github.com/go-git/go-git/v5"
	gogitconfig "github.com/go-git/go-git/v5/config"
	gogitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	gossh "golang.org/x/crypto/ssh"

	"dokku-sshd/internal/testbuf"
	"dokku-sshd/internal/testenv"
)

// pythonForPygit2 is Debian's python, where python3-pygit2 installs (a
// pyenv python first on PATH does not see it).
const pythonForPygit2 = "/usr/bin/python3"

// requirePygit2 skips (fails under CI=true) without pygit2 and a libgit2
// built with ssh.
func requirePygit2(t *testing.T) {
	t.Helper()
	out, err := exec.Command(pythonForPygit2, "-c",
		"import pygit2; print(pygit2.__version__, bool(pygit2.features & pygit2.GIT_FEATURE_SSH))").CombinedOutput()
	if err != nil {
		testenv.SkipOrFail(t, "this test needs pygit2 for %s (Debian: apt-get install -y python3-pygit2): %s",
			pythonForPygit2, strings.TrimSpace(string(out)))
	}
	if !strings.HasSuffix(strings.TrimSpace(string(out)), "True") {
		testenv.SkipOrFail(t, "this test needs pygit2 with a libgit2 built with ssh support (got %s)", strings.TrimSpace(string(out)))
	}
}

// pushPygit2 pushes refspec from the work tree at dir with libgit2.
func pushPygit2(t *testing.T, c *gitClient, dir, url, refspec string) result {
	t.Helper()
	script := filepath.Join(repoRoot, "integration", "testdata", "pygit2_push.py")
	return runTimeout(t, pushTimeout, dir, c.env(), pythonForPygit2, script, dir, url, refspec, c.key.Pub, c.key.Priv)
}

// pushGoGit pushes refspec from the work tree at dir with go-git's client
// over its ssh transport (golang.org/x/crypto/ssh).
func pushGoGit(t *testing.T, c *gitClient, dir, url, refspec string) result {
	t.Helper()
	repo, err := gogit.PlainOpen(dir)
	if err != nil {
		t.Fatalf("go-git open %s: %v", dir, err)
	}
	auth := &gogitssh.PublicKeys{User: defaultSSHUser, Signer: pushSigner(t, c.key)}
	auth.HostKeyCallback = gossh.InsecureIgnoreHostKey() // a throwaway server on loopback
	if _, err := repo.Remote("go-git"); err != nil {
		if _, err := repo.CreateRemote(&gogitconfig.RemoteConfig{Name: "go-git", URLs: []string{url}}); err != nil {
			t.Fatalf("go-git remote: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), pushTimeout)
	defer cancel()
	var progress testbuf.Buffer
	err = repo.PushContext(ctx, &gogit.PushOptions{
		RemoteName: "go-git",
		RefSpecs:   []gogitconfig.RefSpec{gogitconfig.RefSpec(refspec)},
		Auth:       auth,
		Progress:   &progress,
	})
	r := result{Stderr: progress.String()}
	if err != nil {
		r.Code = 1
		r.Stderr += "\n" + err.Error()
	}
	return r
}

// Initial and incremental pushes from libgit2 and go-git move the refs, and
// HEAD names the deploy branch afterwards: ls-remote --symref shows it and
// a clone checks it out.
func TestPushFromOtherClients(t *testing.T) {
	clients := []struct {
		name    string
		require func(t *testing.T)
		push    func(t *testing.T, c *gitClient, dir, url, refspec string) result
	}{
		{"libgit2", requirePygit2, pushPygit2},
		{"go-git", func(*testing.T) {}, pushGoGit},
	}
	for _, cl := range clients {
		t.Run(cl.name, func(t *testing.T) {
			t.Parallel()
			cl.require(t)
			s, c := pushSetup(t, pushServerOpts{})
			app := "client-" + strings.ReplaceAll(cl.name, "-", "")
			repo := appRepo(s, app)
			dir := c.newRepo(t)
			url := c.url(app)

			first := c.mustGit(t, dir, "rev-parse", "HEAD")
			if r := cl.push(t, c, dir, url, "refs/heads/main:refs/heads/main"); r.Code != 0 {
				t.Fatalf("initial push with %s: %s", cl.name, r)
			}
			if got := c.serverRef(t, repo, "refs/heads/main"); got != first {
				t.Fatalf("refs/heads/main = %q after the initial push, want %s", got, first)
			}
			checkHead(t, c, url, "refs/heads/main", first)

			second := c.commitFile(t, dir, "b.txt", "second\n")
			if r := cl.push(t, c, dir, url, "refs/heads/main:refs/heads/main"); r.Code != 0 {
				t.Fatalf("incremental push with %s: %s", cl.name, r)
			}
			if got := c.serverRef(t, repo, "refs/heads/main"); got != second {
				t.Fatalf("refs/heads/main = %q after the incremental push, want %s", got, second)
			}
			checkHead(t, c, url, "refs/heads/main", second)

			clone := filepath.Join(t.TempDir(), "clone")
			c.mustGit(t, "", "clone", "-q", url, clone)
			if got := c.mustGit(t, clone, "rev-parse", "HEAD"); got != second {
				t.Errorf("the clone checked out %q, want %s", got, second)
			}
			if got := c.mustGit(t, clone, "symbolic-ref", "HEAD"); got != "refs/heads/main" {
				t.Errorf("the clone's HEAD is %q, want refs/heads/main", got)
			}
			if got := readFileT(t, filepath.Join(clone, "b.txt")); got != "second\n" {
				t.Errorf("b.txt in the clone = %q", got)
			}
			checkRepoSane(t, c, repo)
		})
	}
}

// checkHead checks what `git ls-remote --symref` says HEAD is.
func checkHead(t *testing.T, c *gitClient, url, wantRef, wantOID string) {
	t.Helper()
	out := c.mustGit(t, "", "ls-remote", "--symref", url, "HEAD")
	want := "ref: " + wantRef + "\tHEAD\n" + wantOID + "\tHEAD"
	if out != want {
		t.Errorf("git ls-remote --symref HEAD:\n%s\nwant:\n%s", out, want)
	}
}

// readFileT returns a file's content.
func readFileT(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
