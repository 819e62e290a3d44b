package integration

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"dokku-sshd/internal/dockertest"
)

// dockerApp is one app deployed to the real Docker Engine through a server
// of its own, pushed with the real git over OpenSSH.
type dockerApp struct {
	s    *server
	key  *keyPair
	c    *gitClient
	cli  *client.Client
	base string // the locally built base image (busybox)
	name string
	dir  string // the client's repository
}

// httpDockerfile serves /www (index.html) with busybox httpd on $PORT
// (5000, the port Dokku gives a Dockerfile app without EXPOSE).
const httpDockerfile = "FROM %s\nCOPY index.html /www/index.html\n" +
	`CMD ["sh", "-c", "echo starting httpd on $PORT; exec httpd -f -v -p $PORT -h /www"]` + "\n"

// newDockerApp starts a server whose checks are quick (1 s uptime,
// 2 s before old containers are retired, 2 s stop timeout) and returns an
// app on it that is not pushed yet. Its containers and images are removed
// when the test ends. Skips without Docker; fails under CI=true.
func newDockerApp(t *testing.T, prefix string) *dockerApp {
	t.Helper()
	return newDockerAppArgs(t, prefix)
}

// newDockerAppArgs is newDockerApp with extra `serve` flags.
func newDockerAppArgs(t *testing.T, prefix string, args ...string) *dockerApp {
	t.Helper()
	cli := dockertest.Require(t)
	a := &dockerApp{cli: cli, base: dockertest.EnsureBaseImage(t, cli), name: dockertest.Name(prefix)}
	a.s = startPushServer(t, pushServerOpts{Args: args})
	a.key = newKey(t, "ed25519", "pusher")
	a.s.addKey(t, "pusher", a.key)
	a.c = newGitClient(t, a.s, a.key)
	dockertest.CleanupApp(t, cli, a.name)
	a.setProperty(t, "checks", "--global", "default-wait", "1")
	a.setProperty(t, "checks", "--global", "wait-to-retire", "2")
	a.setProperty(t, "ps", "--global", "stop-timeout-seconds", "2")
	a.dir = a.c.newRepo(t)
	return a
}

// setProperty writes a property file as the plugins' :set commands do
// (LIB/config/<plugin>/<app|--global>/<key>), for settings that have no
// command here.
func (a *dockerApp) setProperty(t testing.TB, plugin, app, key, value string) {
	t.Helper()
	dir := filepath.Join(a.s.DataDir, "lib", "config", plugin, app)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, key), []byte(value), 0o644); err != nil {
		t.Fatal(err)
	}
}

// commit writes files (path -> content) into the client's repository and
// commits each; it returns the last commit.
func (a *dockerApp) commit(t testing.TB, files map[string]string) string {
	t.Helper()
	var rev string
	for name, content := range files {
		rev = a.c.commitFile(t, a.dir, name, content)
	}
	return rev
}

// push pushes main and fails the test unless the deploy succeeded; it
// returns the push's result (the remote: lines are on Stderr).
func (a *dockerApp) push(t testing.TB) result {
	t.Helper()
	r := a.c.gitT(t, a.dir, 4*time.Minute, "push", a.c.url(a.name), "main")
	if r.Code != 0 {
		t.Fatalf("push of %s failed (%d):\n%s\nserver log:\n%s", a.name, r.Code, r.Stderr, a.s.Log())
	}
	return r
}

// deployHTTP commits an index.html answering body and the httpd
// Dockerfile, and pushes.
func (a *dockerApp) deployHTTP(t testing.TB, body string) result {
	t.Helper()
	a.commit(t, map[string]string{"index.html": body})
	a.commit(t, map[string]string{"Dockerfile": strings.Replace(httpDockerfile, "%s", a.base, 1)})
	return a.push(t)
}

// slot reads the state files of a dyno (web.1): container id, IP, port.
func (a *dockerApp) slot(dyno string) (id, ip, port string) {
	read := func(kind string) string {
		b, _ := os.ReadFile(filepath.Join(a.s.DataDir, "home", a.name, kind+"."+dyno))
		return strings.TrimSpace(string(b))
	}
	return read("CONTAINER"), read("IP"), read("PORT")
}

// httpGet fetches url with a short timeout and returns the trimmed body.
func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b)), err
}

// containerState is the state of a container by id or name ("" when it
// does not exist).
func (a *dockerApp) containerState(t testing.TB, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ins, err := a.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return ""
	}
	return string(ins.Container.State.Status)
}
