package dockerlocal_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	"dokku-sshd/schedulers"

	"dokku-sshd/internal/dockertest"
	"dokku-sshd/internal/testbuf"
	"dokku-sshd/internal/testenv"
)

// rawTerm is a client terminal: keystrokes go in through a pipe, the TTY's
// output collects in out.
type rawTerm struct {
	in  *io.PipeReader
	out *testbuf.Buffer
}

func (r rawTerm) Read(p []byte) (int, error)  { return r.in.Read(p) }
func (r rawTerm) Write(p []byte) (int, error) { return r.out.Write(p) }

func newTerminal(w, h int) (*schedulers.Terminal, *io.PipeWriter, *testbuf.Buffer, chan schedulers.WindowSize) {
	pr, pw := io.Pipe()
	out := &testbuf.Buffer{}
	resize := make(chan schedulers.WindowSize, 1)
	return &schedulers.Terminal{Term: "xterm", Width: w, Height: h, Resize: resize, Raw: rawTerm{in: pr, out: out}}, pw, out, resize
}

// deployRunApp deploys the httpd app with a Procfile.
func deployRunApp(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	g := newGitWork(t)
	out, err := e.deploy(g.commit(map[string]string{
		"Dockerfile": e.dockerfile(),
		"index.html": "run\n",
		"Procfile":   "web: httpd -f -p $PORT -h /www\nhello: echo hello from procfile $GREETING\n",
	}))
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	return e
}

// image is the app's deployed image.
func (e *env) image() string { return "dokku/" + e.app + ":latest" }

// waitGone polls until no container of the app is called name.
func (e *env) waitGone(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, err := e.cli.ContainerInspect(context.Background(), name, client.ContainerInspectOptions{})
		if cerrdefs.IsNotFound(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s still exists (err %v)", name, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitOutput polls until out contains want.
func waitOutput(t *testing.T, out *testbuf.Buffer, want string, poke func()) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("terminal never showed %q:\n%q", want, out.String())
		}
		if poke != nil {
			poke()
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestRunAttached(t *testing.T) {
	t.Parallel()
	e := deployRunApp(t)
	ctx := context.Background()
	config := map[string]string{"GREETING": "hello"}

	t.Run("streams, env and exit status", func(t *testing.T) {
		var stdout, stderr testbuf.Buffer
		name, status, err := e.sched.Run(ctx, &schedulers.RunOptions{
			App: e.app, Image: e.image(), Config: config, Env: []string{"X=$(id)"},
			Command: []string{"sh", "-c", `cat; echo err >&2; echo "$DYNO $GREETING $X"; exit 3`},
			Stdio:   schedulers.Stdio{Stdin: strings.NewReader("input\n"), Stdout: &stdout, Stderr: &stderr},
		})
		if err != nil {
			t.Fatal(err)
		}
		if status != 3 {
			t.Errorf("status %d, want 3", status)
		}
		if !strings.HasPrefix(name, e.app+".run.") {
			t.Errorf("name %q", name)
		}
		dyno := strings.TrimPrefix(name, e.app+".")
		if want := "input\n" + dyno + " hello $(id)\n"; stdout.String() != want {
			t.Errorf("stdout %q, want %q", stdout.String(), want)
		}
		if stderr.String() != "err\n" {
			t.Errorf("stderr %q", stderr.String())
		}
		e.waitGone(t, name)
	})

	t.Run("procfile key", func(t *testing.T) {
		var stdout testbuf.Buffer
		_, status, err := e.sched.Run(ctx, &schedulers.RunOptions{
			App: e.app, Image: e.image(), Config: config, Command: []string{"hello", "and more"},
			Process: map[string]string{"hello": "echo hello from procfile $GREETING"},
			Stdio:   schedulers.Stdio{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: io.Discard},
		})
		if err != nil || status != 0 {
			t.Fatalf("status %d, err %v", status, err)
		}
		want := "-----> Found 'hello' in Procfile, running that command\nhello from procfile hello and more\n"
		if stdout.String() != want {
			t.Errorf("stdout %q, want %q", stdout.String(), want)
		}
	})

	t.Run("cancel removes the container", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		pr, pw := io.Pipe()
		defer pw.Close()
		var stdout testbuf.Buffer
		done := make(chan error, 1)
		go func() {
			_, _, err := e.sched.Run(cctx, &schedulers.RunOptions{
				App: e.app, Image: e.image(), Command: []string{"sh", "-c", "echo started; sleep 300"},
				Stdio: schedulers.Stdio{Stdin: pr, Stdout: &stdout, Stderr: io.Discard},
			})
			done <- err
		}()
		waitOutput(t, &stdout, "started", nil)
		list, err := e.sched.RunList(ctx, e.app)
		if err != nil || len(list) != 1 || list[0].State != "running" {
			t.Fatalf("run:list while running: %+v, %v", list, err)
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run returned %v", err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("Run did not return after cancel")
		}
		e.waitGone(t, list[0].Name)
	})

	t.Run("tty with resize", func(t *testing.T) {
		ttyResize(t, 5, func(term *schedulers.Terminal) (int, error) {
			_, status, err := e.sched.Run(ctx, &schedulers.RunOptions{
				App: e.app, Image: e.image(), Command: []string{"sh"}, TTY: true,
				Stdio: schedulers.Stdio{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Terminal: term},
			})
			return status, err
		})
	})

	t.Run("image stage", func(t *testing.T) {
		other := e.app + "-x"
		_, _, err := e.sched.Run(ctx, &schedulers.RunOptions{App: other, Image: "dokku/" + other + ":latest", Command: []string{"true"}})
		if err == nil || err.Error() != "App image (dokku/"+other+":latest) not found" {
			t.Errorf("no image: %v", err)
		}
		if _, err := e.cli.ImageTag(ctx, client.ImageTagOptions{Source: e.base, Target: "dokku/" + other + ":latest"}); err != nil {
			t.Fatal(err)
		}
		defer e.cli.ImageRemove(context.Background(), "dokku/"+other+":latest", client.ImageRemoveOptions{})
		_, _, err = e.sched.Run(ctx, &schedulers.RunOptions{App: other, Image: "dokku/" + other + ":latest", Command: []string{"true"}})
		want := "Invalid image stage detected: expected 'release', got ''\nSuccessfully deploy your app to fix dokku run calls"
		if err == nil || err.Error() != want {
			t.Errorf("unlabelled image: %v", err)
		}
	})
}

func TestRunDetachedListStopRetire(t *testing.T) {
	t.Parallel()
	e := deployRunApp(t)
	ctx := context.Background()

	name, _, err := e.sched.Run(ctx, &schedulers.RunOptions{
		App: e.app, Image: e.image(), Detach: true, Command: []string{"hello"}, TTL: 600,
		Process: map[string]string{"hello": "sleep 300"}, Labels: map[string]string{"com.example.extra": "x"},
		Stdio: schedulers.Stdio{Stdout: io.Discard},
	})
	if err != nil {
		t.Fatal(err)
	}
	ins, err := e.cli.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dyno := strings.TrimPrefix(name, e.app+".")
	for k, v := range map[string]string{
		"com.dokku.container-type": "run", "com.dokku.app-name": e.app, "com.dokku.dyno": dyno,
		"com.dokku.active-deadline-seconds": "600", "com.dokku.process-type": "hello", "com.example.extra": "x",
	} {
		if got := ins.Container.Config.Labels[k]; got != v {
			t.Errorf("label %s = %q, want %q", k, got, v)
		}
	}
	if !ins.Container.HostConfig.AutoRemove || ins.Container.Config.Tty || ins.Container.Config.OpenStdin {
		t.Errorf("detached container: autoremove %v, tty %v, stdin %v", ins.Container.HostConfig.AutoRemove, ins.Container.Config.Tty, ins.Container.Config.OpenStdin)
	}
	if !strings.Contains(strings.Join(ins.Container.Config.Env, "\n"), "DYNO="+dyno) {
		t.Errorf("env %v", ins.Container.Config.Env)
	}

	list, err := e.sched.RunList(ctx, e.app)
	if err != nil || len(list) != 1 || list[0].Name != name || list[0].State != "running" || list[0].Command == "" {
		t.Fatalf("run:list: %+v, %v", list, err)
	}
	if _, err := e.sched.RunStop(ctx, e.app, e.app+".run.0"); !errors.Is(err, schedulers.ErrNoSuchContainer) {
		t.Errorf("stop of a missing container: %v", err)
	}
	webID, _, _ := e.slot("web.1")
	if _, err := e.sched.RunStop(ctx, e.app, webID); err == nil || err.Error() != "Specified container must be a run container" {
		t.Errorf("stop of web.1: %v", err)
	}
	stopped, err := e.sched.RunStop(ctx, e.app, "")
	if err != nil || len(stopped) != 1 || stopped[0] != name {
		t.Fatalf("run:stop: %v, %v", stopped, err)
	}
	e.waitGone(t, name)
	if _, err := e.sched.RunStop(ctx, e.app, ""); !errors.Is(err, schedulers.ErrNoRunContainers) {
		t.Errorf("stop without run containers: %v", err)
	}

	// The TTL of a detached container is enforced by a timer.
	name, _, err = e.sched.Run(ctx, &schedulers.RunOptions{App: e.app, Image: e.image(), Detach: true, TTL: 1, Command: []string{"sleep", "300"}})
	if err != nil {
		t.Fatal(err)
	}
	e.waitGone(t, name)

	// A run container past its deadline that no timer watches (one
	// started before a restart) is stopped by RunRetire. The retire loop
	// (app "") leaves alone the run containers of apps this server's data
	// directory does not hold: another server, or another test, owns them.
	expired := func(owner string) string {
		t.Helper()
		res, err := e.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
			Name: owner + ".run.99999",
			Config: &container.Config{Image: "dokku/" + e.app + ":latest", Cmd: []string{"sleep", "300"}, Labels: map[string]string{
				"com.dokku.app-name": owner, "com.dokku.container-type": "run", "com.dokku.active-deadline-seconds": "1",
			}},
			HostConfig: &container.HostConfig{AutoRemove: true},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		return res.ID
	}
	foreignApp := dockertest.Name("foreign")
	dockertest.CleanupApp(t, e.cli, foreignApp)
	own, foreign := expired(e.app), expired(foreignApp)
	time.Sleep(2 * time.Second) // past its deadline
	if err := e.sched.RunRetire(ctx, ""); err != nil {
		t.Fatal(err)
	}
	e.waitGone(t, own)
	inspect, err := e.cli.ContainerInspect(ctx, foreign, client.ContainerInspectOptions{})
	if err != nil {
		t.Fatalf("another server's run container was removed: %v", err)
	}
	if !inspect.Container.State.Running {
		t.Fatalf("another server's run container was stopped: %+v", inspect.Container.State)
	}
}

func TestEnter(t *testing.T) {
	t.Parallel()
	e := deployRunApp(t)
	ctx := context.Background()
	webID, _, _ := e.slot("web.1")

	enter := func(o schedulers.EnterOptions, stdin string) (int, string, error) {
		var stdout testbuf.Buffer
		o.App = e.app
		o.Stdio = schedulers.Stdio{Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stdout}
		status, err := e.sched.Enter(ctx, &o)
		return status, stdout.String(), err
	}
	for _, tt := range []struct {
		name   string
		o      schedulers.EnterOptions
		stdin  string
		status int
		out    string
		err    string
	}{
		{"stdin without a tty", schedulers.EnterOptions{Target: "web", Command: []string{"cat"}}, "hi\n", 0, "hi\n", ""},
		{"exit status and env", schedulers.EnterOptions{Target: "web.1", Command: []string{"sh", "-c", "echo $DYNO; exit 4"}}, "", 4, "web.1\n", ""},
		{"the only type", schedulers.EnterOptions{Command: []string{"echo", "ok"}}, "", 0, "ok\n", ""},
		{"container id prefix", schedulers.EnterOptions{ID: webID[:12], Command: []string{"echo", "ok"}}, "", 0, "ok\n", ""},
		{"unknown type", schedulers.EnterOptions{Target: "worker"}, "", 1, "", "No containers found for type 'worker'\nAvailable types for app (" + e.app + "): web"},
		{"unknown dyno", schedulers.EnterOptions{Target: "web.2"}, "", 1, "", "No containers found for type 'web.2'\nAvailable types for app (" + e.app + "): web"},
		{"bad id", schedulers.EnterOptions{ID: "zzz"}, "", 1, "", "Invalid container id for app: zzz\nAvailable ids for app (" + e.app + "): " + webID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, out, err := enter(tt.o, tt.stdin)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Errorf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || status != tt.status || out != tt.out {
				t.Errorf("got %d %q %v, want %d %q", status, out, err, tt.status, tt.out)
			}
		})
	}

	t.Run("tty with resize", func(t *testing.T) {
		ttyResize(t, 6, func(term *schedulers.Terminal) (int, error) {
			return e.sched.Enter(ctx, &schedulers.EnterOptions{
				App: e.app, Target: "web", Shell: "sh",
				Stdio: schedulers.Stdio{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Terminal: term},
			})
		})
	})

	// A client that goes away ends the session, and what it started in
	// the container gets a hangup (the server sees the daemon's processes
	// here).
	t.Run("cancel ends the session", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		pr, pw := io.Pipe()
		defer pw.Close()
		var out testbuf.Buffer
		done := make(chan error, 1)
		go func() {
			_, err := e.sched.Enter(cctx, &schedulers.EnterOptions{App: e.app, Target: "web", Command: []string{"sh", "-c", "echo started; sleep 300"},
				Stdio: schedulers.Stdio{Stdin: pr, Stdout: &out, Stderr: &out}})
			done <- err
		}()
		waitOutput(t, &out, "started", nil)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Enter returned %v", err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("Enter did not return after cancel")
		}
		// The hangup needs the daemon's processes in sight (same host and
		// PID namespace).
		ins, err := e.cli.ContainerInspect(ctx, webID, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", ins.Container.State.Pid)); err != nil || !strings.Contains(string(cg), webID) {
			testenv.SkipOrFail(t, "the container's processes are not visible from here (%v): an exec'd process cannot be hung up", err)
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
			top, err := e.cli.ContainerTop(ctx, webID, client.ContainerTopOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, p := range top.Processes {
				if cmd := p[len(p)-1]; strings.Contains(cmd, "sleep 300") {
					left = append(left, cmd)
				}
			}
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("processes of the cancelled enter left in the container: %v", left)
			}
		}
	})

	t.Run("stopped container", func(t *testing.T) {
		t.Cleanup(func() { e.cli.ContainerStart(context.Background(), webID, client.ContainerStartOptions{}) })
		if err := e.sched.Stop(ctx, e.app); err != nil {
			t.Fatal(err)
		}
		_, _, err := enter(schedulers.EnterOptions{Target: "web"}, "")
		if err == nil || err.Error() != "Container is not running" {
			t.Errorf("enter of a stopped container: %v", err)
		}
	})
}

// ttyResize drives a shell started by start on a 100x30 terminal: stty
// size, a resize to 120x40, stty size again, then `exit <status>`, which
// start must return.
func ttyResize(t *testing.T, status int, start func(term *schedulers.Terminal) (int, error)) {
	t.Helper()
	term, keys, out, resize := newTerminal(100, 30)
	defer keys.Close()
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		st, err := start(term)
		done <- result{st, err}
	}()
	poke := func(s string) func() { return func() { _, _ = io.WriteString(keys, s) } }
	waitOutput(t, out, "30 100", poke("stty size\r"))
	resize <- schedulers.WindowSize{Width: 120, Height: 40}
	waitOutput(t, out, "40 120", poke("stty size\r"))
	_, _ = io.WriteString(keys, fmt.Sprintf("exit %d\r", status))
	select {
	case r := <-done:
		if r.err != nil || r.status != status {
			t.Errorf("status %d, err %v; want %d", r.status, r.err, status)
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("the session did not end:\n%q", out.String())
	}
}
