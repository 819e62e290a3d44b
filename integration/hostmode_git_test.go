package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// quarantineName is the last part of a push's quarantine directory in a
// hook's environment, random under both servers (C git's
// tmp_objdir-incoming-XXXXXX, dokku-sshd's incoming-HEX).
var quarantineName = regexp.MustCompile(`/(tmp_objdir-)?incoming-[0-9A-Za-z]+"`)

// hostGitApp is the app every git scenario pushes to.
const hostGitApp = "gitapp"

// hostGitWork is the client's work tree, the same for both servers: main at
// c2, branches b0 at c1, b1 and other at c2. Its commits are made once, so
// that both servers receive the same objects.
type hostGitWork struct {
	dir, c1, c2 string
}

func newHostGitWork(t *testing.T, c *gitClient) hostGitWork {
	t.Helper()
	w := hostGitWork{dir: c.newRepo(t)}
	w.c1 = c.mustGit(t, w.dir, "rev-parse", "HEAD")
	w.c2 = c.commitFile(t, w.dir, "app.txt", "second\n")
	for _, b := range []string{"b1", "other"} {
		c.mustGit(t, w.dir, "branch", b)
	}
	c.mustGit(t, w.dir, "branch", "b0", w.c1)
	// bad: a commit with a malformed author line, which fsck refuses.
	bad := `c=$(printf 'tree %s\nparent %s\nauthor x <x> 1 +0000x\ncommitter x <x> 1 +0000\n\nbad\n' ` +
		`"$(git rev-parse HEAD^{tree})" "$(git rev-parse HEAD)" | git hash-object -t commit -w --literally --stdin) && git branch bad "$c"`
	if r := runTimeout(t, pushTimeout, w.dir, c.env(), "sh", "-c", bad); r.Code != 0 {
		t.Fatalf("bad commit: %s", r)
	}
	return w
}

// hostGitState puts the app's repository in a known state before a
// scenario: none at all, or as Dokku leaves it (a bare repository with its
// pre-receive hook calling `dokku git-hook`, here the recorder's) with
// refs set without running any hook, then config and extra hooks.
type hostGitState struct {
	refs   []string          // src:dst refspecs pushed from the work tree; nil: no app
	config [][2]string       // git config of the repository
	hooks  map[string]string // more hooks (name -> script)
}

func (s hostGitState) apply(t *testing.T, l *hostLayout, c *gitClient, w hostGitWork) {
	t.Helper()
	repo := filepath.Join(l.Root, hostGitApp)
	if err := os.RemoveAll(repo); err != nil {
		t.Fatal(err)
	}
	if s.refs == nil {
		return
	}
	c.mustGit(t, "", "init", "-q", "--bare", repo)
	hook := fmt.Sprintf("#!/usr/bin/env bash\nset -e\nset -o pipefail\n\ncat | DOKKU_ROOT=%q %s git-hook %q\n", l.Root, l.Recorder, hostGitApp)
	writeFile(t, filepath.Join(repo, "hooks", "pre-receive"), hook)
	os.Chmod(filepath.Join(repo, "hooks", "pre-receive"), 0o755)
	c.mustGit(t, w.dir, append([]string{"push", "-q", "--receive-pack=git -c core.hooksPath=/dev/null receive-pack", repo}, s.refs...)...)
	for _, kv := range s.config {
		c.mustGit(t, "", "--git-dir", repo, "config", kv[0], kv[1])
	}
	for name, script := range s.hooks {
		p := writeFile(t, filepath.Join(repo, "hooks", name), script)
		if script != "" { // an empty one stays not executable
			os.Chmod(p, 0o755)
		}
	}
}

// hostGitOutcome is what a scenario leaves: what the client saw, the
// repository's refs and whether fsck finds it sound.
type hostGitOutcome struct {
	client result
	refs   string
	fsck   string
}

func hostRepoState(t *testing.T, c *gitClient, l *hostLayout) (refs, fsck string) {
	t.Helper()
	repo := filepath.Join(l.Root, hostGitApp)
	if _, err := os.Stat(repo); err != nil {
		return "(no repository)", ""
	}
	refs = c.git(t, "", "--git-dir", repo, "for-each-ref").Stdout
	r := c.git(t, "", "--git-dir", repo, "fsck", "--no-dangling")
	return refs, fmt.Sprintf("exit %d %s", r.Code, r.Stderr+r.Stdout)
}

// hostGitClient is a git client of target h logging in as the layout's user.
func hostGitClient(t *testing.T, l *hostLayout, h hostTarget, key *keyPair) *gitClient {
	t.Helper()
	c := newGitClient(t, h.server, key)
	b, err := os.ReadFile(c.sshConfig)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, c.sshConfig, strings.Replace(string(b), "User dokku", "User "+l.User, 1))
	return c
}

// TestHostPush runs git's scenarios under OpenSSH (Dokku's wrapper, then
// git-shell and C git's receive-pack) and under dokku-sshd --dokku-host,
// from the same state: the `dokku` calls recorded (the wrapper's, the
// auto-creation's, the pre-receive hook's `dokku git-hook` with its
// stdin), what the client saw, and the refs and fsck of the repository
// afterwards must be equal.
func TestHostPush(t *testing.T) {
	t.Parallel()
	p := newHostPair(t)
	remote := p.l.User + "@127.0.0.1:" + hostGitApp
	clients := map[string]*gitClient{}
	for _, h := range []hostTarget{p.openssh, p.ours} {
		clients[h.Name] = hostGitClient(t, p.l, h, p.key)
	}
	w := newHostGitWork(t, clients["openssh"])
	existing := []string{"b0:refs/heads/main", "b1:refs/heads/b1"}
	updateHook := "#!/bin/sh\necho \"update $1\"\n[ \"$1\" = refs/heads/other ] && { echo 'update says no' >&2; exit 1; }\nexit 0\n"
	push := func(args ...string) func(c *gitClient) result {
		return func(c *gitClient) result { return c.git(t, w.dir, append([]string{"push", remote}, args...)...) }
	}
	// What the client must see, so that equal outcomes are the right ones.
	wants := map[string]string{
		"push creating the app":                      "* [new branch]      main -> main",
		"pre-receive fails":                          "(pre-receive hook declined)",
		"update hook fails for one ref":              "remote: error: hook declined to update refs/heads/other",
		"atomic push with a declined ref":            "(atomic push failure)",
		"denyDeletes":                                "(deletion prohibited)",
		"non-fast-forward under denyNonFastForwards": "(non-fast-forward)",
		"fsckObjects":                                "remote unpack failed: unpack-objects abnormal exit",
		"not executable hook":                        "hint: The 'hooks/post-update' hook was ignored",
		"Dokku refuses the push":                     " !     Access denied",
	}
	// Actions of `dokku git-hook` (the pre-receive hook's) and of the
	// wrapper's `dokku git-receive-pack`.
	hook := func(a ...string) map[string][]string { return map[string][]string{"git-hook": a} }
	front := func(a ...string) map[string][]string { return map[string][]string{"git-receive-pack": a} }
	for _, sc := range []struct {
		name  string
		state hostGitState
		verbs map[string][]string
		run   func(c *gitClient) result
	}{
		{"push creating the app", hostGitState{}, nil, push("main")},
		{"Dokku refuses the push", hostGitState{refs: existing}, front("rec:eprint= !     Access denied", "rec:exit=1"), push("main")},
		{"push that succeeds", hostGitState{refs: existing}, hook("rec:print=-----> Building", "rec:eprint=warning line"), push("main")},
		{"pre-receive fails", hostGitState{refs: existing}, hook("rec:eprint=build failed", "rec:exit=1"), push("main")},
		{"update hook fails for one ref", hostGitState{refs: existing, hooks: map[string]string{"update": updateHook}}, nil, push("main", "other")},
		{"push options", hostGitState{refs: existing, config: [][2]string{{"receive.advertisePushOptions", "true"}}}, nil,
			push("-o", "a=1", "-o", "b c", "main")},
		{"atomic push", hostGitState{refs: existing}, nil, push("--atomic", "main", "other")},
		{"atomic push with a declined ref", hostGitState{refs: existing, hooks: map[string]string{"update": updateHook}}, nil,
			push("--atomic", "main", "other")},
		{"delete", hostGitState{refs: existing}, nil, push("--delete", "b1")},
		{"denyDeletes", hostGitState{refs: existing, config: [][2]string{{"receive.denyDeletes", "true"}}}, nil, push("--delete", "b1")},
		{"non-fast-forward under denyNonFastForwards",
			hostGitState{refs: []string{"main:refs/heads/main"}, config: [][2]string{{"receive.denyNonFastForwards", "true"}}}, nil,
			push("--force", "b0:main")},
		{"fsckObjects", hostGitState{refs: existing, config: [][2]string{{"receive.fsckObjects", "true"}}}, nil, push("bad")},
		{"not executable hook", hostGitState{refs: existing, hooks: map[string]string{"post-update": ""}}, nil, push("main")},
		{"clone", hostGitState{refs: existing}, nil, func(c *gitClient) result {
			return c.git(t, "", "clone", "-q", remote, filepath.Join(t.TempDir(), "clone"))
		}},
		{"fetch", hostGitState{refs: existing}, nil, func(c *gitClient) result {
			dir := filepath.Join(t.TempDir(), "fetch")
			c.mustGit(t, "", "init", "-q", dir)
			return c.git(t, dir, "fetch", remote, "+refs/heads/*:refs/remotes/host/*")
		}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			for verb, actions := range sc.verbs {
				p.l.setVerbArgs(t, verb, actions...)
				defer p.l.setVerbArgs(t, verb)
			}
			var recs [2][]hostInvocation
			var outs [2]hostGitOutcome
			for i, h := range []hostTarget{p.openssh, p.ours} {
				c := clients[h.Name]
				sc.state.apply(t, p.l, c, w)
				dir := p.l.recordInto(t, strings.ReplaceAll(sc.name, " ", "-")+"-"+h.Name)
				res := sc.run(c)
				recs[i] = hostRecording(t, dir)
				for j := range recs[i] {
					recs[i][j].Env = quarantineName.ReplaceAllString(recs[i][j].Env, "/QUARANTINE\"")
				}
				refs, fsck := hostRepoState(t, c, p.l)
				outs[i] = hostGitOutcome{client: res, refs: refs, fsck: fsck}
			}
			hostCompare(t, sc.name, recs[0], recs[1])
			if w := wants[sc.name]; !strings.Contains(outs[1].client.Stderr, w) {
				t.Errorf("%s: %q missing from what the client saw:\n%s", sc.name, w, outs[1].client)
			}
			if outs[0] != outs[1] {
				t.Errorf("%s: outcomes differ\nunder OpenSSH: %+v\nunder dokku-sshd: %+v", sc.name, outs[0], outs[1])
			}
		})
	}
}
