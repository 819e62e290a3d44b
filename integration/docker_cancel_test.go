package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// TestDockerPushKilledLeavesNothing kills the pushing client once during a
// docker build and once during a deploy's checks: each time the server
// stops what it started, and no container of the build or the deploy is
// left behind. (Needs Docker: skips without it, fails under CI=true.)
func TestDockerPushKilledLeavesNothing(t *testing.T) {
	t.Parallel()
	a := newDockerApp(t, "kill")
	app := a.name
	// What each phase's containers carry: the build's RUN step has marker
	// in its command; the deploy's containers are the app's.
	marker := "build-of-" + app
	containers := func() []string {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		list, err := a.cli.ContainerList(ctx, client.ContainerListOptions{All: true})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range list.Items {
			name := strings.Join(c.Names, ",")
			if strings.Contains(c.Command, marker) || strings.Contains(name, "/"+app+".") {
				out = append(out, name+" "+c.Command)
			}
		}
		return out
	}
	killDuring := func(what, wait string) {
		t.Helper()
		b := a.c.start(t, a.dir, "push", a.c.url(app), "main")
		if !b.waitStderr(wait, 3*time.Minute) {
			b.kill()
			t.Fatalf("%s: %q never showed:\n%s", what, wait, b.wait(t).Stderr)
		}
		if len(containers()) == 0 {
			t.Fatalf("%s: no container running at the time of the kill", what)
		}
		b.kill()
		b.wait(t)
		var left []string
		if !waitFor(90*time.Second, func() bool { left = containers(); return len(left) == 0 }) {
			t.Errorf("%s: containers left after the client was killed: %v", what, left)
		}
	}

	// During the build: a RUN step that would take ten minutes (the quotes
	// keep the step's echo of its command from matching what it prints).
	a.commit(t, map[string]string{"Dockerfile": "FROM " + a.base + "\nRUN echo " + marker + ` "start""ed"; sleep 600; echo ` + marker + "\n"})
	killDuring("build", marker+" started")

	// During the deploy: a container whose uptime check would take ten
	// minutes.
	a.commit(t, map[string]string{
		"Dockerfile": "FROM " + a.base + "\nCMD [\"sleep\", \"3600\"]\n",
		"app.json":   `{"healthchecks":{"web":[{"type":"startup","name":"long uptime","uptime":600}]}}`,
	})
	killDuring("deploy", "Attempting pre-flight checks (web.1)")
	if id, _, _ := a.slot("web.1"); id != "" {
		t.Errorf("a killed deploy recorded web.1 = %s", id)
	}
}
