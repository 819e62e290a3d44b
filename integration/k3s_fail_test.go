package integration

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"

	"dokku-sshd/internal/k8stest"
)

// failingProbe is an app.json whose web readiness check kwok always fails.
const failingProbe = `{"healthchecks":{"web":[{"type":"readiness","name":"always failing","path":"` +
	k8stest.FailingProbePath + `","attempts":1}]}}`

// readinessPath is the path of the first container's readiness probe ("" without one).
func readinessPath(d *appsv1.Deployment) string {
	if d == nil || len(d.Spec.Template.Spec.Containers) == 0 {
		return ""
	}
	p := d.Spec.Template.Spec.Containers[0].ReadinessProbe
	if p == nil || p.HTTPGet == nil {
		return ""
	}
	return p.HTTPGet.Path
}

// TestK3sFailedRollout: a rollout that never becomes available (a probe
// that fails, an image that cannot be pulled) fails the deploy when
// deploy-timeout ends, with the pods' events in the output; a failed push
// is rejected and the refs stay, and rollback-on-failure puts the previous
// pod template back.
func TestK3sFailedRollout(t *testing.T) {
	t.Parallel()
	// Long enough for the pods' failure events on a loaded machine: they
	// come within a second or two.
	e := newK3sEnv(t, "30s")
	app := e.newApp(t, "kf")
	e.must(t, "scheduler-k3s:set", app, "rollback-on-failure", "true")
	dir := e.c.newRepo(t)
	if r := e.pushDockerfile(t, dir, app, nil); r.Code != 0 {
		t.Fatalf("first push failed (%d):\n%s", r.Code, r.Stderr)
	}
	repo := appRepo(e.s, app)
	good := e.c.serverRef(t, repo, "refs/heads/main")
	goodImage := image(e.deployment(t, app, "web"))

	t.Run("probe", func(t *testing.T) {
		r := e.pushDockerfile(t, dir, app, map[string]string{"app.json": failingProbe})
		if r.Code == 0 || !strings.Contains(r.Stderr, "pre-receive hook declined") {
			t.Errorf("a push whose probe fails was not rejected:\n%s", r)
		}
		for _, want := range []string{"Readiness probe failed", "deploy-timeout", "rolled back"} {
			if !strings.Contains(r.Stderr, want) {
				t.Errorf("the failed push says nothing of %q:\n%s", want, r.Stderr)
			}
		}
		if got := e.c.serverRef(t, repo, "refs/heads/main"); got != good {
			t.Errorf("a rejected push moved main from %s to %s", good, got)
		}
		d := e.deployment(t, app, "web")
		if image(d) != goodImage || readinessPath(d) != "" {
			t.Errorf("after the rollback: image %q (want %q), readiness path %q", image(d), goodImage, readinessPath(d))
		}
	})

	t.Run("unpullable", func(t *testing.T) {
		bad := e.reg.Addr + "/" + k8stest.UnpullableImage + "-" + app + ":1"
		e.pushImage(t, e.base, bad)
		r := e.sshK(t, "git:from-image", app, bad)
		if r.Code == 0 {
			t.Fatalf("git:from-image of an image the cluster cannot pull succeeded:\n%s", r)
		}
		out := r.Stdout + r.Stderr
		for _, want := range []string{"Failed to pull image", "deploy-timeout"} {
			if !strings.Contains(out, want) {
				t.Errorf("the failed deploy says nothing of %q:\n%s", want, out)
			}
		}
		if d := e.deployment(t, app, "web"); image(d) != goodImage {
			t.Errorf("after the rollback: image %q, want %q", image(d), goodImage)
		}
	})
}

// TestK3sPushKilledCancelsRollout kills the pushing git in the middle of a
// rollout that waits on a failing probe: the server cancels it and puts the
// previous pod template back, and the refs stay.
func TestK3sPushKilledCancelsRollout(t *testing.T) {
	t.Parallel()
	e := newK3sEnv(t, "300s")
	app := e.newApp(t, "kk")
	dir := e.c.newRepo(t)
	if r := e.pushDockerfile(t, dir, app, nil); r.Code != 0 {
		t.Fatalf("first push failed (%d):\n%s", r.Code, r.Stderr)
	}
	repo := appRepo(e.s, app)
	good := e.c.serverRef(t, repo, "refs/heads/main")
	goodImage := image(e.deployment(t, app, "web"))

	e.c.commitFile(t, dir, "index.html", "second "+randHex(t, 4)+"\n")
	e.c.commitFile(t, dir, "app.json", failingProbe)
	b := e.c.start(t, dir, "push", e.c.url(app), "main")
	if !b.waitStderr("Readiness probe failed", k3sTimeout) {
		b.kill()
		t.Fatalf("the rollout never reported the failing probe:\n%s", b.wait(t).Stderr)
	}
	if d := e.deployment(t, app, "web"); readinessPath(d) != k8stest.FailingProbePath {
		t.Fatalf("the new template is not rolling out: readiness path %q", readinessPath(d))
	}
	b.kill()
	b.wait(t)
	var d *appsv1.Deployment
	if !waitFor(2*time.Minute, func() bool {
		d = e.deployment(t, app, "web")
		return image(d) == goodImage && readinessPath(d) == ""
	}) {
		t.Errorf("the cancelled rollout's template stayed: image %q (want %q), readiness path %q\nserver log:\n%s",
			image(d), goodImage, readinessPath(d), e.s.Log())
	}
	if got := e.c.serverRef(t, repo, "refs/heads/main"); got != good {
		t.Errorf("a killed push moved main from %s to %s", good, got)
	}
}
