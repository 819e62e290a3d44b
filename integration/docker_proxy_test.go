package integration

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"dokku-sshd/internal/dockertest"
	"dokku-sshd/internal/testenv"
	"dokku-sshd/proxy"
)

// hostGet asks the server's nginx on port for Host host; an error when
// nginx closes the connection unanswered (the default server).
func hostGet(port int, host string) (int, string, error) {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(port)+"/", nil)
	req.Host = host
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

// TestDockerProxy deploys two apps behind the server's nginx on one
// loopback port: each domain answers with its app, an unknown one gets no
// answer, an added domain answers at once, a deploy whose nginx config nginx refuses fails with nginx's
// message while the old containers keep answering, ps:scale and ps:stop
// change the upstreams, and apps:destroy removes the config.
func TestDockerProxy(t *testing.T) {
	if proxy.FindNginx("") == "" {
		testenv.SkipOrFail(t, "this test needs nginx (Debian: apt-get install -y nginx; scripts/test installs it)")
	}
	a := newDockerAppArgs(t, "proxy", "--no-proxy=false", "--proxy-listen", "127.0.0.1")
	t.Cleanup(func() { stopLeftNginx(a.s.DataDir) })
	port := freePort(t)
	ssh := func(words ...string) result { return a.s.mustSSH(t, a.key, words...) }
	b := &dockerApp{s: a.s, key: a.key, c: a.c, cli: a.cli, base: a.base, name: dockertest.Name("proxyb"), dir: a.c.newRepo(t)}
	dockertest.CleanupApp(t, a.cli, b.name)
	for _, app := range []*dockerApp{a, b} {
		ssh("apps:create", app.name)
		ssh("domains:set", app.name, app.name+".test")
		a.setProperty(t, "ports", app.name, "map", fmt.Sprintf("http:%d:5000", port))
	}
	r := a.deployHTTP(t, "alpha")
	if !strings.Contains(r.Stderr, "Creating http nginx.conf") || !strings.Contains(r.Stderr, "Reloading nginx") {
		t.Errorf("deploy transcript lacks the nginx lines:\n%s", r.Stderr)
	}
	b.deployHTTP(t, "beta")
	answers := func(host string) string {
		t.Helper()
		code, body, err := hostGet(port, host)
		if err != nil {
			return "error: " + err.Error()
		}
		return fmt.Sprintf("%d %s", code, body)
	}
	if got := answers(a.name + ".test"); got != "200 alpha" {
		t.Errorf("%s.test: %s, want 200 alpha", a.name, got)
	}
	if got := answers(b.name + ".test"); got != "200 beta" {
		t.Errorf("%s.test: %s, want 200 beta", b.name, got)
	}
	if _, _, err := hostGet(port, "unknown.test"); err == nil {
		t.Error("unknown.test got an answer, want the connection closed")
	}
	// A domain added to a running app answers at once.
	ssh("domains:add", a.name, "www."+a.name+".test")
	if got := answers("www." + a.name + ".test"); got != "200 alpha" {
		t.Errorf("added domain: %s, want 200 alpha", got)
	}

	// A setting nginx refuses: the deploy fails with nginx's message, the
	// old container keeps serving.
	oldID, _, _ := a.slot("web.1")
	ssh("nginx:set", a.name, "client-max-body-size", "lots")
	a.commit(t, map[string]string{"index.html": "alpha2"})
	r = a.c.gitT(t, a.dir, 4*time.Minute, "push", a.c.url(a.name), "main")
	if r.Code == 0 || !strings.Contains(r.Stderr, `"client_max_body_size" directive invalid value`) {
		t.Fatalf("push with an invalid nginx setting: %d, want a failure with nginx's message:\n%s", r.Code, r.Stderr)
	}
	if id, _, _ := a.slot("web.1"); id != oldID {
		t.Errorf("the failed deploy replaced web.1 (%s -> %s)", oldID, id)
	}
	if got := answers(a.name + ".test"); got != "200 alpha" {
		t.Errorf("after the refused config: %s, want 200 alpha", got)
	}
	ssh("nginx:set", a.name, "client-max-body-size")
	a.push(t)
	if got := answers(a.name + ".test"); got != "200 alpha2" {
		t.Errorf("after the setting was unset and the app pushed again: %s, want 200 alpha2", got)
	}

	// ps:scale: one upstream per web container.
	ssh("ps:scale", a.name, "web=2")
	conf := ssh("nginx:show-config", a.name).Stdout
	if n := strings.Count(conf, ":5000;"); n != 2 {
		t.Errorf("after ps:scale web=2 the config has %d upstream servers, want 2:\n%s", n, conf)
	}
	if got := answers(a.name + ".test"); got != "200 alpha2" {
		t.Errorf("after ps:scale: %s, want 200 alpha2", got)
	}

	// ps:stop: 502 until the app starts again.
	ssh("ps:stop", b.name)
	if got := answers(b.name + ".test"); !strings.HasPrefix(got, "502") {
		t.Errorf("after ps:stop: %s, want 502", got)
	}
	ssh("ps:start", b.name)
	if got := answers(b.name + ".test"); got != "200 beta" {
		t.Errorf("after ps:start: %s, want 200 beta", got)
	}

	// apps:destroy removes the config and nginx forgets the domain.
	ssh("--force", "apps:destroy", b.name)
	if _, err := os.Stat(filepath.Join(a.s.DataDir, "home", b.name, "nginx.conf")); !os.IsNotExist(err) {
		t.Errorf("nginx.conf of the destroyed app: %v", err)
	}
	if got := answers(b.name + ".test"); !strings.HasPrefix(got, "error") {
		t.Errorf("destroyed app's domain: %s, want no answer", got)
	}
	if got := answers(a.name + ".test"); got != "200 alpha2" {
		t.Errorf("the other app after the destroy: %s, want 200 alpha2", got)
	}
}

// stopLeftNginx stops the nginx of a server that was killed, if any.
func stopLeftNginx(dataDir string) {
	b, err := os.ReadFile(filepath.Join(dataDir, "nginx", "nginx.pid"))
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
		_ = syscall.Kill(pid, syscall.SIGQUIT)
	}
}
