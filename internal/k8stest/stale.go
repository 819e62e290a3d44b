package k8stest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// stateDirPrefix names the clusters' state directories in os.TempDir().
const stateDirPrefix = "dokku-sshd-k8s-"

// ownerFile in a state directory holds the pid of the test binary that
// made it, so that a later run can remove what a killed one left.
const ownerFile = "owner.pid"

// newStateDir makes a state directory owned by this process, after
// removing those whose owner is gone (a test binary that was killed or
// panicked: its components died with it, its directory stayed).
func newStateDir() (string, error) {
	removeStale()
	dir, err := os.MkdirTemp("", stateDirPrefix)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), stateDirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue // not ours to judge (another version, or being made)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}
