package tui

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"dokku-sshd/keys"
)

var update = flag.Bool("update", false, "rewrite golden files")

// golden compares got with testdata/NAME.golden (rewritten with -update).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from %s:\n--- got ---\n%s\n--- want ---\n%s", name, path, got, want)
	}
}

// testEnv is a session's env for model tests: no backend server, no
// terminal; e.send drops messages.
func testEnv(t *testing.T, id keys.Identity) *env {
	t.Helper()
	return &env{ctx: t.Context(), b: &backend{id: id}, id: id, admin: id.Admin, st: newStyles(), send: func(tea.Msg) {}}
}

// screenAt renders a root holding stack at w x h, without styles.
func screenAt(e *env, w, h int, stack ...Screen) string {
	m := &root{e: e, stack: stack, width: w, height: h}
	return ansi.Strip(m.render())
}

// sizes are the terminal sizes every screen's golden files are made at.
var sizes = []struct{ w, h int }{{80, 24}, {120, 40}}
