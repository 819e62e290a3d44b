package k3s_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
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

// TestProcessCommandsOnK3s drives logs, run, run:detached, run:list,
// run:stop and enter through the dispatcher for an app whose scheduler is
// k3s, against a real cluster: the commands need nothing of docker-local.
func TestProcessCommandsOnK3s(t *testing.T) {
	c := k8stest.Shared(t)
	cs := c.Clientset()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	ns := "procs-cmd-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		_ = cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	const app = "papp"
	for _, p := range []struct{ plugin, app, key, value string }{
		{k3s.Plugin, store.Global, "kubeconfig-path", c.Kubeconfig},
		{k3s.Plugin, store.Global, "namespace", ns},
		{"scheduler", store.Global, "selected", k3s.Name},
		{"common", app, "deployed", "true"}, // as git:from-image leaves it
	} {
		if err := st.SetProperty(p.plugin, p.app, p.key, p.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.CreateApp(app, 1); err != nil {
		t.Fatal(err)
	}
	img := "registry.test/papp@sha256:" + strings.Repeat("d", 64)
	if err := schedulers.SaveDeployed(st, app, &schedulers.Deployed{Image: img, Procfile: map[string]string{"web": "httpd -f -p $PORT"}, DeployedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	d := commands.New(commands.Config{Store: st, Keys: keys.Open(st.Paths.AuthorizedKeys, nil), Pipeline: &deploy.Pipeline{
		Store: st, Builds: deploy.NewBuilds(st), Schedulers: schedulers.NewRegistry(k3s.New(st, nil, nil)),
	}})
	root := keys.Identity{Name: "root", Local: true, Admin: true}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := func(argv ...string) (code int, stdout, stderr string) {
		t.Helper()
		var out, errb bytes.Buffer
		code = d.Run(ctx, commands.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, root, argv)
		return code, out.String(), errb.String()
	}
	marker := "cmd-logs-" + hex.EncodeToString(b)
	if err := c.LogLines(marker); err != nil {
		t.Fatal(err)
	}
	var detached string
	podName := regexp.MustCompile(`^papp-run-[0-9a-f]{10}-[a-z0-9]{5}\n$`)
	for _, step := range []struct {
		argv  []string
		code  int
		wants []string
		check func(stdout string)
	}{
		{[]string{"ps:start", app}, 0, []string{"web: ready 1/1"}, nil},
		{[]string{"logs", app, "-n", "1"}, 0, []string{"\x1b[31mapp[papp-web-", "]: \x1b[0m" + marker + "\n"}, nil},
		{[]string{"logs", app, "-q", "-p", "web"}, 0, []string{marker + "\n"}, func(stdout string) {
			if strings.Contains(stdout, "app[") {
				t.Errorf("logs -q has prefixes:\n%s", stdout)
			}
		}},
		{[]string{"logs", app, "-p", "web.2"}, 1, []string{" !     Process index 2 out of range for app papp"}, nil},
		{[]string{"logs", app, "-p", "worker"}, 1, []string{" !     No pods found matching specified labels"}, nil},
		{[]string{"run", "-e", "KWOK_EXIT_CODE=3", "-e", "KWOK_EXIT_DELAY=0s", app, "web"}, 3,
			[]string{"-----> Found 'web' in Procfile, running that command"}, nil},
		{[]string{"run:detached", "-e", "KWOK_EXIT_DELAY=1h", app, "sleep", "1d"}, 0, nil, func(stdout string) {
			if !podName.MatchString(stdout) {
				t.Fatalf("run:detached printed %q, not a run pod's name", stdout)
			}
			detached = strings.TrimSpace(stdout)
		}},
		{[]string{"run:list", app}, 0, []string{"=====> papp run containers", "NAMES", "sleep 1d"}, func(stdout string) {
			if !strings.Contains(stdout, detached) {
				t.Errorf("run:list lacks %s:\n%s", detached, stdout)
			}
		}},
		{[]string{"run:stop", "--container", "papp-run-0000000000"}, 0, []string{" !     Specified container does not exist"}, nil},
		{[]string{"run:stop", app}, 0, nil, func(stdout string) {
			if stdout != detached+"\n" {
				t.Errorf("run:stop printed %q, want %s", stdout, detached)
			}
		}},
		{[]string{"run:stop", app}, 0, []string{" !     No run containers exist"}, nil},
		{[]string{"enter", app, "web", "pwd"}, 0, []string{c.ExecDir + "\n"}, nil},
		{[]string{"enter", app, "web.5"}, 1, []string{" !     Process index 5 out of range for app papp"}, nil},
	} {
		code, out, errs := run(step.argv...)
		if code != step.code {
			t.Errorf("%q: exit %d, want %d\n%s%s", step.argv, code, step.code, out, errs)
		}
		for _, w := range step.wants {
			if !strings.Contains(out+errs, w) {
				t.Errorf("%q: output lacks %q:\n%s%s", step.argv, w, out, errs)
			}
		}
		if step.check != nil {
			step.check(out)
		}
	}
}
