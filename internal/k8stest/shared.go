package k8stest

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// shared is the one cluster of a test binary, started by the first test
// that asks for it and stopped by Main.
var shared struct {
	mu     sync.Mutex
	inMain bool
	c      *Cluster
	err    error
}

// Shared returns the test binary's cluster, starting it on first use.
// Tests must leave it usable (their own namespaces, objects cleaned up);
// a test that stops the API server uses Start instead. The package's
// TestMain must call Main.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	bins := requireBins(t, controlPlane...)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		t.Fatal("k8stest.Shared needs the package's TestMain: func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }")
	}
	if shared.c == nil && shared.err == nil {
		shared.c, shared.err = start(bins)
	}
	if shared.err != nil {
		t.Fatalf("k8stest: shared cluster: %v", shared.err)
	}
	return shared.c
}

// Main runs the tests and then stops the shared cluster, if one was
// started. Use it as: func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }.
// If the test binary dies instead (a panic, a timeout), the kernel kills
// the components (they are started with a parent-death signal).
func Main(m *testing.M) int {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()
	defer stopShared()
	return m.Run()
}

func stopShared() {
	shared.mu.Lock()
	c := shared.c
	shared.c = nil
	shared.mu.Unlock()
	if c != nil {
		c.Stop()
		if os.Getenv("DOKKU_SSHD_K8S_KEEP") != "" {
			fmt.Fprintf(os.Stderr, "k8stest: kept the shared cluster's state in %s\n", c.Dir)
		}
	}
}
