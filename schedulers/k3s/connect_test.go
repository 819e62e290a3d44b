package k3s

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// hangGuard bounds a call that must end on its own within the API
// timeouts; it only stops a hang from blocking the suite, it measures
// nothing.
const hangGuard = 3 * time.Minute

// kubeconfigFor writes a kubeconfig for server (context "test", and
// "other" pointing at the same server) and returns its path.
func kubeconfigFor(t *testing.T, server string) string {
	t.Helper()
	doc := "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + server +
		"\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n" +
		"- name: test\n  context:\n    cluster: c\n    user: u\n- name: other\n  context:\n    cluster: c\n    user: u\n" +
		"current-context: test\n"
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// connectErr connects s to app's cluster and returns the error, failing
// the test when the call does not end within hangGuard.
func connectErr(t *testing.T, s *Scheduler, app string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := s.connect(context.Background(), app)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(hangGuard):
		t.Fatalf("connect did not return within %v", hangGuard)
		return nil
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentListener accepts connections and never answers; it returns its
// address.
func silentListener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// TestUnreachableCluster: a server that cannot be reached fails connect
// with a message for the user that names the server and the cause, and
// never hangs.
func TestUnreachableCluster(t *testing.T) {
	for _, tt := range []struct {
		name   string
		server func(t *testing.T) string
		cause  []string // one of these is in the message
	}{
		{"closed port", func(t *testing.T) string { return "https://" + closedPort(t) }, []string{"connection refused"}},
		{"silent TLS", func(t *testing.T) string { return "https://" + silentListener(t) }, []string{"TLS handshake timeout"}},
		{"silent plain HTTP", func(t *testing.T) string { return "http://" + silentListener(t) },
			[]string{"Client.Timeout exceeded", "context deadline exceeded", "timeout"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			server := tt.server(t)
			s := newTestScheduler(t)
			if err := s.Store.SetProperty(Plugin, store.Global, "kubeconfig-path", kubeconfigFor(t, server)); err != nil {
				t.Fatal(err)
			}
			err := connectErr(t, s, "app")
			if !output.IsUserError(err) {
				t.Fatalf("connect = %v, want a message for the user", err)
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, "Unable to reach the Kubernetes API server at "+server+" while reading namespace default") {
				t.Errorf("the message must name the server and what was being done: %s", msg)
			}
			found := false
			for _, c := range tt.cause {
				found = found || strings.Contains(msg, c)
			}
			if !found {
				t.Errorf("the message must say the cause (%q): %s", tt.cause, msg)
			}
		})
	}
}

// TestBadKubeconfig: every way the kubeconfig can be wrong is a message
// for the user, before any connection is tried.
func TestBadKubeconfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := kubeconfigFor(t, "https://"+closedPort(t))
	noKubeconfig := "No kubeconfig is configured on this server (scheduler-k3s:set --global kubeconfig-path PATH)"
	notLoaded := "The kubeconfig of this server could not be loaded (see the server's log)"
	for _, tt := range []struct {
		name, path, context, env string
		want                     string
	}{
		{name: "missing file", path: filepath.Join(dir, "nope"),
			want: "The kubeconfig set on this server (scheduler-k3s:set --global kubeconfig-path) does not exist"},
		{name: "not YAML", path: write("junk", "{{{{"), want: notLoaded},
		{name: "no server", path: write("noserver", "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {}\n"+
			"contexts:\n- name: x\n  context:\n    cluster: c\ncurrent-context: x\n"), want: notLoaded},
		{name: "unknown context", path: good, context: "nosuch",
			want: `The kubeconfig of this server has no context "nosuch" (scheduler-k3s:set --global kube-context)`},
		{name: "from $KUBECONFIG, missing", env: filepath.Join(dir, "a") + string(filepath.ListSeparator) + filepath.Join(dir, "b"),
			want: noKubeconfig},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.env)
			s := newTestScheduler(t)
			var logged bytes.Buffer
			s.Logger = slog.New(slog.NewTextHandler(&logged, nil))
			if tt.path != "" {
				if err := s.Store.SetProperty(Plugin, store.Global, "kubeconfig-path", tt.path); err != nil {
					t.Fatal(err)
				}
			}
			if tt.context != "" {
				if err := s.Store.SetProperty(Plugin, store.Global, "kube-context", tt.context); err != nil {
					t.Fatal(err)
				}
			}
			err := connectErr(t, s, "app")
			if !output.IsUserError(err) || err.Error() != tt.want {
				t.Fatalf("connect = %v, want a message for the user %q", err, tt.want)
			}
			// The files are for the server's admin: the log has them, the
			// user's message does not.
			named := tt.path
			if named == "" {
				named = filepath.SplitList(tt.env)[0]
			}
			if strings.Contains(err.Error(), named) || !strings.Contains(logged.String(), named) {
				t.Errorf("%s must be in the server's log, not the message:\n%s", named, logged.String())
			}
		})
	}
}

// TestKubeconfigChoice: kubeconfig-path, else k3s' file, else
// $KUBECONFIG (a list, merged as kubectl merges it), and kube-context
// picks the context.
func TestKubeconfigChoice(t *testing.T) {
	a := kubeconfigFor(t, "https://a.invalid:6443")
	b := filepath.Join(t.TempDir(), "b")
	if err := os.WriteFile(b, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: cb\n  cluster:\n    server: https://b.invalid:6443\n"+
		"contexts:\n- name: only-b\n  context:\n    cluster: cb\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	list := a + string(filepath.ListSeparator) + b
	for _, tt := range []struct {
		name, prop, env, context string
		machine                  string // k3s' own file
		wantPath, wantServer     string
	}{
		{name: "nothing set", wantPath: MachineKubeconfig},
		{name: "k3s' own file over $KUBECONFIG", machine: b, env: a, context: "only-b", wantPath: b, wantServer: "https://b.invalid:6443"},
		{name: "$KUBECONFIG", env: a, wantPath: a, wantServer: "https://a.invalid:6443"},
		{name: "$KUBECONFIG list", env: list, wantPath: list, wantServer: "https://a.invalid:6443"},
		{name: "context from the second file", env: list, context: "only-b", wantPath: list, wantServer: "https://b.invalid:6443"},
		{name: "property over $KUBECONFIG", prop: b, env: a, context: "only-b", wantPath: b, wantServer: "https://b.invalid:6443"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.env)
			if tt.machine != "" {
				defer func(old string) { MachineKubeconfig = old }(MachineKubeconfig)
				MachineKubeconfig = tt.machine
			}
			s := newTestScheduler(t)
			for k, v := range map[string]string{"kubeconfig-path": tt.prop, "kube-context": tt.context} {
				if err := s.Store.SetProperty(Plugin, store.Global, k, v); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := KubeconfigPath(s.Store); err != nil || got != tt.wantPath {
				t.Errorf("KubeconfigPath = %q, %v; want %q", got, err, tt.wantPath)
			}
			if tt.wantServer == "" {
				return
			}
			cfg, _, err := s.restConfig()
			if err != nil || cfg.Host != tt.wantServer {
				t.Fatalf("restConfig = %v, %v; want server %s", cfg, err, tt.wantServer)
			}
		})
	}
}

// TestFailMessages: an API refusal keeps the server's own message; a
// cancelled call is not dressed as an unreachable server.
func TestFailMessages(t *testing.T) {
	c := &cluster{server: "https://127.0.0.1:6443"}
	if err := c.fail("x", nil); err != nil {
		t.Errorf("fail(nil) = %v", err)
	}
	if err := c.fail("reading namespace a", context.Canceled); !errors.Is(err, context.Canceled) || output.IsUserError(err) {
		t.Errorf("a cancelled call must stay a cancellation: %v", err)
	}
	err := c.fail("reading namespace a", errors.New("dial tcp: connection refused"))
	want := "Unable to reach the Kubernetes API server at https://127.0.0.1:6443 while reading namespace a: dial tcp: connection refused"
	if !output.IsUserError(err) || err.Error() != want {
		t.Errorf("fail = %q, want %q", err, want)
	}
	// A request's method and URL are left out: the cause is what a user
	// can act on.
	refused := errors.New("dial tcp 127.0.0.1:6443: connect: connection refused")
	err = c.fail("listing the Deployments of a", &url.Error{Op: "Get", URL: "https://127.0.0.1:6443/apis/apps/v1/namespaces/default/deployments?labelSelector=x", Err: refused})
	want = "Unable to reach the Kubernetes API server at https://127.0.0.1:6443 while listing the Deployments of a: dial tcp 127.0.0.1:6443: connect: connection refused"
	if err.Error() != want || !errors.Is(err, refused) {
		t.Errorf("fail = %q, want %q (wrapping the cause)", err, want)
	}
}

// TestClientsFollowKubeconfig: the shared clients are those of the
// kubeconfig as it is now: the same while it is unchanged, new once its
// file changes.
func TestClientsFollowKubeconfig(t *testing.T) {
	path := kubeconfigFor(t, "https://a.invalid:6443")
	s := clusterScheduler(t, path)
	first, err := s.open("app")
	if err != nil {
		t.Fatal(err)
	}
	same, err := s.open("app")
	if err != nil {
		t.Fatal(err)
	}
	if same.cs != first.cs || same.stream != first.stream {
		t.Error("an unchanged kubeconfig made new clients")
	}
	data, err := os.ReadFile(kubeconfigFor(t, "https://b.invalid:6443"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	changed, err := s.open("app")
	if err != nil {
		t.Fatal(err)
	}
	if changed.server != "https://b.invalid:6443" || changed.cs == first.cs {
		t.Errorf("after the kubeconfig changed: server %s, same clients %v", changed.server, changed.cs == first.cs)
	}
}
