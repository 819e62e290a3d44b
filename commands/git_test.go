package commands

import (
	"testing"

	"dokku-sshd/internal/testenv"
)

// git:status runs git status in the app's bare repository, which git
// refuses as Dokku's does.
func TestGitStatus(t *testing.T) {
	testenv.Tool(t, "git")
	d := testDispatcher(t)
	if r := run(d, local, false, "", "apps:create", "app1"); r.code != 0 {
		t.Fatalf("apps:create: %+v", r)
	}
	steps := []struct {
		name           string
		argv           []string
		stdout, stderr string
		code           int
	}{
		{"no repository yet", []string{"git:status", "app1"}, "", " !     App app1 has no git repository yet: push to it, or run git:initialize\n", 1},
		{"initialize", []string{"git:initialize", "app1"}, "-----> Initializing git repository for app1\n", "", 0},
		{"bare", []string{"git:status", "app1"}, "", "fatal: this operation must be run in a work tree\n", 128},
		// A bash command of Dokku's: verify_app_name's messages and exit 20.
		{"missing app", []string{"git:status", "nope"}, "", " !     App nope does not exist\n", 20},
		{"no app", []string{"git:status"}, "", " !     App  does not exist\n", 20},
	}
	for _, s := range steps {
		r := run(d, local, false, "", s.argv...)
		if r.stdout != s.stdout || r.stderr != s.stderr || r.code != s.code {
			t.Errorf("%s %q:\n got stdout=%q stderr=%q code=%d\nwant stdout=%q stderr=%q code=%d",
				s.name, s.argv, r.stdout, r.stderr, r.code, s.stdout, s.stderr, s.code)
		}
	}
}
