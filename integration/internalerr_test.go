package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// absPath is an absolute path where one can start in a message.
var absPath = regexp.MustCompile("(^|[\\s'\"`(=:,])/[^\\s/]")

// checkInternalError checks what a client was told of an unexpected error:
// a non-zero exit, the cause named, no server path, the pointer to the
// server log; and that the log holds the full error with the client's
// address.
func checkInternalError(t *testing.T, what string, s *server, r result, code int, cause, logged string) {
	t.Helper()
	if r.Code != code {
		t.Errorf("%s: exit %d, want %d\n%s", what, r.Code, code, r)
	}
	if !strings.Contains(r.Stderr, cause) || !strings.Contains(r.Stderr, "(details in the server log)") {
		t.Errorf("%s: stderr does not name the cause %q and point at the server log:\n%s", what, cause, r.Stderr)
	}
	if strings.Contains(r.Stderr, s.DataDir) || absPath.MatchString(r.Stderr) {
		t.Errorf("%s: stderr shows a server path:\n%s", what, r.Stderr)
	}
	s.syncLog(t)
	for _, line := range strings.Split(s.Log(), "\n") {
		if strings.Contains(line, "unexpected error") && strings.Contains(line, logged) && strings.Contains(line, "remote=127.0.0.1:") {
			return
		}
	}
	t.Errorf("%s: the server log has no unexpected-error line with %q and the remote address:\n%s", what, logged, s.Log())
}

// An internal failure (a file the server cannot read, a directory it
// cannot make) reaches the client with its cause but without the server's
// paths, over a command and over a push; the detail is in the server log.
// Root cannot get past a directory where a file should be, or a file
// where a directory should be.
func TestInternalErrorHidesServerPaths(t *testing.T) {
	t.Parallel()
	requireTools(t, "git")
	s, admin := adminServer(t)
	useNullBuilder(t, s)
	lib := filepath.Join(s.DataDir, "lib")

	t.Run("command", func(t *testing.T) {
		s.mustLocal(t, "apps:create", "brokenenv")
		env := filepath.Join(lib, "config", "brokenenv", "ENV")
		if err := os.MkdirAll(env, 0o755); err != nil { // ENV is a directory
			t.Fatal(err)
		}
		r := s.ssh(t, admin, "config:show", "brokenenv")
		checkInternalError(t, "config:show with ENV a directory", s, r, 1, "is a directory", env)
		if !strings.HasPrefix(r.Stderr, " !     ") {
			t.Errorf("not a Dokku warning line: %q", r.Stderr)
		}
	})

	t.Run("push", func(t *testing.T) {
		// deploy-branch cannot be recorded: config/git is a file. Before,
		// git said only "pre-receive hook declined", with no cause.
		gitCfg := filepath.Join(lib, "config", "git")
		if err := os.MkdirAll(filepath.Dir(gitCfg), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(gitCfg, []byte("not a directory\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		c := newGitClient(t, s, admin)
		dir := c.newRepo(t)
		r := c.git(t, dir, "push", c.scp("brokenpush"), "main")
		checkInternalError(t, "push with config/git a file", s, r, 1, "not a directory", gitCfg)
		if !strings.Contains(r.Stderr, "remote:  !     ") || !strings.Contains(r.Stderr, "pre-receive hook declined") {
			t.Errorf("push: want the cause on a remote: line and the push declined:\n%s", r.Stderr)
		}
	})

	t.Run("push auto-create", func(t *testing.T) {
		// config/apps is a file: neither disable-autocreation can be read
		// nor created-at recorded. Before, the client was told "Unable to
		// create app X" and no cause.
		appsCfg := filepath.Join(lib, "config", "apps")
		if err := os.RemoveAll(appsCfg); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(appsCfg, []byte("not a directory\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		c := newGitClient(t, s, admin)
		dir := c.newRepo(t)
		r := c.git(t, dir, "push", c.scp("brokencreate"), "main")
		checkInternalError(t, "auto-create with config/apps a file", s, r, 128, "not a directory", appsCfg)
		if !strings.Contains(r.Stderr, warn("Unable to create app brokencreate: read apps --global disable-autocreation: store: read property apps/--global/disable-autocreation: open .../disable-autocreation: not a directory (details in the server log)")) {
			t.Errorf("auto-create: want the cause after Unable to create app:\n%s", r.Stderr)
		}
	})
}
