package k3s

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"dokku-sshd/internal/k8stest"
	"dokku-sshd/internal/testenv"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// TestReadsMakeNoNamespace: what only reads an app's objects, or changes
// or deletes those that exist, leaves a namespace that does not exist
// not existing, and sees nothing deployed in it.
func TestReadsMakeNoNamespace(t *testing.T) {
	c := k8stest.Shared(t)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		call func(s *Scheduler) error
	}{
		{"Status", func(s *Scheduler) error {
			n, state, err := s.Status(ctx, "app")
			if err == nil && (n != 0 || state != "false") {
				return fmt.Errorf("status %d %q, want 0 false", n, state)
			}
			return err
		}},
		{"IsDeployed", func(s *Scheduler) error {
			ok, err := s.IsDeployed(ctx, "app")
			if err == nil && ok {
				return fmt.Errorf("deployed")
			}
			return err
		}},
		{"ProcessStatuses", func(s *Scheduler) error {
			m, err := s.ProcessStatuses(ctx, "app")
			if err == nil && len(m) != 0 {
				return fmt.Errorf("statuses %v", m)
			}
			return err
		}},
		{"Inspect", func(s *Scheduler) error { return s.Inspect(ctx, "app", io.Discard) }},
		{"RunList", func(s *Scheduler) error {
			l, err := s.RunList(ctx, "app")
			if err == nil && len(l) != 0 {
				return fmt.Errorf("runs %v", l)
			}
			return err
		}},
		{"RunStop", func(s *Scheduler) error {
			if _, err := s.RunStop(ctx, "app", ""); err != schedulers.ErrNoRunContainers {
				return fmt.Errorf("run:stop = %v, want %v", err, schedulers.ErrNoRunContainers)
			}
			return nil
		}},
		{"RunRetire", func(s *Scheduler) error { return s.retireApp(ctx, "app") }},
		{"Stop", func(s *Scheduler) error { return s.Stop(ctx, "app") }},
		{"Destroy", func(s *Scheduler) error { return s.Destroy(ctx, "app") }},
		// Logs and enter have nothing to show: their message is theirs.
		{"Logs", func(s *Scheduler) error {
			_ = s.Logs(ctx, "app", schedulers.LogOptions{Num: -1}, io.Discard)
			return nil
		}},
		{"Enter", func(s *Scheduler) error { _, _ = s.Enter(ctx, &schedulers.EnterOptions{App: "app"}); return nil }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := clusterScheduler(t, c.Kubeconfig)
			ns := uniqueName("noread")
			if err := s.Store.SetProperty(Plugin, "app", "namespace", ns); err != nil {
				t.Fatal(err)
			}
			deleteNamespace(t, c.Clientset(), ns)
			if err := tt.call(s); err != nil {
				t.Errorf("%s: %v", tt.name, err)
			}
			_, err := c.Clientset().CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				t.Errorf("%s made namespace %s (get: %v)", tt.name, ns, err)
			}
		})
	}
}

// TestConnectionsReused: commands one after the other share their
// connections to the API server; none is left behind per command.
func TestConnectionsReused(t *testing.T) {
	c := k8stest.Shared(t)
	u, err := url.Parse(c.Server)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := clusterScheduler(t, c.Kubeconfig)
	if err := s.Store.SetProperty(Plugin, store.Global, "namespace", "default"); err != nil {
		t.Fatal(err)
	}
	status := func(n int) {
		for range n {
			if _, _, err := s.Status(ctx, "app"); err != nil {
				t.Fatal(err)
			}
		}
	}
	status(1)
	before := establishedTo(t, port)
	const commands = 10
	status(commands)
	// Another scheduler (a server's commands each make one) shares them too.
	s = clusterScheduler(t, c.Kubeconfig)
	status(1)
	// The count is the whole test process's: other tests of the package
	// running at the same time (watches, exec streams) open and close
	// their own (CI once saw one more). A connection per command would
	// add about commands+1; allow a couple from elsewhere.
	if after := establishedTo(t, port); after > before+2 {
		t.Errorf("%d connections to the API server after %d more commands, %d after the first", after, commands+1, before)
	}
}

// establishedTo counts this process's established TCP connections to
// port on the loopback, from /proc (sockets of this process's fds matched
// to the kernel's tables).
func establishedTo(t *testing.T, port int) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		testenv.SkipOrFail(t, "counting connections needs /proc: %v", err)
	}
	mine := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			mine[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	n := 0
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// sl local rem st ... inode: rem is HEXADDR:HEXPORT, st 01 is
			// ESTABLISHED, the inode is the 10th field.
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "01" || !mine[fields[9]] {
				continue
			}
			_, p, ok := strings.Cut(fields[2], ":")
			if v, err := strconv.ParseInt(p, 16, 32); ok && err == nil && int(v) == port {
				n++
			}
		}
		f.Close()
	}
	return n
}
