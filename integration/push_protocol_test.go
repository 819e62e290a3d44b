package integration

// The receive-pack protocol spoken by hand (stale old values, atomic),
// upload-pack (clone, fetch, ls-remote, shallow, protocol v2) and the
// repository path rules of docs/dokku-behaviour.md#repo-path.

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A ref update whose old value is not the ref's current value is refused
// (compare-and-swap), whatever the client negotiated.
func TestPushStaleOldValue(t *testing.T) {
	t.Parallel()
	s, c := pushSetup(t, pushServerOpts{})
	const app = "stale-app"
	repo := appRepo(s, app)
	dir := c.newRepo(t)
	a := c.mustGit(t, dir, "rev-parse", "HEAD")
	c.mustPush(t, dir, c.url(app), "main")
	a2 := c.commitFile(t, dir, "second.txt", "second\n")
	c.mustPush(t, dir, c.url(app), "main")

	// b is a child of a, made by a client that never saw a2.
	c.mustGit(t, dir, "checkout", "-q", "-b", "racer", a)
	b := c.commitFile(t, dir, "racer.txt", "racer "+randHex(t, 4)+"\n")
	pack := c.packObjects(t, dir, []string{b}, []string{a})

	unchanged := func(t *testing.T) {
		t.Helper()
		if got := c.serverRef(t, repo, "refs/heads/main"); got != a2 {
			t.Errorf("refs/heads/main = %q, want it unchanged at %s", got, a2)
		}
		if c.hasObject(t, repo, b) {
			t.Errorf("objects of the refused push (%s) were kept", b)
		}
		if d := incomingDirs(repo); len(d) != 0 {
			t.Errorf("quarantine directories left: %v", d)
		}
	}
	checkReport := func(t *testing.T, r rawPushResult, want ...string) {
		t.Helper()
		if !reflect.DeepEqual(r.Report, want) {
			t.Errorf("report-status: got %q, want %q\nstderr: %q\nband 2: %q", r.Report, want, r.Stderr, r.Band2)
		}
	}

	t.Run("report-status", func(t *testing.T) {
		r := rawReceivePack(t, s, c.key, app, "report-status agent=push-test", []rawPushCmd{{a, b, "refs/heads/main"}}, pack)
		if r.Refs["refs/heads/main"] != a2 {
			t.Errorf("advertised refs/heads/main = %q, want %s", r.Refs["refs/heads/main"], a2)
		}
		for _, capability := range []string{"report-status", "delete-refs", "side-band-64k", "atomic", "push-options"} {
			if !strings.Contains(" "+r.Caps+" ", " "+capability+" ") {
				t.Errorf("capability %s not advertised: %q", capability, r.Caps)
			}
		}
		checkReport(t, r, "unpack ok", "ng refs/heads/main stale info")
		unchanged(t)
	})

	t.Run("side-band-64k", func(t *testing.T) {
		r := rawReceivePack(t, s, c.key, app, "report-status side-band-64k agent=push-test", []rawPushCmd{{a, b, "refs/heads/main"}}, pack)
		checkReport(t, r, "unpack ok", "ng refs/heads/main stale info")
		unchanged(t)
	})

	// The pack is self-delimiting: a client may keep its side of the
	// channel open until report-status arrives (C git's receive-pack hands
	// its stdin to index-pack, which stops at the pack's trailer).
	t.Run("client keeps stdin open until the report", func(t *testing.T) {
		r := rawReceivePackOpts(t, s, c.key, app, "report-status", []rawPushCmd{{a, b, "refs/heads/main"}}, pack, false, 20*time.Second)
		if r.Exit == -1 {
			t.Errorf("no report-status within 20s after the pack was sent (the server waits for EOF on the channel after the pack); report so far %q, stderr %q", r.Report, r.Stderr)
		}
		checkReport(t, r, "unpack ok", "ng refs/heads/main stale info")
		if !waitFor(15*time.Second, func() bool { return len(incomingDirs(repo)) == 0 }) {
			t.Errorf("quarantine directories left: %v", incomingDirs(repo))
		}
		unchanged(t)
	})

	t.Run("create over an existing ref", func(t *testing.T) {
		r := rawReceivePack(t, s, c.key, app, "report-status", []rawPushCmd{{zeroOID, b, "refs/heads/main"}}, pack)
		checkReport(t, r, "unpack ok", "ng refs/heads/main stale info")
		unchanged(t)
	})

	t.Run("delete with a stale value", func(t *testing.T) {
		r := rawReceivePack(t, s, c.key, app, "report-status delete-refs", []rawPushCmd{{a, zeroOID, "refs/heads/main"}}, nil)
		checkReport(t, r, "unpack ok", "ng refs/heads/main stale info")
		unchanged(t)
	})

	t.Run("atomic", func(t *testing.T) {
		r := rawReceivePack(t, s, c.key, app, "report-status atomic", []rawPushCmd{
			{a, b, "refs/heads/main"},
			{zeroOID, b, "refs/heads/fresh"},
		}, pack)
		checkReport(t, r, "unpack ok", "ng refs/heads/main stale info", "ng refs/heads/fresh atomic push failure")
		if got := c.serverRef(t, repo, "refs/heads/fresh"); got != "" {
			t.Errorf("refs/heads/fresh = %s: an atomic push with a stale ref created it", got)
		}
		unchanged(t)
	})

	t.Run("non-atomic: the current one passes", func(t *testing.T) {
		r := rawReceivePack(t, s, c.key, app, "report-status", []rawPushCmd{
			{a, b, "refs/heads/main"},
			{zeroOID, b, "refs/heads/fresh"},
		}, pack)
		checkReport(t, r, "unpack ok", "ng refs/heads/main stale info", "ok refs/heads/fresh")
		if got := c.serverRef(t, repo, "refs/heads/fresh"); got != b {
			t.Errorf("refs/heads/fresh = %q, want %s", got, b)
		}
		if got := c.serverRef(t, repo, "refs/heads/main"); got != a2 {
			t.Errorf("refs/heads/main = %q, want it unchanged at %s", got, a2)
		}
	})

	// Control: the same hand-made request with the current old value is
	// accepted, deploys (output on stderr without side-band) and moves main.
	t.Run("current old value", func(t *testing.T) {
		c.mustGit(t, dir, "checkout", "-q", "main")
		next := c.commitFile(t, dir, "third.txt", "third\n")
		p := c.packObjects(t, dir, []string{next}, []string{a2})
		r := rawReceivePack(t, s, c.key, app, "report-status", []rawPushCmd{{a2, next, "refs/heads/main"}}, p)
		checkReport(t, r, "unpack ok", "ok refs/heads/main")
		if r.Exit != 0 {
			t.Errorf("receive-pack exited %d", r.Exit)
		}
		if !strings.Contains(r.Stderr, "-----> Releasing "+app+"...\n") {
			t.Errorf("deploy output not on stderr without side-band: %q", r.Stderr)
		}
		if got := c.serverRef(t, repo, "refs/heads/main"); got != next {
			t.Errorf("refs/heads/main = %q, want %s", got, next)
		}
	})
	c.fsck(t, repo)
}

// upload-pack: clone, fetch, ls-remote, shallow clone, protocol v2.
func TestPushCloneFetch(t *testing.T) {
	t.Parallel()
	s, c := pushSetup(t, pushServerOpts{})
	const app = "clone-app"
	dir := c.newRepo(t)
	c.commitFile(t, dir, "app.txt", "version one\n")
	c.mustPush(t, dir, c.url(app), "main")
	first := c.mustGit(t, dir, "rev-parse", "HEAD")

	clone := filepath.Join(t.TempDir(), "clone")
	c.mustGit(t, "", "clone", "-q", c.url(app), clone)
	if got := c.mustGit(t, clone, "rev-parse", "HEAD"); got != first {
		t.Errorf("clone HEAD = %s, want %s", got, first)
	}
	if got := c.mustGit(t, clone, "symbolic-ref", "--short", "HEAD"); got != "main" {
		t.Errorf("clone checked out %q, want main (the deploy branch)", got)
	}
	if b, err := os.ReadFile(filepath.Join(clone, "app.txt")); err != nil || string(b) != "version one\n" {
		t.Errorf("app.txt in the clone: %q, %v", b, err)
	}

	second := c.commitFile(t, dir, "app.txt", "version two\n")
	c.mustPush(t, dir, c.url(app), "main")
	c.mustGit(t, clone, "fetch", "-q", "origin")
	if got := c.mustGit(t, clone, "rev-parse", "origin/main"); got != second {
		t.Errorf("after fetch origin/main = %s, want %s", got, second)
	}
	c.mustGit(t, clone, "merge", "-q", "--ff-only", "origin/main")
	c.mustGit(t, clone, "fsck", "--strict", "--no-progress")

	ls := c.mustGit(t, "", "ls-remote", c.url(app))
	for _, want := range []string{second + "\tHEAD", second + "\trefs/heads/main"} {
		if !strings.Contains(ls+"\n", want+"\n") {
			t.Errorf("ls-remote lacks %q:\n%s", want, ls)
		}
	}

	shallow := filepath.Join(t.TempDir(), "shallow")
	c.mustGit(t, "", "clone", "-q", "--depth", "1", c.url(app), shallow)
	if got := c.mustGit(t, shallow, "rev-list", "--count", "HEAD"); got != "1" {
		t.Errorf("shallow clone has %s commits, want 1", got)
	}
	if got := c.mustGit(t, shallow, "rev-parse", "--is-shallow-repository"); got != "true" {
		t.Errorf("--depth 1 clone is not shallow: %s", got)
	}
	if got := c.mustGit(t, shallow, "rev-parse", "HEAD"); got != second {
		t.Errorf("shallow clone HEAD = %s, want %s", got, second)
	}

	// C git's receive-pack accepts a push from a shallow clone when the
	// repository already has the history below the client's shallow
	// boundary (receive.shallowUpdate only refuses pushes that would make
	// the server's repository shallow); CI systems push from --depth 1
	// checkouts all the time.
	t.Run("push from a shallow clone, server has the history", func(t *testing.T) {
		rev := c.commitFile(t, shallow, "from-shallow.txt", "shallow "+randHex(t, 4)+"\n")
		r := c.git(t, shallow, "push", c.url(app), "main")
		if r.Code != 0 {
			t.Fatalf("push from a --depth 1 clone whose history the server has: %s\nwant it accepted, as git-receive-pack does", r)
		}
		if got := c.serverRef(t, appRepo(s, app), "refs/heads/main"); got != rev {
			t.Errorf("refs/heads/main = %q, want %s", got, rev)
		}
		c.fsck(t, appRepo(s, app))
		if _, err := os.Stat(filepath.Join(appRepo(s, app), "shallow")); err == nil {
			t.Errorf("the server's repository became shallow")
		}
		c.mustGit(t, "", "-C", dir, "pull", "-q", "--ff-only", c.url(app), "main")
		second = rev
	})

	t.Run("push from a shallow clone, server lacks the history", func(t *testing.T) {
		const other = "shallow-target"
		r := c.git(t, shallow, "push", c.url(other), "main")
		if r.Code == 0 {
			t.Fatalf("push of a shallow history into an empty app succeeded: %s", r)
		}
		if !strings.Contains(r.Stderr, "shallow update not allowed") {
			t.Errorf("push of a shallow history: no `shallow update not allowed`: %s", r)
		}
		if got := c.serverRef(t, appRepo(s, other), "refs/heads/main"); got != "" {
			t.Errorf("refs/heads/main of %s = %s after a refused shallow push", other, got)
		}
	})

	for _, v := range []string{"2", "0"} {
		r := runTimeout(t, pushTimeout, "", append(c.env(), "GIT_TRACE_PACKET=1"), "git", "-c", "protocol.version="+v, "ls-remote", c.url(app))
		if r.Code != 0 {
			t.Fatalf("ls-remote with protocol.version=%s: %s", v, r)
		}
		if !strings.Contains(r.Stdout, second+"\trefs/heads/main") {
			t.Errorf("ls-remote (protocol %s) lacks refs/heads/main at %s:\n%s", v, second, r.Stdout)
		}
		v2 := strings.Contains(r.Stderr, "< version 2")
		if v == "2" && !v2 {
			t.Errorf("protocol.version=2: the server did not answer with version 2; trace:\n%s", r.Stderr)
		}
		if v == "0" && v2 {
			t.Errorf("protocol.version=0: the server answered with version 2; trace:\n%s", r.Stderr)
		}
	}
	r := runTimeout(t, pushTimeout, "", append(c.env(), "GIT_TRACE_PACKET=1"), "git", "-c", "protocol.version=2", "fetch", "-q", c.url(app), "main")
	if r.Code != 0 || !strings.Contains(r.Stderr, "< version 2") || !strings.Contains(r.Stderr, "> command=fetch") {
		t.Errorf("protocol v2 fetch: %s", r)
	}
}

// docs/dokku-behaviour.md#repo-path and #app-names: the app name comes from the
// path; a path that is not a valid app name is refused with the naming rules
// before anything is created, and 'app', /app and app.git all name the same
// app.
func TestPushRepositoryPaths(t *testing.T) {
	t.Parallel()
	s, c := pushSetup(t, pushServerOpts{})
	parent := filepath.Dir(s.DataDir) // ".." from the root dir lands in the data dir
	dir := c.newRepo(t)
	rules := warn("App name must begin with lowercase alphanumeric character, and may only contain lowercase alphanumerics, dots, and hyphens")

	bad := []struct{ name, remote string }{
		{"ssh home path", c.url("home/dokku/app")},
		{"scp home path", c.scp("/home/dokku/app")},
		{"dot dot", c.scp("..")},
		{"dot dot ssh", c.url("..")},
		{"dot dot slash", c.scp("../escape")},
		{"absolute", c.scp("/tmp/absolute-app")},
		{"absolute into root dir", c.scp(filepath.Join(s.DataDir, "home", "inside"))},
		{"Bad_Name", c.scp("Bad_Name")},
		{"Bad_Name ssh", c.url("Bad_Name")},
		{"a/b", c.scp("a/b")},
		{"dot", c.scp(".")},
	}
	before := dirTree(t, parent)
	for _, tc := range bad {
		r := c.git(t, dir, "push", tc.remote, "main")
		if r.Code == 0 || !strings.Contains(r.Stderr, rules) {
			t.Errorf("%s: push to %s: %s\nwant non-zero exit and the naming-rules message", tc.name, tc.remote, r)
		}
		clone := filepath.Join(t.TempDir(), "clone")
		r = c.git(t, "", "clone", "-q", tc.remote, clone)
		if r.Code == 0 || !strings.Contains(r.Stderr, rules) {
			t.Errorf("%s: clone of %s: %s\nwant non-zero exit and the naming-rules message", tc.name, tc.remote, r)
		}
	}
	for _, raw := range []string{"git-receive-pack '../x'", "git-receive-pack /a/b", "git-upload-pack '../x'", "git-upload-archive 'Bad_Name'"} {
		r := s.sshWith(t, c.key, sshOpts{Stdin: "0000"}, raw)
		if r.Code == 0 || !strings.Contains(r.Stderr, rules) {
			t.Errorf("ssh %s: %s\nwant non-zero exit and the naming-rules message", raw, r)
		}
	}
	if added := diffTree(before, dirTree(t, parent)); len(added) != 0 {
		t.Errorf("refused paths created files: %v", added)
	}
	if ents, _ := os.ReadDir(filepath.Join(s.DataDir, "home")); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		for _, n := range names {
			if n != ".ssh" {
				t.Errorf("refused pushes left %s under %s/home (entries %v)", n, s.DataDir, names)
			}
		}
	}

	// Forms that name the app "pathapp".
	const app = "pathapp"
	good := []struct{ name, remote string }{
		{"scp 'app'", c.scp(app)},
		{"ssh /app", c.url(app)},
		{"scp app.git", c.scp(app + ".git")},
		{"ssh /app.git", c.url(app + ".git")},
	}
	for _, tc := range good {
		rev := c.commitFile(t, dir, "form.txt", tc.name+"\n")
		r := c.git(t, dir, "push", tc.remote, "main")
		if r.Code != 0 {
			t.Errorf("%s: push to %s: %s", tc.name, tc.remote, r)
			continue
		}
		if got := c.serverRef(t, appRepo(s, app), "refs/heads/main"); got != rev {
			t.Errorf("%s: refs/heads/main of %s = %q, want %s", tc.name, app, got, rev)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(s.DataDir, "home"))
	for _, e := range ents {
		if e.Name() != app && e.Name() != ".ssh" {
			t.Errorf("unexpected entry %s under the root dir (only %s expected)", e.Name(), app)
		}
	}
	for _, raw := range []string{"git-receive-pack pathapp", "git-receive-pack '/pathapp'", "git-upload-pack 'pathapp.git'", "git-upload-pack /pathapp"} {
		r := s.sshWith(t, c.key, sshOpts{Stdin: "0000"}, raw)
		if r.Code != 0 || !strings.Contains(r.Stdout, "refs/heads/main") {
			t.Errorf("ssh %s with a flush: %s\nwant exit 0 and an advertisement with refs/heads/main", raw, r)
		}
	}
	clone := filepath.Join(t.TempDir(), "clone")
	c.mustGit(t, "", "clone", "-q", c.scp(app+".git"), clone)
	if got, want := c.mustGit(t, clone, "rev-parse", "HEAD"), c.mustGit(t, dir, "rev-parse", "HEAD"); got != want {
		t.Errorf("clone of %s.git: HEAD %s, want %s", app, got, want)
	}
}
