package integration

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// TestDockerOptions adds options for the three phases over SSH, pushes,
// and reads what reached the Engine: the deploy-phase label with
// backticks and quotes byte for byte, an env var, a bind volume and a
// memory limit on web.1; a build-phase --build-arg (one from the app's
// config) in a Dockerfile ARG; a run-phase env var in `run` only; and
// Dokku's warnings for published ports with zero downtime and with two
// containers.
func TestDockerOptions(t *testing.T) {
	t.Parallel()
	a := newDockerApp(t, "do")
	app := a.name
	ssh := func(words ...string) result {
		t.Helper()
		return a.s.sshWith(t, a.key, sshOpts{Timeout: 4 * time.Minute}, words...)
	}
	mustSSH := func(words ...string) {
		t.Helper()
		if r := ssh(words...); r.Code != 0 {
			t.Fatalf("ssh %s: %s", strings.Join(words, " "), r)
		}
	}
	hostDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(hostDir, "mounted.txt"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustSSH("apps:create", app)
	mustSSH("config:set", "--no-restart", app, "FROM_CONFIG=config-value", "GREETING=config")
	// Words as a user types them after `ssh dokku@host`: the server splits
	// the line with xargs' rules, then the option text with a shell's.
	mustSSH("docker-options:add", app, "deploy", `"--label 'traefik.http.routers.web.rule=Host(`+"`app.example.com`"+`) || Path(`+"`/x`"+`)'"`)
	mustSSH("docker-options:add", app, "deploy", `'--label "com.example.quote=say \"hi\" to `+"`you`"+`"'`)
	mustSSH("docker-options:add", app, "deploy", "-e", "OPT_ENV=from-options", "-e", "GREETING=option", "-e", "DYNO=not-this",
		"-v", hostDir+":/data:ro", "--memory=64m", "-p", "5000")
	mustSSH("docker-options:add", app, "build", "--build-arg", "BUILD_VALUE=built-with-args", "--build-arg", "FROM_CONFIG")
	mustSSH("docker-options:add", app, "run", "-e", "RUN_OPT=run-phase")

	a.commit(t, map[string]string{
		"index.html": "options",
		"Dockerfile": "FROM " + a.base + "\nARG BUILD_VALUE\nARG FROM_CONFIG\nCOPY index.html /www/index.html\n" +
			`RUN echo "$BUILD_VALUE $FROM_CONFIG" > /www/build.txt` + "\n" +
			`CMD ["sh", "-c", "exec httpd -f -v -p $PORT -h /www"]` + "\n",
	})
	r := a.push(t)
	zeroDowntime := " !     Deploys may fail when publishing ports and enabling zero downtime. Consider disabling zero downtime for process type web."
	if !strings.Contains(r.Stderr, "remote: "+zeroDowntime) {
		t.Errorf("push without the zero-downtime ports warning:\n%s", r.Stderr)
	}

	id, _, _ := a.slot("web.1")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ins, err := a.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := ins.Container
	for k, want := range map[string]string{
		"traefik.http.routers.web.rule": "Host(`app.example.com`) || Path(`/x`)",
		"com.example.quote":             "say \"hi\" to `you`",
		"com.dokku.app-name":            app,
		"com.dokku.dyno":                "web.1",
	} {
		if got, ok := c.Config.Labels[k]; !ok || got != want {
			t.Errorf("label %s = %q (set: %v); want %q", k, got, ok, want)
		}
	}
	for _, want := range []string{"OPT_ENV=from-options", "GREETING=option", "DYNO=web.1", "FROM_CONFIG=config-value"} {
		if !slices.Contains(c.Config.Env, want) {
			t.Errorf("env lacks %s: %q", want, c.Config.Env)
		}
	}
	if slices.Contains(c.Config.Env, "RUN_OPT=run-phase") || slices.Contains(c.Config.Env, "DYNO=not-this") {
		t.Errorf("env has what it must not: %q", c.Config.Env)
	}
	if want := []string{hostDir + ":/data:ro"}; !slices.Equal(c.HostConfig.Binds, want) {
		t.Errorf("binds = %q; want %q", c.HostConfig.Binds, want)
	}
	if c.HostConfig.Memory != 64<<20 {
		t.Errorf("memory = %d; want %d", c.HostConfig.Memory, 64<<20)
	}
	if len(c.HostConfig.PortBindings) != 1 {
		t.Errorf("port bindings = %v; want 5000/tcp published", c.HostConfig.PortBindings)
	}

	// The build-phase args reached the Dockerfile's ARGs; the run phase's
	// env reaches run, and the deploy phase's env and volume do not.
	r = ssh("run", app, "sh", "-c", `'echo "$(cat /www/build.txt) [$RUN_OPT] [$OPT_ENV]"; test -e /data/mounted.txt || echo no volume'`)
	expect(t, "run", r, 0, "built-with-args config-value [run-phase] []\nno volume\n", "")
	r = ssh("enter", app, "web", "cat", "/data/mounted.txt")
	expect(t, "deploy-phase volume", r, 0, "from the host\n", "")

	r = ssh("ps:scale", app, "web=2")
	scaling := " !     Deploys may fail when publishing ports and scaling to multiple containers. Consider scaling process type web to 1.\n"
	if all := r.Stdout + r.Stderr; r.Code != 0 || !strings.Contains(all, scaling) || strings.Contains(all, zeroDowntime) {
		t.Errorf("ps:scale web=2 with a published port: %s", r)
	}

	// An option the server cannot pass on fails at add time, and nothing
	// is stored.
	expect(t, "unsupported option", ssh("docker-options:add", app, "deploy", "--gpus", "all"), 1, "",
		warn("Invalid docker option for the deploy phase: docker option --gpus cannot be used in docker-options: not supported by this server"))
}
