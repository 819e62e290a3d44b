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

	"dokku-sshd/commands"
	"dokku-sshd/deploy"
	"dokku-sshd/internal/k8stest"
	"dokku-sshd/keys"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/k3s"
	"dokku-sshd/store"
)

// TestCommandsOnK3s drives the ps and apps commands through the dispatcher
// for an app whose scheduler is k3s, against a real cluster: what they
// print and what they leave on it.
func TestCommandsOnK3s(t *testing.T) {
	c := k8stest.Shared(t)
	cs := c.Clientset()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := "cmd-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	set := func(plugin, app, key, value string) {
		t.Helper()
		if err := st.SetProperty(plugin, app, key, value); err != nil {
			t.Fatal(err)
		}
	}
	set(k3s.Plugin, store.Global, "kubeconfig-path", c.Kubeconfig)
	set(k3s.Plugin, store.Global, "namespace", ns)
	set("scheduler", store.Global, "selected", k3s.Name)
	const app = "kapp"
	if err := st.CreateApp(app, 1); err != nil {
		t.Fatal(err)
	}
	// A release in a registry, as git:from-image records one: deployed by
	// digest, with no build.
	img := "registry.test/kapp@sha256:" + strings.Repeat("c", 64)
	if err := schedulers.SaveDeployed(st, app, &schedulers.Deployed{Image: img, Procfile: map[string]string{"web": "httpd -f -p $PORT"}, DeployedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	set("common", app, "deployed", "true")
	d := commands.New(commands.Config{Store: st, Keys: keys.Open(st.Paths.AuthorizedKeys, nil), Pipeline: &deploy.Pipeline{
		Store: st, Builds: deploy.NewBuilds(st), Schedulers: schedulers.NewRegistry(k3s.New(st, nil, nil)),
	}})
	root := keys.Identity{Name: "root", Local: true, Admin: true}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := func(argv ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := d.Run(ctx, commands.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, root, argv); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", argv, code, out.String(), errb.String())
		}
		return out.String(), errb.String()
	}
	replicas := func(name string) int32 {
		t.Helper()
		dep, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *dep.Spec.Replicas
	}
	for _, step := range []struct {
		argv  []string
		wants []string
		check func()
	}{
		{[]string{"ps:start", app}, []string{"=====> Installing kapp", "web: ready 1/1", "=====> Application deployed:"}, nil},
		{[]string{"ps:start", app}, []string{"App kapp already running"}, nil},
		{[]string{"ps:report", app}, []string{"Running:", "true", "Status web 1:", "running, ready (POD: kapp-web-"}, nil},
		{[]string{"ps:scale", app, "web=2"}, []string{"Scaling kapp processes: web=2", "web: ready 2/2"}, func() {
			if n := replicas("kapp-web"); n != 2 {
				t.Errorf("kapp-web replicas %d after ps:scale web=2", n)
			}
		}},
		{[]string{"ps:restart", app, "web"}, []string{"web: new ReplicaSet", "Application deployed"}, nil},
		{[]string{"ps:inspect", app}, []string{"kind: Deployment", "name: kapp-web", "kind: Pod"}, nil},
		{[]string{"ps:stop", app}, []string{"-----> Stopping kapp", "Stopping web process"}, func() {
			if n := replicas("kapp-web"); n != 0 {
				t.Errorf("kapp-web replicas %d after ps:stop", n)
			}
		}},
		{[]string{"ps:start", app}, []string{"App has been detected as not running, releasing", "web: ready 2/2"}, nil},
		{[]string{"apps:clone", app, "kapp2"}, []string{"Cloning kapp to kapp2"}, nil},
		{[]string{"apps:rename", "kapp2", "kapp3"}, []string{"Renaming kapp2 to kapp3"}, nil},
		{[]string{"--force", "apps:destroy", "kapp3"}, []string{"Destroying kapp3"}, nil},
		{[]string{"--force", "apps:destroy", app}, []string{"Destroying kapp"}, func() {
			deps, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
			pods, err2 := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil || err2 != nil || len(deps.Items)+len(pods.Items) != 0 {
				t.Errorf("after apps:destroy: %v %v, %d Deployments and %d pods left", err, err2, len(deps.Items), len(pods.Items))
			}
		}},
	} {
		out, errs := run(step.argv...)
		for _, w := range step.wants {
			if !strings.Contains(out+errs, w) {
				t.Errorf("%v: output lacks %q:\n%s%s", step.argv, w, out, errs)
			}
		}
		if step.check != nil {
			step.check()
		}
	}
}
