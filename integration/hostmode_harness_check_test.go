package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostHarnessOpenSSH checks the harness itself against OpenSSH alone:
// the forced command reaches the recorder with the words of the original
// command, in the login user's home, and a chosen exit status comes back.
func TestHostHarnessOpenSSH(t *testing.T) {
	t.Parallel()
	l := newHostLayout(t)
	key := newKey(t, "ed25519", "harness")
	l.addKey(t, "harness", key)
	h := startOpenSSHHost(t, l)
	dir := l.recordInto(t, "check")
	r := h.hostSSH(t, l, key, sshOpts{}, "apps:list", "rec:print=hello", "rec:exit=3")
	expect(t, "recorder via OpenSSH", r, 3, "hello\n", "")
	rec := hostRecording(t, dir)
	if len(rec) != 1 {
		t.Fatalf("want one invocation, got %d", len(rec))
	}
	inv := rec[0]
	t.Logf("OpenSSH's recording:\n%s", inv)
	for what, want := range map[string]string{
		"argv": "apps:list\nrec:print=hello\nrec:exit=3\n", "cwd": l.Home + "\n", "exit": "3\n",
	} {
		got := map[string]string{"argv": inv.Argv, "cwd": inv.Cwd, "exit": inv.Exit, "tty": inv.TTY}[what]
		if got != want {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	if !strings.Contains(inv.Env, `NAME="harness"`) || !strings.Contains(inv.Env, `SSH_ORIGINAL_COMMAND="apps:list rec:print=hello rec:exit=3"`) {
		t.Errorf("environment lacks NAME or SSH_ORIGINAL_COMMAND:\n%s", inv.Env)
	}
}

// TestHostHarnessGitOpenSSH checks the recorder's git side against OpenSSH
// alone: a push creates the app through a recorded apps:create, the
// repository and Dokku's pre-receive hook, whose `dokku git-hook` gets the
// ref lines; a clone runs between the pre-pull and post-pull triggers.
func TestHostHarnessGitOpenSSH(t *testing.T) {
	t.Parallel()
	l := newHostLayout(t)
	key := newKey(t, "ed25519", "harness")
	l.addKey(t, "harness", key)
	h := startOpenSSHHost(t, l)
	c := newGitClient(t, h.server, key)
	url := fmt.Sprintf("ssh://%s@127.0.0.1:%d/app", l.User, h.Port)
	dir := c.newRepo(t)
	head := c.commitFile(t, dir, "a.txt", "a\n")
	pushDir := l.recordInto(t, "push")
	c.mustGit(t, dir, "push", url, "main")
	var verbs []string
	rec := hostRecording(t, pushDir)
	for _, inv := range rec {
		verbs = append(verbs, strings.ReplaceAll(strings.TrimSpace(inv.Argv), "\n", " "))
	}
	want := []string{`git-receive-pack \'/app\'`, "apps:create app", "git-hook app"}
	if strings.Join(verbs, "|") != strings.Join(want, "|") {
		t.Fatalf("push calls %q, want %q", verbs, want)
	}
	if got, want := rec[2].Stdin, strings.Repeat("0", 40)+" "+head+" refs/heads/main\n"; got != want {
		t.Errorf("git-hook stdin %q, want %q", got, want)
	}
	cloneDir := l.recordInto(t, "clone")
	c.mustGit(t, "", "clone", url, filepath.Join(t.TempDir(), "clone"))
	rec = hostRecording(t, cloneDir)
	if len(rec) != 1 || rec[0].Events != "trigger git-pre-pull app\ntrigger git-post-pull app\n" || rec[0].Exit != "0\n" {
		t.Errorf("clone: %v", rec)
	}
}
