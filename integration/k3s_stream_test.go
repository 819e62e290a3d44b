package integration

import (
	"context"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dokku-sshd/internal/testbuf"
)

// The byte streams of the k3s scheduler (pods/attach for run, pods/log
// with follow for logs -t, pods/exec with a TTY for enter), end to end:
// OpenSSH client -> server -> client-go -> kube-apiserver -> kwok.

// bgSSH is an ssh command running in the background.
type bgSSH struct {
	cmd    *exec.Cmd
	out    testbuf.Buffer
	errOut testbuf.Buffer
	done   chan struct{}
	err    error
}

func (e *k3sEnv) startSSH(t *testing.T, words ...string) *bgSSH {
	t.Helper()
	b := &bgSSH{done: make(chan struct{})}
	b.cmd = exec.Command("ssh", e.s.sshArgv(e.key, sshOpts{}, words...)...)
	b.cmd.Env = cleanEnv()
	b.cmd.Stdout, b.cmd.Stderr = &b.out, &b.errOut
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { b.err = b.cmd.Wait(); close(b.done) }()
	t.Cleanup(func() { _ = b.cmd.Process.Kill(); <-b.done })
	return b
}

// wait waits for the command to end and returns its exit code (-1 when it
// did not end within k3sTimeout).
func (b *bgSSH) wait() int {
	select {
	case <-b.done:
	case <-time.After(k3sTimeout):
		return -1
	}
	var xe *exec.ExitError
	if errors.As(b.err, &xe) {
		return xe.ExitCode()
	}
	if b.err != nil {
		return -1
	}
	return 0
}

// runPod is the pod of app's running run Job ("" until there is one).
func (e *k3sEnv) runPod(t *testing.T, app string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pods, err := e.cs.CoreV1().Pods(e.ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/part-of=" + app})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if strings.HasPrefix(p.Name, app+"-run-") && p.Status.Phase == corev1.PodRunning {
			return p.Name
		}
	}
	return ""
}

// checkRunAttached: what the container writes while the command runs
// reaches the client (without a TTY, from the container's log followed
// from its start; stdin goes through pods/attach), and its exit code is the
// one the container ended with.
func (e *k3sEnv) checkRunAttached(t *testing.T, app string) {
	b := e.startSSH(t, "run", "-e", "KWOK_EXIT_DELAY=1h", "-e", "KWOK_EXIT_CODE=5", app, "sleep", "3600")
	ctx, cancel := context.WithTimeout(context.Background(), k3sTimeout)
	defer cancel()
	var pod string
	if !waitFor(time.Minute, func() bool { pod = e.runPod(t, app); return pod != "" }) {
		t.Fatalf("no running pod of the run Job:\n%s%s", b.out.String(), b.errOut.String())
	}
	marker := "attached-" + randHex(t, 4)
	if err := e.cl.LogLines(marker); err != nil {
		t.Fatal(err)
	}
	if !waitFor(time.Minute, func() bool { return strings.Contains(b.out.String(), marker) }) {
		t.Fatalf("the run's output never reached the client:\n%s", b.out.String())
	}
	if err := e.cl.ExitPod(ctx, e.ns, pod); err != nil {
		t.Fatal(err)
	}
	if code := b.wait(); code != 5 {
		t.Errorf("run ended with %d, want the container's 5:\n%s%s", code, b.out.String(), b.errOut.String())
	}
}

// checkLogsFollow: logs -t streams lines the containers write after it
// started, from every pod, until the client goes away.
func (e *k3sEnv) checkLogsFollow(t *testing.T, app string) {
	b := e.startSSH(t, "logs", "-t", "-n", "0", app)
	marker := "follow-" + randHex(t, 4)
	re := regexp.MustCompile(`(?m)^app\[(` + regexp.QuoteMeta(app) + `-web-[a-z0-9-]+)\]: ` + marker + `$`)
	pods := func() int {
		seen := map[string]bool{}
		for _, m := range re.FindAllStringSubmatch(ansi.ReplaceAllString(b.out.String(), ""), -1) {
			seen[m[1]] = true
		}
		return len(seen)
	}
	// The follow may begin after a first append: append until the three
	// pods' streams have all carried the marker.
	if !waitFor(time.Minute, func() bool {
		if err := e.cl.LogLines(marker); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
		return pods() == 3
	}) {
		t.Fatalf("logs -t never streamed %s from three pods:\n%s%s", marker, b.out.String(), b.errOut.String())
	}
	select {
	case <-b.done:
		t.Fatalf("logs -t ended by itself: %v", b.err)
	default:
	}
	_ = b.cmd.Process.Kill()
	<-b.done
}

// checkEnterTTY drives `ssh -t ... enter APP web sh` in a real terminal,
// through the server's TTY exec. kwok runs the command on this host, in
// the cluster's exec directory, without a terminal of its own (sh says it
// "can't access tty" and prompts on the output's line), so the window size
// and its changes cannot be checked here; the bytes both ways can.
func (e *k3sEnv) checkEnterTTY(t *testing.T, app string) {
	requireTools(t, "tmux")
	tm := newTmux(t, append([]string{"ssh", "-t"}, e.s.sshArgv(e.key, sshOpts{}, "enter", app, "web", "sh")...))
	tm.keys("echo in-$((20+3)); pwd", "Enter")
	tm.waitPane("a command in the terminal", regexp.MustCompile(`(?m)in-23\s*$`))
	if !strings.Contains(tm.pane(), e.cl.ExecDir) {
		t.Errorf("the shell does not run in the exec directory %s:\n%s", e.cl.ExecDir, tm.pane())
	}
	tm.keys("exit 4", "Enter")
	tm.waitPane("exit", regexp.MustCompile(`EXIT=\d+`))
}
