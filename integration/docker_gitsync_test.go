package integration

import (
	"strings"
	"testing"
)

// TestDockerGitSyncKeepGitDir syncs an app over SSH from a repository on
// the server's disk (file://) and deploys it on the real Docker Engine,
// then ships its repository with keep-git-dir: the image has /app/.git
// with HEAD on the deploy branch at the deployed commit, for a sync
// build and for a push (whose commit is still in the push's quarantine
// while it builds). Without keep-git-dir there is no .git. (Needs Docker:
// skips without it, fails under CI=true.)
func TestDockerGitSyncKeepGitDir(t *testing.T) {
	t.Parallel()
	a := newDockerApp(t, "gsync")
	app := a.name
	ssh := func(words ...string) result {
		t.Helper()
		return a.sshLong(t, "", words...)
	}
	// The Dockerfile copies the whole context, .git with it when shipped.
	a.commit(t, map[string]string{"index.html": "synced"})
	first := a.commit(t, map[string]string{"Dockerfile": "FROM " + a.base + "\nCOPY . /app\nWORKDIR /app\n" +
		`CMD ["sh", "-c", "exec httpd -f -p $PORT -h /app"]` + "\n"})
	remote := "file://" + a.dir
	a.s.mustSSH(t, a.key, "apps:create", app)

	// Bad input first: nothing changes.
	expect(t, "missing app", ssh("git:sync", app+"-nope", remote), 20, "", warn("App "+app+"-nope does not exist"))
	expect(t, "no remote", ssh("git:sync", app), 1, "", warn("Missing GIT_REMOTE parameter"))
	expect(t, "unknown flag", ssh("git:sync", "--bogus", app, remote), 1, "", warn("Unknown flag --bogus"))
	r := ssh("git:sync", "--build", app, remote+"-gone")
	if r.Code != 128 || !strings.Contains(r.Stderr, "fatal: '.../work-gone' does not appear to be a git repository") ||
		strings.Contains(r.Stdout+r.Stderr, a.s.DataDir) || strings.Contains(r.Stderr, a.dir) {
		t.Fatalf("unreachable remote: %s", r)
	}

	// The first sync clones main, makes it the deploy branch and builds.
	r = ssh("git:sync", "--build", app, remote, "main")
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "-----> Cloning "+app+" from "+remote+"#main\n       Detected branch, setting deploy-branch to main\n") ||
		!strings.Contains(r.Stdout, "=====> Application deployed:") {
		t.Fatalf("git:sync --build: %s\nserver log:\n%s", r, a.s.Log())
	}
	if r := ssh("run", app, "test", "-e", ".git"); r.Code != 1 {
		t.Errorf("a .git without keep-git-dir: %s", r)
	}
	if r := ssh("apps:report", app, "--app-deploy-source-metadata"); strings.TrimSpace(r.Stdout) != remote+"#"+first {
		t.Errorf("deploy-source-metadata: %s", r)
	}

	// keep-git-dir: the next build ships .git.
	headIs := func(what, rev string) {
		t.Helper()
		r := ssh("run", app, "sh", "-c", `'cat .git/HEAD; cat .git/refs/heads/main 2>/dev/null || grep " refs/heads/main$" .git/packed-refs; test -d .git/objects/pack && echo objects'`)
		if want := "ref: refs/heads/main\n" + rev; r.Code != 0 || !strings.HasPrefix(r.Stdout, want) || !strings.HasSuffix(r.Stdout, "objects\n") {
			t.Errorf("%s: .git in the image: %s\nwant HEAD and main: %s", what, r, want)
		}
	}
	a.s.mustSSH(t, a.key, "git:set", app, "keep-git-dir", "true")
	r = ssh("git:sync", "--build-if-changes", app, remote, "main")
	if r.Code != 0 || r.Stdout != "       Fetching remote code for "+app+" from "+remote+"#main\n       Skipping build as no changes were detected\n" {
		t.Fatalf("--build-if-changes without a change: %s", r)
	}
	second := a.commit(t, map[string]string{"index.html": "synced again"})
	r = ssh("git:sync", "--build-if-changes", app, remote, "main")
	if r.Code != 0 || !strings.Contains(r.Stdout, "=====> Application deployed:") {
		t.Fatalf("--build-if-changes with a change: %s", r)
	}
	headIs("sync build", second)

	// A push: the commit is in the push's quarantine while it builds.
	third := a.commit(t, map[string]string{"index.html": "pushed"})
	a.push(t)
	headIs("push", third)
}
