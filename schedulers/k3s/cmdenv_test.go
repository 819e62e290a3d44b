package k3s_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"dokku-sshd/commands"
	"dokku-sshd/deploy"
	"dokku-sshd/internal/k8stest"
	"dokku-sshd/keys"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/k3s"
	"dokku-sshd/store"
)

// cmdEnv is the dispatcher with k3s as every app's scheduler, on a
// namespace of its own of a test cluster, and one app whose release is a
// registry image by digest with no build, as git:from-image records one.
type cmdEnv struct {
	t   *testing.T
	c   *k8stest.Cluster
	cs  kubernetes.Interface
	st  *store.Store
	ns  string
	ctx context.Context
	d   *commands.Dispatcher
}

// newCmdEnv makes the env for app; its namespace is nsPrefix and random
// hex, deleted at the end of the test.
func newCmdEnv(t *testing.T, nsPrefix, app string) *cmdEnv {
	t.Helper()
	c := k8stest.Shared(t)
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	e := &cmdEnv{t: t, c: c, cs: c.Clientset(), st: st, ns: nsPrefix + randHex(4)}
	t.Cleanup(func() {
		_ = e.cs.CoreV1().Namespaces().Delete(context.Background(), e.ns, metav1.DeleteOptions{})
	})
	if err := st.CreateApp(app, 1); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ plugin, app, key, value string }{
		{k3s.Plugin, store.Global, "kubeconfig-path", c.Kubeconfig},
		{k3s.Plugin, store.Global, "namespace", e.ns},
		{"scheduler", store.Global, "selected", k3s.Name},
		{"common", app, "deployed", "true"}, // as git:from-image leaves it
	} {
		if err := st.SetProperty(p.plugin, p.app, p.key, p.value); err != nil {
			t.Fatal(err)
		}
	}
	img := "registry.test/" + app + "@sha256:" + strings.Repeat("c", 64)
	rel := &schedulers.Deployed{Image: img, Procfile: map[string]string{"web": "httpd -f -p $PORT"}, DeployedAt: time.Now()}
	if err := schedulers.SaveDeployed(st, app, rel); err != nil {
		t.Fatal(err)
	}
	e.d = commands.New(commands.Config{Store: st, Keys: keys.Open(st.Paths.AuthorizedKeys, nil), Pipeline: &deploy.Pipeline{
		Store: st, Builds: deploy.NewBuilds(st), Schedulers: schedulers.NewRegistry(k3s.New(st, nil, nil)),
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	e.ctx = ctx
	return e
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// cmdStep is a command, its exit code and what its output holds; check,
// when set, looks at its stdout or at the cluster.
type cmdStep struct {
	argv  []string
	code  int
	wants []string
	check func(stdout string)
}

// steps runs each step as root, in order; a step that exits otherwise
// than it should ends the test, as the next ones build on it.
func (e *cmdEnv) steps(steps []cmdStep) {
	t := e.t
	t.Helper()
	root := keys.Identity{Name: "root", Local: true, Admin: true}
	for _, step := range steps {
		var out, errb bytes.Buffer
		code := e.d.Run(e.ctx, commands.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, root, step.argv)
		if code != step.code {
			t.Fatalf("%q: exit %d, want %d\n%s%s", step.argv, code, step.code, out.String(), errb.String())
		}
		for _, w := range step.wants {
			if !strings.Contains(out.String()+errb.String(), w) {
				t.Errorf("%q: output lacks %q:\n%s%s", step.argv, w, out.String(), errb.String())
			}
		}
		if step.check != nil {
			step.check(out.String())
		}
	}
}
