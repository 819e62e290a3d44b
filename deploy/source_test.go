package deploy

import (
	"bytes"
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

// keep-git-dir: the build context carries the repository as .git, with
// HEAD on the deploy branch at the deployed revision and an index of its
// tree, so git works on the extracted context; also for a revision still
// in a push's quarantine.
func TestArchiveKeepGitDir(t *testing.T) {
	testenv.Tool(t, "git")
	base := t.TempDir()
	env := append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t", "GIT_CONFIG_NOSYSTEM=1", "HOME="+base)
	git := func(dir string, extra []string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(env, extra...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	work, repo := filepath.Join(base, "w"), filepath.Join(base, "app")
	os.MkdirAll(filepath.Join(work, "sub"), 0o755)
	os.WriteFile(filepath.Join(work, "Procfile"), []byte("web: x\n"), 0o644)
	os.WriteFile(filepath.Join(work, "sub", "run.sh"), []byte("#!/bin/sh\n"), 0o755)
	git(work, nil, "init", "-q", "-b", "main")
	git(work, nil, "add", "-A")
	git(work, nil, "commit", "-q", "-m", "one")
	first := git(work, nil, "rev-parse", "HEAD")
	git(work, nil, "tag", "v1")
	git(work, nil, "branch", "feature")
	git(base, nil, "init", "-q", "--bare", repo)
	git(work, nil, "push", "-q", repo, "main:main", "feature", "v1")
	// A second commit reaches the repository's objects only through a
	// quarantine directory, as during a push.
	os.WriteFile(filepath.Join(work, "Procfile"), []byte("web: y\n"), 0o644)
	git(work, nil, "commit", "-q", "-am", "two")
	second := git(work, nil, "rev-parse", "HEAD")
	quarantine := filepath.Join(repo, "objects", "incoming-test")
	os.MkdirAll(filepath.Join(quarantine, "pack"), 0o755)
	qenv := []string{"GIT_OBJECT_DIRECTORY=" + quarantine, "GIT_ALTERNATE_OBJECT_DIRECTORIES=" + filepath.Join(repo, "objects"), "GIT_QUARANTINE_PATH=" + quarantine}
	pack := exec.Command("sh", "-c", `git -C "$1" pack-objects --revs --stdout | GIT_OBJECT_DIRECTORY="$3" GIT_ALTERNATE_OBJECT_DIRECTORIES="$2/objects" git --git-dir="$2" index-pack --stdin --fix-thin`, "sh", work, repo, quarantine)
	pack.Env = env
	pack.Stdin = strings.NewReader(second + "\n^" + first + "\n")
	if out, err := pack.CombinedOutput(); err != nil {
		t.Fatalf("pack into quarantine: %v\n%s", err, out)
	}

	for _, tc := range []struct {
		name, rev, branch string
		env               []string
		procfile          string
	}{
		{"rebuild of the branch", first, "main", nil, "web: x\n"},
		{"push in quarantine", second, "main", qenv, "web: y\n"},
		{"other deploy branch", first, "prod", nil, "web: x\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			src := GitSource{Repo: repo, Rev: tc.rev, Env: tc.env, KeepGitDir: true, Branch: tc.branch}
			if err := src.Archive(context.Background(), &buf); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "ctx")
			os.Mkdir(dir, 0o755)
			untar := exec.Command("tar", "-x", "-C", dir)
			untar.Stdin = &buf
			if out, err := untar.CombinedOutput(); err != nil {
				t.Fatalf("untar: %v\n%s", err, out)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "Procfile")); string(b) != tc.procfile {
				t.Errorf("Procfile = %q, want %q", b, tc.procfile)
			}
			if fi, err := os.Stat(filepath.Join(dir, "sub", "run.sh")); err != nil || fi.Mode()&0o100 == 0 {
				t.Errorf("sub/run.sh: %v %v", fi, err)
			}
			// git in the context, with the test's clean environment
			if got := git(dir, nil, "rev-parse", "HEAD"); got != tc.rev {
				t.Errorf("HEAD = %s, want %s", got, tc.rev)
			}
			if got := git(dir, nil, "symbolic-ref", "HEAD"); got != "refs/heads/"+tc.branch {
				t.Errorf("HEAD names %s, want refs/heads/%s", got, tc.branch)
			}
			if got := git(dir, nil, "status", "--porcelain"); got != "" {
				t.Errorf("git status is not clean:\n%s", got)
			}
			if got := git(dir, nil, "rev-parse", "v1", "feature"); got != first+"\n"+first {
				t.Errorf("tags and branches: %s", got)
			}
			if got := git(dir, nil, "remote"); got != "" {
				t.Errorf("remotes %q: the server's repository path is in the image", got)
			}
			if got := git(dir, nil, "log", "--format=%s"); !strings.HasSuffix(got, "one") {
				t.Errorf("history: %q", got)
			}
		})
	}
	// Without keep-git-dir the context is the tree alone.
	var buf bytes.Buffer
	if err := (GitSource{Repo: repo, Rev: first}).Archive(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), ".git/") {
		t.Error("a .git directory without keep-git-dir")
	}
}
