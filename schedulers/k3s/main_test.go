package k3s

import (
	"os"
	"testing"

	"dokku-sshd/internal/k8stest"
)

func TestMain(m *testing.M) { os.Exit(k8stest.Main(m)) }
