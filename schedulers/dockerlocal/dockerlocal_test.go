package dockerlocal_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"dokku-sshd/deploy"
	"dokku-sshd/internal/dockertest"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/dockerlocal"
	"dokku-sshd/store"

	"dokku-sshd/internal/testenv"
)

// gitWork is a work tree whose .git is the deploy source.
type gitWork struct {
	t   *testing.T
	dir string
}

func newGitWork(t *testing.T) *gitWork {
	t.Helper()
	testenv.Tool(t, "git")
	g := &gitWork{t: t, dir: t.TempDir()}
	g.git("init", "-q", "-b", "main")
	return g
}

func (g *gitWork) git(args ...string) string {
	g.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = g.dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x", "GIT_CONFIG_NOSYSTEM=1", "HOME="+g.dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		g.t.Fatalf("git %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit writes files (an empty body deletes) and commits; it returns the
// source of that revision.
func (g *gitWork) commit(files map[string]string) deploy.GitSource {
	g.t.Helper()
	for name, body := range files {
		p := filepath.Join(g.dir, name)
		if body == "" {
			os.Remove(p)
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			g.t.Fatal(err)
		}
	}
	g.git("add", "-A")
	g.git("commit", "-q", "--allow-empty", "-m", "c")
	return deploy.GitSource{Repo: filepath.Join(g.dir, ".git"), Rev: g.git("rev-parse", "HEAD")}
}

type env struct {
	t     *testing.T
	cli   *client.Client
	st    *store.Store
	sched *dockerlocal.Scheduler
	p     *deploy.Pipeline
	app   string
	base  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cli := dockertest.Require(t)
	base := dockertest.EnsureBaseImage(t, cli)
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	app := dockertest.Name("dst")
	if err := st.CreateApp(app, 1); err != nil {
		t.Fatal(err)
	}
	dockertest.CleanupApp(t, cli, app)
	// Short waits: the default uptime check and the retirement grace period.
	st.SetProperty("checks", store.Global, "default-wait", "1")
	st.SetProperty("checks", app, "wait-to-retire", "3")
	st.SetProperty("ps", app, "stop-timeout-seconds", "2")
	if err := st.SetEnv(app, map[string]string{"GREETING": "hello"}); err != nil {
		t.Fatal(err)
	}
	sched := dockerlocal.New(cli, st, nil)
	t.Cleanup(sched.Close)
	p := &deploy.Pipeline{
		Store:      st,
		Builds:     deploy.NewBuilds(st),
		Builders:   []deploy.Builder{deploy.DockerfileDetector{BuildFunc: deploy.DockerBuild(cli, st)}},
		Schedulers: schedulers.NewRegistry(sched),
	}
	return &env{t: t, cli: cli, st: st, sched: sched, p: p, app: app, base: base}
}

func (e *env) dockerfile() string {
	return "FROM " + e.base + "\nCOPY index.html /www/index.html\nCMD echo \"booting $DYNO $GREETING\" && exec httpd -f -p $PORT -h /www\n"
}

func (e *env) deploy(src deploy.GitSource) (string, error) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	err := e.p.Deploy(ctx, deploy.Request{App: e.app, Kind: "git-hook", Source: src, Out: &timedWriter{w: &out, start: start}})
	e.t.Logf("deploy took %v", time.Since(start))
	return out.String(), err
}

func (e *env) slot(dyno string) (id, ip, port string) {
	read := func(kind string) string {
		b, _ := os.ReadFile(filepath.Join(e.st.AppDir(e.app), kind+"."+dyno))
		return strings.TrimSpace(string(b))
	}
	return read("CONTAINER"), read("IP"), read("PORT")
}

func get(url string) (string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return string(b), fmt.Errorf("status %d", resp.StatusCode)
	}
	return strings.TrimSpace(string(b)), nil
}

func mustContain(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestDeployLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := newGitWork(t)
	ctx := context.Background()

	// First deploy.
	out, err := e.deploy(g.commit(map[string]string{"Dockerfile": e.dockerfile(), "index.html": "v1\n"}))
	if err != nil {
		t.Fatalf("deploy v1: %v\n%s", err, out)
	}
	app := e.app
	mustContain(t, out,
		"-----> Building "+app+" from Dockerfile\n",
		"Step 1/",
		"-----> Deploying "+app+" via the docker-local scheduler...\n",
		"-----> Deploying web (count=1)\n",
		"       Attempting pre-flight checks (web.1)\n",
		"=====> Executing 2 healthchecks\n",
		"       Healthcheck succeeded name='default'\n",
		"       Healthcheck succeeded name='port listening check'\n",
		"       All checks successful (web.1)\n",
		"=====> Start of "+app+" container output (",
		"       booting web.1 hello\n",
		"-----> Running post-deploy\n",
		"-----> Renaming containers\n",
		"=====> Application deployed:\n",
	)
	if regexp.MustCompile(`Shutting down old containers`).MatchString(out) {
		t.Errorf("first deploy shuts down old containers:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^       Renaming container ` + regexp.QuoteMeta(app) + `\.web\.1\.upcoming-\d+ \([0-9a-f]{12}\) to ` + regexp.QuoteMeta(app) + `\.web\.1$`).MatchString(out) {
		t.Errorf("no rename line:\n%s", out)
	}
	id1, ip1, port1 := e.slot("web.1")
	if id1 == "" || ip1 == "" || port1 != "5000" {
		t.Fatalf("state files: id=%q ip=%q port=%q", id1, ip1, port1)
	}
	if raw, _ := os.ReadFile(filepath.Join(e.st.AppDir(app), "CONTAINER.web.1")); string(raw) != id1+"\n" {
		t.Errorf("CONTAINER.web.1 = %q", raw)
	}
	ins, err := e.cli.ContainerInspect(ctx, id1, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := ins.Container
	if c.Name != "/"+app+".web.1" {
		t.Errorf("name %q", c.Name)
	}
	for k, v := range map[string]string{"com.dokku.app-name": app, "com.dokku.process-type": "web", "com.dokku.container-type": "deploy", "com.dokku.dyno": "web.1", "dokku": "", "org.label-schema.vendor": "dokku"} {
		if got, ok := c.Config.Labels[k]; !ok || got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
	envs := strings.Join(c.Config.Env, "\n")
	for _, w := range []string{"DYNO=web.1", "PORT=5000", "GREETING=hello"} {
		if !strings.Contains(envs, w) {
			t.Errorf("env lacks %s: %v", w, c.Config.Env)
		}
	}
	if c.HostConfig.Init == nil || !*c.HostConfig.Init {
		t.Error("container runs without --init")
	}
	if rp := c.HostConfig.RestartPolicy; rp.Name != "on-failure" || rp.MaximumRetryCount != 10 {
		t.Errorf("restart policy %+v", rp)
	}
	img, err := e.cli.ImageInspect(ctx, "dokku/"+app+":latest")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"com.dokku.image-stage": "release", "com.dokku.builder-type": "dockerfile", "com.dokku.app-name": app} {
		if got := img.Config.Labels[k]; got != v {
			t.Errorf("image label %s = %q, want %q", k, got, v)
		}
	}
	if body, err := get("http://" + ip1 + ":5000/"); err != nil || body != "v1" {
		t.Fatalf("v1 answers %q, %v", body, err)
	}
	if n, running, err := e.sched.Status(ctx, app); n != 1 || running != "true" || err != nil {
		t.Errorf("status %d %s %v", n, running, err)
	}
	if ok, _ := e.sched.IsDeployed(ctx, app); !ok {
		t.Error("not deployed")
	}
	var insOut bytes.Buffer
	if err := e.sched.Inspect(ctx, app, &insOut); err != nil {
		t.Fatal(err)
	}
	mustContain(t, insOut.String(), `"GREETING=XXXXXX"`, `"DYNO=web.1"`, `"PORT=5000"`, "\n    {\n")

	// Redeploy: the old container serves until the new one passed its
	// checks and is recorded; then it gets SIGTERM, and is stopped after
	// wait-to-retire.
	var oldFailures atomic.Int32
	var polling sync.WaitGroup
	stopPoll := make(chan struct{})
	polling.Add(1)
	go func() {
		defer polling.Done()
		for {
			select {
			case <-stopPoll:
				return
			case <-time.After(50 * time.Millisecond):
			}
			if body, err := get("http://" + ip1 + ":5000/"); err != nil || body != "v1" {
				// Once the state names the new container, the old one
				// is told to go.
				if id, _, _ := e.slot("web.1"); id == id1 {
					oldFailures.Add(1)
				}
			}
		}
	}()
	out, err = e.deploy(g.commit(map[string]string{"index.html": "v2\n"}))
	close(stopPoll)
	polling.Wait()
	if err != nil {
		t.Fatalf("deploy v2: %v\n%s", err, out)
	}
	if n := oldFailures.Load(); n > 0 {
		t.Errorf("the old container failed %d requests during the deploy", n)
	}
	id2, ip2, _ := e.slot("web.1")
	if id2 == id1 || ip2 == "" {
		t.Fatalf("state not updated: %s %s", id2, ip2)
	}
	// The new one answers; the old one, told SIGTERM, has ended (httpd
	// exits on it) well before wait-to-retire, and is not restarted.
	if body, err := get("http://" + ip2 + ":5000/"); err != nil || body != "v2" {
		t.Fatalf("v2 answers %q, %v", body, err)
	}
	if !waitForState(e, id1, "exited") {
		t.Errorf("old container not ended by SIGTERM: %s", state(e, id1))
	}
	mustContain(t, out,
		"       Scheduling old container shutdown in 3 seconds (web.1)\n",
		"-----> Shutting down old containers in 3 seconds\n",
		"       Renaming container ("+id1[:12]+") "+app+".web.1 to "+app+".web.1.",
	)
	ins, err = e.cli.ContainerInspect(ctx, id1, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^/` + regexp.QuoteMeta(app) + `\.web\.1\.\d+$`).MatchString(ins.Container.Name) {
		t.Errorf("old container named %q", ins.Container.Name)
	}
	// After wait-to-retire it is stopped for good, and kept for
	// ps:retire, which removes it.
	e.sched.Wait()
	if st := state(e, id1); st != "exited" {
		t.Errorf("old container %s after wait-to-retire", st)
	}
	var retired bytes.Buffer
	if err := e.sched.Retire(ctx, app, &retired); err != nil {
		t.Fatal(err)
	}
	mustContain(t, retired.String(), "       Attempting to retire "+app+" container "+id1+"\n")
	if _, err := e.cli.ContainerInspect(ctx, id1, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("old container still there after Retire: %v", err)
	}

	// A failing healthcheck: the new container is stopped, its output shown,
	// the push rejected; the old one keeps serving.
	out, err = e.deploy(g.commit(map[string]string{
		"index.html": "v3\n",
		"app.json":   `{"healthchecks":{"web":[{"type":"startup","name":"ready","path":"/missing","attempts":2,"wait":1,"timeout":2}]}}`,
	}))
	if err == nil {
		t.Fatalf("deploy with a failing check succeeded:\n%s", out)
	}
	mustContain(t, out,
		"       Running healthcheck name='ready' delay=0 path='/missing' retries=1 timeout=2 type='path'\n",
		" !     Failure in name='ready': unexpected status code: 404\n",
		" !     Could not start due to 1 failed checks (web.1)\n",
		"=====> Start of "+app+" container output (",
		"       booting web.1 hello\n",
		"=====> End of "+app+" container output (",
		" !     Deploy of "+app+" failed: 1 failed checks (web.1); the previous containers keep running\n",
	)
	if strings.Contains(out, "Renaming containers") || strings.Contains(out, "Application deployed") {
		t.Errorf("failed deploy went on:\n%s", out)
	}
	if id, _, _ := e.slot("web.1"); id != id2 {
		t.Errorf("state changed by a failed deploy: %s", id)
	}
	if body, err := get("http://" + ip2 + ":5000/"); err != nil || body != "v2" {
		t.Errorf("v2 stopped serving after the failed deploy: %q, %v", body, err)
	}
	failed, _ := os.ReadFile(filepath.Join(e.st.AppDataDir("scheduler-docker-local", app), "failed-containers"))
	if !strings.HasSuffix(strings.TrimSpace(string(failed)), " web.1") {
		t.Errorf("failed-containers = %q", failed)
	}
	e.sched.Wait()
	if err := e.sched.Retire(ctx, app, io.Discard); err != nil {
		t.Fatal(err)
	}
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "com.dokku.app-name="+app)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].ID != id2 {
		var names []string
		for _, c := range list.Items {
			names = append(names, strings.Join(c.Names, ","))
		}
		t.Errorf("containers after the failed deploy: %v", names)
	}

	// Scale web=2.
	e.st.SetProperty("ps", app, "scale", "web=2\n")
	out, err = e.deploy(g.commit(map[string]string{"index.html": "v4\n", "app.json": ""}))
	if err != nil {
		t.Fatalf("deploy web=2: %v\n%s", err, out)
	}
	mustContain(t, out, "-----> Deploying web (count=2)\n", "All checks successful (web.1)", "All checks successful (web.2)")
	for _, dyno := range []string{"web.1", "web.2"} {
		id, ip, _ := e.slot(dyno)
		if body, err := get("http://" + ip + ":5000/"); err != nil || body != "v4" {
			t.Errorf("%s answers %q, %v", dyno, body, err)
		}
		ins, err := e.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
		if err != nil || ins.Container.Name != "/"+app+"."+dyno {
			t.Errorf("%s: %v %v", dyno, ins.Container.Name, err)
		}
	}
	if n, running, _ := e.sched.Status(ctx, app); n != 2 || running != "true" {
		t.Errorf("status %d %s", n, running)
	}

	// Back to one: the second slot is retired.
	e.st.SetProperty("ps", app, "scale", "web=1\n")
	id2b, _, _ := e.slot("web.2")
	out, err = e.deploy(g.commit(map[string]string{"index.html": "v5\n"}))
	if err != nil {
		t.Fatalf("deploy web=1: %v\n%s", err, out)
	}
	mustContain(t, out, "       Scheduling orphaned container shutdown in 3 seconds (web.2)\n")
	if id, _, _ := e.slot("web.2"); id != "" {
		t.Error("CONTAINER.web.2 left behind")
	}
	// The orphan gets SIGTERM at once: it ends without waiting for
	// wait-to-retire.
	if !waitForState(e, id2b, "exited") {
		t.Errorf("orphaned web.2 not ended by SIGTERM: %s", state(e, id2b))
	}
	e.sched.Wait()
	if err := e.sched.Retire(ctx, app, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cli.ContainerInspect(ctx, id2b, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("web.2 container not retired: %v", err)
	}

	// Stop, then destroy.
	if err := e.sched.Stop(ctx, app); err != nil {
		t.Fatal(err)
	}
	if n, running, _ := e.sched.Status(ctx, app); n != 1 || running != "false" {
		t.Errorf("status after stop %d %s", n, running)
	}
	if err := e.sched.Destroy(ctx, app); err != nil {
		t.Fatal(err)
	}
	left, err := dockertest.Leftovers(ctx, e.cli, app)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Errorf("left after Destroy: %v", left)
	}
	if ok, _ := e.sched.IsDeployed(ctx, app); ok {
		t.Error("still deployed after Destroy")
	}
}

type timedWriter struct {
	w     io.Writer
	start time.Time
}

func (t *timedWriter) Write(p []byte) (int, error) {
	if os.Getenv("DST_TIMING") != "" {
		fmt.Fprintf(os.Stderr, "%6.2fs %s", time.Since(t.start).Seconds(), p)
	}
	return t.w.Write(p)
}

// state is the state of container id ("" when it does not exist).
func state(e *env, id string) string {
	ins, err := e.cli.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
	if err != nil || ins.Container.State == nil {
		return ""
	}
	return string(ins.Container.State.Status)
}

// waitForState waits up to 30 s for container id to be in state want.
func waitForState(e *env, id, want string) bool {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if state(e, id) == want {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
