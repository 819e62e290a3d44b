package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dokku-sshd/internal/testenv"
)

func TestGitSourceReadFile(t *testing.T) {
	testenv.Tool(t, "git")
	dir := t.TempDir()
	gitc := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	gitc("init", "-q")
	files := map[string]string{"Procfile": "web: x\n", "empty": "", "sub/file": "nested\nwith lines\n", "bin": "\x00\n\x01"}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitc("add", ".")
	gitc("commit", "-q", "-m", "c")
	src := GitSource{Repo: filepath.Join(dir, ".git"), Rev: gitc("rev-parse", "HEAD")}
	tests := []struct {
		path string
		want string
		ok   bool
	}{
		{"Procfile", files["Procfile"], true},
		{"empty", "", true},
		{"sub/file", files["sub/file"], true},
		{"bin", files["bin"], true},
		{"sub", "", false},     // a directory is not a file
		{"missing", "", false}, // not in the tree
		{"sub/missing", "", false},
	}
	// One process per read, then one process for all of them (Open), then
	// after it ended (reads fall back to a process each).
	opened, closeSrc := src.Open(context.Background())
	for _, s := range []GitSource{src, opened, opened} {
		for _, tt := range tests {
			data, ok, err := s.ReadFile(context.Background(), tt.path)
			if err != nil || ok != tt.ok || string(data) != tt.want {
				t.Errorf("%s (batch %v): %q %v %v; want %q %v", tt.path, s.files != nil, data, ok, err, tt.want, tt.ok)
			}
		}
		if s.files != nil {
			closeSrc()
		}
	}
	bad := GitSource{Repo: src.Repo, Rev: strings.Repeat("0", 40)}
	if _, ok, _ := bad.ReadFile(context.Background(), "Procfile"); ok {
		t.Error("a missing revision read a file")
	}
}
