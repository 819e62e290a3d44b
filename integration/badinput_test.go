package integration

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// appNameTooLong is the naming-rules message for a name over the length
// limit of new apps (store.MaxAppNameLength).
const appNameTooLong = appNameRules + ", and be at most 48 characters long"

// homeEntries lists the server's root dir (apps and dot directories), to
// check that a refusal created nothing.
func homeEntries(t *testing.T, s *server) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.DataDir, "home"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// A name too long for the filesystem (or for Kubernetes object names) gets
// the naming-rules message with the limit, exit 1, no server path, and
// nothing is created, whichever command or push brings it.
func TestBadInputAppNameLength(t *testing.T) {
	t.Parallel()
	requireTools(t, "git")
	s, admin := adminServer(t)
	useNullBuilder(t, s)
	s.mustLocal(t, "apps:create", "src")
	long := strings.Repeat("a", 300) // over NAME_MAX: the filesystem refuses it
	over := strings.Repeat("b", 49)  // fits the filesystem, not the limit
	atMax := strings.Repeat("c", 48)
	before := homeEntries(t, s)

	for _, tc := range []struct {
		what  string
		words []string
	}{
		{"apps:create 300", []string{"apps:create", long}},
		{"apps:create 49", []string{"apps:create", over}},
		{"--app 300 apps:create", []string{"--app", long, "apps:create"}},
		{"apps:rename to 300", []string{"apps:rename", "src", long}},
		{"apps:rename to 49", []string{"apps:rename", "src", over}},
		{"apps:clone to 300", []string{"apps:clone", "src", long}},
		{"apps:clone to 49", []string{"apps:clone", "src", over}},
		{"push (receive-pack) 300", []string{"git-receive-pack '" + long + "'"}},
		{"push (receive-pack) 49", []string{"git-receive-pack '" + over + "'"}},
	} {
		r := s.ssh(t, admin, tc.words...)
		expect(t, tc.what, r, 1, "", warn(appNameTooLong))
		if strings.Contains(r.Stderr, s.DataDir) {
			t.Errorf("%s: the message shows a server path: %s", tc.what, r.Stderr)
		}
	}
	if after := homeEntries(t, s); !slices.Equal(before, after) {
		t.Errorf("refused names created something: before %v, after %v", before, after)
	}

	// A name of an app that cannot exist is simply missing.
	expect(t, "apps:exists 300", s.ssh(t, admin, "apps:exists", long), 20, "", warn("App "+long+" does not exist"))

	// The real git client: the push is refused before anything is written.
	c := newGitClient(t, s, admin)
	dir := c.newRepo(t)
	r := c.git(t, dir, "push", c.scp(over), "main")
	if r.Code == 0 || !strings.Contains(r.Stderr, warn(appNameTooLong)) || strings.Contains(r.Stderr, s.DataDir) {
		t.Errorf("git push to a 49-character name: %s\nwant a refusal with %q and no server path", r, appNameTooLong)
	}
	if after := homeEntries(t, s); !slices.Equal(before, after) {
		t.Errorf("a refused push created something: before %v, after %v", before, after)
	}

	// The longest name is fine everywhere.
	expect(t, "apps:create 48", s.ssh(t, admin, "apps:create", atMax), 0, "-----> Creating "+atMax+"...\n", "")
	auto := strings.Repeat("d", 48)
	c.mustPush(t, dir, c.scp(auto), "main")
	if fi, err := os.Stat(filepath.Join(s.DataDir, "home", auto)); err != nil || !fi.IsDir() {
		t.Errorf("a push to a 48-character name did not create the app: %v", err)
	}
}

// config:set refuses values no environment variable can hold (a NUL byte)
// and values that would not come back byte for byte in every export format
// (invalid UTF-8: JSON has no way to carry such bytes). Nothing is written.
func TestBadInputConfigValues(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)
	s.mustLocal(t, "apps:create", "app")
	s.mustLocal(t, "config:set", "--no-restart", "app", "KEEP=1")
	for _, tc := range []struct {
		what  string
		words []string
		msg   string
	}{
		{"NUL (--encoded)", []string{"config:set", "--encoded", "app", "BAD=YQBi"}, "Unable to store BAD: the value contains a NUL byte"},
		{"invalid UTF-8", []string{"config:set", "app", "BAD=a\xffb"}, "Unable to store BAD: the value is not valid UTF-8"},
		{"invalid UTF-8 (--encoded)", []string{"config:set", "--encoded", "app", "BAD=/w=="}, "Unable to store BAD: the value is not valid UTF-8"},
		{"NUL (import)", []string{"config:import", "--format", "json", "app", "-"}, "Unable to store BAD: the value contains a NUL byte"},
	} {
		stdin := ""
		if tc.words[0] == "config:import" {
			stdin = `{"BAD":"a\u0000b"}`
		}
		r := s.sshIn(t, admin, stdin, tc.words...)
		if r.Code != 1 || !strings.HasSuffix(r.Stderr, warn(tc.msg)) {
			t.Errorf("%s: %s\nwant exit 1 and %q", tc.what, r, tc.msg)
		}
	}
	expect(t, "config:export after the refusals", s.ssh(t, admin, "config:export", "--format", "json", "app"), 0, `{"KEEP":"1"}`+"\n", "")
	// Valid UTF-8 of every kind still goes through, byte for byte.
	s.mustSSH(t, admin, "config:set", "--no-restart", "app", "OK=é€𝄞")
	expect(t, "config:get OK", s.ssh(t, admin, "config:get", "app", "OK"), 0, "é€𝄞\n", "")
}

// ssh-keys:add refuses key text longer than it reads, instead of adding
// what the first 64 KiB held.
func TestBadInputSSHKeyTooLong(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)
	k := newKey(t, "ed25519", "long")
	// The key line, then a comment that makes the line longer than 64 KiB.
	text := k.PubLine + " " + strings.Repeat("x", 70<<10) + "\n"
	before, err := os.ReadFile(filepath.Join(s.DataDir, "home", ".ssh", "authorized_keys"))
	if err != nil {
		t.Fatal(err)
	}
	want := "Key input is longer than 65536 bytes: not one public key"
	r := s.sshIn(t, admin, text, "ssh-keys:add", "long")
	expect(t, "ssh-keys:add (stdin over 64 KiB)", r, 1, "", warn(want))
	pub := writeFile(t, filepath.Join(t.TempDir(), "long.pub"), text)
	expect(t, "ssh-keys:add FILE (over 64 KiB)", s.local(t, "", "ssh-keys:add", "long", pub), 1, "", warn(want))
	after, err := os.ReadFile(filepath.Join(s.DataDir, "home", ".ssh", "authorized_keys"))
	if err != nil || string(after) != string(before) {
		t.Errorf("authorized_keys changed after refused adds (err %v):\n%s", err, after)
	}
}

// `git receive-pack 'app'` (with a space) is routed like git-receive-pack,
// as git-shell routes it; likewise upload-pack.
func TestBadInputGitSpaceForm(t *testing.T) {
	t.Parallel()
	requireTools(t, "git")
	s, admin := adminServer(t)
	useNullBuilder(t, s)
	c := newGitClient(t, s, admin)
	dir := c.newRepo(t)
	head := c.mustGit(t, dir, "rev-parse", "HEAD")
	// git's --receive-pack/--upload-pack name the remote program: the
	// client then runs `git receive-pack 'app'` over ssh.
	c.mustPush(t, dir, "--receive-pack=git receive-pack", c.scp("spaced"), "main")
	if got := c.serverRef(t, appRepo(s, "spaced"), "refs/heads/main"); got != head {
		t.Fatalf("after a push through `git receive-pack`: main = %q, want %s", got, head)
	}
	clone := filepath.Join(t.TempDir(), "clone")
	c.mustGit(t, "", "clone", "--upload-pack=git upload-pack", c.scp("spaced"), clone)
	if got := c.mustGit(t, clone, "rev-parse", "HEAD"); got != head {
		t.Errorf("clone through `git upload-pack`: HEAD = %s, want %s", got, head)
	}
	// Without an app it is git's usage error from the git route, not the
	// help of the `git` command group with exit 0.
	r := s.ssh(t, admin, "git receive-pack")
	if r.Code == 0 {
		t.Errorf("ssh git receive-pack (no app): %s\nwant a non-zero exit", r)
	}
}

// A command line over the transport's packet limit (256 KiB) drops the
// connection in the SSH library; the server logs why, with the address.
func TestBadInputCommandOverPacketLimit(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)
	// Three arguments of 100 KiB: each fits the kernel's limit on one
	// argument, together they are over 256 KiB.
	arg := strings.Repeat("a", 100<<10)
	r := s.ssh(t, admin, "apps:exists", arg, arg, arg)
	if r.Code == 0 {
		t.Fatalf("a 300 KiB command line succeeded: exit %d", r.Code)
	}
	t.Logf("the client saw: %s", r)
	s.syncLog(t)
	logged := false
	for _, line := range strings.Split(s.Log(), "\n") {
		if strings.Contains(line, "packet over the transport's size limit") && strings.Contains(line, "remote=127.0.0.1:") {
			logged = true
		}
	}
	if !logged {
		t.Errorf("the server did not log the oversized packet with the remote address:\n%s", s.Log())
	}
}
