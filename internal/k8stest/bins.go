package k8stest

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"dokku-sshd/internal/testenv"
)

// The versions scripts/k8s/ensure-bins.sh builds; its cache directory is
// keyed by them and the Go version, and so is the one computed here.
const (
	K8sVersion      = "v1.37.2"
	EtcdVersion     = "v3.6.16"
	KwokVersion     = "v0.8.0"
	RegistryVersion = "v3.1.2"
)

// BinsEnv names the directory holding the binaries, overriding the default.
const BinsEnv = "DOKKU_SSHD_K8S_BINS"

// buildHint is the command that builds the binaries.
const buildHint = "scripts/k8s/ensure-bins.sh (about 15 min cold; then " + BinsEnv + "=$(scripts/k8s/ensure-bins.sh))"

// controlPlane are the programs a Cluster runs; kubectl is for
// comparisons and the registry for Registry.
var controlPlane = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// BinDir returns the directory the binaries are expected in:
// $DOKKU_SSHD_K8S_BINS, else the script's default cache directory.
func BinDir() string {
	if d := os.Getenv(BinsEnv); d != "" {
		return d
	}
	root := os.Getenv("DOKKU_SSHD_K8S_CACHE")
	if root == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache")
		}
		root = filepath.Join(cache, "dokku-sshd-test")
	}
	return filepath.Join(root, "k8s-"+K8sVersion+"-etcd-"+EtcdVersion+"-kwok-"+KwokVersion+
		"-registry-"+RegistryVersion+"-"+goVersion())
}

// goVersion is what `go env GOVERSION` prints for the toolchain that built
// this test binary (runtime.Version may carry a suffix such as " X:...").
func goVersion() string {
	v, _, _ := strings.Cut(runtime.Version(), " ")
	return v
}

// missing returns the names in want that are not executables in dir.
func missing(dir string, want []string) []string {
	var out []string
	for _, b := range want {
		fi, err := os.Stat(filepath.Join(dir, b))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			out = append(out, b)
		}
	}
	return out
}

// requireBins returns the binary directory, or skips (fails under CI=true)
// naming the missing binaries and the command that builds them.
func requireBins(t testing.TB, want ...string) string {
	t.Helper()
	dir := BinDir()
	if m := missing(dir, want); len(m) > 0 {
		testenv.SkipOrFail(t, "this test needs %s in %s: build them with %s",
			strings.Join(m, ", "), dir, buildHint)
	}
	return dir
}
