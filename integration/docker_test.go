package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"dokku-sshd/internal/dockertest"
)

// TestDockerPushRenameDestroy pushes a Dockerfile app through the server to
// the real Docker Engine with the default docker-local scheduler, then
// checks that apps:rename and apps:destroy take its containers and images
// with them. (Needs Docker: skips without it, fails under CI=true.)
func TestDockerPushRenameDestroy(t *testing.T) {
	t.Parallel()
	cli := dockertest.Require(t)
	base := dockertest.EnsureBaseImage(t, cli)
	s := startPushServer(t, pushServerOpts{})
	key := newKey(t, "ed25519", "pusher")
	s.addKey(t, "pusher", key)
	c := newGitClient(t, s, key)
	app, renamed := dockertest.Name("dk"), dockertest.Name("dk")
	dockertest.CleanupApp(t, cli, app)
	dockertest.CleanupApp(t, cli, renamed)

	dir := c.newRepo(t)
	c.commitFile(t, dir, "index.html", "hello from "+app+"\n")
	c.commitFile(t, dir, "Dockerfile", "FROM "+base+"\nCOPY index.html /www/index.html\n"+
		`CMD ["busybox", "httpd", "-f", "-p", "5000", "-h", "/www"]`+"\n")
	r := c.gitT(t, dir, 4*time.Minute, "push", c.url(app), "main")
	if r.Code != 0 {
		t.Fatalf("push failed (%d):\n%s", r.Code, r.Stderr)
	}
	lines := remoteLines(r.Stderr)
	if !inOrder(lines, "-----> Building "+app+" from Dockerfile", "-----> Releasing "+app+"...",
		"-----> Deploying "+app+" via the docker-local scheduler...", "=====> Application deployed:") {
		t.Fatalf("push transcript:\n%s", r.Stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	left, err := dockertest.Leftovers(ctx, cli, app)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(left, " "), app+".web.1") {
		t.Fatalf("no %s.web.1 container after the deploy: %v", app, left)
	}

	s.mustLocal(t, "apps:rename", app, renamed)
	if left, _ := dockertest.Leftovers(ctx, cli, app); len(left) != 0 {
		t.Fatalf("apps:rename left the old app's containers and images: %v", left)
	}
	s.mustLocal(t, "--force", "apps:destroy", renamed)
	if left, _ := dockertest.Leftovers(ctx, cli, renamed); len(left) != 0 {
		t.Fatalf("apps:destroy left containers or images: %v", left)
	}
}
