package integration

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"dokku-sshd/internal/httpload"
	"dokku-sshd/internal/testenv"
	"dokku-sshd/proxy"
)

// TestDockerProxyRedeploysUnderLoad runs a bounded loop of sequential GETs
// through the server's nginx while the app behind it is redeployed three
// times by git push (a new body each time) and scaled to two web
// containers, and the old containers are retired: no request may fail,
// and every answer must be a body one of the deploys served.
func TestDockerProxyRedeploysUnderLoad(t *testing.T) {
	if proxy.FindNginx("") == "" {
		testenv.SkipOrFail(t, "this test needs nginx (Debian: apt-get install -y nginx; scripts/test installs it)")
	}
	a := newDockerAppArgs(t, "pxload", "--no-proxy=false", "--proxy-listen", "127.0.0.1")
	t.Cleanup(func() { stopLeftNginx(a.s.DataDir) })
	port := freePort(t)
	host := a.name + ".test"
	ssh := func(words ...string) result { return a.s.mustSSH(t, a.key, words...) }
	ssh("apps:create", a.name)
	ssh("domains:set", a.name, host)
	a.setProperty(t, "ports", a.name, "map", fmt.Sprintf("http:%d:5000", port))
	served := func() string {
		t.Helper()
		code, body, err := hostGet(port, host)
		if err != nil {
			return "error: " + err.Error()
		}
		return fmt.Sprintf("%d %s", code, body)
	}
	deployed := []string{"load v1"}
	a.deployHTTP(t, deployed[0])
	if got := served(); got != "200 load v1" {
		t.Fatalf("after the first deploy: %s, want 200 load v1\nserver log:\n%s", got, a.s.Log())
	}

	// The loop stops by itself at its bounds, far beyond what the steps
	// below need, or when the test stops it.
	ctx, cancel := context.WithCancel(context.Background())
	var requests atomic.Int64
	done := make(chan httpload.Result, 1)
	go func() {
		r, err := httpload.Run(ctx, httpload.Options{
			URL: "http://127.0.0.1:" + strconv.Itoa(port) + "/", Host: host, WantPrefix: "load v",
			Max: 2_000_000, MaxDuration: 20 * time.Minute, Timeout: 30 * time.Second,
			OnRequest: func(n int) { requests.Store(int64(n)) },
		})
		if err != nil {
			r.Stopped = "refused: " + err.Error()
		}
		done <- r
	}()
	stopLoad := sync.OnceValue(func() httpload.Result { cancel(); return <-done })
	t.Cleanup(func() { stopLoad() })
	// waitRequests waits until the loop has sent n requests: the load is
	// there before and after each step, however slow the machine.
	waitRequests := func(n int64, what string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for requests.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the loop sent %d requests, want %d", what, requests.Load(), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitRequests(10, "before the redeploys")

	for v := 2; v <= 4; v++ {
		body := fmt.Sprintf("load v%d", v)
		deployed = append(deployed, body)
		a.commit(t, map[string]string{"index.html": body})
		a.push(t)
		if got := served(); got != "200 "+body {
			t.Fatalf("after redeploy %d: %s, want 200 %s", v-1, got, body)
		}
		waitRequests(requests.Load()+5, fmt.Sprintf("after redeploy %d", v-1))
	}

	ssh("ps:scale", a.name, "web=2")
	if conf := ssh("nginx:show-config", a.name).Stdout; strings.Count(conf, ":5000;") != 2 {
		t.Errorf("after ps:scale web=2 the config has %d upstream servers, want 2:\n%s", strings.Count(conf, ":5000;"), conf)
	}
	// Until the retired containers have stopped, under load, and a few
	// requests more after that.
	a.waitRunning(t, 2)
	waitRequests(requests.Load()+20, "after the old containers stopped")

	r := stopLoad()
	var table strings.Builder
	_ = r.WriteTable(&table)
	t.Logf("GET loop across 3 redeploys and ps:scale web=2:\n%sbodies: %v", table.String(), r.Bodies)
	if r.Stopped != httpload.StoppedContext {
		t.Errorf("the loop stopped by itself (%s) before the test stopped it", r.Stopped)
	}
	if r.Requests < 20 {
		t.Errorf("the loop sent %d requests, want at least 20", r.Requests)
	}
	if n := r.FailedCount(); n != 0 {
		t.Errorf("%d of %d requests failed: %v\nserver log:\n%s", n, r.Requests, r.Failed, a.s.Log())
	}
	for _, body := range slices.Sorted(maps.Keys(r.Bodies)) {
		if !slices.Contains(deployed, body) {
			t.Errorf("%d answers had the body %q, which no deploy served (deployed: %q)", r.Bodies[body], body, deployed)
		}
	}
}

// waitRunning waits until n containers of the app are running (old ones
// are stopped after wait-to-retire).
func (a *dockerApp) waitRunning(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		list, err := a.cli.ContainerList(ctx, client.ContainerListOptions{
			Filters: make(client.Filters).Add("label", "com.dokku.app-name="+a.name).Add("status", "running"),
		})
		cancel()
		if err == nil && len(list.Items) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers of %s running: %d (%v), want %d", a.name, len(list.Items), err, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
