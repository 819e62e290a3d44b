// Package gitexectest gives tests a hostile environment for git: the
// variables that make a git run which inherits its environment read and
// write another repository than the one it was asked for.
package gitexectest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// HostileEnv makes a bare repository (returned as other) and the GIT_*
// variables, as NAME=value, that point git at it: its directory, objects
// and refs, a work tree and index of its own, a ref namespace, and through
// GIT_CONFIG_PARAMETERS a hooks directory whose reference-transaction hook
// refuses every ref update. A git run that honours any of them reads or
// writes other, or fails.
func HostileEnv(t testing.TB) (env []string, other string) {
	t.Helper()
	base := t.TempDir()
	other = filepath.Join(base, "other.git")
	cmd := exec.Command("git", "init", "--bare", "--quiet", other)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + base, "GIT_CONFIG_NOSYSTEM=1"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init %s: %v: %s", other, err, out)
	}
	hooks := filepath.Join(base, "hooks")
	if err := os.Mkdir(hooks, 0o755); err != nil {
		t.Fatal(err)
	}
	hook := "#!/bin/sh\necho hostile hook ran >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(hooks, "reference-transaction"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	return []string{
		"GIT_DIR=" + other,
		"GIT_COMMON_DIR=" + other,
		"GIT_OBJECT_DIRECTORY=" + filepath.Join(other, "objects"),
		"GIT_ALTERNATE_OBJECT_DIRECTORIES=" + filepath.Join(other, "objects"),
		"GIT_WORK_TREE=" + base,
		"GIT_INDEX_FILE=" + filepath.Join(base, "index"),
		"GIT_NAMESPACE=hostile",
		"GIT_CONFIG_PARAMETERS='core.hookspath=" + hooks + "'",
	}, other
}

// Setenv sets env (NAME=value entries) for the rest of the test.
func Setenv(t testing.TB, env []string) {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}
