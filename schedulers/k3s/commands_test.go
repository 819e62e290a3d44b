package k3s_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCommandsOnK3s drives the ps and apps commands through the dispatcher
// for an app whose scheduler is k3s, against a real cluster: what they
// print and what they leave on it.
func TestCommandsOnK3s(t *testing.T) {
	const app = "kapp"
	e := newCmdEnv(t, "cmd-", app)
	replicas := func(want int32, after string) func(string) {
		return func(string) {
			dep, err := e.cs.AppsV1().Deployments(e.ns).Get(e.ctx, "kapp-web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if n := *dep.Spec.Replicas; n != want {
				t.Errorf("kapp-web replicas %d after %s, want %d", n, after, want)
			}
		}
	}
	nothingLeft := func(string) {
		deps, err := e.cs.AppsV1().Deployments(e.ns).List(e.ctx, metav1.ListOptions{})
		pods, err2 := e.cs.CoreV1().Pods(e.ns).List(e.ctx, metav1.ListOptions{})
		if err != nil || err2 != nil || len(deps.Items)+len(pods.Items) != 0 {
			t.Errorf("after apps:destroy: %v %v, %d Deployments and %d pods left", err, err2, len(deps.Items), len(pods.Items))
		}
	}
	e.steps([]cmdStep{
		{argv: []string{"ps:start", app}, wants: []string{"=====> Installing kapp", "web: ready 1/1", "=====> Application deployed:"}},
		{argv: []string{"ps:start", app}, wants: []string{"App kapp already running"}},
		{argv: []string{"ps:report", app}, wants: []string{"Running:", "true", "Status web 1:", "running, ready (POD: kapp-web-"}},
		{argv: []string{"ps:scale", app, "web=2"}, wants: []string{"Scaling kapp processes: web=2", "web: ready 2/2"}, check: replicas(2, "ps:scale web=2")},
		{argv: []string{"ps:restart", app, "web"}, wants: []string{"web: new ReplicaSet", "Application deployed"}},
		{argv: []string{"ps:inspect", app}, wants: []string{"kind: Deployment", "name: kapp-web", "kind: Pod"}},
		{argv: []string{"ps:stop", app}, wants: []string{"-----> Stopping kapp", "Stopping web process"}, check: replicas(0, "ps:stop")},
		{argv: []string{"ps:start", app}, wants: []string{"App has been detected as not running, releasing", "web: ready 2/2"}},
		{argv: []string{"apps:clone", app, "kapp2"}, wants: []string{"Cloning kapp to kapp2"}},
		{argv: []string{"apps:rename", "kapp2", "kapp3"}, wants: []string{"Renaming kapp2 to kapp3"}},
		{argv: []string{"--force", "apps:destroy", "kapp3"}, wants: []string{"Destroying kapp3"}},
		{argv: []string{"--force", "apps:destroy", app}, wants: []string{"Destroying kapp"}, check: nothingLeft},
	})
}
