package integration

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDockerDeployLifecycle drives one app on the real Docker Engine through
// a server, over OpenSSH and git: HTTP at the container's address,
// zero-downtime redeploy, a failing healthcheck that keeps the old
// container serving, scale up and down, stop/start/restart/rebuild, config
// changes restarting the app, inspect, and git:from-image. (Needs Docker:
// skips without it, fails under CI=true.)
func TestDockerDeployLifecycle(t *testing.T) {
	t.Parallel()
	a := newDockerApp(t, "ps")
	app := a.name
	answers := func(dyno, want string) string {
		t.Helper()
		id, ip, port := a.slot(dyno)
		if id == "" || ip == "" || port != "5000" {
			t.Fatalf("%s state: id %q ip %q port %q", dyno, id, ip, port)
		}
		var body string
		var err error
		if !waitFor(30*time.Second, func() bool {
			body, err = httpGet("http://" + ip + ":5000/")
			return err == nil && body == want
		}) {
			t.Fatalf("%s at %s answers %q, %v; want %q", dyno, ip, body, err, want)
		}
		return id
	}
	ssh := func(words ...string) result {
		t.Helper()
		return a.s.mustSSH(t, a.key, words...)
	}

	// Old containers run 10 s past a deploy: time enough to see them still
	// serving right after it on a slow machine.
	a.setProperty(t, "checks", app, "wait-to-retire", "10")

	// First deploy: reachable over HTTP at the container's address.
	a.deployHTTP(t, "v1")
	v1 := answers("web.1", "v1")
	r := ssh("ps:report", app)
	for _, want := range []string{"Deployed:                         true", "Processes:                        1",
		"Running:                          true", "Status web 1:                     running (CID: " + v1[:11] + ")"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("ps:report lacks %q:\n%s", want, r.Stdout)
		}
	}

	// Zero downtime: when the push returns, the new container answers; the
	// old one got SIGTERM as the new one took over (httpd exits on it, long
	// before wait-to-retire), as in Dokku.
	a.commit(t, map[string]string{"index.html": "v2"})
	r = a.push(t)
	if !strings.Contains(r.Stderr, "Shutting down old containers in 10 seconds") {
		t.Errorf("no retirement notice:\n%s", r.Stderr)
	}
	v2 := answers("web.1", "v2")
	if v2 == v1 {
		t.Fatal("redeploy kept the container")
	}
	if !waitFor(90*time.Second, func() bool { st := a.containerState(t, v1); return st != "running" }) {
		t.Errorf("old container still running after its retirement")
	}

	// A failing healthcheck: the push is rejected, its output shown, and
	// the old container keeps serving.
	a.commit(t, map[string]string{"app.json": `{"healthchecks":{"web":[{"type":"startup","name":"missing page","path":"/missing","attempts":2,"wait":1}]}}`,
		"index.html": "v3"})
	r = a.c.gitT(t, a.dir, 4*time.Minute, "push", a.c.url(app), "main")
	if r.Code == 0 {
		t.Fatalf("push with a failing healthcheck succeeded:\n%s", r.Stderr)
	}
	if i, j := strings.Index(r.Stderr, "=====> Start of "+app+" container output ("), strings.Index(r.Stderr, "=====> End of "+app+" container output ("); i < 0 || j < i ||
		!strings.Contains(r.Stderr, "Could not start due to 1 failed checks (web.1)") || !strings.Contains(r.Stderr, "response:404") {
		t.Errorf("failed check transcript:\n%s", r.Stderr)
	}
	if id := answers("web.1", "v2"); id != v2 {
		t.Errorf("web.1 is %s after the failed deploy, want %s", id, v2)
	}
	a.commit(t, map[string]string{"app.json": `{}`, "index.html": "v4"})
	a.push(t)
	answers("web.1", "v4")

	// Scale up and down.
	r = ssh("ps:scale", app, "web=2")
	if !strings.Contains(r.Stdout, "-----> Scaling "+app+" processes: web=2") {
		t.Errorf("ps:scale output:\n%s", r.Stdout)
	}
	answers("web.2", "v4")
	r = ssh("ps:scale", app)
	if !strings.Contains(r.Stdout, "proctype: qty\n--------: ---\nweb:  2\n") {
		t.Errorf("ps:scale report:\n%s", r.Stdout)
	}
	if r := ssh("ps:scale", "--format", "json", app); strings.TrimSpace(r.Stdout) != `[{"process_type":"web","quantity":2}]` {
		t.Errorf("ps:scale json: %s", r.Stdout)
	}
	web2, _, _ := a.slot("web.2")
	ssh("ps:scale", app, "web=1")
	if id, _, _ := a.slot("web.2"); id != "" {
		t.Errorf("web.2 state left after scaling down: %s", id)
	}
	if !waitFor(90*time.Second, func() bool { return a.containerState(t, web2) != "running" }) {
		t.Errorf("web.2 container still running after scaling down")
	}
	expectCode(t, "scale a type without a Procfile", a.s.ssh(t, a.key, "ps:scale", app, "worker=1"), 1, "", warn("worker is not a valid process name to scale up"))
	expectCode(t, "scale with a bad count", a.s.ssh(t, a.key, "ps:scale", app, "web=x"), 1, "", warn("Invalid count for process type web"))

	// Stop, start, restart, rebuild.
	before, _, _ := a.slot("web.1")
	ssh("ps:stop", app)
	if st := a.containerState(t, before); st == "running" {
		t.Errorf("web.1 still running after ps:stop")
	}
	if r := ssh("ps:report", app, "--running"); strings.TrimSpace(r.Stdout) != "false" {
		t.Errorf("running after ps:stop: %q", r.Stdout)
	}
	r = ssh("ps:start", app)
	if !strings.Contains(r.Stderr, "App has been detected as not running, releasing") {
		t.Errorf("ps:start stderr:\n%s", r.Stderr)
	}
	started := answers("web.1", "v4")
	if r := ssh("ps:start", app); !strings.Contains(r.Stderr, "App "+app+" already running") {
		t.Errorf("second ps:start:\n%s", r.Stderr)
	}
	ssh("ps:restart", app)
	restarted := answers("web.1", "v4")
	if restarted == started {
		t.Error("ps:restart kept the container")
	}
	r = ssh("ps:rebuild", app)
	if !strings.Contains(r.Stdout, "-----> Building "+app+" from Dockerfile") {
		t.Errorf("ps:rebuild output:\n%s", r.Stdout)
	}
	rebuilt := answers("web.1", "v4")
	if rebuilt == restarted {
		t.Error("ps:rebuild kept the container")
	}

	// config:set restarts the app; ps:inspect masks config values.
	r = ssh("config:set", app, "SECRET=hunter2")
	if !strings.Contains(r.Stdout, "-----> Restarting app "+app) {
		t.Errorf("config:set output:\n%s", r.Stdout)
	}
	withConfig := answers("web.1", "v4")
	if withConfig == rebuilt {
		t.Error("config:set did not restart the app")
	}
	r = ssh("ps:inspect", app)
	var ins []struct {
		ID     string `json:"Id"`
		Config struct{ Env []string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &ins); err != nil || len(ins) != 1 {
		t.Fatalf("ps:inspect: %v\n%s", err, r.Stdout)
	}
	env := strings.Join(ins[0].Config.Env, "\n")
	if ins[0].ID != withConfig || !strings.Contains(env, "SECRET=XXXXXX") || strings.Contains(r.Stdout, "hunter2") || !strings.Contains(env, "DYNO=web.1") {
		t.Errorf("ps:inspect %s env:\n%s", ins[0].ID, env)
	}
	ssh("config:set", "--no-restart", app, "OTHER=1")
	if id, _, _ := a.slot("web.1"); id != withConfig {
		t.Error("config:set --no-restart restarted the app")
	}

	// Not deployed: ps commands warn and succeed, as Dokku's do.
	ssh("apps:create", app+"-new")
	t.Cleanup(func() { a.s.local(t, "", "--force", "apps:destroy", app+"-new") })
	expectCode(t, "ps:stop of an app never deployed", a.s.ssh(t, a.key, "ps:stop", app+"-new"), 0, "", warn("App "+app+"-new has not been deployed"))

	// git:from-image deploys an image already on the host.
	img := "dokku/" + app + ":latest"
	r = ssh("git:from-image", app+"-new", img)
	if !inOrder(strings.Split(r.Stdout, "\n"), "-----> Generating build context", "-----> Image exists on host, skipping pull",
		"-----> Updating git repository with specified build context", "=====> Application deployed:") {
		t.Errorf("git:from-image output:\n%s", r.Stdout)
	}
	fromImage := &dockerApp{s: a.s, name: app + "-new"}
	if _, ip, _ := fromImage.slot("web.1"); ip == "" {
		t.Error("git:from-image deployed nothing")
	} else if !waitFor(30*time.Second, func() bool { b, err := httpGet("http://" + ip + ":5000/"); return err == nil && b == "v4" }) {
		t.Error("the app deployed from the image does not answer v4")
	}
	if r := ssh("apps:report", app+"-new", "--app-deploy-source"); strings.TrimSpace(r.Stdout) != "docker-image" {
		t.Errorf("deploy source %q", r.Stdout)
	}
	expectCode(t, "git:from-image of a name that is no image reference", a.s.ssh(t, a.key, "git:from-image", app+"-new", "Not/An:Image:Ref"), 1, "",
		" !     Invalid docker image specified: Not/An:Image:Ref (")
	expectCode(t, "git:from-image of the same image", a.s.ssh(t, a.key, "git:from-image", app+"-new", img), 1, "",
		warn("No changes detected, skipping git commit")+warn("Call 'ps:rebuild' on app to rebuild the app from existing source"))
}
