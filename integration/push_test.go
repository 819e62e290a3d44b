package integration

// End-to-end tests of git push and the deploy pipeline
// (docs/dokku-behaviour.md#deploy-branch, #push-output) with the real git and
// OpenSSH clients, the null builder and the null scheduler.

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
)

// docs/dokku-behaviour.md#deploy-branch: the first push auto-creates the app,
// makes the pushed branch the deploy branch, and deploys with Dokku's
// transcript on side-band 2.
func TestPushFirstDeploys(t *testing.T) {
	t.Parallel()
	s, c := pushSetup(t, pushServerOpts{})
	const app = "first-app"
	dir := c.newRepo(t)
	head := c.mustGit(t, dir, "rev-parse", "HEAD")

	r := c.mustPush(t, dir, c.url(app), "main")
	lines := remoteLines(r.Stderr)
	want := []string{
		"-----> Set main as deploy-branch",
		"-----> Releasing " + app + "...",
		"-----> Deploying " + app + " via the null scheduler...",
		"=====> Application deployed:",
	}
	if !inOrder(lines, want...) {
		t.Errorf("push transcript: want these remote: lines in order:\n%s\ngot:\n%s", strings.Join(want, "\n"), r.Stderr)
	}
	if strings.Contains(r.Stderr, "\x1b") {
		t.Errorf("push output carries escape codes (docs/dokku-behaviour.md#push-output: written plainly here): %q", r.Stderr)
	}
	if !regexp.MustCompile(`\* \[new branch\]\s+main -> main`).MatchString(r.Stderr) {
		t.Errorf("git did not report the new branch:\n%s", r.Stderr)
	}

	s.mustLocal(t, "apps:exists", app)
	repo := appRepo(s, app)
	if got := c.serverRef(t, repo, "refs/heads/main"); got != head {
		t.Errorf("server refs/heads/main = %q, want the pushed commit %s", got, head)
	}
	if got := s.mustLocal(t, "git:report", app, "--git-computed-deploy-branch").Stdout; got != "main\n" {
		t.Errorf("git:report --git-computed-deploy-branch = %q, want main", got)
	}
	if got := s.mustLocal(t, "git:report", app, "--git-deploy-branch").Stdout; got != "main\n" {
		t.Errorf("git:report --git-deploy-branch = %q, want main (persisted by the first push)", got)
	}
	if got := s.mustLocal(t, "git:report", app, "--git-sha").Stdout; got != head+"\n" {
		t.Errorf("git:report --git-sha = %q, want %s", got, head)
	}
	// The deploy records the pushed commit in the app's config.
	if r := s.local(t, "", "config:get", app, "GIT_REV"); r.Code != 0 || r.Stdout != head+"\n" {
		t.Errorf("config:get %s GIT_REV: %s\nwant %s, exit 0", app, r, head)
	}
	if d := incomingDirs(repo); len(d) != 0 {
		t.Errorf("quarantine directories left after a push: %v", d)
	}
	recs := builds(t, s, app)
	if len(recs) != 1 || recs[0].Rev != head || recs[0].Status != "succeeded" || recs[0].Kind != "git-hook" {
		t.Errorf("builds after the first push: %+v, want one succeeded git-hook build of %s", recs, head)
	}
}

// An incremental push sends a thin pack (the changed blob as a delta
// against one the server has); index-pack --fix-thin completes it.
func TestPushIncrementalThinPack(t *testing.T) {
	t.Parallel()
	s, c := pushSetup(t, pushServerOpts{})
	const app = "thin-app"
	dir := c.newRepo(t)
	var b strings.Builder
	for i := 0; i < 4000; i++ {
		b.WriteString("line " + strings.Repeat("x", i%50) + " " + randHex(t, 2) + "\n")
	}
	big := b.String()
	c.commitFile(t, dir, "big.txt", big)
	c.mustPush(t, dir, c.url(app), "main")

	changed := strings.Replace(big, "line ", "LINE ", 1)
	second := c.commitFile(t, dir, "big.txt", changed)
	r := c.mustPush(t, dir, "--progress", c.url(app), "main")
	if m := regexp.MustCompile(`Total \d+ \(delta (\d+)\)`).FindStringSubmatch(r.Stderr); m == nil || m[1] == "0" {
		t.Errorf("the second push did not send deltas (no thin pack exercised):\n%s", r.Stderr)
	}
	if !inOrder(remoteLines(r.Stderr), "-----> Releasing "+app+"...", "=====> Application deployed:") {
		t.Errorf("incremental push did not deploy:\n%s", r.Stderr)
	}
	repo := appRepo(s, app)
	if got := c.serverRef(t, repo, "refs/heads/main"); got != second {
		t.Errorf("refs/heads/main = %q, want %s", got, second)
	}
	c.fsck(t, repo)
	if got := c.mustGit(t, "", "--git-dir", repo, "show", second+":big.txt"); got+"\n" != changed {
		t.Errorf("big.txt in the server's repository differs from the pushed one")
	}
}

// Force push after amend; a tag named like the deploy branch deploys; other
// branches and tags are stored with Dokku's warning and exit 0.
func TestPushForceTagsAndOtherRefs(t *testing.T) {
	t.Parallel()
	s, c := pushSetup(t, pushServerOpts{})
	const app = "refs-app"
	repo := appRepo(s, app)
	dir := c.newRepo(t)
	first := c.commitFile(t, dir, "a.txt", "one\n")
	c.mustPush(t, dir, c.url(app), "main")

	t.Run("force push after amend", func(t *testing.T) {
		c.mustGit(t, dir, "commit", "-q", "--amend", "-m", "amended "+randHex(t, 4))
		amended := c.mustGit(t, dir, "rev-parse", "HEAD")
		r := c.git(t, dir, "push", c.url(app), "main")
		if r.Code == 0 {
			t.Fatalf("a non-fast-forward push without -f succeeded: %s", r)
		}
		r = c.mustPush(t, dir, "-f", c.url(app), "main")
		if !inOrder(remoteLines(r.Stderr), "-----> Releasing "+app+"...", "=====> Application deployed:") {
			t.Errorf("force push did not deploy:\n%s", r.Stderr)
		}
		if !strings.Contains(r.Stderr, "(forced update)") {
			t.Errorf("git did not report a forced update:\n%s", r.Stderr)
		}
		if got := c.serverRef(t, repo, "refs/heads/main"); got != amended {
			t.Errorf("refs/heads/main = %q after force push, want %s (was %s)", got, amended, first)
		}
		c.fsck(t, repo)
	})

	t.Run("tag named like the deploy branch deploys", func(t *testing.T) {
		c.mustGit(t, dir, "checkout", "-q", "-b", "side")
		tagged := c.commitFile(t, dir, "side.txt", "side "+randHex(t, 4)+"\n")
		c.mustGit(t, dir, "tag", "main", tagged)
		before := len(builds(t, s, app))
		r := c.mustPush(t, dir, c.url(app), "refs/tags/main:refs/tags/main")
		if !inOrder(remoteLines(r.Stderr), "-----> Releasing "+app+"...", "=====> Application deployed:") {
			t.Errorf("pushing refs/tags/main did not deploy:\n%s", r.Stderr)
		}
		if got := c.serverRef(t, repo, "refs/tags/main"); got != tagged {
			t.Errorf("refs/tags/main = %q, want %s", got, tagged)
		}
		recs := builds(t, s, app)
		if len(recs) != before+1 {
			t.Errorf("builds: %d before, %d after the tag push; want one more", before, len(recs))
		} else if _, ok := buildFor(recs, tagged); !ok {
			t.Errorf("no build of the tagged commit %s: %+v", tagged, recs)
		}
		c.mustGit(t, dir, "tag", "-d", "main")
	})

	t.Run("other branch is stored with a warning", func(t *testing.T) {
		head := c.mustGit(t, dir, "rev-parse", "HEAD")
		before := len(builds(t, s, app))
		r := c.mustPush(t, dir, c.url(app), "side:refs/heads/feature")
		lines := remoteLines(r.Stderr)
		for _, want := range []string{
			"-----> WARNING: deploy did not complete, you must push to main.",
			"-----> for example, try 'git push <dokku> feature:main'",
		} {
			if !hasLine(lines, want) {
				t.Errorf("push of another branch: no remote line %q:\n%s", want, r.Stderr)
			}
		}
		if hasLine(lines, "-----> Releasing "+app+"...") {
			t.Errorf("push of another branch deployed:\n%s", r.Stderr)
		}
		if got := c.serverRef(t, repo, "refs/heads/feature"); got != head {
			t.Errorf("refs/heads/feature = %q, want %s", got, head)
		}
		if after := len(builds(t, s, app)); after != before {
			t.Errorf("a push of another branch recorded a build (%d -> %d)", before, after)
		}
	})

	t.Run("other tag is stored with a warning", func(t *testing.T) {
		c.mustGit(t, dir, "tag", "-a", "-m", "release", "v1.0")
		tagObj := c.mustGit(t, dir, "rev-parse", "v1.0")
		r := c.mustPush(t, dir, c.url(app), "v1.0")
		if !hasLine(remoteLines(r.Stderr), "-----> WARNING: deploy did not complete, you must push to main.") ||
			!hasLine(remoteLines(r.Stderr), "-----> for example, try 'git push <dokku> v1.0:main'") {
			t.Errorf("push of a tag: no deploy-did-not-complete warning:\n%s", r.Stderr)
		}
		if got := c.serverRef(t, repo, "refs/tags/v1.0"); got != tagObj {
			t.Errorf("refs/tags/v1.0 = %q, want the tag object %s", got, tagObj)
		}
	})
	c.fsck(t, repo)
	c.refsResolve(t, repo)
}

// Ref deletion, atomic multi-ref pushes, push options.
func TestPushDeleteAtomicOptions(t *testing.T) {
	t.Parallel()
	s, c := pushSetup(t, pushServerOpts{})
	const app = "ops-app"
	repo := appRepo(s, app)
	dir := c.newRepo(t)
	c.mustPush(t, dir, c.url(app), "main")

	t.Run("delete", func(t *testing.T) {
		c.mustPush(t, dir, c.url(app), "main:refs/heads/feature")
		if c.serverRef(t, repo, "refs/heads/feature") == "" {
			t.Fatal("refs/heads/feature was not created")
		}
		r := c.mustPush(t, dir, "--delete", c.url(app), "feature")
		if !strings.Contains(r.Stderr, "[deleted]") {
			t.Errorf("git did not report the deletion:\n%s", r.Stderr)
		}
		if got := c.serverRef(t, repo, "refs/heads/feature"); got != "" {
			t.Errorf("refs/heads/feature still %s after --delete", got)
		}
		if c.serverRef(t, repo, "refs/heads/main") == "" {
			t.Errorf("refs/heads/main disappeared")
		}
		r = c.git(t, dir, "push", "--delete", c.url(app), "no-such-branch")
		if r.Code == 0 {
			t.Errorf("deleting a branch that does not exist succeeded: %s", r)
		}
	})

	t.Run("atomic", func(t *testing.T) {
		c.mustGit(t, dir, "branch", "topic")
		mainRev := c.commitFile(t, dir, "atomic.txt", "atomic "+randHex(t, 4)+"\n")
		topicRev := c.mustGit(t, dir, "rev-parse", "topic")
		r := c.mustPush(t, dir, "--atomic", c.url(app), "main", "topic")
		if !inOrder(remoteLines(r.Stderr), "-----> Releasing "+app+"...", "=====> Application deployed:") {
			t.Errorf("atomic push did not deploy main:\n%s", r.Stderr)
		}
		if got := c.serverRef(t, repo, "refs/heads/main"); got != mainRev {
			t.Errorf("refs/heads/main = %q, want %s", got, mainRev)
		}
		if got := c.serverRef(t, repo, "refs/heads/topic"); got != topicRev {
			t.Errorf("refs/heads/topic = %q, want %s", got, topicRev)
		}
	})

	t.Run("push options", func(t *testing.T) {
		rev := c.commitFile(t, dir, "opts.txt", "opts "+randHex(t, 4)+"\n")
		r := c.mustPush(t, dir, "-o", "ci.skip", "-o", "merge_request.create", c.url(app), "main")
		if strings.Contains(r.Stderr, "does not support push options") {
			t.Errorf("server did not accept push options:\n%s", r.Stderr)
		}
		if got := c.serverRef(t, repo, "refs/heads/main"); got != rev {
			t.Errorf("refs/heads/main = %q, want %s", got, rev)
		}
		if _, ok := buildFor(builds(t, s, app), rev); !ok {
			t.Errorf("the push with options did not deploy %s", rev)
		}
	})
	c.fsck(t, repo)
}

// docs/dokku-behaviour.md#repo-path: auto-creation can be disabled globally.
func TestPushAutocreationDisabled(t *testing.T) {
	t.Parallel()
	s, c := pushSetup(t, pushServerOpts{})
	s.mustLocal(t, "apps:set", "--global", "disable-autocreation", "true")
	const app = "no-autocreate"
	dir := c.newRepo(t)
	r := c.git(t, dir, "push", c.url(app), "main")
	if r.Code == 0 {
		t.Fatalf("push to a new app with auto-creation disabled succeeded: %s", r)
	}
	for _, want := range []string{
		warn("App auto-creation disabled."),
		warn("Re-enable app auto-creation or create an app with 'dokku apps:create " + app + "'"),
	} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("push with auto-creation disabled: stderr lacks %q:\n%s", want, r.Stderr)
		}
	}
	if _, err := os.Stat(appRepo(s, app)); err == nil {
		t.Errorf("%s was created although the push was refused", appRepo(s, app))
	}
	if r := s.local(t, "", "apps:exists", app); r.Code == 0 {
		t.Errorf("apps:exists %s after a refused push: %s", app, r)
	}

	s.mustLocal(t, "apps:create", app)
	c.mustPush(t, dir, c.url(app), "main")
	if c.serverRef(t, appRepo(s, app), "refs/heads/main") == "" {
		t.Errorf("push to the created app did not store main")
	}
}

// docs/dokku-behaviour.md#deploy-branch: a failing build rejects the push; the
// ref does not move and the pushed objects are dropped with the quarantine.
func TestPushFailedBuildKeepsRefs(t *testing.T) {
	t.Parallel()
	s, c := pushSetup(t, pushServerOpts{})
	const app = "failing-app"
	repo := appRepo(s, app)
	dir := c.newRepo(t)
	first := c.mustGit(t, dir, "rev-parse", "HEAD")
	c.mustPush(t, dir, c.url(app), "main")

	s.mustLocal(t, "builder:set", app, "selected", "dockerfile")
	second := c.commitFile(t, dir, "app.txt", "no Dockerfile here\n")
	r := c.git(t, dir, "push", c.url(app), "main")
	if r.Code == 0 {
		t.Fatalf("push without a Dockerfile, dockerfile builder selected, succeeded: %s", r)
	}
	if !regexp.MustCompile(`! \[remote rejected\]\s+main -> main \(pre-receive hook declined\)`).MatchString(r.Stderr) {
		t.Errorf("no `[remote rejected] ... (pre-receive hook declined)`:\n%s", r.Stderr)
	}
	if !hasLine(remoteLines(r.Stderr), " !     App build failed") {
		t.Errorf("no `remote:  !     App build failed` line:\n%s", r.Stderr)
	}
	if got := c.serverRef(t, repo, "refs/heads/main"); got != first {
		t.Errorf("refs/heads/main = %q after a failed build, want it unchanged at %s", got, first)
	}
	if c.hasObject(t, repo, second) {
		t.Errorf("the rejected commit %s was kept in the repository", second)
	}
	if d := incomingDirs(repo); len(d) != 0 {
		t.Errorf("quarantine directories left after a failed build: %v", d)
	}
	if rec, ok := buildFor(builds(t, s, app), second); !ok || rec.Status != "failed" {
		t.Errorf("build of %s: %+v (found %v), want status failed", second, rec, ok)
	}
	c.fsck(t, repo)
}

// builds:list and builds:output after pushes; builds:cancel on an idle app.
func TestPushBuildsRecorded(t *testing.T) {
	t.Parallel()
	s, c := pushSetup(t, pushServerOpts{})
	const app = "builds-app"
	dir := c.newRepo(t)
	var revs []string
	for i := 0; i < 4; i++ {
		revs = append(revs, c.commitFile(t, dir, "n.txt", randHex(t, 8)+"\n"))
		c.mustPush(t, dir, c.url(app), "main")
	}

	recs := builds(t, s, app)
	if len(recs) != len(revs) {
		t.Fatalf("builds:list has %d builds after %d pushes: %+v", len(recs), len(revs), recs)
	}
	var gotOrder, wantOrder []string
	for i, rec := range recs {
		if rec.Status != "succeeded" || rec.Kind != "git-hook" || rec.App != app {
			t.Errorf("build %d: %+v, want a succeeded git-hook of %s", i, rec, app)
		}
		gotOrder = append(gotOrder, shortOID(rec.Rev))
		wantOrder = append(wantOrder, shortOID(revs[len(revs)-1-i]))
	}
	if strings.Join(gotOrder, " ") != strings.Join(wantOrder, " ") {
		var b strings.Builder
		for _, r := range recs {
			fmt.Fprintf(&b, "  %s  started %s  rev %s\n", r.ID, r.Started.Format("15:04:05.000000"), shortOID(r.Rev))
		}
		t.Errorf("builds:list is not newest first: revs %v, want %v (pushed one after the other); the list:\n%s", gotOrder, wantOrder, b.String())
	}

	text := s.mustLocal(t, "builds:list", app)
	if !strings.HasPrefix(text.Stdout, "=====> "+app+" builds\n") {
		t.Errorf("builds:list %s: %s", app, text)
	}
	for _, rec := range recs {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(rec.ID) + `\s+succeeded\s+git-hook\s`).MatchString(text.Stdout) {
			t.Errorf("builds:list does not show build %s as a succeeded git-hook:\n%s", rec.ID, text.Stdout)
		}
	}

	for _, args := range [][]string{{app}, {app, recs[len(recs)-1].ID}} {
		out := s.mustLocal(t, append([]string{"builds:output"}, args...)...)
		for _, want := range []string{
			"-----> Releasing " + app + "...\n",
			"-----> Deploying " + app + " via the null scheduler...\n",
			"=====> Application deployed:\n",
		} {
			if !strings.Contains(out.Stdout, want) {
				t.Errorf("builds:output %s lacks %q:\n%s", strings.Join(args, " "), want, out)
			}
		}
	}
	if r := s.local(t, "", "builds:output", app, "20000101T000000Z-000000"); r.Code == 0 {
		t.Errorf("builds:output of an unknown build id succeeded: %s", r)
	}

	expect(t, "builds:cancel on an idle app", s.local(t, "", "builds:cancel", app), 0, "", warn("App not currently deploying"))
	r := s.ssh(t, c.key, "builds:cancel", app)
	expect(t, "builds:cancel over ssh on an idle app", r, 0, "", warn("App not currently deploying"))
}

// --max-pack-size bounds one push's pack: a larger pack is refused with an
// unpacker error and leaves nothing behind.
func TestPushMaxPackSize(t *testing.T) {
	t.Parallel()
	s, c := pushSetup(t, pushServerOpts{Args: []string{"--max-pack-size", "1000000"}})
	const app = "capped-app"
	repo := appRepo(s, app)
	dir := c.newRepo(t)
	first := c.mustGit(t, dir, "rev-parse", "HEAD")
	c.mustPush(t, dir, c.url(app), "main")

	writeRandomFiles(t, dir, "data", 1, 2<<20)
	c.mustGit(t, dir, "add", "data")
	c.mustGit(t, dir, "commit", "-q", "-m", "2 MiB")
	big := c.mustGit(t, dir, "rev-parse", "HEAD")
	r := c.git(t, dir, "push", c.url(app), "main")
	if r.Code == 0 {
		t.Fatalf("a 2 MiB pack passed --max-pack-size 1000000: %s", r)
	}
	if !regexp.MustCompile(`! \[remote rejected\]\s+main -> main \(unpacker error\)`).MatchString(r.Stderr) {
		t.Errorf("no `[remote rejected] main -> main (unpacker error)`:\n%s", r.Stderr)
	}
	if hasLine(remoteLines(r.Stderr), "-----> Releasing "+app+"...") {
		t.Errorf("the oversized push deployed:\n%s", r.Stderr)
	}
	if got := c.serverRef(t, repo, "refs/heads/main"); got != first {
		t.Errorf("refs/heads/main = %q, want it unchanged at %s", got, first)
	}
	if c.hasObject(t, repo, big) {
		t.Errorf("the refused commit %s was kept", big)
	}
	if d := incomingDirs(repo); len(d) != 0 {
		t.Errorf("quarantine directories left: %v", d)
	}
	c.fsck(t, repo)
}
