package dockerlocal_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"dokku-sshd/deploy"
	"dokku-sshd/internal/testbuf"
)

func TestProcfileAndFormation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := newGitWork(t)
	ctx := context.Background()
	app := e.app
	out, err := e.deploy(g.commit(map[string]string{
		"Dockerfile": "FROM " + e.base + "\nCOPY index.html /www/index.html\nCMD [\"sh\", \"-c\", \"echo not-the-procfile; exec sleep 1000\"]\n",
		"index.html": "from procfile\n",
		"Procfile":   "web: httpd -f -p $PORT -h /www\nworker: sh -c 'echo worker ps=$PS port=$PORT greeting=$GREETING; exec sleep 1000'\n",
		"app.json":   `{"formation":{"web":{"quantity":1},"worker":{"quantity":1}}}`,
	}))
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	mustContain(t, out,
		"-----> Deploying web (count=1)\n",
		"-----> Deploying worker (count=1)\n",
		"       Attempting pre-flight checks (worker.1)\n",
		"=====> Executing 1 healthchecks\n",
		"       worker ps=worker port=5000 greeting=hello\n",
		"       All checks successful (worker.1)\n",
	)
	if i, j := strings.Index(out, "Deploying web"), strings.Index(out, "Deploying worker"); i > j {
		t.Errorf("worker deployed before web:\n%s", out)
	}
	if v, _ := e.st.Property("ps", app, "scale"); v != "web=1\nworker=1" {
		t.Errorf("scale property %q", v)
	}
	if v, _ := e.st.Property("ps", app, "can-scale"); v != "false" {
		t.Errorf("can-scale %q", v)
	}
	_, ip, _ := e.slot("web.1")
	if body, err := get("http://" + ip + ":5000/"); err != nil || body != "from procfile" {
		t.Errorf("web answers %q, %v", body, err)
	}
	wid, wip, wport := e.slot("worker.1")
	if wid == "" || wip == "" || wport != "" {
		t.Errorf("worker state: %q %q %q", wid, wip, wport)
	}
	ins, err := e.cli.ContainerInspect(ctx, wid, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	envs := "\n" + strings.Join(ins.Container.Config.Env, "\n") + "\n"
	if !strings.Contains(envs, "\nPORT=\n") || !strings.Contains(envs, "\nDYNO=worker.1\n") {
		t.Errorf("worker env %v", ins.Container.Config.Env)
	}
	if got := strings.Join(ins.Container.Config.Cmd, "|"); got != "sh|-c|echo worker ps=worker port=5000 greeting=hello; exec sleep 1000" {
		t.Errorf("worker command %q", got)
	}

	// The worker leaves the Procfile and app.json: its count goes to 0
	// and its container is retired.
	out, err = e.deploy(g.commit(map[string]string{"Procfile": "web: httpd -f -p $PORT -h /www\n", "app.json": ""}))
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	// worker=1 stays in the scale (Dokku keeps non-zero counts), so the
	// type is skipped; its container is retired all the same.
	mustContain(t, out, " !     Skipping worker as it is missing from the current Procfile\n", "-----> Shutting down old containers in 3 seconds\n")
	if v, _ := e.st.Property("ps", app, "scale"); v != "web=1\nworker=1" {
		t.Errorf("scale %q", v)
	}
	if v, _ := e.st.Property("ps", app, "can-scale"); v != "true" {
		t.Errorf("can-scale %q", v)
	}
	if id, _, _ := e.slot("worker.1"); id != "" {
		t.Error("state of the skipped worker left")
	}
	e.sched.Wait()
	if err := e.sched.Retire(ctx, app, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cli.ContainerInspect(ctx, wid, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("worker not retired: %v", err)
	}
}

func TestDeployCancelAndRetire(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := newGitWork(t)
	ctx := context.Background()
	app := e.app
	out, err := e.deploy(g.commit(map[string]string{"Dockerfile": e.dockerfile(), "index.html": "v1\n"}))
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	id1, ip1, _ := e.slot("web.1")

	// The client goes away during the checks: what the deploy started goes,
	// the running release stays.
	src := g.commit(map[string]string{
		"index.html": "v2\n",
		"app.json":   `{"healthchecks":{"web":[{"type":"startup","name":"slow","path":"/missing","attempts":30,"wait":1}]}}`,
	})
	cctx, cancel := context.WithCancel(ctx)
	var buf testbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- e.p.Deploy(cctx, deploy.Request{App: app, Kind: "git-hook", Source: src, Out: &buf})
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(buf.String(), "Running healthcheck name='slow'") {
		if time.Now().After(deadline) {
			t.Fatalf("checks never started:\n%s", buf.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("cancelled deploy succeeded")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("deploy did not stop after cancel")
	}
	if id, _, _ := e.slot("web.1"); id != id1 {
		t.Errorf("state changed: %s", id)
	}
	list, err := e.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).Add("label", "com.dokku.app-name="+app)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].ID != id1 {
		t.Errorf("containers after the cancelled deploy: %d", len(list.Items))
	}
	if body, err := get("http://" + ip1 + ":5000/"); err != nil || body != "v1" {
		t.Errorf("v1 answers %q, %v", body, err)
	}

	// A retirement the server did not live to do is done by Retire.
	e.st.SetProperty("checks", app, "wait-to-retire", "1")
	out, err = e.deploy(g.commit(map[string]string{"index.html": "v3\n", "app.json": ""}))
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	e.sched.Close() // abandons the pending retirement
	dead, _ := os.ReadFile(filepath.Join(e.st.Paths.LibDir, "data", "scheduler-docker-local", "dead-containers"))
	if !strings.Contains(string(dead), app+" "+id1+" ") {
		t.Fatalf("dead-containers = %q", dead)
	}
	if _, err := e.cli.ContainerInspect(ctx, id1, client.ContainerInspectOptions{}); err != nil {
		t.Fatalf("old container gone before its time: %v", err)
	}
	time.Sleep(1100 * time.Millisecond)
	if err := e.sched.Retire(ctx, app, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cli.ContainerInspect(ctx, id1, client.ContainerInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("Retire left the old container: %v", err)
	}
	dead, _ = os.ReadFile(filepath.Join(e.st.Paths.LibDir, "data", "scheduler-docker-local", "dead-containers"))
	if strings.Contains(string(dead), id1) {
		t.Errorf("dead-containers still lists it: %q", dead)
	}
	// The image of the retired release is pruned by Retire too.
	img1 := ""
	if imgs, _ := os.ReadFile(filepath.Join(e.st.Paths.LibDir, "data", "scheduler-docker-local", "dead-images")); len(imgs) > 0 {
		img1 = string(imgs)
	}
	if img1 != "" {
		t.Errorf("dead-images not pruned: %q", img1)
	}

	// CloneSetup drops the copied state.
	if err := e.st.CopyAppState(app, app+"-clone"); err != nil {
		t.Fatal(err)
	}
	if err := e.sched.CloneSetup(ctx, app, app+"-clone"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.sched.IsDeployed(ctx, app+"-clone"); ok {
		t.Error("the clone has the original's containers")
	}
}
