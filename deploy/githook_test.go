package deploy

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/null"
	"dokku-sshd/store"

	"dokku-sshd/internal/testenv"
)

// testRepo makes a bare repository with one commit and returns it and the
// commit id.
func testRepo(t *testing.T, files map[string]string) (string, string) {
	t.Helper()
	testenv.Tool(t, "git")
	base := t.TempDir()
	work, repo := filepath.Join(base, "w"), filepath.Join(base, "r.git")
	os.Mkdir(work, 0o755)
	for name, body := range files {
		os.WriteFile(filepath.Join(work, name), []byte(body), 0o644)
	}
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@x", "GIT_CONFIG_NOSYSTEM=1", "HOME="+base)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(work, "init", "-q", "-b", "main")
	git(work, "add", "-A")
	git(work, "commit", "-q", "--allow-empty", "-m", "c")
	git(base, "clone", "-q", "--bare", work, repo)
	return repo, git(work, "rev-parse", "HEAD")
}

func testPipeline(t *testing.T) *Pipeline {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	st.CreateApp("app", 1)
	st.SetProperty("scheduler", store.Global, "selected", "null")
	return &Pipeline{Store: st, Builds: NewBuilds(st), Builders: []Builder{DockerfileDetector{}, NullBuilder{}},
		Schedulers: schedulers.NewRegistry(null.Scheduler{})}
}

const zeros = "0000000000000000000000000000000000000000"

func TestGitPushRules(t *testing.T) {
	repo, rev := testRepo(t, map[string]string{"Procfile": "web: run\n"})
	tests := []struct {
		name      string
		setup     func(st *store.Store)
		ref       string
		wantOut   []string
		deployed  bool
		branchSet string
	}{
		{"first push sets deploy branch", nil, "refs/heads/main",
			[]string{"-----> Set main as deploy-branch", "-----> Releasing app...", "-----> Deploying app via the null scheduler...", "=====> Application deployed:"}, true, "main"},
		{"default master deploys without setting", nil, "refs/heads/master",
			[]string{"-----> Deploying app via the null scheduler..."}, true, ""},
		{"other branch warns", func(st *store.Store) { st.SetProperty("git", "app", "deploy-branch", "main") }, "refs/heads/feature",
			[]string{"-----> WARNING: deploy did not complete, you must push to main.", "-----> for example, try 'git push <dokku> feature:main'"}, false, "main"},
		{"global branch applies", func(st *store.Store) { st.SetProperty("git", store.Global, "deploy-branch", "prod") }, "refs/heads/main",
			[]string{"deploy did not complete, you must push to prod."}, false, ""},
		{"tag named like the branch deploys", func(st *store.Store) { st.SetProperty("git", "app", "deploy-branch", "main") }, "refs/tags/main",
			[]string{"-----> Deploying app via the null scheduler..."}, true, "main"},
		{"invalid branch name", func(st *store.Store) { st.SetProperty("git", "app", "deploy-branch", "a..b") }, "refs/heads/main",
			[]string{"-----> WARNING: Invalid branch name 'a..b' specified via deploy-branch setting."}, false, "a..b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPipeline(t)
			p.Store.SetProperty("builder", "app", "selected", "null")
			if tt.setup != nil {
				tt.setup(p.Store)
			}
			var out bytes.Buffer
			err := p.GitPush(context.Background(), "app", repo, nil, []RefUpdate{{Ref: tt.ref, Old: zeros, New: rev}}, &out)
			if err != nil {
				t.Fatalf("GitPush: %v\n%s", err, out.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			recs, _ := p.Builds.List("app")
			if (len(recs) == 1) != tt.deployed {
				t.Fatalf("builds = %v, deployed want %v", recs, tt.deployed)
			}
			if tt.deployed && recs[0].Status != StatusSucceeded {
				t.Fatalf("build status %s", recs[0].Status)
			}
			if v, _ := p.Store.Property("git", "app", "deploy-branch"); v != tt.branchSet {
				t.Fatalf("deploy-branch = %q, want %q", v, tt.branchSet)
			}
		})
	}
}

func TestDeployFailures(t *testing.T) {
	repo, rev := testRepo(t, map[string]string{"README": "x"})
	for _, tc := range []struct {
		name, builder, want string
	}{
		{"dockerfile builder without Dockerfile", "dockerfile", "Dockerfile not found in the pushed tree"},
		{"no builder detected", "", "No builder detected"},
		{"unknown builder", "herokuish", `Selected builder "herokuish" is not available`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPipeline(t)
			if tc.builder != "" {
				p.Store.SetProperty("builder", "app", "selected", tc.builder)
			}
			var out bytes.Buffer
			err := p.Deploy(context.Background(), Request{App: "app", Kind: "git-hook", Source: GitSource{Repo: repo, Rev: rev}, Out: &out})
			if err == nil || !strings.Contains(out.String(), tc.want) || !strings.Contains(out.String(), " !     App build failed") {
				t.Fatalf("err=%v output:\n%s", err, out.String())
			}
			recs, _ := p.Builds.List("app")
			if len(recs) != 1 || recs[0].Status != StatusFailed {
				t.Fatalf("records: %+v", recs)
			}
			var log bytes.Buffer
			p.Builds.Output("app", recs[0].ID, &log)
			if log.String() != out.String() {
				t.Fatalf("build log differs from what the client saw:\n%s", log.String())
			}
		})
	}
}

func TestDeployCanceled(t *testing.T) {
	repo, rev := testRepo(t, nil)
	p := testPipeline(t)
	p.Store.SetProperty("builder", "app", "selected", "null")
	p.Builders = []Builder{NullBuilder{Sleep: 10 * time.Second}}
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- p.Deploy(context.Background(), Request{App: "app", Kind: "git-hook", Source: GitSource{Repo: repo, Rev: rev}, Out: &out})
	}()
	for {
		if recs, _ := p.Builds.List("app"); len(recs) == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Cancel as another process would: the cancel file.
	l, _ := p.Store.TryDeployLock("app", "test") // a deploy holds the lock in real life
	defer l.Release()
	if _, err := p.Builds.Cancel("app"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("canceled deploy succeeded")
	}
	recs, _ := p.Builds.List("app")
	if recs[0].Status != StatusCanceled {
		t.Fatalf("status = %s", recs[0].Status)
	}
}

func TestParseProcfile(t *testing.T) {
	got, err := ParseProcfile([]byte("# c\nweb: ./server --port $PORT\n\nworker:  run worker\n"))
	if err != nil || got["web"] != "./server --port $PORT" || got["worker"] != "run worker" || len(got) != 2 {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range []string{"web", "web:", "we b: x", "web: a\nweb: b"} {
		if _, err := ParseProcfile([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestBuildSources: a push is recorded as a git-hook build (Dokku's builds
// source) and sets apps' deploy-source to git-push with the revision; a
// rebuild or a redeploy records its own source and leaves the deploy
// source alone, as Dokku's ps:rebuild and ps:restart do.
func TestBuildSources(t *testing.T) {
	repo, rev := testRepo(t, map[string]string{"Procfile": "web: run\n"})
	p := testPipeline(t)
	p.Store.SetProperty("builder", "app", "selected", "null")
	var out bytes.Buffer
	if err := p.GitPush(context.Background(), "app", repo, nil, []RefUpdate{{Ref: "refs/heads/main", Old: zeros, New: rev}}, &out); err != nil {
		t.Fatalf("GitPush: %v\n%s", err, out.String())
	}
	source := func() (string, string) {
		s, _ := p.Store.Property("apps", "app", "deploy-source")
		m, _ := p.Store.Property("apps", "app", "deploy-source-metadata")
		return s, m
	}
	if s, m := source(); s != "git-push" || m != rev {
		t.Fatalf("after the push: deploy-source %q, metadata %q; want git-push, %s", s, m, rev)
	}
	// The null builder builds no image: the release started again is
	// given.
	err := p.Deploy(context.Background(), Request{App: "app", Kind: "config-redeploy", Release: &schedulers.Deployed{Image: "dokku/app:latest", Rev: rev}, Out: &out})
	if err != nil {
		t.Fatalf("redeploy: %v\n%s", err, out.String())
	}
	recs, _ := p.Builds.List("app")
	var kinds []string
	for _, r := range recs {
		kinds = append(kinds, r.Kind)
	}
	if got := strings.Join(kinds, " "); got != "config-redeploy git-hook" {
		t.Errorf("build sources, newest first: %q, want \"config-redeploy git-hook\"", got)
	}
	if s, m := source(); s != "git-push" || m != rev {
		t.Errorf("after a redeploy: deploy-source %q, metadata %q; want git-push, %s", s, m, rev)
	}
}
