package k3s_test

import (
	"regexp"
	"strings"
	"testing"
)

// TestProcessCommandsOnK3s drives logs, run, run:detached, run:list,
// run:stop and enter through the dispatcher for an app whose scheduler is
// k3s, against a real cluster: the commands need nothing of docker-local.
func TestProcessCommandsOnK3s(t *testing.T) {
	const app = "papp"
	e := newCmdEnv(t, "procs-cmd-", app)
	marker := "cmd-logs-" + randHex(4)
	if err := e.c.LogLines(marker); err != nil {
		t.Fatal(err)
	}
	var detached string
	podName := regexp.MustCompile(`^papp-run-[0-9a-f]{10}-[a-z0-9]{5}\n$`)
	e.steps([]cmdStep{
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
		{[]string{"enter", app, "web", "pwd"}, 0, []string{e.c.ExecDir + "\n"}, nil},
		{[]string{"enter", app, "web.5"}, 1, []string{" !     Process index 5 out of range for app papp"}, nil},
	})
}
