package integration

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dokku-sshd/internal/testbuf"

	"github.com/moby/moby/client"
)

// breakableDockerfile is httpDockerfile whose container exits at once when
// the config var BREAK is 1: a restart that fails its checks on demand.
const breakableDockerfile = "FROM %s\nCOPY index.html /www/index.html\n" +
	`CMD ["sh", "-c", "if [ \"$BREAK\" = 1 ]; then echo broken on purpose; exit 3; fi; exec httpd -f -v -p $PORT -h /www"]` + "\n"

// TestDockerRestartRunsDeployedRelease guards the release record: after a
// push whose healthcheck fails (rejected, v2 keeps serving), every path
// that redeploys without a build runs v2, the release that was deployed,
// not the image the rejected build left behind (Dokku restarts the
// dokku/APP:latest tag, which that build moved). ps:scale, config:set,
// ps:stop + ps:start, ps:restart and ps:rebuild all keep serving v2, and
// ps:report and ps:inspect name v2's image and rev. A restart that does
// fail says why. (Needs Docker: skips without it, fails under CI=true.)
func TestDockerRestartRunsDeployedRelease(t *testing.T) {
	t.Parallel()
	a := newDockerApp(t, "rel")
	app := a.name
	ssh := func(words ...string) result {
		t.Helper()
		return a.s.mustSSH(t, a.key, words...)
	}
	// serves waits until dyno's container answers want over HTTP and
	// returns its id.
	serves := func(what, dyno, want string) string {
		t.Helper()
		id, ip, _ := a.slot(dyno)
		if id == "" || ip == "" {
			t.Fatalf("%s: no %s state (id %q, ip %q)\nserver log:\n%s", what, dyno, id, ip, a.s.Log())
		}
		var body string
		var err error
		if !waitFor(30*time.Second, func() bool {
			body, err = httpGet("http://" + ip + ":5000/")
			return err == nil && body == want
		}) {
			t.Fatalf("%s: %s answers %q (%v), want %q", what, dyno, body, err, want)
		}
		return id
	}
	inspect := func(id string) (image string, env []string, labels map[string]string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := a.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatalf("inspect %s: %v", id, err)
		}
		return res.Container.Image, res.Container.Config.Env, res.Container.Config.Labels
	}

	a.commit(t, map[string]string{"index.html": "v2"})
	rev2 := a.commit(t, map[string]string{"Dockerfile": strings.Replace(breakableDockerfile, "%s", a.base, 1)})
	a.push(t)
	v2 := serves("v2 deployed", "web.1", "v2")
	image2, _, _ := inspect(v2)

	// v3 fails its healthcheck: the push is rejected and v2 keeps serving.
	// Its build sets GIT_REV and detects another port (EXPOSE) on its way:
	// a restart must see neither.
	a.commit(t, map[string]string{"app.json": `{"healthchecks":{"web":[{"type":"startup","name":"missing page","path":"/missing","attempts":2,"wait":1}]}}`})
	a.commit(t, map[string]string{"Dockerfile": strings.Replace(breakableDockerfile, "%s", a.base, 1) + "EXPOSE 8080\n"})
	a.commit(t, map[string]string{"index.html": "v3"})
	if r := a.c.gitT(t, a.dir, 4*time.Minute, "push", a.c.url(app), "main"); r.Code == 0 {
		t.Fatalf("push of v3 with a failing healthcheck succeeded:\n%s", r.Stderr)
	}
	if id := serves("after the rejected push", "web.1", "v2"); id != v2 {
		t.Fatalf("web.1 changed after the rejected push")
	}
	if r := ssh("config:get", app, "GIT_REV"); strings.TrimSpace(r.Stdout) != rev2 {
		t.Errorf("GIT_REV is %q after the rejected push, want %s", strings.TrimSpace(r.Stdout), rev2)
	}

	// ps:scale starts a second container of v2 and exits 0.
	if r := a.s.ssh(t, a.key, "ps:scale", app, "web=2"); r.Code != 0 {
		t.Errorf("ps:scale web=2 after the rejected push: %s", r)
	} else {
		serves("ps:scale", "web.1", "v2")
		serves("ps:scale", "web.2", "v2")
	}
	ssh("ps:scale", "--skip-deploy", app, "web=1")

	// config:set restarts v2 with the new value.
	r := a.s.ssh(t, a.key, "config:set", app, "FOO='bar baz'")
	if r.Code != 0 || strings.Contains(r.Stderr, "Failure while restarting app") {
		t.Errorf("config:set after the rejected push: %s", r)
	}
	id := serves("config:set", "web.1", "v2")
	img, env, labels := inspect(id)
	if img != image2 || !contains(env, "FOO=bar baz") || !contains(env, "GIT_REV="+rev2) {
		t.Errorf("config:set: container runs %s with env %q, want %s with FOO=bar baz and GIT_REV=%s", img, env, image2, rev2)
	}
	if labels["com.dokku.git-rev"] != rev2 {
		t.Errorf("container label com.dokku.git-rev = %q, want %s", labels["com.dokku.git-rev"], rev2)
	}

	// ps:inspect shows the image and the rev of the deployed release.
	r = ssh("ps:inspect", app)
	var ins []struct {
		Image  string
		Config struct{ Labels map[string]string }
	}
	if err := json.Unmarshal([]byte(r.Stdout), &ins); err != nil || len(ins) != 1 {
		t.Fatalf("ps:inspect: %v\n%s", err, r.Stdout)
	}
	if ins[0].Image != image2 || ins[0].Config.Labels["com.dokku.git-rev"] != rev2 {
		t.Errorf("ps:inspect: image %s rev %q, want %s and %s", ins[0].Image, ins[0].Config.Labels["com.dokku.git-rev"], image2, rev2)
	}

	// ps:stop then ps:start brings v2 back.
	ssh("ps:stop", app)
	if r := a.s.ssh(t, a.key, "ps:start", app); r.Code != 0 {
		t.Errorf("ps:start after the rejected push: %s", r)
	}
	serves("ps:start", "web.1", "v2")
	if r := a.s.ssh(t, a.key, "ps:restart", app); r.Code != 0 {
		t.Errorf("ps:restart after the rejected push: %s", r)
	}
	serves("ps:restart", "web.1", "v2")
	ssh("ps:stop", app)
	if r := a.s.ssh(t, a.key, "ps:restore", app); r.Code != 0 {
		t.Errorf("ps:restore after the rejected push: %s", r)
	}
	serves("ps:restore", "web.1", "v2")

	// ps:report names the deployed release.
	for flag, want := range map[string]string{"--deployed-image": image2, "--deployed-rev": rev2} {
		if r := ssh("ps:report", app, flag); strings.TrimSpace(r.Stdout) != want {
			t.Errorf("ps:report %s = %q, want %q", flag, strings.TrimSpace(r.Stdout), want)
		}
	}
	if r := ssh("ps:report", app); !strings.Contains(r.Stdout, "       Deployed rev:                     "+rev2+"\n") {
		t.Errorf("ps:report lacks the deployed rev line:\n%s", r.Stdout)
	}

	// A restart that fails names its cause, and v2 keeps serving.
	before := serves("before BREAK", "web.1", "v2")
	r = a.s.ssh(t, a.key, "config:set", app, "BREAK=1")
	if r.Code != 0 {
		t.Errorf("config:set BREAK=1 exits %d, want 0 (Dokku: a failed restart is a warning)", r.Code)
	}
	const failure = " !     Failure while restarting app: "
	if i := strings.Index(r.Stderr, failure); i < 0 || strings.TrimSpace(strings.SplitN(r.Stderr[i+len(failure):], "\n", 2)[0]) == "" {
		t.Errorf("config:set BREAK=1: no reason after %q:\n%s", failure, r)
	}
	if id := serves("after the failed restart", "web.1", "v2"); id != before {
		t.Errorf("the failed restart replaced web.1")
	}
	r = a.s.ssh(t, a.key, "ps:restart", app)
	if r.Code != 1 || !strings.Contains(r.Stderr+r.Stdout, "Deploy of "+app+" failed") {
		t.Errorf("ps:restart that fails its checks: %s", r)
	}
	ssh("config:unset", "--no-restart", app, "BREAK")

	// ps:rebuild builds the deploy branch, which the rejected push did not
	// move.
	ssh("ps:rebuild", app)
	id = serves("ps:rebuild", "web.1", "v2")
	if _, _, labels := inspect(id); labels["com.dokku.git-rev"] != rev2 {
		t.Errorf("ps:rebuild deployed rev %q, want %s", labels["com.dokku.git-rev"], rev2)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestDockerRestartDuringDeploy: a ps:restart issued while a push is
// deploying v2 waits for that deploy and then starts v2, the release it
// recorded, not v1, the one recorded when the restart began. (Needs
// Docker: skips without it, fails under CI=true.)
func TestDockerRestartDuringDeploy(t *testing.T) {
	t.Parallel()
	a := newDockerApp(t, "relrace")
	app := a.name
	a.deployHTTP(t, "v1")

	// Checks that take a while: the restart comes in while v2's run.
	a.setProperty(t, "checks", "--global", "default-wait", "6")
	a.commit(t, map[string]string{"index.html": "v2"})
	push := exec.Command("git", "push", a.c.url(app), "main")
	push.Dir = a.dir
	push.Env = append(cleanEnv(), a.c.env()...)
	out := &testbuf.Buffer{}
	push.Stdout, push.Stderr = out, out
	if err := push.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- push.Wait() }()
	t.Cleanup(func() { _ = push.Process.Kill() })
	if !waitFor(4*time.Minute, func() bool { return strings.Contains(out.String(), "Deploying web (count=1)") }) {
		t.Fatalf("the push of v2 never reached its deploy:\n%s", out.String())
	}
	r := a.s.ssh(t, a.key, "ps:restart", app)
	if err := <-done; err != nil {
		t.Fatalf("push of v2: %v\n%s", err, out.String())
	}
	if r.Code != 0 {
		t.Fatalf("ps:restart during the deploy of v2: %s", r)
	}
	_, ip, _ := a.slot("web.1")
	var body string
	if !waitFor(30*time.Second, func() bool { body, _ = httpGet("http://" + ip + ":5000/"); return body == "v2" }) {
		t.Errorf("after a restart issued during the deploy of v2, web.1 answers %q, want v2\nrestart:\n%s", body, r)
	}
}

// TestDockerRestartLegacyRelease: an app deployed before releases were
// recorded (only the deployed-image property, the tag) restarts what its
// containers run, not what a rejected build left under the tag. (Needs
// Docker: skips without it, fails under CI=true.)
func TestDockerRestartLegacyRelease(t *testing.T) {
	t.Parallel()
	a := newDockerApp(t, "relold")
	app := a.name
	a.deployHTTP(t, "v2")
	// What a deploy kept before records existed.
	if err := os.Remove(filepath.Join(a.s.DataDir, "lib", "data", "ps", app, "release.json")); err != nil {
		t.Fatal(err)
	}
	a.setProperty(t, "common", app, "deployed-image", "dokku/"+app+":latest")

	a.commit(t, map[string]string{"app.json": `{"healthchecks":{"web":[{"type":"startup","name":"missing page","path":"/missing","attempts":2,"wait":1}]}}`})
	a.commit(t, map[string]string{"index.html": "v3"})
	if r := a.c.gitT(t, a.dir, 4*time.Minute, "push", a.c.url(app), "main"); r.Code == 0 {
		t.Fatalf("push of v3 with a failing healthcheck succeeded:\n%s", r.Stderr)
	}
	// A one-off container runs what the app's containers run, not the tag
	// the rejected build moved.
	if r := a.s.ssh(t, a.key, "run", app, "cat", "/www/index.html"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "v2" {
		t.Errorf("run of a legacy app after a rejected push: want v2 from the deployed image, got %s", r)
	}
	if r := a.s.ssh(t, a.key, "ps:restart", app); r.Code != 0 {
		t.Fatalf("ps:restart of a legacy app after a rejected push: %s", r)
	}
	_, ip, _ := a.slot("web.1")
	var body string
	if !waitFor(30*time.Second, func() bool { body, _ = httpGet("http://" + ip + ":5000/"); return body == "v2" }) {
		t.Errorf("after ps:restart, web.1 answers %q, want v2", body)
	}
}
