// Package testenv is how tests find what they need on the machine. A
// missing component skips the test with a message saying what to install;
// under CI=true, where scripts/test has installed everything, it fails the
// test instead, so CI never passes by skipping.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// SkipOrFail skips the test with the message, or fails it when CI=true.
func SkipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: failing instead of skipping)")
	}
	t.Skip(msg + " (under CI=true this fails instead)")
}

// debianPackage names the package that brings a tool the tests use.
var debianPackage = map[string]string{
	"ssh": "openssh-client", "ssh-keygen": "openssh-client", "git": "git",
	"tmux": "tmux", "jq": "jq", "sed": "sed",
	"plink": "putty-tools", "puttygen": "putty-tools", "dbclient": "dropbear-bin", "dropbearconvert": "dropbear-bin",
	"java": "default-jdk-headless", "javac": "default-jdk-headless",
}

// Tool returns the path of a program the test needs; see SkipOrFail.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		pkg := debianPackage[name]
		if pkg == "" {
			pkg = name
		}
		SkipOrFail(t, "this test needs %s on PATH (Debian: apt-get install -y %s; scripts/test installs it)", name, pkg)
	}
	return p
}
