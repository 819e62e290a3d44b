package integration

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDockerChecksAndRetire drives the checks commands and the retirement
// of old containers on the real Docker Engine, over OpenSSH and git: a
// rebuild with checks disabled stops the old container first, one with
// checks skipped says so, checks:run checks the running containers, a
// scale-down ends the orphaned container at once (SIGTERM), a process that
// ignores SIGTERM is stopped after wait-to-retire while the new one
// serves, and ps:retire removes what was retired, with its lock (137).
// The server's own retirement loop is off (--retire-interval 0), so that
// ps:retire is what removes them. (Needs Docker: skips without it, fails
// under CI=true.)
func TestDockerChecksAndRetire(t *testing.T) {
	t.Parallel()
	a := newDockerAppArgs(t, "chk", "--retire-interval", "0")
	app := a.name
	ssh := func(words ...string) result {
		t.Helper()
		return a.s.mustSSH(t, a.key, words...)
	}
	answers := func(dyno, want string) string {
		t.Helper()
		id, ip, _ := a.slot(dyno)
		var body string
		var err error
		if ip == "" || !waitFor(30*time.Second, func() bool {
			body, err = httpGet("http://" + ip + ":5000/")
			return err == nil && body == want
		}) {
			t.Fatalf("%s (%s) at %q answers %q, %v; want %q", dyno, id, ip, body, err, want)
		}
		return id
	}
	a.deployHTTP(t, "v1")
	v1 := answers("web.1", "v1")

	// checks:run runs the deploy's checks against the running container.
	r := ssh("checks:run", app)
	if !inOrder(strings.Split(r.Stdout, "\n"), "-----> Running pre-flight checks", "-----> Running checks for app ("+app+".web.1)",
		"=====> Executing 2 healthchecks", "       All checks successful (web.1)") {
		t.Errorf("checks:run:\n%s", r.Stdout)
	}
	expectCode(t, "checks:run of an unknown type", a.s.ssh(t, a.key, "checks:run", app, "worker"), 1, "", warn("Invalid process type specified ("+app+".worker)"))
	expectCode(t, "checks:run of a missing container", a.s.ssh(t, a.key, "checks:run", app, "web.2"), 1, "", warn("Invalid container index specified ("+app+".web.2)"))

	// Checks disabled: the old container is stopped before the new one
	// starts, and no check runs.
	expect(t, "checks:disable", ssh("checks:disable", app, "web"), 0, "-----> Disabling zero downtime for app's ("+app+") proctypes (web)\n", "")
	r = ssh("checks:run", app)
	if !strings.Contains(r.Stdout, "-----> Zero downtime is disabled for app ("+app+".web). Skipping checks\n") {
		t.Errorf("checks:run with checks disabled:\n%s", r.Stdout)
	}
	r = ssh("ps:rebuild", app)
	if !strings.Contains(r.Stdout, "-----> Deploying web (count=1)\n       Zero downtime is disabled, stopping currently running containers  (web)\n       Stopping "+v1+" (web)\n") ||
		strings.Contains(r.Stdout, "Attempting pre-flight checks") {
		t.Errorf("ps:rebuild with checks disabled:\n%s", r.Stdout)
	}
	if st := a.containerState(t, v1); st != "exited" {
		t.Errorf("old container %s after a rebuild with checks disabled", st)
	}
	v2 := answers("web.1", "v1")

	// Checks skipped: the new container takes over unchecked; the old one
	// gets SIGTERM at once (httpd ends on it).
	expect(t, "checks:skip", ssh("checks:skip", app), 0, "-----> Skipping zero downtime for app ("+app+")\n", "")
	expect(t, "checks:report", ssh("checks:report", app, "--format", "json"), 0,
		`{"computed-wait-to-retire":"2","disabled-list":"none","global-wait-to-retire":"2","skipped-list":"_all_","wait-to-retire":""}`+"\n", "")
	r = ssh("ps:rebuild", app)
	if !strings.Contains(r.Stdout, "       Attempting pre-flight checks (web.1)\n=====> Zero downtime checks have been skipped (web.1)\n") ||
		!strings.Contains(r.Stdout, "-----> Shutting down old containers in 2 seconds\n") {
		t.Errorf("ps:rebuild with checks skipped:\n%s", r.Stdout)
	}
	answers("web.1", "v1")
	if !waitFor(30*time.Second, func() bool { return a.containerState(t, v2) == "exited" }) {
		t.Errorf("old container %s after the rebuild", a.containerState(t, v2))
	}
	expect(t, "checks:enable", ssh("checks:enable", app), 0, "-----> Enabling zero downtime for app's ("+app+")\n", "")

	// Scale down: the orphaned container ends at once, long before its
	// wait-to-retire.
	expect(t, "checks:set", ssh("checks:set", app, "wait-to-retire", "600"), 0, "=====> Setting wait-to-retire to 600\n", "")
	ssh("ps:scale", app, "web=2")
	web2 := answers("web.2", "v1")
	r = ssh("ps:scale", app, "web=1")
	if !strings.Contains(r.Stdout, "       Scheduling orphaned container shutdown in 600 seconds (web.2)\n") {
		t.Errorf("scale down:\n%s", r.Stdout)
	}
	if !waitFor(30*time.Second, func() bool { return a.containerState(t, web2) == "exited" }) {
		t.Errorf("orphaned container %s after scaling down", a.containerState(t, web2))
	}
	answers("web.1", "v1")

	// ps:retire removes the containers whose wait-to-retire has passed (not
	// web.2, due in 600 s) and their images; with its lock held, 137.
	dead := filepath.Join(a.s.DataDir, "lib", "data", "scheduler-docker-local", "dead-containers")
	lock := filepath.Join(a.s.DataDir, "lib", "data", "ps", "retire")
	f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	expectCode(t, "ps:retire while another holds its lock", a.s.ssh(t, a.key, "ps:retire"), 137, "", warn("Failed to acquire ps:retire lock"))
	f.Close()
	r = ssh("ps:retire", app)
	if !inOrder(strings.Split(r.Stdout, "\n"), "-----> Retiring old containers and images",
		"       Attempting to retire "+app+" container "+v1, "       Attempting to retire "+app+" container "+v2,
		"-----> Retiring expired run and cron containers", "-----> Retiring all run and cron containers") ||
		strings.Contains(r.Stdout, web2) {
		t.Errorf("ps:retire:\n%s", r.Stdout)
	}
	for _, id := range []string{v1, v2} {
		if st := a.containerState(t, id); st != "" {
			t.Errorf("retired container %s still there (%s)", id[:12], st)
		}
	}
	if st := a.containerState(t, web2); st != "exited" {
		t.Errorf("web.2, not due yet, is %q", st)
	}
	if b, _ := os.ReadFile(dead); !strings.Contains(string(b), web2) || strings.Contains(string(b), v1) {
		t.Errorf("dead-containers after ps:retire:\n%s", b)
	}
	expectCode(t, "ps:retire of a missing app", a.s.ssh(t, a.key, "ps:retire", app+"-nosuch"), 20, "", warn("App "+app+"-nosuch does not exist"))

	// A process that ignores SIGTERM: after a rebuild the old container
	// still serves while the new one does, and is stopped once
	// wait-to-retire (8 s) and the stop timeout (2 s) have passed.
	a.commit(t, map[string]string{"Dockerfile": "FROM " + a.base + "\nCOPY index.html /www/index.html\n" +
		`CMD ["sh", "-c", "trap '' TERM; httpd -f -p $PORT -h /www"]` + "\n", "index.html": "v4"})
	expect(t, "checks:set", ssh("checks:set", app, "wait-to-retire", "8"), 0, "=====> Setting wait-to-retire to 8\n", "")
	a.push(t)
	stubborn := answers("web.1", "v4")
	_, stubbornIP, _ := a.slot("web.1")
	ssh("ps:rebuild", app)
	if id := answers("web.1", "v4"); id == stubborn {
		t.Fatal("ps:rebuild kept the container")
	}
	if body, err := httpGet("http://" + stubbornIP + ":5000/"); err != nil || body != "v4" {
		t.Errorf("the old container ignoring SIGTERM answers %q, %v right after the rebuild; want it serving until wait-to-retire", body, err)
	}
	if !waitFor(60*time.Second, func() bool { return a.containerState(t, stubborn) == "exited" }) {
		t.Errorf("the old container is %q after wait-to-retire", a.containerState(t, stubborn))
	}
	answers("web.1", "v4")
}
