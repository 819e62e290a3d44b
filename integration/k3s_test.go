package integration

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestK3sPushLifecycle is a user's session with an app on the k3s
// scheduler, over the real ssh and git: a git push of a Dockerfile app
// built by the real Engine, pushed to a real registry and rolled out on the
// shared control plane; then scale, report, inspect, logs, run, enter,
// domains, restart, stop and start, rename, clone and destroy.
func TestK3sPushLifecycle(t *testing.T) {
	t.Parallel()
	e := newK3sEnv(t, "120s")
	app := e.newApp(t, "kl")
	dir := e.c.newRepo(t)

	procfile := "web: httpd -f -p $PORT -h /www\nworker: sleep 100000\n"
	r := e.pushDockerfile(t, dir, app, map[string]string{"Procfile": procfile})
	if r.Code != 0 {
		t.Fatalf("push failed (%d):\n%s\nserver log:\n%s", r.Code, r.Stderr, e.s.Log())
	}
	lines := remoteLines(r.Stderr)
	if !inOrder(lines, "-----> Building "+app+" from Dockerfile", "-----> Deploying "+app+" via the k3s scheduler...",
		"-----> Pushing image to registry", "=====> Installing "+app, "       web: ready 1/1", "=====> Application deployed:") {
		t.Errorf("push transcript:\n%s", r.Stderr)
	}
	if !regexp.MustCompile(`(?m)^remote: +[0-9a-f]{12}: Pushed`).MatchString(r.Stderr) {
		t.Errorf("no layer push progress in the push:\n%s", r.Stderr)
	}
	e.checkDigest(t, app)

	t.Run("scale", func(t *testing.T) { e.checkScale(t, app) })
	t.Run("report", func(t *testing.T) { e.checkReports(t, app) })
	t.Run("logs", func(t *testing.T) { e.checkLogs(t, app) })
	t.Run("run", func(t *testing.T) { e.checkRun(t, app) })
	t.Run("run-attached", func(t *testing.T) { e.checkRunAttached(t, app) })
	t.Run("logs-follow", func(t *testing.T) { e.checkLogsFollow(t, app) })
	t.Run("enter", func(t *testing.T) { e.checkEnter(t, app) })
	t.Run("enter-tty", func(t *testing.T) { e.checkEnterTTY(t, app) })
	t.Run("domains", func(t *testing.T) { e.checkDomains(t, app) })
	t.Run("restart", func(t *testing.T) { e.checkRestart(t, app) })
	t.Run("stop-start", func(t *testing.T) { e.checkStopStart(t, app) })
	t.Run("rename-clone-destroy", func(t *testing.T) { e.checkRenameCloneDestroy(t, app) })
}

// checkDigest checks that the web Deployment names its image by a digest
// that the registry holds.
func (e *k3sEnv) checkDigest(t *testing.T, app string) {
	t.Helper()
	img := image(e.deployment(t, app, "web"))
	name, digest, ok := strings.Cut(img, "@")
	if !ok || !strings.HasPrefix(name, e.reg.Addr+"/") || !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("web's image %q is not %s/REPO@sha256:...", img, e.reg.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, _, got, err := e.reg.Manifest(ctx, strings.TrimPrefix(name, e.reg.Addr+"/"), digest); err != nil || got != digest {
		t.Errorf("the registry's manifest of %s: digest %q, %v", img, got, err)
	}
}

func (e *k3sEnv) checkScale(t *testing.T, app string) {
	r := e.must(t, "ps:scale", app, "web=3", "worker=1")
	for _, want := range []string{"web: ready 3/3", "worker: ready 1/1"} {
		if !strings.Contains(r.Stdout+r.Stderr, want) {
			t.Errorf("ps:scale did not stream %q:\n%s", want, r)
		}
	}
	for proc, n := range map[string]int32{"web": 3, "worker": 1} {
		d := e.deployment(t, app, proc)
		if d == nil || d.Status.AvailableReplicas != n || d.Spec.Replicas == nil || *d.Spec.Replicas != n {
			t.Errorf("after ps:scale %s=%d: %v", proc, n, d)
		}
	}
}

func (e *k3sEnv) checkReports(t *testing.T, app string) {
	r := e.must(t, "ps:report", app)
	for _, want := range []string{"Deployed:", "true", "Status web 1:", "Status web 3:", "Status worker 1:"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("ps:report has no %q:\n%s", want, r.Stdout)
		}
	}
	r = e.must(t, "ps:inspect", app)
	for _, want := range []string{"kind: Deployment", "name: " + app + "-web", "kind: Pod", "nodeName: kwok-node-0"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("ps:inspect has no %q:\n%s", want, r.Stdout)
		}
	}
}

func (e *k3sEnv) checkLogs(t *testing.T, app string) {
	marker := "line-" + randHex(t, 4)
	if err := e.cl.LogLines(marker); err != nil {
		t.Fatal(err)
	}
	r := e.must(t, "logs", app, "-p", "web", "-n", "5")
	// Every one of the three pods has the line, each with Dokku's k3s
	// prefix (app[POD]:, coloured per pod).
	re := regexp.MustCompile(`(?m)^app\[` + regexp.QuoteMeta(app) + `-web-[a-z0-9-]+\]: ` + marker + `$`)
	if n := len(re.FindAllString(ansi.ReplaceAllString(r.Stdout, ""), -1)); n != 3 {
		t.Errorf("logs -p web: %d prefixed lines of %s, want 3:\n%s", n, marker, r)
	}
	r = e.must(t, "logs", app, "-q", "-n", "1")
	if !regexp.MustCompile(`(?m)^` + marker + `$`).MatchString(r.Stdout) {
		t.Errorf("logs -q:\n%s", r)
	}
}

// ansi matches the colour escapes of log prefixes.
var ansi = regexp.MustCompile(`\x1b\[[0-9;]*m`)

func (e *k3sEnv) checkRun(t *testing.T, app string) {
	// kwok ends the Job's pod with the exit code its env names.
	r := e.sshK(t, "run", "-e", "KWOK_EXIT_CODE=3", app, "true")
	if r.Code != 3 {
		t.Errorf("run with exit code 3: %s", r)
	}
	r = e.sshK(t, "run", app, "true")
	if r.Code != 0 {
		t.Errorf("run with exit code 0: %s", r)
	}
}

func (e *k3sEnv) checkEnter(t *testing.T, app string) {
	// kwok runs exec'd commands on this host, in the cluster's ExecDir.
	r := e.s.sshWith(t, e.key, sshOpts{Stdin: "over-stdin\n", Timeout: k3sTimeout},
		"enter", app, "web.2", "--", "sh", "-c", `'echo entered; head -n 1'`)
	expect(t, "enter web.2 with stdin", r, 0, "entered\nover-stdin\n", "")
}

func (e *k3sEnv) checkDomains(t *testing.T, app string) {
	host := app + ".example.test"
	e.must(t, "domains:add", app, host)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := e.cs.NetworkingV1().Ingresses(e.ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=" + app})
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, ing := range list.Items {
		for _, rule := range ing.Spec.Rules {
			hosts = append(hosts, rule.Host)
		}
	}
	if !contains(hosts, host) {
		t.Errorf("after domains:add %s: Ingress hosts %v", host, hosts)
	}
}

// checkRestart: ps:restart APP web rolls web's pods and leaves the
// worker's alone.
func (e *k3sEnv) checkRestart(t *testing.T, app string) {
	before, worker := e.deployment(t, app, "web"), e.deployment(t, app, "worker")
	e.must(t, "ps:restart", app, "web")
	after := e.deployment(t, app, "web")
	if after.Generation == before.Generation {
		t.Errorf("ps:restart web did not change the pod template (generation %d)", after.Generation)
	}
	if w := e.deployment(t, app, "worker"); w.Generation != worker.Generation {
		t.Errorf("ps:restart web changed the worker's Deployment (generation %d, was %d)", w.Generation, worker.Generation)
	}
	if after.Status.AvailableReplicas != 3 || image(after) != image(before) {
		t.Errorf("after ps:restart: available %d, image %q (was %q)", after.Status.AvailableReplicas, image(after), image(before))
	}
}

func (e *k3sEnv) checkStopStart(t *testing.T, app string) {
	e.must(t, "ps:stop", app)
	for _, proc := range []string{"web", "worker"} {
		if d := e.deployment(t, app, proc); d.Spec.Replicas == nil || *d.Spec.Replicas != 0 {
			t.Errorf("after ps:stop: %s replicas %v", proc, d.Spec.Replicas)
		}
	}
	e.must(t, "ps:start", app)
	if d := e.deployment(t, app, "web"); d.Spec.Replicas == nil || *d.Spec.Replicas != 3 || d.Status.AvailableReplicas != 3 {
		t.Errorf("after ps:start: replicas %v, available %d", d.Spec.Replicas, d.Status.AvailableReplicas)
	}
}

func (e *k3sEnv) checkRenameCloneDestroy(t *testing.T, app string) {
	// No cleanup of the two apps' images: apps:destroy must remove them.
	renamed, clone := app+"-rn", app+"-cl"
	e.must(t, "apps:rename", app, renamed)
	if left := e.appObjects(t, app); len(left) != 0 {
		t.Errorf("apps:rename left the old app's objects: %v", left)
	}
	if d := e.deployment(t, renamed, "web"); d == nil || d.Status.AvailableReplicas != 3 {
		t.Errorf("after apps:rename: %s-web %v", renamed, d)
	}
	e.must(t, "apps:clone", renamed, clone)
	if d := e.deployment(t, clone, "web"); d == nil || d.Status.AvailableReplicas < 1 {
		t.Errorf("after apps:clone: %s-web %v", clone, d)
	}
	for _, a := range []string{renamed, clone} {
		e.must(t, "--force", "apps:destroy", a)
		if left := e.appObjects(t, a); len(left) != 0 {
			t.Errorf("apps:destroy %s left %v", a, left)
		}
		if left := e.localImages(t, a); len(left) != 0 {
			t.Errorf("apps:destroy %s left images on the host: %v", a, left)
			e.removeLocalImages(t, a)
		}
	}
}
