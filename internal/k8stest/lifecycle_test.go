package k8stest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAPIServerStopStart stops the API server of a private cluster: calls
// fail, and after the restart on the same port the data is still there
// and the controllers still work.
func TestAPIServerStopStart(t *testing.T) {
	c := Start(t)
	cs := c.Clientset()
	ctx := context.Background()
	ns := namespace(t, c)
	c.StopAPIServer()
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err := cs.CoreV1().Namespaces().Get(cctx, ns, metav1.GetOptions{})
	cancel()
	if err == nil {
		t.Fatal("the API server still answers after StopAPIServer")
	}
	if err := c.StartAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace lost across the restart: %v", err)
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, deployment("web", 2, container("web", "example/web:1")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	until(t, "2 available replicas after the restart", func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.AvailableReplicas == 2, nil
	})
}

// TestStopLeavesNothing starts and stops a cluster and checks that none of
// its processes is left and its state directory is gone.
func TestStopLeavesNothing(t *testing.T) {
	t.Setenv("DOKKU_SSHD_K8S_KEEP", "")
	c := Start(t)
	var pids []int
	c.procs.mu.Lock()
	for _, p := range c.procs.list {
		pids = append(pids, p.cmd.Process.Pid)
	}
	c.procs.mu.Unlock()
	if len(pids) != len(controlPlane) {
		t.Fatalf("%d processes, want %d", len(pids), len(controlPlane))
	}
	if _, err := c.Clientset().CoreV1().Nodes().Get(context.Background(), NodeName, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	for _, pid := range pids {
		// The process was waited for, so it is gone, not a zombie; its
		// group is empty.
		if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process group %d still exists (kill: %v)", pid, err)
		}
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Errorf("state directory %s left behind (%v)", c.Dir, err)
	}
}

// TestMissingBinaries runs a child test with an empty binary directory: it
// skips naming the binaries and the command that builds them, and fails
// under CI=true.
func TestMissingBinaries(t *testing.T) {
	if os.Getenv("K8STEST_CHILD") == "1" {
		Start(t)
		t.Fatal("Start returned without binaries")
	}
	for _, tc := range []struct {
		ci, want string
		fail     bool
	}{
		{"", "--- SKIP", false},
		{"true", "--- FAIL", true},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingBinaries$", "-test.v")
		cmd.Env = append(os.Environ(), "K8STEST_CHILD=1", "CI="+tc.ci, BinsEnv+"="+t.TempDir())
		out, err := cmd.CombinedOutput()
		s := string(out)
		if (err != nil) != tc.fail || !strings.Contains(s, tc.want) ||
			!strings.Contains(s, "etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok") ||
			!strings.Contains(s, "scripts/k8s/ensure-bins.sh") {
			t.Errorf("CI=%q: err %v, output:\n%s", tc.ci, err, s)
		}
	}
}

// TestBinDirDefault checks the default directory is the one
// scripts/k8s/ensure-bins.sh prints.
func TestBinDirDefault(t *testing.T) {
	t.Setenv(BinsEnv, "")
	t.Setenv("DOKKU_SSHD_K8S_CACHE", "/cache")
	want := "/cache/k8s-v1.37.2-etcd-v3.6.16-kwok-v0.8.0-registry-v3.1.2-" + goVersion()
	if got := BinDir(); got != want {
		t.Fatalf("BinDir() = %q, want %q", got, want)
	}
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err == nil && strings.TrimSpace(string(out)) != goVersion() {
		t.Logf("go env GOVERSION is %s, the test binary's %s: the script and the tests disagree on the cache key", out, goVersion())
	}
}

// TestPanicLeavesNoProcesses runs a child test binary that starts the
// shared cluster and panics: its components die with it (parent-death
// signal), and the next start removes its state directory.
func TestPanicLeavesNoProcesses(t *testing.T) {
	if os.Getenv("K8STEST_CHILD") == "panic" {
		c := Shared(t)
		c.procs.mu.Lock()
		for _, p := range c.procs.list {
			fmt.Printf("PID %d\n", p.cmd.Process.Pid)
		}
		c.procs.mu.Unlock()
		fmt.Printf("DIR %s\n", c.Dir)
		panic("k8stest: a test panics")
	}
	requireBins(t, controlPlane...)
	cmd := exec.Command(os.Args[0], "-test.run=^TestPanicLeavesNoProcesses$", "-test.v")
	cmd.Env = append(os.Environ(), "K8STEST_CHILD=panic", "DOKKU_SSHD_K8S_KEEP=")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "a test panics") {
		t.Fatalf("child: err %v, output:\n%s", err, out)
	}
	var pids []int
	var dir string
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "PID "); ok {
			pid, _ := strconv.Atoi(v)
			pids = append(pids, pid)
		}
		if v, ok := strings.CutPrefix(line, "DIR "); ok {
			dir = v
		}
	}
	if len(pids) != len(controlPlane) || dir == "" {
		t.Fatalf("child printed %d pids, dir %q:\n%s", len(pids), dir, out)
	}
	for _, pid := range pids {
		until(t, fmt.Sprintf("process %d to go", pid), func(context.Context) (bool, error) {
			return gone(pid), nil
		})
	}
	removeStale()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state directory %s of the dead binary not removed (%v)", dir, err)
	}
}

// gone reports whether pid no longer runs (no process, or a zombie that
// init has yet to reap).
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the command name in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}
