package integration

// Helpers for the git push tests (push*_test.go): a server started with
// extra environment (DOKKU_SSHD_NULL_BUILDER_SLEEP, which the harness's
// cleanEnv strips), a git client with its own HOME, ssh config and known
// hosts, background pushes that can be killed with their ssh child, a
// throttling TCP proxy, and a raw receive-pack client on x/crypto/ssh.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"dokku-sshd/internal/testbuf"

	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	gossh "golang.org/x/crypto/ssh"
)

// Timeouts of the push tests: they only bound how long a broken server can
// hang a test.
const (
	pushTimeout      = 90 * time.Second  // one git command against the server
	largePushTimeout = 240 * time.Second // a push of hundreds of megabytes
	zeroOID          = "0000000000000000000000000000000000000000"
)

// pushServerOpts describes how to start a server for a push test.
type pushServerOpts struct {
	DataDir string   // default: a fresh directory
	Env     []string // extra environment, e.g. DOKKU_SSHD_NULL_BUILDER_SLEEP=3s
	Args    []string // extra `serve` flags
}

// startPushServer starts a server like startServer does, with extra
// environment (startServer's cleanEnv drops every DOKKU_* variable).
func startPushServer(t *testing.T, o pushServerOpts) *server {
	t.Helper()
	requireSSH(t)
	requireTools(t, "git")
	if o.DataDir == "" {
		o.DataDir = filepath.Join(t.TempDir(), "data")
	}
	if err := os.MkdirAll(o.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	return startServerCfg(t, serverConfig{DataDir: o.DataDir, Args: o.Args, Env: o.Env})
}

// useNullBuilder selects the null builder and scheduler globally (no Docker).
func useNullBuilder(t *testing.T, s *server) {
	t.Helper()
	s.mustLocal(t, "builder:set", "--global", "selected", "null")
	s.mustLocal(t, "scheduler:set", "--global", "selected", "null")
}

// pushSetup starts a server with the null builder and scheduler selected,
// and a git client whose key is registered on it.
func pushSetup(t *testing.T, o pushServerOpts) (*server, *gitClient) {
	t.Helper()
	s := startPushServer(t, o)
	key := newKey(t, "ed25519", "pusher")
	s.addKey(t, "pusher", key)
	useNullBuilder(t, s)
	return s, newGitClient(t, s, key)
}

// pushInDeploy is a push held in its build (the null builder sleeps 5s),
// for the tests that kill the client or the server in the middle of a
// deploy.
type pushInDeploy struct {
	s      *server // the server running the deploy
	c      *gitClient
	repo   string // the app's repository on the server
	dir    string // the client's work tree
	first  string // main before the push
	second string // the commit being pushed
	push   *bgCmd
}

// startPushInDeploy pushes app once, restarts the server with the null
// builder's sleep, and starts a second push; it returns once that push has
// reached the build.
func startPushInDeploy(t *testing.T, app string) pushInDeploy {
	t.Helper()
	// First push on a server without the sleep, then restart with it.
	s1, c := pushSetup(t, pushServerOpts{})
	d := pushInDeploy{c: c, repo: appRepo(s1, app), dir: c.newRepo(t)}
	d.first = c.mustGit(t, d.dir, "rev-parse", "HEAD")
	c.mustPush(t, d.dir, c.url(app), "main")
	s1.Stop()
	d.s = startPushServer(t, pushServerOpts{DataDir: s1.DataDir, Env: []string{"DOKKU_SSHD_NULL_BUILDER_SLEEP=5s"}})
	c.target(t, d.s.Port)

	d.second = c.commitFile(t, d.dir, "b.txt", "second\n")
	d.push = c.start(t, d.dir, "push", c.url(app), "main")
	if !d.push.waitStderr("Skipping build", pushTimeout) {
		t.Fatalf("the push never reached the build: %s", d.push.wait(t))
	}
	return d
}

// gitClient runs the real git with a private HOME, global config, ssh
// config and known_hosts.
type gitClient struct {
	home       string
	key        *keyPair
	knownHosts string
	sshConfig  string
	port       int
}

func newGitClient(t *testing.T, s *server, key *keyPair) *gitClient {
	t.Helper()
	home := t.TempDir()
	c := &gitClient{
		home:       home,
		key:        key,
		knownHosts: filepath.Join(home, "known_hosts"),
		sshConfig:  filepath.Join(home, "ssh_config"),
	}
	gitconfig := "[user]\n\tname = Push Tester\n\temail = pusher@example.com\n" +
		"[init]\n\tdefaultBranch = main\n" +
		"[advice]\n\tdetachedHead = false\n" +
		"[gc]\n\tauto = 0\n"
	writeFile(t, filepath.Join(home, ".gitconfig"), gitconfig)
	c.target(t, s.Port)
	return c
}

// target points the client at a port (a restarted server, a proxy).
func (c *gitClient) target(t testing.TB, port int) {
	t.Helper()
	c.port = port
	// A Host entry with the port, so that scp-like dokku@127.0.0.1:APP works.
	cfg := fmt.Sprintf(`Host 127.0.0.1
  Port %d
  User dokku
  IdentityFile %s
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking accept-new
  BatchMode yes
  LogLevel ERROR
  ConnectTimeout 15
`, port, c.key.Priv, c.knownHosts)
	writeFile(t, c.sshConfig, cfg)
}

func (c *gitClient) env() []string {
	return []string{
		"HOME=" + c.home,
		"XDG_CONFIG_HOME=" + filepath.Join(c.home, ".config"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_SSH_COMMAND=ssh -F " + c.sshConfig,
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
		"LANG=C",
	}
}

// url is the ssh:// remote of app.
func (c *gitClient) url(app string) string {
	return fmt.Sprintf("ssh://dokku@127.0.0.1:%d/%s", c.port, app)
}

// scp is the scp-like remote of app (path sent as 'APP').
func (c *gitClient) scp(app string) string { return "dokku@127.0.0.1:" + app }

// gitT runs git in dir (may be "") with a timeout.
func (c *gitClient) gitT(t testing.TB, dir string, timeout time.Duration, args ...string) result {
	t.Helper()
	return runTimeout(t, timeout, dir, c.env(), "git", args...)
}

// git runs git in dir with the default push timeout.
func (c *gitClient) git(t testing.TB, dir string, args ...string) result {
	t.Helper()
	return c.gitT(t, dir, pushTimeout, args...)
}

// mustGit runs git and fails the test unless it exits 0; returns stdout
// without the trailing newline.
func (c *gitClient) mustGit(t testing.TB, dir string, args ...string) string {
	t.Helper()
	r := c.git(t, dir, args...)
	if r.Code != 0 {
		t.Fatalf("git %s: %s", strings.Join(args, " "), r)
	}
	return strings.TrimRight(r.Stdout, "\n")
}

// mustPush pushes and fails the test unless git exits 0.
func (c *gitClient) mustPush(t testing.TB, dir string, args ...string) result {
	t.Helper()
	r := c.git(t, dir, append([]string{"push"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("git push %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// newRepo makes a work tree with one commit on main and returns its path.
func (c *gitClient) newRepo(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "work")
	c.mustGit(t, "", "init", "-q", "-b", "main", dir)
	c.commitFile(t, dir, "README", "hello "+randHex(t, 8)+"\n")
	return dir
}

// commitFile writes a file, commits it and returns the new commit id.
func (c *gitClient) commitFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	c.mustGit(t, dir, "add", "--", name)
	c.mustGit(t, dir, "commit", "-q", "-m", "change "+name+" "+randHex(t, 4))
	return c.mustGit(t, dir, "rev-parse", "HEAD")
}

// randHex returns n random bytes in hex.
func randHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

// writeRandomFiles writes count files of size random (incompressible)
// bytes each under dir/sub.
func writeRandomFiles(t testing.TB, dir, sub string, count, size int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, size)
	for i := 0; i < count; i++ {
		if _, err := rand.Read(buf); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, sub, fmt.Sprintf("blob-%03d.bin", i)), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runTimeout runs a program in dir with a timeout and extra environment;
// a timeout is an error of the test and code -1.
func runTimeout(t testing.TB, timeout time.Duration, dir string, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), env...)
	cmd.WaitDelay = 5 * time.Second
	// Own process group, so a timeout also ends git's ssh child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var xe *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Errorf("%s %s: timed out after %v\n%s", name, strings.Join(args, " "), timeout, r)
		r.Code = -1
	case errors.As(err, &xe):
		r.Code = xe.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// bgCmd is a git command running in the background in its own process
// group (git and its ssh child can be killed together).
type bgCmd struct {
	cmd    *exec.Cmd
	stdout testbuf.Buffer
	stderr testbuf.Buffer
	done   chan struct{}
	res    result
	cancel context.CancelFunc
}

// start runs git in the background.
func (c *gitClient) start(t testing.TB, dir string, args ...string) *bgCmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), largePushTimeout)
	b := &bgCmd{done: make(chan struct{}), cancel: cancel}
	b.cmd = exec.CommandContext(ctx, "git", args...)
	b.cmd.Dir = dir
	b.cmd.Env = append(cleanEnv(), c.env()...)
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.cmd.Cancel = func() error { return syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL) }
	b.cmd.WaitDelay = 5 * time.Second
	b.cmd.Stdout, b.cmd.Stderr = &b.stdout, &b.stderr
	if err := b.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start git %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		err := b.cmd.Wait()
		b.res = result{Stdout: b.stdout.String(), Stderr: b.stderr.String()}
		var xe *exec.ExitError
		switch {
		case errors.As(err, &xe):
			b.res.Code = xe.ExitCode()
		case err != nil:
			b.res.Code = -1
			b.res.Stderr += "\n(wait: " + err.Error() + ")"
		}
		close(b.done)
	}()
	t.Cleanup(func() {
		b.kill()
		<-b.done
		cancel()
	})
	return b
}

// kill ends the whole process group (git and ssh) with SIGKILL.
func (b *bgCmd) kill() {
	select {
	case <-b.done:
	default:
		_ = syscall.Kill(-b.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// running reports whether the command has not exited yet.
func (b *bgCmd) running() bool {
	select {
	case <-b.done:
		return false
	default:
		return true
	}
}

// wait waits for the command to end.
func (b *bgCmd) wait(t testing.TB) result {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(largePushTimeout + 10*time.Second):
		b.kill()
		<-b.done
		t.Fatalf("background git did not end")
	}
	return b.res
}

// waitStderr waits until the command's stderr contains s; false when the
// command ended or the timeout passed first.
func (b *bgCmd) waitStderr(s string, timeout time.Duration) bool {
	waitFor(timeout, func() bool { return strings.Contains(b.stderr.String(), s) || !b.running() })
	return strings.Contains(b.stderr.String(), s)
}

// appRepo is the server's bare repository of app.
func appRepo(s *server, app string) string { return filepath.Join(s.DataDir, "home", app) }

// repoGit runs git on a server-side bare repository.
func (c *gitClient) repoGit(t testing.TB, repo string, args ...string) result {
	t.Helper()
	return c.gitT(t, "", pushTimeout, append([]string{"--git-dir", repo}, args...)...)
}

// serverRef returns the value of ref in the server's repository, "" when it
// does not exist.
func (c *gitClient) serverRef(t testing.TB, repo, ref string) string {
	t.Helper()
	r := c.repoGit(t, repo, "rev-parse", "--verify", "--quiet", ref)
	if r.Code != 0 {
		return ""
	}
	return strings.TrimSpace(r.Stdout)
}

// hasObject reports whether the server's repository has an object.
func (c *gitClient) hasObject(t testing.TB, repo, oid string) bool {
	t.Helper()
	return c.repoGit(t, repo, "cat-file", "-e", oid).Code == 0
}

// fsck runs `git fsck --strict` in the server's repository.
func (c *gitClient) fsck(t testing.TB, repo string) {
	t.Helper()
	r := c.repoGit(t, repo, "fsck", "--strict", "--no-progress")
	if r.Code != 0 {
		t.Errorf("git fsck --strict in %s: %s", repo, r)
	}
}

// refsResolve checks that every ref of the server's repository points at an
// object that exists.
func (c *gitClient) refsResolve(t testing.TB, repo string) {
	t.Helper()
	r := c.repoGit(t, repo, "for-each-ref", "--format=%(objectname) %(refname)")
	if r.Code != 0 {
		t.Errorf("for-each-ref in %s: %s", repo, r)
		return
	}
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		if line == "" {
			continue
		}
		oid, ref, _ := strings.Cut(line, " ")
		if !c.hasObject(t, repo, oid) {
			t.Errorf("ref %s points at %s, which is missing from %s", ref, oid, repo)
		}
	}
}

// incomingDirs lists quarantine directories left in a repository.
func incomingDirs(repo string) []string {
	m, _ := filepath.Glob(filepath.Join(repo, "objects", "incoming-*"))
	return m
}

// remoteLines returns what the server sent on side-band 2 (git's
// `remote: ` lines), with git's padding and trailing spaces removed.
func remoteLines(stderr string) []string {
	var out []string
	for _, line := range strings.FieldsFunc(stderr, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if rest, ok := strings.CutPrefix(line, "remote: "); ok {
			rest = strings.ReplaceAll(rest, "\x1b[K", "")
			out = append(out, strings.TrimRight(rest, " "))
		} else if line == "remote:" {
			out = append(out, "")
		}
	}
	return out
}

// inOrder reports whether every want is one of lines, in that order.
func inOrder(lines []string, wants ...string) bool {
	i := 0
	for _, l := range lines {
		if i < len(wants) && l == wants[i] {
			i++
		}
	}
	return i == len(wants)
}

// hasLine reports whether one of lines equals want.
func hasLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// buildRecord is what `builds:list --format json` returns per build.
type buildRecord struct {
	ID       string    `json:"id"`
	App      string    `json:"app"`
	Kind     string    `json:"kind"`
	Rev      string    `json:"rev"`
	Status   string    `json:"status"`
	Started  time.Time `json:"started_at"`
	Finished time.Time `json:"finished_at"`
	Error    string    `json:"error"`
}

// builds returns app's builds as `builds:list --format json` lists them.
func builds(t testing.TB, s *server, app string) []buildRecord {
	t.Helper()
	r := s.local(t, "", "builds:list", "--format", "json", app)
	if r.Code != 0 {
		t.Fatalf("builds:list --format json %s: %s", app, r)
	}
	var recs []buildRecord
	if err := json.Unmarshal([]byte(r.Stdout), &recs); err != nil {
		t.Fatalf("builds:list --format json %s: %v\n%s", app, err, r.Stdout)
	}
	return recs
}

// buildFor returns the newest build of rev.
func buildFor(recs []buildRecord, rev string) (buildRecord, bool) {
	for _, r := range recs {
		if r.Rev == rev {
			return r, true
		}
	}
	return buildRecord{}, false
}

// dirTree lists every path under root (relative), sorted.
func dirTree(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	sort.Strings(out)
	return out
}

// diffTree returns the paths of after that are not in before.
func diffTree(before, after []string) []string {
	seen := map[string]bool{}
	for _, p := range before {
		seen[p] = true
	}
	var added []string
	for _, p := range after {
		if !seen[p] {
			added = append(added, p)
		}
	}
	return added
}

// vmHWM returns the peak resident set size of a process in KiB.
func vmHWM(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read status of %d: %v", pid, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) >= 1 {
				n, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return n
				}
			}
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// throttleProxy forwards TCP connections to a target, the client-to-server
// direction at a bounded rate (to keep a push in flight long enough to kill
// the server in the middle of it).
type throttleProxy struct {
	l        net.Listener
	target   string
	rate     int64 // bytes per second, client to server
	upstream atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
}

func newThrottleProxy(t testing.TB, target string, rate int64) *throttleProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &throttleProxy{l: l, target: target, rate: rate}
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *throttleProxy) port() int { return p.l.Addr().(*net.TCPAddr).Port }

func (p *throttleProxy) close() {
	p.l.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func (p *throttleProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		u, err := net.DialTimeout("tcp", p.target, 10*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() {
			_, _ = io.Copy(c, u)
			c.Close()
			u.Close()
		}()
		go func() {
			defer c.Close()
			defer u.Close()
			start := time.Now()
			var sent int64
			buf := make([]byte, 16<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := u.Write(buf[:n]); werr != nil {
						return
					}
					sent += int64(n)
					p.upstream.Add(int64(n))
					due := start.Add(time.Duration(float64(sent) / float64(p.rate) * float64(time.Second)))
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// pushSigner reads a private key made by ssh-keygen for x/crypto/ssh.
func pushSigner(t testing.TB, k *keyPair) gossh.Signer {
	t.Helper()
	b, err := os.ReadFile(k.Priv)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := gossh.ParsePrivateKey(b)
	if err != nil {
		t.Fatalf("parse %s: %v", k.Priv, err)
	}
	return sig
}

// rawPushCmd is one ref update of a raw receive-pack request.
type rawPushCmd struct{ Old, New, Ref string }

// rawPushResult is what a raw receive-pack exchange produced.
type rawPushResult struct {
	Refs   map[string]string // advertised refs
	Caps   string            // advertised capabilities
	Report []string          // report-status lines (without newline)
	Band2  string            // side-band 2 (progress) when side-band was asked for
	Stderr string            // the session's stderr
	Exit   int
}

// rawReceivePack runs git-receive-pack for app over x/crypto/ssh: reads the
// advertisement, sends cmds with caps and then pack, half-closes its stdin
// (as git does: send-pack's pack-objects closes the pipe to ssh) and reads
// the report.
func rawReceivePack(t testing.TB, s *server, key *keyPair, app string, caps string, cmds []rawPushCmd, pack []byte) rawPushResult {
	t.Helper()
	return rawReceivePackOpts(t, s, key, app, caps, cmds, pack, true, pushTimeout)
}

// rawReceivePackOpts is rawReceivePack with the half-close optional (a
// client may keep its side open until the report arrives: the pack is
// self-delimiting) and its own timeout, after which the connection is
// closed and the result has Exit -1.
func rawReceivePackOpts(t testing.TB, s *server, key *keyPair, app string, caps string, cmds []rawPushCmd, pack []byte, halfClose bool, timeout time.Duration) rawPushResult {
	t.Helper()
	client, err := gossh.Dial("tcp", s.Addr, &gossh.ClientConfig{
		User:            defaultSSHUser,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(pushSigner(t, key))},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), // a throwaway server on loopback
		Timeout:         15 * time.Second,
	})
	if err != nil {
		t.Fatalf("dial %s: %v", s.Addr, err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	defer sess.Close()
	stdin, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testbuf.Buffer
	sess.Stderr = &stderr
	if err := sess.Start("git-receive-pack '" + app + "'"); err != nil {
		t.Fatalf("start git-receive-pack: %v", err)
	}
	// Nothing may hang the test: close the connection after a timeout.
	var timedOut atomic.Bool
	timer := time.AfterFunc(timeout, func() { timedOut.Store(true); client.Close() })
	defer timer.Stop()

	res := rawPushResult{Refs: map[string]string{}}
	sc := pktline.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			break
		}
		s := strings.TrimSuffix(string(line), "\n")
		if i := strings.IndexByte(s, 0); i >= 0 {
			res.Caps = s[i+1:]
			s = s[:i]
		}
		oid, ref, _ := strings.Cut(s, " ")
		if ref != "capabilities^{}" {
			res.Refs[ref] = oid
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read advertisement: %v (stderr %q)", err, stderr.String())
	}

	var req bytes.Buffer
	e := pktline.NewEncoder(&req)
	for i, c := range cmds {
		line := c.Old + " " + c.New + " " + c.Ref
		if i == 0 {
			line += "\x00" + caps
		}
		if err := e.EncodeString(line + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	req.Write(pack)
	if _, err := stdin.Write(req.Bytes()); err != nil {
		t.Fatalf("send request: %v (stderr %q)", err, stderr.String())
	}
	if halfClose {
		_ = stdin.Close()
	}

	var report io.Reader = stdout
	var band2 testbuf.Buffer
	if strings.Contains(" "+caps+" ", " side-band-64k ") {
		d := sideband.NewDemuxer(sideband.Sideband64k, stdout)
		d.Progress = &band2
		report = d
	}
	rs := pktline.NewScanner(report)
	for rs.Scan() {
		line := rs.Bytes()
		if len(line) == 0 {
			break
		}
		res.Report = append(res.Report, strings.TrimSuffix(string(line), "\n"))
	}
	if err := rs.Err(); err != nil && !timedOut.Load() {
		t.Errorf("read report: %v (stderr %q)", err, stderr.String())
	}
	_ = stdin.Close()
	// Drain whatever follows (the flush after side-band) until the session
	// ends.
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	err = sess.Wait()
	var xe *gossh.ExitError
	switch {
	case timedOut.Load():
		res.Exit = -1
	case errors.As(err, &xe):
		res.Exit = xe.ExitStatus()
	case err != nil:
		t.Errorf("receive-pack session: %v", err)
		res.Exit = -1
	}
	res.Band2 = band2.String()
	res.Stderr = stderr.String()
	return res
}

// packObjects returns a (non-thin) pack of the objects reachable from the
// tips and not from the excluded commits of the work tree at dir.
func (c *gitClient) packObjects(t testing.TB, dir string, tips, excluded []string) []byte {
	t.Helper()
	var in strings.Builder
	for _, h := range tips {
		in.WriteString(h + "\n")
	}
	for _, h := range excluded {
		in.WriteString("^" + h + "\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), pushTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", "pack-objects", "--stdout", "--revs", "-q")
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), c.env()...)
	cmd.Stdin = strings.NewReader(in.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git pack-objects: %v: %s", err, stderr.String())
	}
	return out
}

// regexpMatch reports whether the pattern matches s.
func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// shortOID abbreviates an object id for messages.
func shortOID(oid string) string {
	if len(oid) > 12 {
		return oid[:12]
	}
	return oid
}
