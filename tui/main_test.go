package tui

import (
	"os"
	"testing"

	"dokku-sshd/urls"
)

// TestMain pins the host name a deploy's URLs fall back to, so that the
// goldens of a finished deploy are the same on every machine.
func TestMain(m *testing.M) {
	urls.Hostname = func() string { return "dokku.example" }
	os.Exit(m.Run())
}
