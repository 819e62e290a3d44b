package deploy

import (
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dokku-sshd/internal/testenv"
)

// A git run that fails without a word on stderr still names its cause,
// and its message does not end in an empty ": " reason.
func TestGitFailureWithoutStderr(t *testing.T) {
	testenv.Tool(t, "git")
	repo := filepath.Join(t.TempDir(), "app")
	if out, err := exec.Command("git", "init", "--bare", "--quiet", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	s := GitSource{Repo: repo}
	err := s.git(context.Background(), io.Discard, "rev-parse", "--verify", "--quiet", "refs/heads/nope")
	if err == nil || strings.HasSuffix(err.Error(), ": ") || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("err = %q, want the exit status and no empty reason", err)
	}
	err = s.git(context.Background(), io.Discard, "rev-parse", "--verify", "no..such")
	if err == nil || !strings.Contains(err.Error(), "fatal:") {
		t.Errorf("err = %q, want what git said", err)
	}
}
