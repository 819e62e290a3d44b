package k8stest

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// stages is how kwok moves the node and pods through their states.
//
//go:embed stages.yaml
var stages []byte

// Environment variables and annotation that drive a Job pod's end (see
// stages.yaml).
const (
	// ExitCodeEnv in a container's env is its exit code (default 0).
	ExitCodeEnv = "KWOK_EXIT_CODE"
	// ExitDelayEnv in the first container's env is how long a Job's pod
	// stays Running (a Go duration; default 1s).
	ExitDelayEnv = "KWOK_EXIT_DELAY"
	// ExitAnnotation on a Job's Running pod ends it at once (ExitPod).
	ExitAnnotation = "kwok.dokku-sshd.test/exit"
)

// Markers that make the failure stages apply.
const (
	// UnpullableImage in an image name keeps the pod Pending with
	// ErrImagePull, then ImagePullBackOff.
	UnpullableImage = "unpullable"
	// FailingProbePath as a readinessProbe's httpGet path keeps the pod
	// Running but never Ready.
	FailingProbePath = "/kwok-probe-fails"
)

// kwokConfig is the stages plus what kwok serves for pods/log (the log
// file), pods/attach (the attach file) and pods/exec (commands run on this
// host in ExecDir), for every pod and container.
func (c *Cluster) kwokConfig() []byte {
	var b strings.Builder
	b.Write(stages)
	fmt.Fprintf(&b, `
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata: {name: every-container}
spec:
  logs:
  - logsFile: %q
    follow: true
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterAttach
metadata: {name: every-container}
spec:
  attaches:
  - logsFile: %q
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata: {name: every-container}
spec:
  execs:
  - local: {workDir: %q}
`, c.logFile, c.attachFile, c.ExecDir)
	return []byte(b.String())
}

// criLine formats text as one line of a CRI container log, the only format
// kwok serves.
func criLine(text string) string {
	return time.Now().UTC().Format(time.RFC3339Nano) + " stdout F " + text + "\n"
}

// appendLines appends lines to file, in CRI format.
func (c *Cluster) appendLines(file string, lines []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(criLine(l))
	}
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// LogLines appends lines to the log every container has (pods/log): a
// follower sees them as they come; a new reader sees all of them, from the
// start of the cluster (or the last tailLines).
func (c *Cluster) LogLines(lines ...string) error {
	return c.appendLines(c.logFile, lines)
}

// AttachLines appends lines to what pods/attach streams. kwok streams only
// what is appended after an attach began: see WaitAttach.
func (c *Cluster) AttachLines(lines ...string) error {
	return c.appendLines(c.attachFile, lines)
}

// AttachReaders counts the pods/attach streams that are open and at the
// end of the attach file, so that they see the next AttachLines.
func (c *Cluster) AttachReaders() int {
	kwok := c.procByName("kwok")
	if kwok.cmd == nil || kwok.exited() {
		return 0
	}
	fi, err := os.Stat(c.attachFile)
	if err != nil {
		return 0
	}
	return countReadersAt(kwok.cmd.Process.Pid, c.attachFile, fi.Size())
}

// WaitAttach waits until at least n pods/attach streams are open and at
// the end of the attach file (take n from AttachReaders()+1 before the
// attach starts, on a cluster other tests share). It reads kwok's open
// files in /proc: kwok gives no other sign that an attach began.
func (c *Cluster) WaitAttach(ctx context.Context, n int) error {
	for c.AttachReaders() < n {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d pods/attach streams (have %d): %w", n, c.AttachReaders(), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// countReadersAt counts pid's descriptors open on path whose offset is at
// least size.
func countReadersAt(pid int, path string, size int64) int {
	dir := "/proc/" + strconv.Itoa(pid)
	ents, err := os.ReadDir(dir + "/fd")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, "fd", e.Name()))
		if err != nil || target != path {
			continue
		}
		info, err := os.ReadFile(filepath.Join(dir, "fdinfo", e.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "pos:"); ok {
				if pos, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && pos >= size {
					n++
				}
			}
		}
	}
	return n
}

// ExitPod ends a Job's Running pod now (with its KWOK_EXIT_CODE), instead
// of after KWOK_EXIT_DELAY.
func (c *Cluster) ExitPod(ctx context.Context, namespace, name string) error {
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:"true"}}}`, ExitAnnotation)
	_, err := c.Clientset().CoreV1().Pods(namespace).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	return err
}
