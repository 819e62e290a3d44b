package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"dokku-sshd/domains"
	"dokku-sshd/internal/testenv"
	"dokku-sshd/store"
)

// backend serves name and the X-Forwarded-* headers it got on addr.
func backend(t *testing.T, addr, name string) int {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s for=%s port=%s proto=%s", name, r.Header.Get("X-Forwarded-For"), r.Header.Get("X-Forwarded-Port"), r.Header.Get("X-Forwarded-Proto"))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// get asks nginx on port for Host host; err when nginx closes the
// connection without an answer (the default server's 444).
func get(port int, host string) (int, string, error) {
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(port)+"/", nil)
	req.Host = host
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// nginxBin is the nginx the tests run; without one the test skips (fails
// under CI=true).
func nginxBin(t *testing.T) string {
	t.Helper()
	bin := FindNginx("")
	if bin == "" {
		testenv.SkipOrFail(t, "this test needs nginx (Debian: apt-get install -y nginx; scripts/test installs it)")
	}
	return bin
}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// idleRouter routes st's apps through an nginx that is not running (a
// local command on a host whose server never ran nginx): configs are
// written and validated, nothing reloads.
func idleRouter(t *testing.T, st *store.Store) *Router {
	t.Helper()
	return &Router{Store: st, Nginx: &Nginx{Bin: nginxBin(t), Prefix: filepath.Join(t.TempDir(), "nginx"), Root: st.Paths.RootDir, Listen: "127.0.0.1"}}
}

// startNginx runs a private nginx for st's apps, listening on loopback.
func startNginx(t *testing.T, st *store.Store) *Router {
	t.Helper()
	n := &Nginx{Bin: nginxBin(t), Prefix: filepath.Join(t.TempDir(), "nginx"), Root: st.Paths.RootDir, Listen: "127.0.0.1"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return &Router{Store: st, Nginx: n}
}

func newApp(t *testing.T, st *store.Store, app, domain string, port, ctrPort int) {
	t.Helper()
	if err := st.CreateApp(app, time.Now().Unix()); err != nil {
		t.Fatal(err)
	}
	if err := domains.Set(st, app, []string{domain}); err != nil {
		t.Fatal(err)
	}
	if err := st.SetProperty("ports", app, "map", fmt.Sprintf("http:%d:%d", port, ctrPort)); err != nil {
		t.Fatal(err)
	}
}

func TestNginxRoutesByHost(t *testing.T) {
	st := newStore(t)
	r := startNginx(t, st)
	ctx := context.Background()
	port := freePort(t)
	// Two apps on one port, each with its own backend port.
	pa := backend(t, "127.0.0.1:0", "alpha")
	pb := backend(t, "127.0.0.1:0", "beta")
	newApp(t, st, "alpha", "alpha.test", port, pa)
	newApp(t, st, "beta", "beta.test", port, pb)
	for _, app := range []string{"alpha", "beta"} {
		if err := r.Route(ctx, app, []string{"127.0.0.1"}, io.Discard); err != nil {
			t.Fatalf("route %s: %v", app, err)
		}
	}
	for host, want := range map[string]string{
		"alpha.test": "alpha for=127.0.0.1 port=" + strconv.Itoa(port) + " proto=http",
		"beta.test":  "beta for=127.0.0.1 port=" + strconv.Itoa(port) + " proto=http",
	} {
		code, body, err := get(port, host)
		if err != nil || code != 200 || body != want {
			t.Errorf("GET %s: %d %q %v, want 200 %q", host, code, body, err, want)
		}
	}
	if code, body, err := get(port, "unknown.test"); err == nil {
		t.Errorf("GET unknown.test: %d %q, want the connection closed without an answer", code, body)
	}

	t.Run("invalid setting keeps the previous config", func(t *testing.T) {
		before, _ := os.ReadFile(r.ConfPath("alpha"))
		if err := st.SetProperty(Plugin, "alpha", "client-max-body-size", "lots"); err != nil {
			t.Fatal(err)
		}
		err := r.Route(ctx, "alpha", []string{"127.0.0.1"}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), `"client_max_body_size" directive invalid value`) {
			t.Fatalf("route with an invalid setting: %v, want nginx's message", err)
		}
		if strings.Contains(err.Error(), st.Paths.RootDir) {
			t.Errorf("the error shows a server path: %v", err)
		}
		after, _ := os.ReadFile(r.ConfPath("alpha"))
		if string(after) != string(before) {
			t.Errorf("the refused config stayed on disk:\n%s", after)
		}
		if code, body, err := get(port, "alpha.test"); err != nil || code != 200 || !strings.HasPrefix(body, "alpha") {
			t.Errorf("alpha after the refused config: %d %q %v", code, body, err)
		}
		if err := st.DeleteProperty(Plugin, "alpha", "client-max-body-size"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("scale changes the upstreams", func(t *testing.T) {
		// A second beta process on another loopback address, same port.
		_ = backend(t, "127.0.0.2:"+strconv.Itoa(pb), "beta2")
		if err := r.Route(ctx, "beta", []string{"127.0.0.1", "127.0.0.2"}, io.Discard); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for range 6 {
			_, body, err := get(port, "beta.test")
			if err != nil {
				t.Fatal(err)
			}
			seen[strings.Fields(body)[0]] = true
		}
		if !seen["beta"] || !seen["beta2"] {
			t.Errorf("two upstreams: answers came from %v, want beta and beta2", seen)
		}
		conf, _ := os.ReadFile(r.ConfPath("beta"))
		if !strings.Contains(string(conf), "server 127.0.0.2:"+strconv.Itoa(pb)+";") {
			t.Errorf("config lacks the second upstream:\n%s", conf)
		}
	})

	t.Run("no web process answers 502", func(t *testing.T) {
		if err := r.Route(ctx, "beta", nil, io.Discard); err != nil {
			t.Fatal(err)
		}
		if code, _, err := get(port, "beta.test"); err != nil || code != 502 {
			t.Errorf("GET beta.test with no web process: %d %v, want 502", code, err)
		}
	})

	t.Run("unroute removes the config", func(t *testing.T) {
		if err := r.Unroute(ctx, "alpha"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(r.ConfPath("alpha")); !os.IsNotExist(err) {
			t.Errorf("config still there: %v", err)
		}
		if code, body, err := get(port, "alpha.test"); err == nil {
			t.Errorf("GET alpha.test after unroute: %d %q, want no answer", code, body)
		}
	})
}

// TestRouteWithoutRunningNginx is a local command on a host whose server
// never ran nginx: the config is written and validated, nothing reloads.
func TestRouteWithoutRunningNginx(t *testing.T) {
	st := newStore(t)
	r := idleRouter(t, st)
	newApp(t, st, "alpha", "alpha.test", freePort(t), 5000)
	if err := r.Route(context.Background(), "alpha", []string{"172.17.0.9"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(r.ConfPath("alpha"))
	if err != nil || !strings.Contains(string(conf), "server 172.17.0.9:5000;") {
		t.Errorf("config: %v\n%s", err, conf)
	}
}
