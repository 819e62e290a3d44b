package integration

// The migration test of Dokku host mode (README, "Dokku host mode"): a
// directory laid out like a Dokku host that OpenSSH and sshcommand served
// until now, the server started on it as systemd starts it with
// systemd/dokku-host.conf, and the host's keys and remotes keep working.

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hostDropIn is the drop-in the README installs on a Dokku host, relative to
// the module root.
const hostDropIn = "systemd/dokku-host.conf"

// dropInEnv returns the Environment= assignments of a systemd drop-in, in
// order, with Dokku's paths in them rewritten by paths.
func dropInEnv(t testing.TB, file string, paths *strings.Replacer) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var env []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kv, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Environment=")
		if !ok {
			continue
		}
		env = append(env, paths.Replace(kv))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}

// migrationHost is a Dokku host before the switch: the side-by-side
// harness's layout as /home/dokku, a /var/lib/dokku, and a directory standing
// for /usr/bin with `dokku` in it (hostDokkuScript in front of the recorder),
// which .sshcommand names, as Dokku's installer writes it.
type migrationHost struct {
	*hostLayout
	Lib   string
	Bin   string
	Dokku string // Bin/dokku
}

// hostDokkuScript is the host's `dokku`: the recorder, and for git-hook
// first the app's deploy lock, taken as Dokku's git_receive_app takes it
// around the build (plugins/git/functions, plugins/common/functions:
// acquire_app_deploy_lock "exclusive" fails at once when someone holds it)
// and removed after. @LIB@ and @RECORDER@ are filled in.
const hostDokkuScript = `#!/bin/bash
[ "$1" = git-hook ] || exec '@RECORDER@' "$@"
lock='@LIB@'/data/apps/$2/.deploy.lock
exec 200>"$lock"
if ! flock -n 200; then
  echo " !     $2 currently has a deploy lock in place. Exiting..." >&2
  exit 1
fi
'@RECORDER@' "$@"
status=$?
flock -u 200 && rm -f "$lock"
exit $status
`

func newMigrationHost(t *testing.T) *migrationHost {
	t.Helper()
	h := &migrationHost{hostLayout: newHostLayout(t)}
	base := h.acct.dir(t)
	h.Lib = filepath.Join(base, "var-lib-dokku")
	h.Bin = filepath.Join(base, "usr-bin")
	h.Dokku = filepath.Join(h.Bin, "dokku")
	for _, d := range []string{filepath.Join(h.Lib, "config"), filepath.Join(h.Lib, "data"), h.Bin} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A container of an earlier deploy, due for Dokku's retirement (its
	// `ps:retire` cron job): the scheduler's state is Dokku's.
	sched := filepath.Join(h.Lib, "data", "scheduler-docker-local")
	if err := os.MkdirAll(sched, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(sched, "dead-containers"), "myapp 0123456789abcdef 1700000000\n")
	writeFile(t, filepath.Join(sched, "dead-images"), "")
	script := strings.NewReplacer("@LIB@", h.Lib, "@RECORDER@", h.Recorder).Replace(hostDokkuScript)
	if err := os.WriteFile(h.Dokku, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(h.Root, ".sshcommand"), h.Dokku+"\n")
	if err := os.Chmod(h.Keys, 0o700); err != nil { // sic: sshcommand's mode
		t.Fatal(err)
	}
	h.acct.own(t, base) // Dokku's files are the dokku user's
	return h
}

// addApp leaves app as Dokku leaves an app that was pushed to: a bare
// repository with the history of work, the pre-receive hook Dokku writes
// (plugins/git), and properties in LIB. The hook names `dokku` by its path,
// where Dokku's finds it on PATH: a command's PATH is OpenSSH's default,
// which has /usr/bin but not the test's directory.
func (h *migrationHost) addApp(t testing.TB, c *gitClient, app, work string) {
	t.Helper()
	repo := filepath.Join(h.Root, app)
	c.mustGit(t, "", "clone", "-q", "--bare", work, repo)
	hook := "#!/usr/bin/env bash\nset -e\nset -o pipefail\n\ncat | DOKKU_ROOT=\"" + h.Root + "\" " + h.Dokku + " git-hook \"" + app + "\"\n"
	if err := os.WriteFile(filepath.Join(repo, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(h.Lib, "data", "apps", app), 0o755); err != nil {
		t.Fatal(err)
	}
	for rel, content := range map[string]string{
		filepath.Join("config", "git", app, "deploy-branch"): "main",
		filepath.Join("config", app, "ENV"):                  "export GREETING='hello world'\n",
	} {
		p := filepath.Join(h.Lib, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, content)
	}
	h.acct.own(t, repo)
	h.acct.own(t, h.Lib)
}

// snapshot is every file under root with its content, and every directory.
func snapshot(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

// TestHostMigration takes a Dokku host over: keys written by sshcommand
// (one in its old unquoted-NAME form), apps with Dokku's hook and
// properties, and the server started with the drop-in's environment alone.
// An existing key reaches Dokku's `dokku` through its forced command,
// existing remotes of both forms push and Dokku's pre-receive hook gets the
// push, ssh-keys:list lists the keys, and nothing of Dokku's changes that
// the push did not move.
func TestHostMigration(t *testing.T) {
	t.Parallel()
	requireTools(t, "git", "ssh", "ssh-keygen", "flock")
	h := newMigrationHost(t)
	admin, alice, legacy := newKey(t, "ed25519", "default"), newKey(t, "rsa", "alice"), newKey(t, "ecdsa", "legacy")
	h.addKey(t, "default", admin)
	h.addKey(t, "alice", alice)
	h.appendKeyLine(t, `command="FINGERPRINT=`+legacy.Fingerprint+` NAME=legacy `+"`cat "+h.Root+"/.sshcommand`"+
		` $SSH_ORIGINAL_COMMAND",`+allowedKeys+" "+legacy.PubLine+"\n")

	// The client's work trees and the apps made from them, before the
	// server exists (the client is pointed at it once it runs).
	c := newGitClient(t, &server{}, alice)
	works := map[string]string{}
	for _, app := range []string{"myapp", "other-app"} {
		works[app] = c.newRepo(t)
		h.addApp(t, c, app, works[app])
	}
	keysBefore, err := os.ReadFile(h.Keys)
	if err != nil {
		t.Fatal(err)
	}
	libBefore := snapshot(t, h.Lib)
	// A push that C git's receive-pack, under OpenSSH beside the server,
	// is receiving as the server starts: its quarantine and ref lock.
	inFlight := []string{filepath.Join(h.Root, "myapp", "objects", "incoming-inflight"), filepath.Join(h.Root, "myapp", "refs", "heads", "feature.lock")}
	for _, p := range inFlight {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		h.write(t, p, "")
	}

	env := dropInEnv(t, filepath.Join(repoRoot, hostDropIn), strings.NewReplacer(
		"/home/dokku", h.Root, "/var/lib/dokku", h.Lib, "/usr/bin/dokku", h.Dokku))
	if !slices.Contains(env, "DOKKU_SSHD_DOKKU_HOST=true") {
		t.Fatalf("%s does not turn host mode on: %q", hostDropIn, env)
	}
	// As systemd starts it: the service's User= (the layout's user here, so
	// --user names it too) and the drop-in's environment.
	env = append(append([]string{hostTZ}, h.acct.env()...), append(env, "DOKKU_SSHD_USER="+h.User)...)
	s := startServerCfg(t, serverConfig{DataDir: h.acct.dir(t), Env: env, Credential: h.acct.Cred})
	c.target(t, s.Port)
	// Remotes and logins name the host's user (dokku on a real host).
	cfg, err := os.ReadFile(c.sshConfig)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, c.sshConfig, strings.Replace(string(cfg), "User dokku", "User "+h.User, 1))
	ours := hostTarget{Name: "dokku-sshd", server: s}

	for _, k := range []struct {
		name string
		key  *keyPair
	}{{"alice", alice}, {"legacy", legacy}} {
		t.Run("an existing key runs a command through its forced command: "+k.name, func(t *testing.T) {
			dir := h.recordInto(t, "command-"+k.name)
			// The login shell splits the forced command's unquoted
			// $SSH_ORIGINAL_COMMAND, as under OpenSSH: Dokku re-reads the
			// variable itself for its own quoting rules.
			r := ours.hostSSH(t, h.hostLayout, k.key, sshOpts{}, "apps:list", "rec:print=apps of the host")
			expect(t, "apps:list", r, 0, "apps\n", "")
			rec := hostRecording(t, dir)
			if len(rec) != 1 {
				t.Fatalf("want one dokku call, got %d: %v", len(rec), rec)
			}
			if want := "apps:list\nrec:print=apps\nof\nthe\nhost\n"; rec[0].Argv != want {
				t.Errorf("dokku's argv = %q, want %q", rec[0].Argv, want)
			}
			for _, v := range []string{`NAME="` + k.name + `"`, `FINGERPRINT="` + k.key.Fingerprint + `"`,
				`SSH_ORIGINAL_COMMAND="apps:list rec:print=apps of the host"`} {
				if !strings.Contains(rec[0].Env, v+"\n") {
					t.Errorf("dokku's environment lacks %s:\n%s", v, rec[0].Env)
				}
			}
		})
	}

	for _, tc := range []struct {
		app, remote, path string // path: what git puts after git-receive-pack
	}{
		{"myapp", h.User + "@127.0.0.1:myapp", "myapp"},                                             // dokku@host:APP, the port from ~/.ssh/config
		{"other-app", fmt.Sprintf("ssh://%s@127.0.0.1:%d/other-app", h.User, s.Port), "/other-app"}, // ssh://dokku@host:PORT/APP
	} {
		t.Run("an existing remote pushes: "+tc.remote, func(t *testing.T) {
			repo := filepath.Join(h.Root, tc.app)
			dir := h.recordInto(t, "push-"+tc.app)
			old := c.serverRef(t, repo, "refs/heads/main")
			next := c.commitFile(t, works[tc.app], "Procfile", "web: ./serve\n")
			c.mustPush(t, works[tc.app], tc.remote, "main")
			if got := c.serverRef(t, repo, "refs/heads/main"); got != next {
				t.Errorf("main on the host = %s, want the pushed %s", got, next)
			}
			c.fsck(t, repo)
			// Dokku's own git-receive-pack first (its user-auth, the app and
			// repository checks), with the words as the shell split them,
			// then the hook of the push.
			rec := hostRecording(t, dir)
			var argvs []string
			for _, inv := range rec {
				argvs = append(argvs, inv.Argv)
			}
			want := []string{"git-receive-pack\n\\'" + tc.path + "\\'\n", "git-hook\n" + tc.app + "\n"}
			if !slices.Equal(argvs, want) {
				t.Fatalf("dokku calls: %q, want %q", argvs, want)
			}
			hook := rec[1:]
			if want := old + " " + next + " refs/heads/main\n"; hook[0].Stdin != want {
				t.Errorf("git-hook stdin = %q, want %q", hook[0].Stdin, want)
			}
			for _, v := range []string{`DOKKU_ROOT="` + h.Root + `"`, `NAME="alice"`} {
				if !strings.Contains(hook[0].Env, v+"\n") {
					t.Errorf("git-hook's environment lacks %s:\n%s", v, hook[0].Env)
				}
			}
		})
	}

	t.Run("ssh-keys:list shows the host's keys", func(t *testing.T) {
		r := ours.hostSSH(t, h.hostLayout, admin, sshOpts{}, "ssh-keys:list")
		expect(t, "ssh-keys:list", r, 0, listText("default", admin)+listText("alice", alice)+listText("legacy", legacy), "")
	})

	t.Run("a push in flight under OpenSSH keeps its files", func(t *testing.T) {
		for _, p := range inFlight {
			if _, err := os.Stat(p); err != nil {
				t.Errorf("the server's start removed %s: %v", p, err)
			}
			_ = os.RemoveAll(p)
		}
	})

	t.Run("Dokku's data stays as it was", func(t *testing.T) {
		keysAfter, err := os.ReadFile(h.Keys)
		if err != nil {
			t.Fatal(err)
		}
		if string(keysAfter) != string(keysBefore) {
			t.Errorf("authorized_keys changed:\n%s", lineDiff(string(keysBefore), string(keysAfter)))
		}
		libAfter := snapshot(t, h.Lib)
		for p, v := range libBefore {
			if w, ok := libAfter[p]; !ok || w != v {
				t.Errorf("%s in the lib dir: %q, was %q", p, w, v)
			}
		}
		for p := range libAfter {
			if _, ok := libBefore[p]; !ok {
				t.Errorf("%s appeared in the lib dir", p)
			}
		}
	})
}
