package integration

import (
	"regexp"
	"strings"
	"testing"
)

// Apps with no running process (issue 13): every process type scaled to
// 0, or an app whose Procfile has only commands for run. Dokku runs one-off
// containers from the deployed image whether or not anything runs, and
// config changes and ps commands release such an app as any other.

func TestDockerScaledToZero(t *testing.T) {
	t.Parallel()
	a := newDockerApp(t, "nz")
	app := a.name
	ssh := func(words ...string) result { t.Helper(); return a.sshLong(t, "", words...) }
	a.s.mustSSH(t, a.key, "apps:create", app)
	a.s.mustSSH(t, a.key, "config:set", "--no-restart", app, "GREETING=hi")
	a.commit(t, map[string]string{"Procfile": "web: httpd -f -v -p $PORT -h /www\nhello: echo hello $GREETING\n"})
	a.deployHTTP(t, "zero")
	if id, _, _ := a.slot("web.1"); id == "" {
		t.Fatal("the push started no web.1")
	}

	if r := ssh("ps:scale", app, "web=0"); r.Code != 0 {
		t.Fatalf("ps:scale web=0: %s", r)
	}
	if id, _, _ := a.slot("web.1"); id != "" {
		t.Fatalf("web.1 still recorded after scaling to 0: %s", id)
	}
	if r := ssh("ps:report", app, "--deployed"); r.Code != 0 || r.Stdout != "true\n" {
		t.Errorf("ps:report --deployed: %s", r)
	}

	// run and run:detached start from the deployed image.
	expect(t, "run echo", ssh("run", app, "echo", "hi"), 0, "hi\n", "")
	expect(t, "run of a Procfile key", ssh("run", app, "hello", "there"), 0,
		"-----> Found 'hello' in Procfile, running that command\nhello hi there\n", "")
	r := ssh("run:detached", app, "sleep", "300")
	name := strings.TrimSpace(r.Stdout)
	if r.Code != 0 || !regexp.MustCompile(`^`+regexp.QuoteMeta(app)+`\.run\.\d+$`).MatchString(name) {
		t.Fatalf("run:detached: %s", r)
	}
	if r := ssh("run:list", app); r.Code != 0 || !strings.Contains(r.Stdout, name+" ") {
		t.Errorf("run:list: %s", r)
	}
	expect(t, "run:stop", ssh("run:stop", "--container", name), 0, name+"\n", "")
	a.waitNoRunContainers(t, "after run:stop")

	// config:set releases the app as Dokku's config plugin does
	// (release-and-deploy), and the next run sees the new value.
	r = ssh("config:set", app, "GREETING=hey")
	if r.Code != 0 || !inOrder(strings.Split(r.Stdout, "\n"), "-----> Setting config vars", "-----> Restarting app "+app,
		"-----> Releasing "+app+"...", "-----> Deploying "+app+" via the docker-local scheduler...", "=====> Application deployed:") {
		t.Errorf("config:set:\n%s", r)
	}
	if strings.Contains(r.Stderr, "Failure while restarting app") {
		t.Errorf("config:set failed to restart:\n%s", r)
	}
	expect(t, "run after config:set", ssh("run", app, "sh", "-c", "'echo $GREETING'"), 0, "hey\n", "")
	if id, _, _ := a.slot("web.1"); id != "" {
		t.Errorf("config:set started web.1 of an app scaled to 0")
	}

	// ps:restart and ps:start release it again, with nothing to start.
	r = ssh("ps:restart", app)
	if r.Code != 0 || strings.Contains(r.Stderr, "has not been deployed") {
		t.Errorf("ps:restart: %s", r)
	}
	r = ssh("ps:start", app)
	if r.Code != 0 || strings.Contains(r.Stderr, "has not been deployed") {
		t.Errorf("ps:start: %s", r)
	}
	if id, _, _ := a.slot("web.1"); id != "" {
		t.Errorf("ps:restart or ps:start started web.1 of an app scaled to 0")
	}
	expect(t, "run after ps:restart", ssh("run", app, "echo", "still"), 0, "still\n", "")

	// Scaled up again, it serves as before.
	if r := ssh("ps:scale", app, "web=1"); r.Code != 0 {
		t.Fatalf("ps:scale web=1: %s", r)
	}
	if id, _, _ := a.slot("web.1"); id == "" {
		t.Errorf("ps:scale web=1 started no web.1")
	}
}

func TestDockerConsoleOnlyApp(t *testing.T) {
	t.Parallel()
	a := newDockerApp(t, "nc")
	app := a.name
	ssh := func(words ...string) result { t.Helper(); return a.sshLong(t, "", words...) }
	a.s.mustSSH(t, a.key, "apps:create", app)
	// No web process: the formation scales it to 0, the Procfile has
	// only a command for run.
	a.commit(t, map[string]string{
		"Dockerfile": "FROM " + a.base + "\nCMD [\"sh\", \"-c\", \"exec sleep 100000\"]\n",
		"Procfile":   "console: echo console $GREETING\n",
		"app.json":   `{"formation": {"web": {"quantity": 0}}}`,
	})
	a.push(t)
	if id, _, _ := a.slot("web.1"); id != "" {
		t.Fatalf("a web process runs: %s", id)
	}
	if r := ssh("ps:report", app, "--deployed"); r.Stdout != "true\n" {
		t.Errorf("ps:report --deployed: %s", r)
	}
	expect(t, "run echo", ssh("run", app, "echo", "hi"), 0, "hi\n", "")
	expect(t, "run console", ssh("run", app, "console"), 0, "-----> Found 'console' in Procfile, running that command\nconsole\n", "")

	r := ssh("config:set", app, "GREETING=there")
	if r.Code != 0 || !inOrder(strings.Split(r.Stdout, "\n"), "-----> Restarting app "+app, "-----> Releasing "+app+"...",
		"-----> Deploying "+app+" via the docker-local scheduler...", "=====> Application deployed:") || strings.Contains(r.Stderr, "Failure") {
		t.Errorf("config:set:\n%s", r)
	}
	expect(t, "run console after config:set", ssh("run", app, "console"), 0, "-----> Found 'console' in Procfile, running that command\nconsole there\n", "")
}
