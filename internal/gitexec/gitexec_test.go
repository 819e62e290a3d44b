package gitexec

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"dokku-sshd/internal/gitexec/gitexectest"
	"dokku-sshd/internal/testenv"
)

// A git run that fails without a word on stderr still names its cause, and
// its message does not end in an empty ": " reason; one that said something
// carries it.
func TestFailureReason(t *testing.T) {
	testenv.Tool(t, "git")
	repo := filepath.Join(t.TempDir(), "app")
	if _, err := Output(context.Background(), "", nil, nil, "init", "--bare", "--quiet", repo); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"rev-parse", "--verify", "--quiet", "refs/heads/nope"}, []string{"git rev-parse: ", "exit status 1"}},
		{[]string{"rev-parse", "--verify", "no..such"}, []string{"git rev-parse: exit status 128: fatal:"}},
	}
	for _, tt := range tests {
		_, err := Output(context.Background(), repo, nil, nil, tt.args...)
		if err == nil || strings.HasSuffix(err.Error(), ": ") {
			t.Errorf("%v: err = %q, want a reason", tt.args, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: err = %q, want %q in it", tt.args, err, w)
			}
		}
	}
}

// TestCleanEnvironment: the server's GIT_* variables do not reach git,
// what the caller passes does, and a relative repository is taken from the
// server's working directory.
func TestCleanEnvironment(t *testing.T) {
	testenv.Tool(t, "git")
	base := t.TempDir()
	repo := filepath.Join(base, "app.git")
	if _, err := Output(context.Background(), "", nil, nil, "init", "--bare", "--quiet", repo); err != nil {
		t.Fatal(err)
	}
	env, _ := gitexectest.HostileEnv(t)
	gitexectest.Setenv(t, env)
	t.Chdir(base)
	index := filepath.Join(base, "index")
	tests := []struct {
		repo  string
		extra []string
		args  []string
		want  string
	}{
		{repo, nil, []string{"rev-parse", "--absolute-git-dir"}, repo},
		{"app.git", nil, []string{"rev-parse", "--absolute-git-dir"}, repo},
		{repo, nil, []string{"rev-parse", "--git-path", "objects"}, filepath.Join(repo, "objects")},
		{repo, nil, []string{"rev-parse", "--git-path", "index"}, filepath.Join(repo, "index")},
		{repo, []string{"GIT_INDEX_FILE=" + index}, []string{"rev-parse", "--git-path", "index"}, index},
		{repo, nil, []string{"config", "--default", "none", "core.hooksPath"}, "none"},
	}
	for _, tt := range tests {
		out, err := Output(context.Background(), tt.repo, tt.extra, nil, tt.args...)
		if got := strings.TrimSpace(string(out)); err != nil || got != tt.want {
			t.Errorf("%s %v: %q (%v), want %q", tt.repo, tt.args, got, err, tt.want)
		}
	}
}
