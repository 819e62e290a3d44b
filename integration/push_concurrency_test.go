package integration

// Deploy lock (docs/dokku-behaviour.md#deploy-lock), client disconnects during
// a deploy, and progress lines during a silent build step.

import (
	"strings"
	"testing"
	"time"
)

// lockMessage is what a push refused by the deploy lock prints.
func lockMessage(app string) []string {
	return []string{
		warn(app + " currently has a deploy lock in place. Exiting..."),
		warn("Run 'apps:unlock' to release the existing deploy lock"),
	}
}

func expectLocked(t *testing.T, what string, r result, app string) {
	t.Helper()
	if r.Code == 0 {
		t.Errorf("%s: push succeeded, want it refused by the deploy lock: %s", what, r)
		return
	}
	for _, want := range lockMessage(app) {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("%s: stderr lacks %q:\n%s", what, want, r)
		}
	}
}

func TestPushConcurrent(t *testing.T) {
	t.Parallel()
	s, c := pushSetup(t, pushServerOpts{Env: []string{"DOKKU_SSHD_NULL_BUILDER_SLEEP=3s"}})

	t.Run("same app: the second push fails fast", func(t *testing.T) {
		const app = "locked-app"
		repo := appRepo(s, app)
		dirA := c.newRepo(t)
		revA := c.mustGit(t, dirA, "rev-parse", "HEAD")
		first := c.start(t, dirA, "push", c.url(app), "main")
		if !first.waitStderr("Skipping build", pushTimeout) {
			t.Fatalf("the first push never reached the build: %s", first.wait(t))
		}
		dirB := c.newRepo(t)
		r := c.git(t, dirB, "push", c.url(app), "main")
		stillRunning := first.running()
		expectLocked(t, "second push while the first deploys", r, app)
		if !stillRunning {
			t.Logf("note: the first push had ended by the time the second one returned")
		}
		if res := first.wait(t); res.Code != 0 {
			t.Errorf("the first push failed: %s", res)
		}
		if got := c.serverRef(t, repo, "refs/heads/main"); got != revA {
			t.Errorf("refs/heads/main = %q, want the first push's %s", got, revA)
		}
		if r := s.local(t, "", "apps:locked", app); r.Code == 0 {
			t.Errorf("apps:locked after both pushes ended: %s", r)
		}
	})

	t.Run("two apps at once", func(t *testing.T) {
		dirX, dirY := c.newRepo(t), c.newRepo(t)
		x := c.start(t, dirX, "push", c.url("app-x"), "main")
		y := c.start(t, dirY, "push", c.url("app-y"), "main")
		rx, ry := x.wait(t), y.wait(t)
		if rx.Code != 0 || ry.Code != 0 {
			t.Fatalf("concurrent pushes to two apps:\napp-x: %s\napp-y: %s", rx, ry)
		}
		bx, by := builds(t, s, "app-x"), builds(t, s, "app-y")
		if len(bx) != 1 || len(by) != 1 {
			t.Fatalf("builds: app-x %+v, app-y %+v", bx, by)
		}
		// The builds ran side by side: one app's deploy does not wait for
		// another's.
		if !(bx[0].Started.Before(by[0].Finished) && by[0].Started.Before(bx[0].Finished)) {
			t.Errorf("the two apps' builds did not overlap (serialized?): x %v..%v, y %v..%v",
				bx[0].Started, bx[0].Finished, by[0].Started, by[0].Finished)
		}
	})

	t.Run("apps:lock blocks pushes until apps:unlock", func(t *testing.T) {
		const app = "manual-lock"
		s.mustLocal(t, "apps:create", app)
		s.mustLocal(t, "apps:lock", app)
		dir := c.newRepo(t)
		rev := c.mustGit(t, dir, "rev-parse", "HEAD")
		r := c.git(t, dir, "push", c.url(app), "main")
		expectLocked(t, "push to an apps:lock'ed app", r, app)
		if got := c.serverRef(t, appRepo(s, app), "refs/heads/main"); got != "" {
			t.Errorf("a push to a locked app stored main = %s", got)
		}
		s.mustLocal(t, "apps:unlock", app)
		c.mustPush(t, dir, c.url(app), "main")
		if got := c.serverRef(t, appRepo(s, app), "refs/heads/main"); got != rev {
			t.Errorf("refs/heads/main = %q after unlock and push, want %s", got, rev)
		}
	})
}

// A client that goes away during the deploy cancels it: the ref does not
// move, the lock is released, the build is recorded as canceled or failed.
func TestPushClientKilledMidDeploy(t *testing.T) {
	t.Parallel()
	const app = "killed-client"
	d := startPushInDeploy(t, app)
	s, c, repo, dir, first, second := d.s, d.c, d.repo, d.dir, d.first, d.second
	d.push.kill()
	if r := d.push.wait(t); r.Code == 0 {
		t.Errorf("killed push exited 0: %s", r)
	}
	if got := c.serverRef(t, repo, "refs/heads/main"); got != first {
		t.Errorf("refs/heads/main = %q right after the client was killed, want %s", got, first)
	}
	if !waitFor(15*time.Second, func() bool { return s.local(t, "", "apps:locked", app).Code != 0 }) {
		t.Errorf("the deploy lock was still held 15s after the client was killed")
	}
	var rec buildRecord
	if !waitFor(15*time.Second, func() bool {
		var ok bool
		rec, ok = buildFor(builds(t, s, app), second)
		return ok && rec.Status != "running"
	}) {
		t.Errorf("build of %s after the client was killed: %+v, want it finished", second, rec)
	}
	if rec.Status != "canceled" && rec.Status != "failed" {
		t.Errorf("build of %s after the client was killed: status %q, want canceled or failed", second, rec.Status)
	}
	if got := c.serverRef(t, repo, "refs/heads/main"); got != first {
		t.Errorf("refs/heads/main = %q after the canceled deploy, want %s", got, first)
	}
	if d := incomingDirs(repo); len(d) != 0 {
		t.Errorf("quarantine left after the canceled push: %v", d)
	}

	r := c.mustPush(t, dir, c.url(app), "main")
	if !inOrder(remoteLines(r.Stderr), "-----> Releasing "+app+"...", "=====> Application deployed:") {
		t.Errorf("push after the canceled one did not deploy:\n%s", r.Stderr)
	}
	if got := c.serverRef(t, repo, "refs/heads/main"); got != second {
		t.Errorf("refs/heads/main = %q, want %s", got, second)
	}
	c.fsck(t, repo)
}

// A silent build step longer than --progress-interval gets progress lines,
// so that clients and proxies keep the connection.
func TestPushSilentBuildProgress(t *testing.T) {
	t.Parallel()
	s, c := pushSetup(t, pushServerOpts{
		Env:  []string{"DOKKU_SSHD_NULL_BUILDER_SLEEP=4s"},
		Args: []string{"--progress-interval", "1s"},
	})
	const app = "silent-app"
	dir := c.newRepo(t)
	head := c.mustGit(t, dir, "rev-parse", "HEAD")
	r := c.mustPush(t, dir, c.url(app), "main")
	var progress []string
	for _, l := range remoteLines(r.Stderr) {
		if strings.Contains(l, "still working") {
			progress = append(progress, l)
		}
	}
	if len(progress) < 2 {
		t.Errorf("%d progress lines during a 4s silent build with --progress-interval 1s, want at least 2:\n%s", len(progress), r.Stderr)
	}
	for _, l := range progress {
		if !strings.HasPrefix(l, "       ") {
			t.Errorf("progress line without the 7-space verbose prefix: %q", l)
		}
	}
	if !inOrder(remoteLines(r.Stderr), "-----> Releasing "+app+"...", "=====> Application deployed:") {
		t.Errorf("silent push did not deploy:\n%s", r.Stderr)
	}
	if got := c.serverRef(t, appRepo(s, app), "refs/heads/main"); got != head {
		t.Errorf("refs/heads/main = %q, want %s", got, head)
	}
}
