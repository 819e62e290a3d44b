package integration

import (
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
