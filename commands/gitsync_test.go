package commands

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"dokku-sshd/deploy"
	"dokku-sshd/internal/testenv"
	"dokku-sshd/keys"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/null"
	"dokku-sshd/store"
)

// syncDispatcher is a dispatcher whose deploys run the null builder and
// the null scheduler, with apps app1..app9.
func syncDispatcher(t *testing.T) (*Dispatcher, *store.Store) {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p := &deploy.Pipeline{Store: st, Builds: deploy.NewBuilds(st), Builders: []deploy.Builder{deploy.NullBuilder{}},
		Schedulers: schedulers.NewRegistry(null.Scheduler{})}
	for _, kv := range [][3]string{{"scheduler", "selected", "null"}, {"builder", "selected", "null"}} {
		if err := st.SetProperty(kv[0], store.Global, kv[1], kv[2]); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 9; i++ {
		if err := st.CreateApp("app"+string(rune('0'+i)), 1); err != nil {
			t.Fatal(err)
		}
	}
	return New(Config{Store: st, Keys: keys.Open(st.Paths.AuthorizedKeys, nil), Pipeline: p}), st
}

// upstream is a remote repository a test syncs from: a bare repository and
// a work tree that commits and pushes to it.
type upstream struct {
	t          *testing.T
	work, bare string
	env        []string
}

func newUpstream(t *testing.T) *upstream {
	t.Helper()
	testenv.Tool(t, "git")
	base := t.TempDir()
	u := &upstream{t: t, work: filepath.Join(base, "work"), bare: filepath.Join(base, "remote.git"),
		env: append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t", "GIT_CONFIG_NOSYSTEM=1", "HOME="+base)}
	u.git(base, "init", "-q", "--bare", u.bare)
	u.git(base, "init", "-q", "-b", "master", u.work)
	return u
}

func (u *upstream) git(dir string, args ...string) string {
	u.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = u.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		u.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// commit commits a change on the work tree's current branch, pushes every
// branch and tag, and returns the commit.
func (u *upstream) commit(msg string) string {
	u.t.Helper()
	if err := os.WriteFile(filepath.Join(u.work, "Procfile"), []byte("web: "+msg+"\n"), 0o644); err != nil {
		u.t.Fatal(err)
	}
	u.git(u.work, "add", "-A")
	u.git(u.work, "commit", "-q", "-m", msg)
	u.git(u.work, "push", "-q", "--all", u.bare)
	u.git(u.work, "push", "-q", "--tags", u.bare)
	return u.git(u.work, "rev-parse", "HEAD")
}

// branchOf is the commit of app's branch, "" when it has none.
func branchOf(t *testing.T, st *store.Store, app, branch string) string {
	t.Helper()
	cmd := exec.Command("git", "--git-dir", st.AppDir(app), "rev-parse", "--verify", "--quiet", "refs/heads/"+branch)
	out, _ := cmd.Output()
	return strings.TrimSpace(string(out))
}

func TestGitSync(t *testing.T) {
	d, st := syncDispatcher(t)
	up := newUpstream(t)
	first := up.commit("one")
	up.git(up.work, "tag", "-a", "-m", "v1", "v1")
	up.git(up.work, "checkout", "-q", "-b", "develop")
	dev := up.commit("dev")
	up.git(up.work, "checkout", "-q", "master")
	second := up.commit("two")
	url := "file://" + up.bare
	gone := filepath.Join(t.TempDir(), "none.git")

	type step struct {
		name           string
		argv           []string
		stdout, stderr string
		code           int
		// branch of app1..: the deploy branch and its commit afterwards
		app, branch, rev string
		deployBranchProp string
	}
	steps := []step{
		{name: "missing app", argv: []string{"git:sync", "nope", url}, stderr: " !     App nope does not exist\n", code: 20},
		{name: "no app", argv: []string{"git:sync"}, stderr: " !     App  does not exist\n", code: 20},
		{name: "no remote", argv: []string{"git:sync", "app1"}, stderr: " !     Missing GIT_REMOTE parameter\n", code: 1},
		{name: "unknown flag", argv: []string{"git:sync", "--bogus", "app1", url}, stderr: " !     Unknown flag --bogus\n", code: 1},
		{name: "unreachable repository", argv: []string{"git:sync", "app1", "file://" + gone},
			stdout: "-----> Cloning app1 from file://" + gone + "#\n", code: 128, app: "app1", branch: "master"},
		{name: "first sync clones the deploy branch", argv: []string{"git:sync", "app1", url},
			stdout: "-----> Cloning app1 from " + url + "#\n       Detected branch, setting deploy-branch to master\n",
			app:    "app1", branch: "master", rev: second, deployBranchProp: "master"},
		{name: "no changes", argv: []string{"git:sync", "--build-if-changes", "app1", url},
			stdout: "       Fetching remote code for app1 from " + url + "#\n       Skipping build as no changes were detected\n",
			app:    "app1", branch: "master", rev: second, deployBranchProp: "master"},
		{name: "fetch to a tag", argv: []string{"git:sync", "app1", url, "v1"},
			stdout: "       Fetching remote code for app1 from " + url + "#v1\n", app: "app1", branch: "master", rev: first, deployBranchProp: "master"},
		{name: "unreachable repository leaves the branch", argv: []string{"git:sync", "--build", "app1", "/nonexistent/x.git"},
			stdout: "       Fetching remote code for app1 from /nonexistent/x.git#\n", code: 128, app: "app1", branch: "master", rev: first, deployBranchProp: "master"},
		{name: "ref not in the remote", argv: []string{"git:sync", "app1", url, "nosuch"},
			stdout: "       Fetching remote code for app1 from " + url + "#nosuch\n", stderr: "fatal: couldn't find remote ref nosuch\n", code: 128,
			app: "app1", branch: "master", rev: first, deployBranchProp: "master"},
		{name: "branch on the first sync", argv: []string{"git:sync", "app2", url, "develop"},
			stdout: "-----> Cloning app2 from " + url + "#develop\n       Detected branch, setting deploy-branch to develop\n",
			app:    "app2", branch: "develop", rev: dev, deployBranchProp: "develop"},
		{name: "--skip-deploy-branch", argv: []string{"git:sync", "app3", "--skip-deploy-branch", url, "develop"},
			stdout: "-----> Cloning app3 from " + url + "#develop\n       Detected branch develop, skipping deploy-branch setting\n",
			app:    "app3", branch: "master", rev: dev},
		{name: "tag on the first sync", argv: []string{"git:sync", "app4", url, "v1"},
			stdout: "-----> Cloning app4 from " + url + "#v1\n", app: "app4", branch: "master", rev: first},
		{name: "commit on the first sync", argv: []string{"git:sync", "app5", url, first},
			stdout: "-----> Cloning app5 from " + url + "#" + first + "\n", app: "app5", branch: "master", rev: first},
		{name: "abbreviated commit", argv: []string{"git:sync", "app6", url, dev[:10]},
			stdout: "-----> Cloning app6 from " + url + "#" + dev[:10] + "\n", app: "app6", branch: "master", rev: dev},
		{name: "quiet", argv: []string{"--quiet", "git:sync", "app7", url, "v1"}, app: "app7", branch: "master", rev: first},
		{name: "no such ref on the first sync", argv: []string{"git:sync", "app8", url, "nosuch"},
			stdout: "-----> Cloning app8 from " + url + "#nosuch\n", stderr: "fatal: couldn't find remote ref nosuch\n", code: 128, app: "app8", branch: "master"},
	}
	for _, s := range steps {
		r := run(d, local, false, "", s.argv...)
		stderrOK := r.stderr == s.stderr
		if s.name == "unreachable repository" || s.name == "unreachable repository leaves the branch" {
			// git's own words, without the server's paths
			stderrOK = strings.Contains(r.stderr, "does not appear to be a git repository") &&
				!strings.Contains(r.stderr, st.Paths.DataDir) && !strings.Contains(r.stderr, "/nonexistent") && !strings.Contains(r.stderr, filepath.Dir(gone))
		}
		if r.stdout != s.stdout || !stderrOK || r.code != s.code {
			t.Errorf("%s %q:\n got stdout=%q stderr=%q code=%d\nwant stdout=%q stderr=%q code=%d",
				s.name, s.argv, r.stdout, r.stderr, r.code, s.stdout, s.stderr, s.code)
		}
		if s.app == "" {
			continue
		}
		if got := branchOf(t, st, s.app, s.branch); got != s.rev {
			t.Errorf("%s: %s %s = %q, want %q", s.name, s.app, s.branch, got, s.rev)
		}
		if got, _ := st.Property("git", s.app, "deploy-branch"); got != s.deployBranchProp {
			t.Errorf("%s: deploy-branch = %q, want %q", s.name, got, s.deployBranchProp)
		}
		if recs, _ := deploy.NewBuilds(st).List(s.app); len(recs) != 0 {
			t.Errorf("%s: builds %+v without --build", s.name, recs)
		}
		if refs, _ := exec.Command("git", "--git-dir", st.AppDir(s.app), "for-each-ref", "refs/dokku-sync/").Output(); len(refs) != 0 {
			t.Errorf("%s: left %s", s.name, refs)
		}
	}
	// HEAD names the deploy branch, so that a clone checks it out.
	if out, _ := exec.Command("git", "--git-dir", st.AppDir("app2"), "symbolic-ref", "HEAD").Output(); strings.TrimSpace(string(out)) != "refs/heads/develop" {
		t.Errorf("app2 HEAD = %q", out)
	}
}

// A sync that fails to reach its remote before the app has a repository
// makes none (the app looks as it did: nothing pushed yet).
func TestGitSyncUnreachableFirst(t *testing.T) {
	d, st := syncDispatcher(t)
	newUpstream(t)
	r := run(d, local, false, "", "git:sync", "app1", "file:///nonexistent/x.git")
	if r.code != 128 || !strings.Contains(r.stderr, "fatal: '.../x.git' does not appear to be a git repository") {
		t.Fatalf("%+v", r)
	}
	if _, err := os.Stat(filepath.Join(st.AppDir("app1"), "refs")); err == nil {
		t.Error("a failed first sync made a repository")
	}
	if got, _ := st.Property("git", "app1", "deploy-branch"); got != "" {
		t.Errorf("deploy-branch = %q", got)
	}
}

func TestGitSyncBuild(t *testing.T) {
	d, st := syncDispatcher(t)
	up := newUpstream(t)
	first := up.commit("one")
	url := "file://" + up.bare
	builds := func() []deploy.Record {
		recs, err := deploy.NewBuilds(st).List("app1")
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	deployed := "-----> Deploying app1 via the null scheduler...\n"

	// --build on the first sync builds what it cloned.
	r := run(d, local, false, "", "git:sync", "--build", "app1", url)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "-----> Cloning app1 from "+url+"#\n       Detected branch, setting deploy-branch to master\n") ||
		!strings.Contains(r.stdout, deployed) {
		t.Fatalf("--build: %+v", r)
	}
	recs := builds()
	if len(recs) != 1 || recs[0].Rev != first || recs[0].Status != deploy.StatusSucceeded || recs[0].Kind != "git:sync" {
		t.Fatalf("builds: %+v", recs)
	}
	for key, want := range map[string]string{"deploy-source": "git-sync", "deploy-source-metadata": url + "#" + first} {
		if got, _ := st.Property("apps", "app1", key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}

	// --build-if-changes without a change builds nothing.
	r = run(d, local, false, "", "git:sync", "--build-if-changes", "app1", url)
	if r.code != 0 || r.stdout != "       Fetching remote code for app1 from "+url+"#\n       Skipping build as no changes were detected\n" || len(builds()) != 1 {
		t.Fatalf("--build-if-changes, no change: %+v", r)
	}
	// ... and with one it builds the new commit.
	second := up.commit("two")
	r = run(d, local, false, "", "git:sync", "--build-if-changes", "app1", url)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "       Fetching remote code for app1 from "+url+"#\n") || !strings.Contains(r.stdout, deployed) {
		t.Fatalf("--build-if-changes with a change: %+v", r)
	}
	if recs := builds(); len(recs) != 2 || (recs[0].Rev != second && recs[1].Rev != second) {
		t.Fatalf("builds: %+v, want one of %s", recs, second)
	}
	if got := branchOf(t, st, "app1", "master"); got != second {
		t.Fatalf("master = %s, want %s", got, second)
	}
	// --build builds without a change too.
	r = run(d, local, false, "", "git:sync", "app1", url, "--build")
	if r.code != 0 || !strings.Contains(r.stdout, deployed) || len(builds()) != 3 {
		t.Fatalf("--build without a change: %+v", r)
	}

	// The deploy lock: a running deploy refuses any sync; apps:lock
	// refuses a sync that builds and lets a plain one fetch.
	lockMsg := " !     app1 currently has a deploy lock in place. Exiting...\n !     Run 'apps:unlock' to release the existing deploy lock\n"
	lock, err := st.TryDeployLock("app1", "test deploy")
	if err != nil {
		t.Fatal(err)
	}
	for _, argv := range [][]string{{"git:sync", "app1", url}, {"git:sync", "--build", "app1", url}} {
		if r := run(d, local, false, "", argv...); r.code != 1 || r.stderr != lockMsg || r.stdout != "" {
			t.Errorf("%q during a deploy: %+v", argv, r)
		}
	}
	lock.Release()
	if r := run(d, local, false, "", "apps:lock", "app1"); r.code != 0 {
		t.Fatalf("apps:lock: %+v", r)
	}
	third := up.commit("three")
	if r := run(d, local, false, "", "git:sync", "--build-if-changes", "app1", url); r.code != 1 || r.stderr != lockMsg {
		t.Errorf("--build-if-changes under apps:lock: %+v", r)
	}
	if r := run(d, local, false, "", "git:sync", "app1", url); r.code != 0 || branchOf(t, st, "app1", "master") != third {
		t.Errorf("plain sync under apps:lock: %+v", r)
	}
	if len(builds()) != 3 {
		t.Errorf("builds under apps:lock: %+v", builds())
	}
}

// git:sync from an HTTP remote that wants a login: git's own smart HTTP
// server (git http-backend behind net/http/cgi) with basic auth. Without
// git:auth's entry git cannot log in; with it the sync works; no password
// reaches the client's output.
func TestGitSyncAuth(t *testing.T) {
	d, st := syncDispatcher(t)
	up := newUpstream(t)
	rev := up.commit("one")
	execPath := up.git(up.work, "--exec-path")
	backend := filepath.Join(execPath, "git-http-backend")
	if _, err := os.Stat(backend); err != nil {
		testenv.SkipOrFail(t, "git http-backend is not at %s", backend)
	}
	cgiHandler := &cgi.Handler{Path: backend, Env: []string{"GIT_PROJECT_ROOT=" + filepath.Dir(up.bare), "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "deployer" || p != "s3cret-token" {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		cgiHandler.ServeHTTP(w, r)
	}))
	defer srv.Close()
	url := srv.URL + "/remote.git"

	r := run(d, local, false, "", "git:sync", "app1", url)
	if r.code != 128 || !strings.Contains(r.stderr, "fatal:") || branchOf(t, st, "app1", "master") != "" {
		t.Fatalf("sync without credentials: %+v", r)
	}
	// A wrong password is refused too.
	if r := run(d, local, false, "", "git:auth", "127.0.0.1", "deployer", "wrong"); r.code != 0 {
		t.Fatalf("git:auth: %+v", r)
	}
	if r := run(d, local, false, "", "git:sync", "app1", url); r.code != 128 || !strings.Contains(r.stderr, "fatal:") || branchOf(t, st, "app1", "master") != "" {
		t.Fatalf("sync with a wrong password: %+v", r)
	}
	r = run(d, local, false, "", "git:auth", "127.0.0.1", "deployer", "s3cret-token")
	if r.code != 0 || r.stdout != "-----> Setting netrc auth entry for host 127.0.0.1\n" {
		t.Fatalf("git:auth: %+v", r)
	}
	r = run(d, local, false, "", "git:sync", "--build", "app1", url)
	if r.code != 0 || branchOf(t, st, "app1", "master") != rev {
		t.Fatalf("sync with credentials: %+v", r)
	}
	if strings.Contains(r.stdout+r.stderr, "s3cret") {
		t.Fatalf("the password reached the client: %+v", r)
	}
	// A URL's own password is not shown or recorded.
	withPass := strings.Replace(url, "http://", "http://deployer:s3cret-token@", 1)
	r = run(d, local, false, "", "git:sync", "--build", "app1", withPass)
	if r.code != 0 || strings.Contains(r.stdout+r.stderr, "s3cret") || !strings.Contains(r.stdout, "http://deployer:xxxxx@127.0.0.1") {
		t.Fatalf("sync with a password in the URL: %+v", r)
	}
	if meta, _ := st.Property("apps", "app1", "deploy-source-metadata"); strings.Contains(meta, "s3cret") {
		t.Fatalf("deploy-source-metadata = %q", meta)
	}
	// Removing the entry makes git ask again.
	if r := run(d, local, false, "", "git:auth", "127.0.0.1"); r.code != 0 || r.stdout != "-----> Removing netrc auth entry for host 127.0.0.1\n" {
		t.Fatalf("git:auth remove: %+v", r)
	}
	if r := run(d, local, false, "", "git:sync", "app1", url); r.code != 128 {
		t.Fatalf("sync after removing the entry: %+v", r)
	}
}

func TestGitAuth(t *testing.T) {
	d := testDispatcher(t)
	path := d.cfg.Store.Paths.Netrc()
	// Someone else's entries and comments stay.
	if err := os.WriteFile(path, []byte("# keep me\nmachine other.example\n  login o\n  password op\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name           string
		argv           []string
		stdin          string
		stdout, stderr string
		code           int
	}{
		{"no host", []string{"git:auth"}, "", "", " !     Please supply a git host\n", 1},
		{"no password", []string{"git:auth", "git.example", "me"}, "", "", " !     Missing password for netrc auth entry\n", 1},
		{"set", []string{"git:auth", "git.example", "me", "pw1"}, "", "-----> Setting netrc auth entry for host git.example\n", "", 0},
		{"status matches", []string{"git:auth-status", "git.example", "me", "pw1"}, "", "", "", 0},
		{"status differs", []string{"git:auth-status", "git.example", "me", "pw2"}, "", "", "", 1},
		{"status wants none", []string{"git:auth-status", "git.example"}, "", "", "", 1},
		{"password from stdin", []string{"git:auth", "git.example", "me"}, "pw2\nrest", "-----> Setting netrc auth entry for host git.example\n", "", 0},
		{"status from stdin", []string{"git:auth-status", "git.example", "me"}, "pw2\n", "", "", 0},
		{"whitespace", []string{"git:auth", "git.example", "me", "a b"}, "", "",
			" !     Invalid netrc auth entry: netrc values cannot contain whitespace or start with a quote\n", 1},
		{"remove", []string{"git:auth", "git.example"}, "", "-----> Removing netrc auth entry for host git.example\n", "", 0},
		{"remove again", []string{"git:auth", "git.example"}, "", "-----> Removing netrc auth entry for host git.example\n", "", 0},
		{"status absent", []string{"git:auth-status", "git.example"}, "", "", "", 0},
		{"status no host", []string{"git:auth-status"}, "", "", " !     Please supply a git host\n", 1},
	}
	for _, s := range steps {
		r := run(d, local, false, s.stdin, s.argv...)
		if r.stdout != s.stdout || r.stderr != s.stderr || r.code != s.code {
			t.Errorf("%s %q:\n got stdout=%q stderr=%q code=%d\nwant stdout=%q stderr=%q code=%d",
				s.name, s.argv, r.stdout, r.stderr, r.code, s.stdout, s.stderr, s.code)
		}
		if s.name == "set" {
			b, _ := os.ReadFile(path)
			want := "# keep me\nmachine other.example\n  login o\n  password op\nmachine git.example\n  login me\n  password pw1\n"
			if string(b) != want {
				t.Errorf("netrc:\n%s\nwant:\n%s", b, want)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("netrc mode: %v %v", fi.Mode(), err)
			}
		}
	}
	b, _ := os.ReadFile(path)
	if want := "# keep me\nmachine other.example\n  login o\n  password op\n"; string(b) != want {
		t.Errorf("netrc after removal:\n%s\nwant:\n%s", b, want)
	}
	// From a terminal, no password is read from the keyboard.
	if r := run(d, local, true, "typed\n", "git:auth", "git.example", "me"); r.code != 1 || r.stderr != " !     Missing password for netrc auth entry\n" {
		t.Errorf("tty: %+v", r)
	}
}
