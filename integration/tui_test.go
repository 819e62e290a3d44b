package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"dokku-sshd/internal/promtest"
)

// tickingProcfile runs httpd with awk beside it writing a numbered line
// every second: a log that grows while the test watches. (No shell
// variables: the Procfile line is expanded before it runs.)
const tickingProcfile = `web: sh -c "awk 'BEGIN{for(i=1;;i++){print \"tick-\" i; fflush(); system(\"sleep 1\")}}' & exec httpd -f -v -p $PORT -h /www"` + "\n"

// The dashboard end to end: the real OpenSSH client in a real terminal
// (tmux) against a server deploying to the real Docker Engine. One
// session walks through what a user does: filter, open an app, read a
// report, follow logs, watch someone else's push, scale, enter a
// container, resize; then a client that goes away in the middle of a log
// follow leaves nothing running.
func TestTUI(t *testing.T) {
	t.Parallel()
	requireTools(t, "tmux")
	a := newDockerAppArgs(t, "tui", "--metrics-listen", "127.0.0.1:0", "--log-level", "debug")
	url := metricsURL(t, a.s)
	a.s.mustSSH(t, a.key, "apps:create", a.name)
	a.s.mustSSH(t, a.key, "apps:create", a.name+"-other")
	// enter runs the scheduler shell: the test image has no bash.
	a.s.mustSSH(t, a.key, "scheduler:set", a.name, "shell", "/bin/sh")
	a.commit(t, map[string]string{"Procfile": tickingProcfile})
	a.deployHTTP(t, "v1")

	tm := newTmux(t, append([]string{"ssh", "-t"}, a.s.sshArgv(a.key, sshOpts{})...))
	caps := tuiCaptures(t)
	name := regexp.QuoteMeta(a.name)

	// The apps list, then a filter that leaves only the other app.
	tm.waitPane("apps list", regexp.MustCompile(`(?m)^.*`+name+`\b.*running`))
	tm.waitPane("apps list", regexp.MustCompile(name+`-other`))
	caps.save("apps", tm.pane())
	tm.keys("/")
	tm.keys("other")
	tm.waitPaneNot("filter", regexp.MustCompile(`(?m)`+name+`\b[^-]`))
	caps.save("apps-filtered", tm.pane())
	tm.keys("Escape")
	tm.waitPane("filter cleared", regexp.MustCompile(`(?m)`+name+`\b[^-]`))
	// The selection stayed on the app the filter left; the first row is
	// the deployed one.
	tm.keys("Up")
	tm.waitPane("first row", regexp.MustCompile(`(?m)^> `+name+`\s`))

	// The app view's first tab holds every report.
	tm.keys("Enter")
	tm.waitPane("app view", regexp.MustCompile(`=====> `+name+` app information`))
	caps.save("app-reports", tm.pane())

	// Logs follow while the app writes.
	tm.keys("l")
	first := tm.waitTick("logs", 0)
	tm.waitTick("logs follow", first)
	caps.save("logs", tm.pane())
	tm.keys("q")
	tm.waitPane("back from logs", regexp.MustCompile(`1 Reports`))

	// Someone else pushes; the list shows the deploy, and its build
	// screen shows the push's output line by line as it is written.
	tm.keys("q")
	a.commit(t, map[string]string{"Dockerfile": strings.Replace(httpDockerfile, "%s", a.base, 1) + "RUN sleep 6\n"})
	push := a.c.start(t, a.dir, "push", a.c.url(a.name), "main")
	tm.waitPane("deploy in the list", regexp.MustCompile(name+`\b.*deploying`))
	caps.save("apps-deploying", tm.pane())
	tm.keys("d")
	tm.waitPane("build output", regexp.MustCompile(`Building `+name+` from Dockerfile`))
	if regexp.MustCompile(`Application deployed`).MatchString(tm.pane()) && !regexp.MustCompile(`running`).MatchString(tm.pane()) {
		t.Log("the build ended before its screen opened: its output is read from the record")
	}
	tm.waitPane("build follows to the end", regexp.MustCompile(`Application deployed`))
	tm.waitPane("build succeeded", regexp.MustCompile(`succeeded`))
	caps.save("build", tm.pane())
	select {
	case <-push.done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the push did not end")
	}
	if push.res.Code != 0 {
		t.Fatalf("push: %s", push.res)
	}
	tm.keys("q")

	// Scale web to 2 through the action, and see the second container.
	tm.waitPane("apps list", regexp.MustCompile(name+`\b`))
	tm.keys("Enter")
	tm.waitPane("app view", regexp.MustCompile(`1 Reports`))
	tm.keys("c")
	tm.waitPane("scale form", regexp.MustCompile(`web\s+\[1`))
	tm.keys("BSpace", "2", "Enter")
	tm.waitPane("scale done", regexp.MustCompile(`done \(exit 0\)`))
	caps.save("scale", tm.pane())
	if id, _, _ := a.slot("web.2"); id == "" {
		t.Fatalf("scale to 2 left no web.2:\n%s", tm.pane())
	}
	tm.keys("Enter")

	// Enter web.1 from the processes tab, run echo, exit back.
	tm.keys("3")
	tm.waitPane("processes", regexp.MustCompile(`web\.2\s+running`))
	caps.save("processes", tm.pane())
	tm.keys("e")
	tm.waitPane("shell", regexp.MustCompile(`(?m)[#$] ?$`))
	tm.keys("echo hi-$((40+2))", "Enter")
	tm.waitPane("echo", regexp.MustCompile(`(?m)^hi-42`))
	caps.save("enter", tm.pane())
	tm.keys("exit", "Enter")
	tm.waitPane("back from enter", regexp.MustCompile(`3 Processes`))

	// Resize: the frame is redrawn to the new size, key line at the bottom.
	if r := tm.run("resize-window", "-t", "it", "-x", "80", "-y", "24"); r.Code != 0 {
		t.Fatalf("tmux resize-window: %s", r)
	}
	tm.waitPane("resize", regexp.MustCompile(`(?s)^ apps › `+name+`.*\n q/esc back[^\n]*\n*$`))
	for i, line := range strings.Split(strings.TrimRight(tm.pane(), "\n"), "\n") {
		if w := len([]rune(line)); w > 80 || i >= 24 {
			t.Fatalf("line %d (%d cells) outside 80x24:\n%s", i, w, tm.pane())
		}
	}
	caps.save("resized-80x24", tm.pane())

	// The client goes away in the middle of a log follow: the session
	// and the follow end with it.
	tm.keys("l")
	tm.waitTick("logs before disconnect", 0)
	tm.run("kill-server")
	if !waitFor(30*time.Second, func() bool {
		return get(promtest.Scrape(t, url), "dokku_sshd_sessions_open") == 0
	}) {
		t.Fatal("the TUI session stayed open after its client went away")
	}
	follow := regexp.MustCompile(`msg="tui stream ended".*argv="\[logs ` + name + ` -t`)
	if !waitFor(30*time.Second, func() bool { return len(follow.FindAllString(a.s.Log(), -1)) >= 2 }) {
		t.Fatalf("the log follow did not end with the session; server log:\n%s", a.s.Log())
	}
	if !waitFor(30*time.Second, func() bool { return strings.Contains(a.s.Log(), `msg="tui session ended"`) }) {
		t.Fatal("the TUI session did not end")
	}

	// The client goes away while a shell entered from the dashboard runs
	// a command: the exec ends with it.
	tm = newTmux(t, append([]string{"ssh", "-t"}, a.s.sshArgv(a.key, sshOpts{})...))
	tm.waitPane("apps list", regexp.MustCompile(`(?m)^> `+name+`\s`))
	tm.keys("Enter")
	tm.waitPane("app view", regexp.MustCompile(`1 Reports`))
	tm.keys("3")
	tm.waitPane("processes", regexp.MustCompile(`web\.1\s+running`))
	tm.keys("e")
	tm.waitPane("shell", regexp.MustCompile(`(?m)[#$] ?$`))
	tm.keys("sleep 4242", "Enter")
	web1, _, _ := a.slot("web.1")
	sleeping := func() bool {
		top, err := a.cli.ContainerTop(t.Context(), web1, client.ContainerTopOptions{})
		if err != nil {
			t.Fatalf("docker top: %v", err)
		}
		for _, p := range top.Processes {
			if strings.Contains(strings.Join(p, " "), "sleep 4242") {
				return true
			}
		}
		return false
	}
	if !waitFor(time.Minute, sleeping) {
		t.Fatal("the entered shell's command never ran")
	}
	tm.run("kill-server")
	if !waitFor(time.Minute, func() bool { return !sleeping() }) {
		t.Fatal("the entered shell's command outlived the client")
	}
}

// waitTick waits for a tick-N line with N > after in the pane and
// returns the largest N.
func (tm *tmuxTerm) waitTick(what string, after int) int {
	tm.t.Helper()
	re := regexp.MustCompile(`tick-(\d+)`)
	last := 0
	if !waitFor(2*time.Minute, func() bool {
		for _, m := range re.FindAllStringSubmatch(tm.pane(), -1) {
			if n, _ := strconv.Atoi(m[1]); n > last {
				last = n
			}
		}
		return last > after
	}) {
		tm.t.Fatalf("%s: no tick after %d:\n%s", what, after, tm.pane())
	}
	return last
}

// waitPaneNot waits until the pane does not match re.
func (tm *tmuxTerm) waitPaneNot(what string, re *regexp.Regexp) {
	tm.t.Helper()
	if !waitFor(2*time.Minute, func() bool { return !re.MatchString(tm.pane()) }) {
		tm.t.Fatalf("%s: the terminal still matches %s:\n%s", what, re, tm.pane())
	}
}

// captures keeps screens of the dashboard as text, in the directory
// DOKKU_SSHD_TUI_CAPTURES names (unset: nowhere), for people to read.
type captures struct {
	t   *testing.T
	dir string
	n   int
}

func tuiCaptures(t *testing.T) *captures {
	return &captures{t: t, dir: os.Getenv("DOKKU_SSHD_TUI_CAPTURES")}
}

func (c *captures) save(name, pane string) {
	if c.dir == "" {
		return
	}
	c.n++
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, strconv.Itoa(c.n)+"-"+name+".txt"), []byte(pane), 0o644); err != nil {
		c.t.Fatal(err)
	}
}
