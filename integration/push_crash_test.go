package integration

// The server killed (SIGKILL) in the middle of a push, and a large push
// with the server's memory bounded.

import (
	"os"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// largeRepoConfig makes git store big random files straight into packs
// with little compression effort (they are incompressible anyway).
func largeRepoConfig(t *testing.T, c *gitClient, dir string) {
	t.Helper()
	c.mustGit(t, dir, "config", "core.bigFileThreshold", "1m")
	c.mustGit(t, dir, "config", "core.compression", "1")
	c.mustGit(t, dir, "config", "pack.compression", "1")
}

// checkRepoSane runs fsck and checks that every ref resolves.
func checkRepoSane(t *testing.T, c *gitClient, repo string) {
	t.Helper()
	c.fsck(t, repo)
	c.refsResolve(t, repo)
}

// Killed while the pack is being received: nothing of it is visible after a
// restart, and the same push then succeeds.
func TestPushServerKilledDuringReceive(t *testing.T) {
	t.Parallel()
	s1, c := pushSetup(t, pushServerOpts{})
	const app = "crash-receive"
	repo := appRepo(s1, app)
	dir := c.newRepo(t)
	first := c.mustGit(t, dir, "rev-parse", "HEAD")
	c.mustPush(t, dir, c.url(app), "main")

	largeRepoConfig(t, c, dir)
	writeRandomFiles(t, dir, "data", 5, 10<<20) // 50 MiB, incompressible
	c.mustGit(t, dir, "add", "data")
	c.mustGit(t, dir, "commit", "-q", "-m", "50 MiB of random data")
	big := c.mustGit(t, dir, "rev-parse", "HEAD")

	// Through a proxy at 8 MiB/s the pack takes several seconds to arrive.
	proxy := newThrottleProxy(t, s1.Addr, 8<<20)
	c.target(t, proxy.port())
	push := c.start(t, dir, "push", c.url(app), "main")
	receiving := waitFor(2*largePushTimeout/3, func() bool {
		return !push.running() || (len(incomingDirs(repo)) > 0 && proxy.upstream.Load() > 12<<20)
	})
	if !receiving || !push.running() {
		t.Fatalf("never saw the push in flight with a quarantine directory (forwarded %d bytes): %s",
			proxy.upstream.Load(), push.wait(t))
	}
	var inFlight []string
	for _, d := range incomingDirs(repo) {
		inFlight = append(inFlight, dirTree(t, d)...)
	}
	s1.kill()
	t.Logf("killed the server after %d bytes had been forwarded; quarantine held %v", proxy.upstream.Load(), inFlight)
	if r := push.wait(t); r.Code == 0 {
		t.Fatalf("the push survived the server's death: %s", r)
	}

	left := incomingDirs(repo)
	if len(left) == 0 {
		t.Fatalf("the killed push left no quarantine directory to sweep")
	}
	// A kill of the whole service (systemd's stop timeout) can also catch
	// git update-ref or pack-refs with their lock files created.
	stale := plantRefLocks(t, repo, first)

	s2 := startPushServer(t, pushServerOpts{DataDir: s1.DataDir})
	c.target(t, s2.Port)
	// Swept at start, before the server answered anybody: no push needed.
	if d := incomingDirs(repo); len(d) != 0 {
		t.Errorf("quarantine directories left after the restart: %v", d)
	}
	for _, f := range stale {
		if _, err := os.Stat(filepath.Join(repo, f)); err == nil {
			t.Errorf("stale lock %s left after the restart", f)
		}
	}
	s2.syncLog(t)
	for _, d := range left {
		re := `msg="removed stale quarantine" app=` + app + ` path=objects/` + filepath.Base(d) + ` bytes=[1-9][0-9]*`
		if !regexpMatch(re, s2.Log()) {
			t.Errorf("no log line %q in the restarted server's log", re)
		}
	}
	for _, f := range stale {
		re := `msg="removed stale lock" app=` + app + ` path=` + regexp.QuoteMeta(f) + ` bytes=[0-9]+`
		if !regexpMatch(re, s2.Log()) {
			t.Errorf("no log line %q in the restarted server's log", re)
		}
	}
	checkRepoSane(t, c, repo)
	if got := c.serverRef(t, repo, "refs/heads/main"); got != first {
		t.Errorf("refs/heads/main = %q after the crash, want %s", got, first)
	}

	r := c.gitT(t, dir, largePushTimeout, "push", c.url(app), "main")
	if r.Code != 0 {
		t.Fatalf("the same push after the restart: %s", r)
	}
	if got := c.serverRef(t, repo, "refs/heads/main"); got != big {
		t.Errorf("refs/heads/main = %q, want %s", got, big)
	}
	if d := incomingDirs(repo); len(d) != 0 {
		t.Errorf("quarantine directories left after the successful push: %v", d)
	}
	checkRepoSane(t, c, repo)
}

// plantRefLocks creates the lock files a killed git update-ref and
// pack-refs leave, and returns their paths relative to repo.
func plantRefLocks(t *testing.T, repo, oid string) []string {
	t.Helper()
	locks := []string{"refs/heads/main.lock", "refs/heads/feature/x.lock", "packed-refs.lock"}
	for _, f := range locks {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(repo, f), oid+"\n")
	}
	return locks
}

// The start-up sweep takes each app's deploy lock: an app whose lock another
// process holds (a second server's push in flight) keeps its quarantine and
// ref locks, which that push still uses; the other apps are swept.
func TestStartupSweepSkipsLockedApp(t *testing.T) {
	t.Parallel()
	s1, c := pushSetup(t, pushServerOpts{})
	dir := c.newRepo(t)
	first := c.mustGit(t, dir, "rev-parse", "HEAD")
	const busy, idle = "sweep-busy", "sweep-idle"
	c.mustPush(t, dir, c.url(busy), "main")
	c.mustPush(t, dir, c.url(idle), "main")
	s1.Stop()

	planted := map[string][]string{}
	for _, app := range []string{busy, idle} {
		repo := appRepo(s1, app)
		q := filepath.Join("objects", "incoming-0123456789abcdef")
		if err := os.MkdirAll(filepath.Join(repo, q, "pack"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(repo, q, "pack", "tmp_pack_x"), "partial pack\n")
		planted[app] = append(plantRefLocks(t, repo, first), q)
	}
	lock, err := os.OpenFile(filepath.Join(s1.DataDir, "lib", "data", "apps", busy, ".deploy.lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("flock the deploy lock of %s: %v", busy, err)
	}

	s2 := startPushServer(t, pushServerOpts{DataDir: s1.DataDir})
	for _, f := range planted[busy] {
		if _, err := os.Stat(filepath.Join(appRepo(s2, busy), f)); err != nil {
			t.Errorf("%s of %s, whose deploy lock is held, was removed: %v", f, busy, err)
		}
	}
	for _, f := range planted[idle] {
		if _, err := os.Stat(filepath.Join(appRepo(s2, idle), f)); err == nil {
			t.Errorf("%s of %s was not swept", f, idle)
		}
	}
	s2.syncLog(t)
	if re := `msg="start-up sweep skipped a locked app" app=` + busy; !regexpMatch(re, s2.Log()) {
		t.Errorf("no log line %q", re)
	}
}

// Killed during the deploy: after a restart no stale lock blocks the next
// push, the repository is intact, and the abandoned build shows as failed.
func TestPushServerKilledDuringDeploy(t *testing.T) {
	t.Parallel()
	const app = "crash-deploy"
	d := startPushInDeploy(t, app)
	c, repo, dir, first, second := d.c, d.repo, d.dir, d.first, d.second
	d.s.kill()
	if r := d.push.wait(t); r.Code == 0 {
		t.Fatalf("the push survived the server's death: %s", r)
	}

	s3 := startPushServer(t, pushServerOpts{DataDir: d.s.DataDir})
	c.target(t, s3.Port)
	checkRepoSane(t, c, repo)
	if got := c.serverRef(t, repo, "refs/heads/main"); got != first {
		t.Errorf("refs/heads/main = %q after the crash, want %s", got, first)
	}
	if r := s3.local(t, "", "apps:locked", app); r.Code == 0 {
		t.Errorf("apps:locked after the crash: %s (a dead server's lock must not survive)", r)
	}
	rec, ok := buildFor(builds(t, s3, app), second)
	if !ok || rec.Status != "failed" {
		t.Errorf("abandoned build of %s: %+v (found %v), want status failed", second, rec, ok)
	}
	text := s3.mustLocal(t, "builds:list", app)
	if ok && !regexpMatch(`(?m)^`+rec.ID+`\s+failed\s`, text.Stdout) {
		t.Errorf("builds:list does not show the abandoned build %s as failed:\n%s", rec.ID, text.Stdout)
	}

	r := c.mustPush(t, dir, c.url(app), "main")
	if !inOrder(remoteLines(r.Stderr), "-----> Releasing "+app+"...", "=====> Application deployed:") {
		t.Errorf("push after the restart did not deploy:\n%s", r.Stderr)
	}
	if got := c.serverRef(t, repo, "refs/heads/main"); got != second {
		t.Errorf("refs/heads/main = %q, want %s", got, second)
	}
	if d := incomingDirs(repo); len(d) != 0 {
		t.Errorf("quarantine directories left: %v", d)
	}
	checkRepoSane(t, c, repo)
}

// A push of 200 MiB of incompressible data: index-pack is a child process,
// so the server itself stays small.
func TestPushLargePack(t *testing.T) {
	if testing.Short() {
		t.Skip("large push skipped in -short mode")
	}
	t.Parallel()
	s, c := pushSetup(t, pushServerOpts{})
	const app = "large-app"
	repo := appRepo(s, app)
	dir := c.newRepo(t)
	c.mustPush(t, dir, c.url(app), "main") // an incremental push takes the connectivity walk

	largeRepoConfig(t, c, dir)
	const files, size = 20, 10 << 20 // 200 MiB
	writeRandomFiles(t, dir, "data", files, size)
	c.gitT(t, dir, largePushTimeout, "add", "data")
	c.mustGit(t, dir, "commit", "-q", "-m", "200 MiB of random data")
	big := c.mustGit(t, dir, "rev-parse", "HEAD")

	before := vmHWM(t, s.cmd.Process.Pid)
	start := time.Now()
	r := c.gitT(t, dir, largePushTimeout, "push", c.url(app), "main")
	elapsed := time.Since(start)
	if r.Code != 0 {
		t.Fatalf("push of %d MiB: %s", files*size>>20, r)
	}
	peak := vmHWM(t, s.cmd.Process.Pid)
	t.Logf("push of %d MiB took %v; server VmHWM %d KiB before, %d KiB (%.1f MiB) after", files*size>>20, elapsed.Round(time.Millisecond), before, peak, float64(peak)/1024)
	limit := int64(200 << 10) // KiB
	if raceEnabled {
		limit *= 2 // the race detector's shadow memory
	}
	if peak > limit {
		t.Errorf("server peak RSS %d KiB exceeds %d KiB during a %d MiB push", peak, limit, files*size>>20)
	}
	if got := c.serverRef(t, repo, "refs/heads/main"); got != big {
		t.Errorf("refs/heads/main = %q, want %s", got, big)
	}
	c.refsResolve(t, repo)
	if r := c.repoGit(t, repo, "cat-file", "-p", big+":data/blob-019.bin"); r.Code != 0 || len(r.Stdout) != size {
		t.Errorf("the last blob in the server's repository: exit %d, %d bytes, want %d", r.Code, len(r.Stdout), size)
	}
	if d := incomingDirs(repo); len(d) != 0 {
		t.Errorf("quarantine directories left: %v", d)
	}
	var packBytes int64
	packs, _ := filepath.Glob(filepath.Join(repo, "objects", "pack", "*.pack"))
	for _, p := range packs {
		if fi, err := os.Stat(p); err == nil {
			packBytes += fi.Size()
		}
	}
	if packBytes < files*size {
		t.Errorf("packs in the server's repository total %d bytes, want at least %d", packBytes, files*size)
	}
}
