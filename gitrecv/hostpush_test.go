package gitrecv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"

	"dokku-sshd/internal/testenv"
)

// recorderHook records a hook's run (name, args, cwd, environment less
// what differs between two runs, stdin) next to the repository, prints a
// line on stdout and one on stderr, and fails when told to by a file in the
// repository: fail-<hook> (any run) or fail-update-ref holding a ref name.
const recorderHook = `#!/bin/sh
log="$(pwd).log"
name=$(basename "$0")
{
	echo "== $name $*"
	echo "cwd $(pwd)"
	env | grep -v -e '^_=' -e '^PWD=' -e '^OLDPWD=' -e '^SHLVL=' | sort
	case $name in pre-receive|post-receive) echo "-- stdin"; cat ;; esac
} >>"$log"
echo "$name out"
echo "$name err" >&2
[ -e "fail-$name" ] && exit 1
[ "$name" = update ] && [ -e fail-update-ref ] && [ "$1" = "$(cat fail-update-ref)" ] && exit 1
exit 0
`

var hookNames = []string{"pre-receive", "update", "post-receive", "post-update"}

func installRecorder(t *testing.T, repo string) {
	t.Helper()
	os.MkdirAll(filepath.Join(repo, "hooks"), 0o755)
	for _, h := range hookNames {
		if err := os.WriteFile(filepath.Join(repo, "hooks", h), []byte(recorderHook), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// hostPair is one client and two bare repositories with the same recorder
// hooks: one served by C git's receive-pack through git-shell, as under
// OpenSSH, one by host mode.
type hostPair struct {
	work, cgit, ours string
}

func newHostPair(t *testing.T) *hostPair {
	t.Helper()
	work, cgit := setup(t)
	testenv.Tool(t, "git-shell")
	ours := filepath.Join(filepath.Dir(cgit), "ours.git")
	if err := InitRepo(t.Context(), ours); err != nil {
		t.Fatal(err)
	}
	installRecorder(t, cgit)
	installRecorder(t, ours)
	return &hostPair{work: work, cgit: cgit, ours: ours}
}

// both runs f on each repository.
func (p *hostPair) both(f func(repo string)) {
	f(p.cgit)
	f(p.ours)
}

// push pushes args to each repository and returns what the client printed
// and the hooks recorded, with the paths that differ made equal.
func (p *hostPair) push(t *testing.T, args ...string) (c, o pushResult) {
	t.Helper()
	shell := `git-shell -c "git-receive-pack '` + p.cgit + `'" #`
	c = p.pushOne(t, p.cgit, shell, args)
	self, _ := os.Executable()
	o = p.pushOne(t, p.ours, "env GITRECV_SERVE=host "+self, args)
	return c, o
}

type pushResult struct {
	out, log, refs string
	failed         bool
}

var quarantineName = regexp.MustCompile(`(tmp_objdir-incoming-|incoming-)[0-9A-Za-z]+`)

func (p *hostPair) pushOne(t *testing.T, repo, receivePack string, args []string) pushResult {
	t.Helper()
	out, err := run(t, p.work, append([]string{"git", "push", "--receive-pack=" + receivePack, repo}, args...)...)
	logFile := repo + ".log"
	rec, _ := os.ReadFile(logFile)
	os.Remove(logFile)
	refs, ferr := run(t, repo, "git", "for-each-ref")
	if ferr != nil {
		t.Fatalf("for-each-ref: %s", refs)
	}
	if fsck, err := run(t, repo, "git", "fsck", "--no-dangling"); err != nil {
		t.Errorf("fsck %s: %v\n%s", repo, err, fsck)
	}
	norm := func(s string) string {
		s = strings.ReplaceAll(s, repo, "REPO")
		return quarantineName.ReplaceAllString(s, "QUARANTINE")
	}
	return pushResult{out: norm(out), log: norm(string(rec)), refs: refs, failed: err != nil}
}

// hostStep is one push of the side-by-side table: prep runs first (in the
// client's work tree, and on each repository).
type hostStep struct {
	name     string
	work     [][]string
	repo     func(t *testing.T, repo string)
	args     []string
	wantFail bool
	want     []string // in the client's output or the hooks' record
}

func gitIn(args ...string) func(t *testing.T, repo string) {
	return func(t *testing.T, repo string) {
		t.Helper()
		if out, err := run(t, repo, append([]string{"git"}, args...)...); err != nil {
			t.Fatalf("%v: %s", args, out)
		}
	}
}

func file(name, content string) func(t *testing.T, repo string) {
	return func(t *testing.T, repo string) {
		t.Helper()
		p := filepath.Join(repo, name)
		if content == "" {
			os.Remove(p)
			return
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func steps(fs ...func(t *testing.T, repo string)) func(t *testing.T, repo string) {
	return func(t *testing.T, repo string) {
		for _, f := range fs {
			f(t, repo)
		}
	}
}

var commit = []string{"git", "commit", "-q", "--allow-empty", "-m", "next"}

// rewritten replaces the commit it follows: with commit's message it could
// be that very commit again, made in the same second.
var rewritten = []string{"git", "commit", "-q", "--allow-empty", "-m", "rewritten"}

// TestHostHooksAsCGit pushes the same thing to C git's receive-pack (under
// git-shell, as OpenSSH runs it for Dokku) and to host mode, with the same
// recorder hooks, and wants the same client output, the same hook runs
// (arguments, environment, stdin, cwd, order), the same refs, and fsck
// clean on both sides.
func TestHostHooksAsCGit(t *testing.T) {
	p := newHostPair(t)
	table := []hostStep{
		{name: "push that succeeds", args: []string{"main"},
			want: []string{"remote: pre-receive out", "remote: post-update err", "== update refs/heads/main 0000000000000000000000000000000000000000 ",
				"GIT_QUARANTINE_PATH=REPO/./objects/QUARANTINE", "GIT_ALTERNATE_OBJECT_DIRECTORIES=REPO/./objects", "GIT_DIR=.", "cwd REPO", "== post-update refs/heads/main"}},
		{name: "pre-receive fails", work: [][]string{commit}, repo: file("fail-pre-receive", "x"), args: []string{"main"}, wantFail: true,
			want: []string{"(pre-receive hook declined)", "remote: pre-receive err"}},
		{name: "update fails for one ref", work: [][]string{commit, {"git", "branch", "other"}},
			repo: steps(file("fail-pre-receive", ""), file("fail-update-ref", "refs/heads/other")), args: []string{"main", "other"}, wantFail: true,
			want: []string{"remote: error: hook declined to update refs/heads/other", "(hook declined)", "main -> main"}},
		{name: "push options", work: [][]string{commit}, repo: steps(file("fail-update-ref", ""), gitIn("config", "receive.advertisePushOptions", "true")),
			args: []string{"-o", "a=1", "-o", "b c", "main"}, want: []string{"GIT_PUSH_OPTION_0=a=1", "GIT_PUSH_OPTION_1=b c", "GIT_PUSH_OPTION_COUNT=2"}},
		{name: "atomic push with a declined ref", work: [][]string{commit, {"git", "branch", "b1"}, {"git", "branch", "b2"}},
			repo: file("fail-update-ref", "refs/heads/b2"), args: []string{"--atomic", "main", "b1", "b2"}, wantFail: true,
			want: []string{"(atomic push failure)", "(hook declined)"}},
		{name: "atomic push", repo: file("fail-update-ref", ""), args: []string{"--atomic", "main", "b1", "b2", "other"},
			want: []string{"b2 -> b2"}},
		{name: "delete", args: []string{"--delete", "b1"}, want: []string{"[deleted]", "== post-update refs/heads/b1"}},
		{name: "delete of the current branch", repo: gitIn("symbolic-ref", "HEAD", "refs/heads/main"), args: []string{"--delete", "main"}, wantFail: true,
			want: []string{"remote: error: By default, deleting the current branch is denied", "(deletion of the current branch prohibited)"}},
		{name: "denyDeletes", repo: gitIn("config", "receive.denyDeletes", "true"), args: []string{"--delete", "b2"}, wantFail: true,
			want: []string{"remote: error: denying ref deletion for refs/heads/b2", "(deletion prohibited)"}},
		{name: "non-fast-forward under denyNonFastForwards", work: [][]string{{"git", "reset", "-q", "--hard", "HEAD~1"}, rewritten},
			repo: gitIn("config", "receive.denyNonFastForwards", "true"), args: []string{"--force", "main"}, wantFail: true,
			want: []string{"remote: error: denying non-fast-forward refs/heads/main (you should pull first)", "(non-fast-forward)"}},
		{name: "non-fast-forward allowed", repo: gitIn("config", "receive.denyNonFastForwards", "false"), args: []string{"--force", "main"},
			want: []string{"(forced update)"}},
		{name: "fsckObjects", work: [][]string{{"sh", "-c", badCommit}}, repo: gitIn("config", "receive.fsckObjects", "true"),
			args: []string{"bad"}, wantFail: true, want: []string{"(unpacker error)", "remote unpack failed: unpack-objects abnormal exit"}},
		{name: "hook without #!", work: [][]string{commit}, repo: file("hooks/post-update", "echo no shebang $1\n"), args: []string{"main"},
			want: []string{"remote: no shebang refs/heads/main"}},
		{name: "not executable hook", work: [][]string{commit}, repo: steps(gitIn("config", "receive.fsckObjects", "false"), func(t *testing.T, repo string) {
			os.Chmod(filepath.Join(repo, "hooks", "update"), 0o644)
		}), args: []string{"main"}, want: []string{"hint: The 'hooks/update' hook was ignored because it's not set as executable."}},
	}
	for _, st := range table {
		t.Run(st.name, func(t *testing.T) {
			for _, c := range st.work {
				if out, err := run(t, p.work, c...); err != nil {
					t.Fatalf("%v: %s", c, out)
				}
			}
			if st.repo != nil {
				p.both(func(repo string) { st.repo(t, repo) })
			}
			c, o := p.push(t, st.args...)
			if c.failed != st.wantFail || o.failed != st.wantFail {
				t.Errorf("push failed: C git %v, host mode %v, want %v\nC git:\n%s\nhost mode:\n%s", c.failed, o.failed, st.wantFail, c.out, o.out)
			}
			if c.out != o.out {
				t.Errorf("client output differs (- C git, + host mode):\n%s", lineDiff(c.out, o.out))
			}
			if c.log != o.log {
				t.Errorf("hook runs differ (- C git, + host mode):\n%s", lineDiff(c.log, o.log))
			}
			if c.refs != o.refs {
				t.Errorf("refs differ\nC git:\n%s\nhost mode:\n%s", c.refs, o.refs)
			}
			for _, w := range st.want {
				if !strings.Contains(o.out+o.log, w) {
					t.Errorf("%q missing from host mode's output and record:\n%s\n%s", w, o.out, o.log)
				}
			}
		})
	}
}

// badCommit makes branch bad point at a commit with a malformed author
// line, which fsck refuses.
const badCommit = `tree=$(git write-tree) && c=$(printf 'tree %s\nauthor x <x> 1 +0000x\ncommitter x <x> 1 +0000\n\nbad\n' "$tree" | git hash-object -t commit -w --literally --stdin) && git branch -f bad "$c"`

// lineDiff lists the lines of a and b from the first that differs.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	i := 0
	for i < len(al) && i < len(bl) && al[i] == bl[i] {
		i++
	}
	var out strings.Builder
	for _, l := range al[i:min(len(al), i+8)] {
		out.WriteString("- " + l + "\n")
	}
	for _, l := range bl[i:min(len(bl), i+8)] {
		out.WriteString("+ " + l + "\n")
	}
	return fmt.Sprintf("from line %d:\n%s", i+1, out.String())
}

// TestHostHookOutputLive: a hook's lines reach the client while it runs.
// The hook prints a line and waits for the test to have seen it on the
// client's side before it ends; buffered output would never arrive.
func TestHostHookOutputLive(t *testing.T) {
	work, repo := setup(t)
	os.MkdirAll(filepath.Join(repo, "hooks"), 0o755)
	hook := "#!/bin/sh\necho first\ni=0\nwhile [ ! -e seen ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done\n[ -e seen ] && echo second\n"
	if err := os.WriteFile(filepath.Join(repo, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	cmd := exec.Command("git", "push", "--receive-pack=env GITRECV_SERVE=host "+self, repo, "main")
	cmd.Dir = work
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		lines = append(lines, line)
		if line == "remote: first" {
			os.WriteFile(filepath.Join(repo, "seen"), nil, 0o644)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("push: %v\n%s", err, strings.Join(lines, "\n"))
	}
	if i := slices.Index(lines, "remote: first"); i < 0 || i+1 >= len(lines) || lines[i+1] != "remote: second" {
		t.Errorf("hook output not live, or out of order:\n%s", strings.Join(lines, "\n"))
	}
}

// TestHostKeepalive: while a hook is silent for receive.keepAlive, the
// client gets receive-pack's keepalive, an empty side-band 1 packet.
func TestHostKeepalive(t *testing.T) {
	work, repo := setup(t)
	if out, err := push(t, work, repo, "none", "main"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	os.MkdirAll(filepath.Join(repo, "hooks"), 0o755)
	if err := os.WriteFile(filepath.Join(repo, "hooks", "pre-receive"), []byte("#!/bin/sh\nsleep 1.5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := run(t, repo, "git", "config", "receive.keepAlive", "1"); err != nil {
		t.Fatal(out)
	}
	head := refOf(t, repo, "refs/heads/main")
	var req bytes.Buffer
	e := pktline.NewEncoder(&req)
	e.EncodeString(zero + " " + head + " refs/heads/copy\x00report-status side-band-64k\n")
	e.EncodeString(zero + " " + head + " refs/heads/copy2\n")
	e.Flush()
	req.Write(emptyPack())
	var out bytes.Buffer
	r := &Receiver{Repo: &RepoHooks{}}
	ctx := WithHookSession(t.Context(), os.Environ(), t.Context())
	if err := r.ReceivePack(ctx, "app", repo, &req, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "0005\x01") {
		t.Errorf("no keepalive during a silent hook:\n%q", out.String())
	}
	if refOf(t, repo, "refs/heads/copy2") != head {
		t.Errorf("push after keepalives did not move the ref:\n%q", out.String())
	}
}

func TestReadRepoConfig(t *testing.T) {
	tests := []struct {
		name   string
		config [][2]string
		want   repoConfig
	}{
		{"defaults", nil, repoConfig{advertiseAtomic: true, ignoredHookAdvice: true, autoGC: true, unpackLimit: 100, keepAlive: 5 * time.Second}},
		{"set", [][2]string{
			{"receive.denyDeletes", "yes"}, {"receive.denyNonFastForwards", "on"}, {"transfer.fsckObjects", "true"},
			{"receive.advertisePushOptions", "1"}, {"receive.advertiseAtomic", "false"}, {"advice.ignoredHook", "off"},
			{"receive.autogc", "false"}, {"receive.unpackLimit", "3"}, {"transfer.unpackLimit", "7"},
			{"receive.keepAlive", "0"}, {"receive.denyDeleteCurrent", "warn"},
		}, repoConfig{denyDeletes: true, denyNonFastForwards: true, fsckObjects: true, advertisePushOptions: true,
			unpackLimit: 7, denyDeleteCurrent: "warn"}},
		{"receive wins over transfer for fsck", [][2]string{{"transfer.fsckObjects", "true"}, {"receive.fsckObjects", "false"}},
			repoConfig{advertiseAtomic: true, ignoredHookAdvice: true, autoGC: true, unpackLimit: 100, keepAlive: 5 * time.Second}},
		{"deny action as a boolean", [][2]string{{"receive.denyDeleteCurrent", "false"}},
			repoConfig{advertiseAtomic: true, ignoredHookAdvice: true, autoGC: true, unpackLimit: 100, keepAlive: 5 * time.Second, denyDeleteCurrent: "ignore"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, repo := setup(t)
			for _, kv := range tt.config {
				if out, err := run(t, repo, "git", "config", kv[0], kv[1]); err != nil {
					t.Fatal(out)
				}
			}
			got, err := readRepoConfig(t.Context(), repo)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("readRepoConfig = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// hostHookPush sends a push of refs/heads/copy at main's commit to
// repo's pre-receive hook script, with ctx, and returns what the client
// got.
func hostHookPush(t *testing.T, ctx context.Context, hook string) (string, string, error) {
	t.Helper()
	work, repo := setup(t)
	if out, err := push(t, work, repo, "none", "main"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	os.MkdirAll(filepath.Join(repo, "hooks"), 0o755)
	if err := os.WriteFile(filepath.Join(repo, "hooks", "pre-receive"), []byte(hook), 0o755); err != nil {
		t.Fatal(err)
	}
	var req bytes.Buffer
	e := pktline.NewEncoder(&req)
	e.EncodeString(zero + " " + refOf(t, repo, "refs/heads/main") + " refs/heads/copy\x00report-status\n")
	e.Flush()
	req.Write(emptyPack())
	var out, errw bytes.Buffer
	err := (&Receiver{Repo: &RepoHooks{}}).ReceivePack(ctx, "app", repo, &req, &out, &errw)
	return out.String(), repo, err
}

// TestHostHooksFailClosed: without the session's hook environment no hook
// runs with the server's own: the push is declined.
func TestHostHooksFailClosed(t *testing.T) {
	out, repo, err := hostHookPush(t, t.Context(), "#!/bin/sh\ntouch ran\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "ng refs/heads/copy pre-receive hook declined") {
		t.Errorf("push not declined:\n%q", out)
	}
	if _, err := os.Stat(filepath.Join(repo, "ran")); err == nil {
		t.Error("the hook ran")
	}
}

// TestHostHookStopped: the session's stop ends a running hook's whole
// process group, what it left running in the background too.
func TestHostHookStopped(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	hook := "#!/bin/sh\nsleep 60 &\necho $! >" + pidFile + ".tmp\nmv " + pidFile + ".tmp " + pidFile + "\nwait\n"
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx := WithHookSession(t.Context(), os.Environ(), stop)
	go func() {
		for i := 0; i < 100; i++ {
			if _, err := os.Stat(pidFile); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		cancel()
	}()
	type pushed struct {
		out string
		err error
	}
	done := make(chan pushed, 1)
	go func() {
		out, _, err := hostHookPush(t, ctx, hook)
		done <- pushed{out, err}
	}()
	var p pushed
	select {
	case p = <-done:
	case <-time.After(hookKillGrace / 2):
		t.Fatal("the push did not end once its hooks were stopped")
	}
	if p.err != nil || !strings.Contains(p.out, "pre-receive hook declined") {
		t.Errorf("push: %v\n%q", p.err, p.out)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 {
		t.Fatalf("pid file %q", b)
	}
	waitGone := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(waitGone) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the hook's background process %d outlived the stop", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A hook that leaves a process of another session (out of its group's
// reach) holding its output: once the hooks are stopped, the push gives up
// on that output after hookKillGrace instead of waiting for it forever.
func TestHostHookOutputHeldAfterStop(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	hook := "#!/bin/sh\nsetsid sleep 60 &\necho $! >" + pidFile + ".tmp\nmv " + pidFile + ".tmp " + pidFile + "\nexit 1\n"
	stop, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx := WithHookSession(t.Context(), os.Environ(), stop)
	done := make(chan error, 1)
	go func() {
		_, _, err := hostHookPush(t, ctx, hook)
		done <- err
	}()
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if b, err := os.ReadFile(pidFile); err == nil {
		if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
			defer syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(hookKillGrace + 10*time.Second):
		t.Fatal("the push still waits for the hook's output, held by a process the stop could not reach")
	}
}

// TestShutdownStopsHostHooks: Shutdown lets a host-mode push's hooks run
// within its grace, then stops them, and no push's hooks start afterwards.
func TestShutdownStopsHostHooks(t *testing.T) {
	g := &Server{}
	stop, done, ok := g.hostPush()
	if !ok {
		t.Fatal("hostPush refused before Shutdown")
	}
	context.AfterFunc(stop, done) // the push ends once its hooks are stopped
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	if err := g.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want the grace's end", err)
	}
	if stop.Err() == nil {
		t.Error("the hooks were not stopped")
	}
	if _, _, ok := g.hostPush(); ok {
		t.Error("hostPush accepted after Shutdown")
	}
}
