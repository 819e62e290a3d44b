//go:build k3sbench

// Package k3scluster holds a control plane and a registry on 127.0.0.1 for
// bench/k3s-deploy.sh, from the test harness (internal/k8stest): the script
// runs this test in the background, reads the environment file it writes,
// and removes that file to stop both. It is behind the k3sbench build tag,
// so the test suite never runs it.
package k3scluster

import (
	"fmt"
	"os"
	"testing"
	"time"

	"dokku-sshd/internal/k8stest"
	"dokku-sshd/internal/testenv"
)

// TestServeCluster starts a private cluster and a registry, writes
// KUBECONFIG, SERVER and REGISTRY to $K3SB_ENV (atomically: the script waits
// for the file), and holds them until the file is gone or $K3SB_HOLD (a Go
// duration, default 2h) has passed.
func TestServeCluster(t *testing.T) {
	envFile := os.Getenv("K3SB_ENV")
	if envFile == "" {
		testenv.SkipOrFail(t, "K3SB_ENV is not set: this test only holds a cluster for bench/k3s-deploy.sh, which sets it")
	}
	hold := 2 * time.Hour
	if v := os.Getenv("K3SB_HOLD"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("K3SB_HOLD: %v", err)
		}
		hold = d
	}
	c := k8stest.Start(t)
	reg := k8stest.Registry(t)
	body := fmt.Sprintf("KUBECONFIG=%s\nSERVER=%s\nREGISTRY=%s\nKUBECTL=%s\n", c.Kubeconfig, c.Server, reg.Addr, c.Kubectl())
	if err := os.WriteFile(envFile+".tmp", []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(envFile+".tmp", envFile); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(hold)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(envFile); os.IsNotExist(err) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("held for %s: stopping", hold)
}
