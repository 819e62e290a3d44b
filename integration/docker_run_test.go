package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// runApp deploys an httpd app whose Procfile has web, a worker scaled to 1
// by app.json and a "hello" command for run, with GREETING=hi.
func runApp(t *testing.T, prefix string) *dockerApp {
	t.Helper()
	a := newDockerApp(t, prefix)
	a.s.mustSSH(t, a.key, "apps:create", a.name)
	a.s.mustSSH(t, a.key, "config:set", "--no-restart", a.name, "GREETING=hi")
	a.commit(t, map[string]string{
		"Procfile": "web: httpd -f -v -p $PORT -h /www\nworker: sleep 100000\nhello: echo hello $GREETING\n",
		"app.json": `{"formation": {"web": {"quantity": 1}, "worker": {"quantity": 1}}}`,
	})
	a.deployHTTP(t, "run")
	return a
}

// sshLong is ssh with stdin and a timeout fit for starting containers.
func (a *dockerApp) sshLong(t *testing.T, stdin string, words ...string) result {
	t.Helper()
	return a.s.sshWith(t, a.key, sshOpts{Stdin: stdin, Timeout: 3 * time.Minute}, words...)
}

// runContainers lists the app's run containers by name.
func (a *dockerApp) runContainers(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := a.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: make(client.Filters).
		Add("label", "com.dokku.app-name="+a.name).Add("label", "com.dokku.container-type=run")})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range res.Items {
		names = append(names, strings.TrimPrefix(c.Names[0], "/"))
	}
	return names
}

// waitNoRunContainers polls the engine until the app has no run container.
func (a *dockerApp) waitNoRunContainers(t *testing.T, what string) {
	t.Helper()
	if !waitFor(2*time.Minute, func() bool { return len(a.runContainers(t)) == 0 }) {
		t.Fatalf("%s: run containers left: %v", what, a.runContainers(t))
	}
}

func TestDockerRun(t *testing.T) {
	t.Parallel()
	a := runApp(t, "rn")
	app := a.name

	r := a.sshLong(t, "input\n", "run", app, "sh", "-c", "'cat; echo err >&2; exit 3'")
	expect(t, "run with stdin, stdout, stderr and an exit status", r, 3, "input\n", "err\n")

	r = a.sshLong(t, "", "run", "-e", "X='$(id)'", "--env", "Y=two", app, "sh", "-c", `'echo "$X $Y $GREETING $DYNO"'`)
	if r.Code != 0 || !regexp.MustCompile(`^\$\(id\) two hi run\.\d+\n$`).MatchString(r.Stdout) {
		t.Errorf("run -e: %s", r)
	}

	r = a.sshLong(t, "", "run", app, "hello", "world")
	expect(t, "run of a Procfile key", r, 0, "-----> Found 'hello' in Procfile, running that command\nhello hi world\n", "")

	expect(t, "bad --ttl-seconds", a.sshLong(t, "", "run", "--ttl-seconds", "abc", app, "true"), 1, "", warn("--ttl-seconds must be a positive integer"))
	expect(t, "both tty flags", a.sshLong(t, "", "run", "--no-tty", "--force-tty", app, "true"), 1, "", warn("Cannot specify both --force-tty and --no-tty"))
	expect(t, "run of a missing app", a.sshLong(t, "", "run", app+"-nope", "true"), 20, "", warn("App "+app+"-nope does not exist"))
	a.s.mustSSH(t, a.key, "apps:create", app+"-new")
	expect(t, "run of an app never deployed", a.sshLong(t, "", "run", app+"-new", "true"), 1, "", warn("App "+app+"-new has not been deployed"))

	// run:detached, run:list, run:stop.
	r = a.sshLong(t, "", "run:detached", "--ttl-seconds", "600", app, "sleep", "300")
	name := strings.TrimSpace(r.Stdout)
	if r.Code != 0 || !regexp.MustCompile(`^`+regexp.QuoteMeta(app)+`\.run\.\d+$`).MatchString(name) {
		t.Fatalf("run:detached: %s", r)
	}
	r = a.sshLong(t, "", "run:list", app)
	if r.Code != 0 || !regexp.MustCompile(`^=====> `+regexp.QuoteMeta(app)+` run containers\nNAMES +COMMAND +RUNNING FOR\n`+
		regexp.QuoteMeta(name)+` +"sleep 300" +(Less than a second|\d+ seconds?|About a minute) ago\n$`).MatchString(r.Stdout) {
		t.Errorf("run:list:\n%s", r)
	}
	r = a.sshLong(t, "", "run:list", "--format", "json", app)
	var list []map[string]string
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || len(list) != 1 {
		t.Fatalf("run:list --format json: %v\n%s", err, r)
	}
	if l := list[0]; l["name"] != name || l["state"] != "running" || l["command"] != "sleep 300" || l["created_at"] == "" {
		t.Errorf("run:list --format json: %v", l)
	}
	if !strings.HasPrefix(r.Stdout, "[\n  {\n    \"name\": ") {
		t.Errorf("run:list --format json is not jq-pretty:\n%s", r.Stdout)
	}
	expect(t, "run:stop of a missing container", a.sshLong(t, "", "run:stop", "--container", app+".run.1"), 0, "", warn("Specified container does not exist"))
	expect(t, "run:stop of a web container", a.sshLong(t, "", "run:stop", "--container", app+".web.1"), 1, "", warn("Specified container must be a run container"))
	expect(t, "run:stop without arguments", a.sshLong(t, "", "run:stop"), 1, "", warn("No container or app specified"))
	expect(t, "run:stop --container", a.sshLong(t, "", "run:stop", "--container", name), 0, name+"\n", "")
	a.waitNoRunContainers(t, "after run:stop")
	expect(t, "run:stop without run containers", a.sshLong(t, "", "run:stop", app), 0, "", warn("No run containers exist"))
	expect(t, "run:list --format json without containers", a.sshLong(t, "", "run:list", "--format", "json", app), 0, "[]\n", "")

	// The client going away in the middle of an attached run leaves no
	// container behind.
	argv := a.s.sshArgv(a.key, sshOpts{}, "run", app, "sh", "-c", "'echo started; sleep 300'")
	cmd := exec.Command("ssh", argv...)
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe() // open: the container's stdin stays open
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		started <- line
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-started:
		if line != "started\n" {
			t.Fatalf("attached run printed %q", line)
		}
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("attached run never started")
	}
	if n := len(a.runContainers(t)); n != 1 {
		t.Errorf("%d run containers while running", n)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	a.waitNoRunContainers(t, "after the client was killed")
}

func TestDockerEnter(t *testing.T) {
	t.Parallel()
	a := runApp(t, "en")
	app := a.name
	webID, _, _ := a.slot("web.1")
	workerID, _, _ := a.slot("worker.1")
	if webID == "" || workerID == "" {
		t.Fatalf("state files: web.1 %q, worker.1 %q", webID, workerID)
	}

	expect(t, "enter with stdin without a TTY", a.sshLong(t, "hi\n", "enter", app, "web", "cat"), 0, "hi\n", "")
	expect(t, "enter a dyno", a.sshLong(t, "", "enter", app, "worker.1", "--", "sh", "-c", `'echo $DYNO; exit 4'`), 4, "worker.1\n", "")
	expect(t, "enter by container id", a.sshLong(t, "", "enter", app, "--container-id", webID[:10], "--", "sh", "-c", `'echo $DYNO'`), 0, "web.1\n", "")
	expect(t, "enter an unknown type", a.sshLong(t, "", "enter", app, "nope"), 1, "",
		warn("No containers found for type 'nope'")+warn("Available types for app ("+app+"): web worker"))
	expect(t, "enter without a type", a.sshLong(t, "", "enter", app), 1, "",
		warn("No container type specified.")+warn("Available types for app ("+app+"): web worker"))
	r := a.sshLong(t, "", "enter", app, "--container-id", "zzz")
	if r.Code != 1 || !strings.HasPrefix(r.Stderr, warn("Invalid container id for app: zzz")+" !     Available ids for app ("+app+"): ") ||
		!strings.Contains(r.Stderr, webID) || !strings.Contains(r.Stderr, workerID) {
		t.Errorf("enter with a bad id: %s", r)
	}
	expect(t, "enter a missing app", a.sshLong(t, "", "enter", app+"-nope", "web"), 20, "", warn("App "+app+"-nope does not exist"))
	a.s.mustSSH(t, a.key, "apps:create", app+"-new")
	expect(t, "enter an app never deployed", a.sshLong(t, "", "enter", app+"-new", "web"), 1, "", warn("App "+app+"-new has not been deployed"))

	// The null scheduler runs nothing to enter.
	a.s.mustSSH(t, a.key, "scheduler:set", app+"-new", "selected", "null")
	expect(t, "enter with the null scheduler", a.sshLong(t, "", "enter", app+"-new", "web"), 1, "", warn("The null scheduler does not support enter"))
	expect(t, "run with the null scheduler", a.sshLong(t, "", "run", app+"-new", "true"), 1, "", warn("The null scheduler does not support run"))
}

// tmuxTerm is a terminal (tmux) running a shell command.
type tmuxTerm struct {
	t    *testing.T
	sock string
	mu   sync.Mutex
}

func newTmux(t *testing.T, argv []string) *tmuxTerm {
	t.Helper()
	requireTools(t, "tmux")
	tm := &tmuxTerm{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock")}
	var quoted []string
	for _, a := range argv {
		quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	shell := strings.Join(quoted, " ") + "; echo EXIT=$?; sleep 120"
	if r := tm.run("new-session", "-d", "-x", "100", "-y", "30", "-s", "it", shell); r.Code != 0 {
		t.Fatalf("tmux new-session: %s", r)
	}
	t.Cleanup(func() { tm.run("kill-server") })
	return tm
}

func (tm *tmuxTerm) run(args ...string) result {
	return runCmd(tm.t, "", nil, "tmux", append([]string{"-S", tm.sock, "-f", "/dev/null"}, args...)...)
}

func (tm *tmuxTerm) pane() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.run("capture-pane", "-p", "-t", "it").Stdout
}

func (tm *tmuxTerm) keys(keys ...string) {
	tm.t.Helper()
	if r := tm.run(append([]string{"send-keys", "-t", "it"}, keys...)...); r.Code != 0 {
		tm.t.Fatalf("tmux send-keys: %s", r)
	}
}

// waitPane waits until the pane matches re.
func (tm *tmuxTerm) waitPane(what string, re *regexp.Regexp) {
	tm.t.Helper()
	if !waitFor(2*time.Minute, func() bool { return re.MatchString(tm.pane()) }) {
		tm.t.Fatalf("%s: the terminal never matched %s:\n%s", what, re, tm.pane())
	}
}

// checkTTY drives an interactive sh in the container through a real
// terminal: size, window change, ^C, exit status.
func checkTTY(t *testing.T, tm *tmuxTerm, status string) {
	tm.keys("clear; stty size", "Enter")
	tm.waitPane("stty size", regexp.MustCompile(`(?m)^30 100\s*$`))
	if r := tm.run("resize-window", "-t", "it", "-x", "120", "-y", "40"); r.Code != 0 {
		t.Fatalf("tmux resize-window: %s", r)
	}
	// The window change travels ssh -> server -> engine: ask until it
	// arrived.
	if !waitFor(2*time.Minute, func() bool {
		tm.keys("stty size", "Enter")
		time.Sleep(300 * time.Millisecond)
		return regexp.MustCompile(`(?m)^40 120\s*$`).MatchString(tm.pane())
	}) {
		t.Fatalf("the resize never reached the container:\n%s", tm.pane())
	}
	// ^C reaches the container's shell, which stays.
	tm.keys("clear; sleep 300", "Enter")
	time.Sleep(500 * time.Millisecond)
	tm.keys("C-c")
	tm.keys("echo back-$((40+2))", "Enter")
	tm.waitPane("after ^C", regexp.MustCompile(`(?m)^back-42\s*$`))
	tm.keys("exit "+status, "Enter")
	tm.waitPane("exit", regexp.MustCompile(`EXIT=`+status))
}

func TestDockerRunTTY(t *testing.T) {
	t.Parallel()
	requireTools(t, "tmux")
	a := runApp(t, "rt")
	// No command: the scheduler shell.
	a.s.mustSSH(t, a.key, "scheduler:set", a.name, "shell", "/bin/sh")
	tm := newTmux(t, append([]string{"ssh", "-t"}, a.s.sshArgv(a.key, sshOpts{}, "run", a.name)...))
	checkTTY(t, tm, "7")
	a.waitNoRunContainers(t, "after the TTY run")
}

func TestDockerEnterTTY(t *testing.T) {
	t.Parallel()
	requireTools(t, "tmux")
	a := runApp(t, "et")
	tm := newTmux(t, append([]string{"ssh", "-t"}, a.s.sshArgv(a.key, sshOpts{}, "enter", a.name, "web", "sh")...))
	checkTTY(t, tm, "6")
}
