package gitrecv

import (
	"context"
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
	if err := InitRepo(context.Background(), repo); err != nil {
		t.Fatal(err)
	}
	_, err := git(context.Background(), repo, nil, nil, "rev-parse", "--verify", "--quiet", "refs/heads/nope")
	if err == nil || strings.HasSuffix(err.Error(), ": ") || !strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("err = %q, want the exit status and no empty reason", err)
	}
	_, err = git(context.Background(), repo, nil, nil, "rev-parse", "--verify", "no..such")
	if err == nil || !strings.Contains(err.Error(), "fatal:") {
		t.Errorf("err = %q, want what git said", err)
	}
}
