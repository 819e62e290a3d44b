package k3s

import (
	"os"
	"testing"

	"dokku-sshd/internal/k8stest"
)

func TestMain(m *testing.M) {
	// A machine that runs k3s has its file: the tests choose their own.
	MachineKubeconfig = "/nonexistent/dokku-sshd-test/k3s.yaml"
	os.Exit(k8stest.Main(m))
}
