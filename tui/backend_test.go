package tui

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"dokku-sshd/commands"
	"dokku-sshd/deploy"
	"dokku-sshd/internal/testenv"
	"dokku-sshd/keys"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/null"
	"dokku-sshd/store"
)

// testRoot is the local root identity, for setting up what a test needs.
var testRoot = keys.Identity{Name: "root", Local: true, Admin: true}

// realEnv is a session's env over a real dispatcher, deploy pipeline and
// store in a fresh data directory, for screens that read what commands
// print. Apps use the null scheduler (no Docker) and the null builder;
// apps are created with apps:create.
func realEnv(t *testing.T, id keys.Identity, apps ...string) *env {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetProperty("scheduler", store.Global, "selected", "null"); err != nil {
		t.Fatal(err)
	}
	if err := st.SetProperty("builder", store.Global, "selected", "null"); err != nil {
		t.Fatal(err)
	}
	p := &deploy.Pipeline{Store: st, Builds: deploy.NewBuilds(st), Builders: []deploy.Builder{deploy.NullBuilder{}},
		Schedulers: schedulers.NewRegistry(null.Scheduler{})}
	d := commands.New(commands.Config{Store: st, Keys: keys.Open(st.Paths.AuthorizedKeys, nil), Version: "1.2.3", Pipeline: p})
	e := testEnv(t, id)
	e.b = &backend{srv: &Server{Commands: d, Store: st, Builds: p.Builds, Events: &Events{}}, id: id}
	testPipelines.Store(e.b.srv, p)
	for _, app := range apps {
		mustRun(t, e, "apps:create", app)
	}
	return e
}

// testPipelines is each realEnv's pipeline, by its Server.
var testPipelines sync.Map

// mustRun runs a command as root and fails the test unless it succeeds.
func mustRun(t *testing.T, e *env, argv ...string) string {
	t.Helper()
	r := (&backend{srv: e.b.srv, id: testRoot}).run(t.Context(), argv...)
	if r.Code != 0 {
		t.Fatalf("%s: exit %d: %s", strings.Join(argv, " "), r.Code, r.Stderr)
	}
	return r.Stdout
}

// realDeploy pushes a commit holding files to app's repository and deploys a commit holding files to app through the real
// it through the real pipeline (null builder and scheduler), as a push
// would, and returns the build's output.
func realDeploy(t *testing.T, e *env, app string, files map[string]string) string {
	t.Helper()
	testenv.Tool(t, "git")
	base := t.TempDir()
	work, repo := filepath.Join(base, "w"), e.b.srv.Store.AppDir(app)
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@x", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@x", "GIT_CONFIG_NOSYSTEM=1", "HOME="+base)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(work, "init", "-q", "-b", "main")
	git(work, "add", "-A")
	git(work, "commit", "-q", "--allow-empty", "-m", "c")
	// Into the app's own repository, as a push leaves it: rebuilds
	// (ps:scale of a new type, ps:rebuild) build from there.
	git(base, "init", "-q", "--bare", repo)
	git(work, "push", "-q", repo, "main:master")
	rev := git(work, "rev-parse", "HEAD")
	var out strings.Builder
	v, _ := testPipelines.Load(e.b.srv)
	p := v.(*deploy.Pipeline)
	err := p.Deploy(t.Context(), deploy.Request{App: app, Kind: "git-hook", DeploySource: "git-push", Source: deploy.GitSource{Repo: repo, Rev: rev}, Out: io.Writer(&out)})
	if err != nil {
		t.Fatalf("deploy %s: %v\n%s", app, err, out.String())
	}
	return out.String()
}

func TestRealEnv(t *testing.T) {
	e := realEnv(t, keys.Identity{Name: "admin", Admin: true}, "one", "two")
	r := e.b.run(t.Context(), "apps:list", "--format", "json")
	if r.Code != 0 || r.Stdout != "[\"one\",\"two\"]\n" {
		t.Fatalf("apps:list: %+v", r)
	}
	if !e.b.allowed("apps:list") {
		t.Fatal("an admin may not list apps")
	}
	realDeploy(t, e, "one", map[string]string{"Procfile": "web: run\nworker: run\n"})
	if got := mustRun(t, e, "ps:report", "one", "--deployed"); got != "true\n" {
		t.Fatalf("deployed: %q", got)
	}
	if got := mustRun(t, e, "builds:list", "one", "--format", "json"); !strings.Contains(got, `"status":"succeeded"`) {
		t.Fatalf("builds:list: %s", got)
	}
}
