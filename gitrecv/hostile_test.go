package gitrecv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dokku-sshd/internal/gitexec/gitexectest"
)

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestHostileGitEnvironment: GIT_* variables in the server's environment
// that point at another repository (and refuse every ref update there)
// change nothing of a push or a clone: the hook sees the pushed commit, the
// refs move in the app's repository, a clone gets them, and the other
// repository stays empty.
func TestHostileGitEnvironment(t *testing.T) {
	work, repo := setup(t)
	env, other := gitexectest.HostileEnv(t)
	var quoted []string
	for _, kv := range env {
		quoted = append(quoted, shellQuote(kv))
	}
	hostile := strings.Join(quoted, " ")
	self, _ := os.Executable()
	out, err := run(t, work, "git", "push", "--receive-pack=env "+hostile+" GITRECV_SERVE=print "+self, repo, "main")
	if err != nil || !strings.Contains(out, "remote: -----> refs/heads/main at first") {
		t.Fatalf("push: %v\n%s", err, out)
	}
	head, _ := run(t, work, "git", "rev-parse", "HEAD")
	if got := refOf(t, repo, "refs/heads/main"); got != strings.TrimSpace(head) {
		t.Fatalf("refs/heads/main = %q after the push, want %s", got, head)
	}
	clone := filepath.Join(t.TempDir(), "clone")
	out, err = run(t, work, "git", "clone", "-q", "-b", "main", "--upload-pack=env "+hostile+" GITRECV_SERVE=upload "+self, repo, clone)
	if err != nil {
		t.Fatalf("clone: %v\n%s", err, out)
	}
	if got, _ := run(t, clone, "git", "rev-parse", "HEAD"); got != head {
		t.Fatalf("clone at %q, want %s", got, head)
	}
	if refs, err := ListRefs(t.Context(), other); err != nil || len(refs) != 0 {
		t.Fatalf("the other repository got refs %v (%v)", refs, err)
	}
}
