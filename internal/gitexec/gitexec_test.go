package gitexec

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

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
