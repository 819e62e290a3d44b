// Package integration holds the end-to-end tests of dokku-sshd: they build
// the real binary once, start it on loopback ports with fresh data
// directories, and talk to it with the real OpenSSH client (and, where a
// test needs to misbehave on purpose, with golang.org/x/crypto/ssh).
//
// Run: go test ./integration/ -count=1
// Golden files: go test ./integration/ -run TestName -update
package integration

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"dokku-sshd/internal/k8stest"
	"dokku-sshd/internal/testbuf"
	"dokku-sshd/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the server's output")

var (
	// binPath is the dokku-sshd binary TestMain built for this run.
	binPath string
	// repoRoot is the module root (the parent of integration/).
	repoRoot string
)

// Timeouts. They only bound how long a broken server can hang a test; no
// test asserts that anything is fast.
const (
	cmdTimeout     = 30 * time.Second // one ssh or local command
	startTimeout   = 30 * time.Second // server start until it answers with an SSH banner
	stopTimeout    = 20 * time.Second // SIGTERM until exit
	defaultGrace   = "3s"             // --shutdown-grace unless a test sets its own
	pollInterval   = 50 * time.Millisecond
	defaultSSHUser = "dokku"
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	repoRoot = filepath.Dir(wd)
	tmp, err := os.MkdirTemp("", "dokku-sshd-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	// A server run as another user (serverConfig.Credential) must reach
	// the binary.
	if err := os.Chmod(tmp, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		return 1
	}
	binPath = filepath.Join(tmp, "dokku-sshd")
	args := []string{"build"}
	if raceEnabled {
		// The tests run with -race: build the server with it too, so a data
		// race in a session shows up in the server log (checked on stop).
		args = append(args, "-race")
	}
	args = append(args, "-o", binPath, "./cmd/dokku-sshd")
	build := exec.Command(goTool(), args...)
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "integration: go %s failed: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	// k8stest.Main stops the k3s tests' shared control plane after the
	// last test, when one was started.
	return k8stest.Main(m)
}

// goTool finds the go command that runs this test.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

// requireTools skips the test when client programs are missing, or fails
// it when CI=true (testenv.SkipOrFail), naming them all at once.
func requireTools(t testing.TB, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	testenv.SkipOrFail(t, "this test needs %s on PATH (Debian: apt-get install -y openssh-client git tmux)", strings.Join(missing, ", "))
}

// requireSSH is requireTools for the tools almost every test needs.
func requireSSH(t testing.TB) {
	t.Helper()
	requireTools(t, "ssh", "ssh-keygen")
}

// result is what a command printed and its exit status.
type result struct {
	Stdout string
	Stderr string
	Code   int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.Code, r.Stdout, r.Stderr)
}

// server is one running dokku-sshd.
type server struct {
	t          testing.TB
	DataDir    string
	Port       int
	Addr       string // 127.0.0.1:Port
	KnownHosts string // known_hosts file the ssh helpers use for this server
	cmd        *exec.Cmd
	log        *testbuf.Buffer
	exited     chan struct{}
	waitErr    error
	markerOnce sync.Once
	marker     *keyPair // throwaway key for syncLog
}

// serverConfig describes how to start a server.
type serverConfig struct {
	DataDir string   // default: a fresh t.TempDir()
	Args    []string // extra `serve` flags
	// Listener, when set, is passed as fd 3 with LISTEN_FDS=1 and
	// LISTEN_PID=<the server's pid> (systemd socket activation); --listen
	// then points at a port nothing listens on.
	Listener *net.TCPListener
	Env      []string // extra environment, e.g. DOKKU_SSHD_NULL_BUILDER_SLEEP=3s
	// Credential, when set, is the user the server runs as (the tests run
	// as root); its data directory must be that user's.
	Credential *syscall.Credential
}

// startServer starts a server with a fresh data directory and the given
// extra `serve` flags, and stops it when the test ends.
func startServer(t testing.TB, args ...string) *server {
	t.Helper()
	return startServerCfg(t, serverConfig{Args: args})
}

func startServerCfg(t testing.TB, cfg serverConfig) *server {
	t.Helper()
	requireSSH(t)
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	var lastLog string
	for attempt := 0; attempt < 5; attempt++ {
		s, err := tryStart(t, cfg)
		if err == nil {
			return s
		}
		lastLog = err.Error()
		if !strings.Contains(lastLog, "address already in use") {
			break
		}
	}
	t.Fatalf("server did not start: %s", lastLog)
	return nil
}

func tryStart(t testing.TB, cfg serverConfig) (*server, error) {
	port := freePort(t)
	listenPort := port
	if cfg.Listener != nil {
		port = cfg.Listener.Addr().(*net.TCPAddr).Port
	}
	args := []string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", listenPort), "--data-dir", cfg.DataDir}
	if !hasFlag(cfg.Args, "--shutdown-grace") {
		args = append(args, "--shutdown-grace", defaultGrace)
	}
	if !hasFlag(cfg.Args, "--auth-log-burst") {
		// Tests count one line per attempt, and syncLog's marker is a
		// refused login; TestAuthLogAggregated sets its own.
		args = append(args, "--auth-log-burst", "-1")
	}
	args = append(args, cfg.Args...)
	s := &server{
		t:          t,
		DataDir:    cfg.DataDir,
		Port:       port,
		Addr:       fmt.Sprintf("127.0.0.1:%d", port),
		KnownHosts: filepath.Join(t.TempDir(), "known_hosts"),
		log:        &testbuf.Buffer{},
		exited:     make(chan struct{}),
	}
	if cfg.Listener != nil {
		f, err := cfg.Listener.File()
		if err != nil {
			t.Fatalf("listener file: %v", err)
		}
		defer f.Close()
		// LISTEN_PID must be the server's own pid: let a shell set it to $$
		// and exec the server in place, so the pid stays the same.
		script := `LISTEN_PID=$$ exec "$0" "$@"`
		s.cmd = exec.Command("sh", append([]string{"-c", script, binPath}, args...)...)
		s.cmd.Env = append(append(cleanEnv(), cfg.Env...), "LISTEN_FDS=1", "LISTEN_FDNAMES=dokku-sshd.socket")
		s.cmd.ExtraFiles = []*os.File{f}
	} else {
		s.cmd = exec.Command(binPath, args...)
		s.cmd.Env = append(cleanEnv(), cfg.Env...)
	}
	if cfg.Credential != nil {
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cfg.Credential}
	}
	if err := s.startAndWait(t, "server"); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("server log (%s):\n%s", s.Addr, s.log.String())
		}
		if strings.Contains(s.log.String(), "WARNING: DATA RACE") {
			t.Errorf("the server reported a data race; log:\n%s", s.log.String())
		}
	})
	return s, nil
}

// cleanEnv is the environment for child processes: ours without settings
// that would change the server's or the clients' behaviour.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DOKKU_") || strings.HasPrefix(kv, "LISTEN_") ||
			strings.HasPrefix(kv, "SSH_AUTH_SOCK=") || strings.HasPrefix(kv, "NOTIFY_SOCKET=") {
			continue
		}
		env = append(env, kv)
	}
	// No nginx for the apps' ports unless a test asks (--no-proxy=false):
	// servers of parallel tests would all want port 80.
	return append(env, "DOKKU_SSHD_NO_PROXY=true")
}

// readBanner connects to addr and reads the server's first line.
func readBanner(addr string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return line, nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// Log returns everything the server wrote so far.
func (s *server) Log() string { return s.log.String() }

// Signal sends sig to the server process.
func (s *server) Signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal server: %v", err)
	}
}

// Exited is closed when the server process has ended.
func (s *server) Exited() <-chan struct{} { return s.exited }

// ExitCode is the server's exit status (after Exited is closed).
func (s *server) ExitCode() int {
	if s.cmd.ProcessState == nil {
		return -1
	}
	return s.cmd.ProcessState.ExitCode()
}

// Stop sends SIGTERM and waits for the process to end (SIGKILL after
// stopTimeout).
func (s *server) Stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		s.t.Errorf("server did not exit within %v of SIGTERM", stopTimeout)
		s.kill()
	}
}

func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// syncLog returns once everything the server logged before the call has
// reached the test: the log travels through a pipe, so a line can arrive a
// moment after the client that caused it has exited. It makes one refused
// login with a throwaway key and waits for that attempt's line (lines are
// written in order).
func (s *server) syncLog(t testing.TB) {
	t.Helper()
	s.markerOnce.Do(func() { s.marker = newKey(s.t, "ed25519", "log-marker") }) // lives as long as the server
	count := func() int { return strings.Count(s.Log(), s.marker.Fingerprint) }
	before := count()
	s.ssh(t, s.marker, "version")
	if !waitFor(10*time.Second, func() bool { return count() > before }) {
		t.Fatalf("the server never logged the marker login %s", s.marker.Fingerprint)
	}
}

// keyPair is a key made with ssh-keygen.
type keyPair struct {
	Name        string
	Type        string
	Priv        string // private key path
	Pub         string // public key path
	PubLine     string // the public key line, without newline
	Fingerprint string // SHA256:...
}

// newKey makes a key pair with ssh-keygen in a fresh temp directory.
func newKey(t testing.TB, typ, name string) *keyPair {
	t.Helper()
	requireSSH(t)
	dir := t.TempDir()
	priv := filepath.Join(dir, name)
	args := []string{"-q", "-t", typ, "-N", "", "-C", name + "@integration", "-f", priv}
	if typ == "rsa" {
		args = append(args, "-b", "2048")
	}
	run(t, "", "ssh-keygen", args...)
	pub, err := os.ReadFile(priv + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return &keyPair{
		Name: name, Type: typ, Priv: priv, Pub: priv + ".pub",
		PubLine:     strings.TrimSpace(string(pub)),
		Fingerprint: fingerprint(t, priv+".pub"),
	}
}

// fingerprint returns the SHA256 fingerprint of a public key file.
func fingerprint(t testing.TB, pubFile string) string {
	t.Helper()
	out := run(t, "", "ssh-keygen", "-lf", pubFile)
	f := strings.Fields(out)
	if len(f) < 2 || !strings.HasPrefix(f[1], "SHA256:") {
		t.Fatalf("ssh-keygen -lf %s: unexpected output %q", pubFile, out)
	}
	return f[1]
}

// run runs a local program that must succeed and returns its stdout.
func run(t testing.TB, stdin string, name string, args ...string) string {
	t.Helper()
	r := runCmd(t, stdin, nil, name, args...)
	if r.Code != 0 {
		t.Fatalf("%s %s: %s", name, strings.Join(args, " "), r)
	}
	return r.Stdout
}

// runCmd runs a local program with a timeout and reports its output and
// exit status (-1 when it could not run or timed out).
func runCmd(t testing.TB, stdin string, env []string, name string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(cleanEnv(), env...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var xe *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Errorf("%s %s: timed out after %v", name, strings.Join(args, " "), cmdTimeout)
		r.Code = -1
	case errors.As(err, &xe):
		r.Code = xe.ExitCode()
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

// local runs `dokku-sshd --data-dir DIR ARGS...` (a command as the host
// administrator) with optional stdin.
func (s *server) local(t testing.TB, stdin string, args ...string) result {
	t.Helper()
	return runCmd(t, stdin, nil, binPath, append([]string{"--data-dir", s.DataDir}, args...)...)
}

// mustLocal is local for commands that must succeed.
func (s *server) mustLocal(t testing.TB, args ...string) result {
	t.Helper()
	r := s.local(t, "", args...)
	if r.Code != 0 {
		t.Fatalf("local %s: %s", strings.Join(args, " "), r)
	}
	return r
}

// addKey adds key under name with the local command.
func (s *server) addKey(t testing.TB, name string, key *keyPair) {
	t.Helper()
	r := s.mustLocal(t, "ssh-keys:add", name, key.Pub)
	if strings.TrimSpace(r.Stdout) != key.Fingerprint {
		t.Fatalf("ssh-keys:add %s printed %q, want the fingerprint %s", name, r.Stdout, key.Fingerprint)
	}
}

// sshOpts tunes one ssh invocation.
type sshOpts struct {
	User     string        // login user; default dokku
	Stdin    string        // stdin; empty means /dev/null
	Extra    []string      // more ssh options, placed before the destination
	Env      []string      // extra environment for ssh
	Timeout  time.Duration // default cmdTimeout
	Identity []string      // more -i files, tried after key (or instead of it when key is nil)
}

// sshArgv is the ssh command line for key, opts and the remote words.
func (s *server) sshArgv(key *keyPair, o sshOpts, words ...string) []string {
	user := o.User
	if user == "" {
		user = defaultSSHUser
	}
	argv := []string{
		"-F", "/dev/null",
		"-o", "UserKnownHostsFile=" + s.KnownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=accept-new",
		"-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none",
		"-o", "LogLevel=ERROR",
		"-o", "ConnectTimeout=15",
		"-o", "ServerAliveInterval=0",
		"-p", strconv.Itoa(s.Port),
	}
	if key != nil {
		argv = append(argv, "-i", key.Priv)
	}
	for _, id := range o.Identity {
		argv = append(argv, "-i", id)
	}
	argv = append(argv, o.Extra...)
	argv = append(argv, user+"@127.0.0.1")
	if len(words) > 0 {
		// "--" so that words starting with "-" (dokku's global flags) are
		// not taken for ssh options (dokku issue #2720).
		argv = append(argv, "--")
		argv = append(argv, words...)
	}
	return argv
}

// sshWith runs the OpenSSH client against s.
func (s *server) sshWith(t testing.TB, key *keyPair, o sshOpts, words ...string) result {
	t.Helper()
	timeout := o.Timeout
	if timeout == 0 {
		timeout = cmdTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := s.sshArgv(key, o, words...)
	cmd := exec.CommandContext(ctx, "ssh", argv...)
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(cleanEnv(), o.Env...)
	if o.Stdin != "" {
		cmd.Stdin = strings.NewReader(o.Stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{Stdout: stdout.String(), Stderr: stderr.String()}
	var xe *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Errorf("ssh %s: timed out after %v\n%s", strings.Join(words, " "), timeout, r)
		r.Code = -1
	case errors.As(err, &xe):
		r.Code = xe.ExitCode()
	case err != nil:
		t.Fatalf("ssh: %v", err)
	}
	return r
}

// ssh runs `ssh dokku@server -- WORDS...` with key and no stdin.
func (s *server) ssh(t testing.TB, key *keyPair, words ...string) result {
	t.Helper()
	return s.sshWith(t, key, sshOpts{}, words...)
}

// sshIn is ssh with stdin.
func (s *server) sshIn(t testing.TB, key *keyPair, stdin string, words ...string) result {
	t.Helper()
	return s.sshWith(t, key, sshOpts{Stdin: stdin}, words...)
}

// mustSSH runs a command that must exit 0.
func (s *server) mustSSH(t testing.TB, key *keyPair, words ...string) result {
	t.Helper()
	r := s.ssh(t, key, words...)
	if r.Code != 0 {
		t.Fatalf("ssh %s: %s", strings.Join(words, " "), r)
	}
	return r
}

// expect checks a result against the exact stdout, stderr and exit code.
func expect(t testing.TB, what string, r result, code int, stdout, stderr string) {
	t.Helper()
	if r.Code != code || r.Stdout != stdout || r.Stderr != stderr {
		t.Errorf("%s:\n got: %s\nwant: exit %d\n--- stdout\n%s--- stderr\n%s", what, r, code, stdout, stderr)
	}
}

// expectCode checks the exit code and that stdout/stderr contain the given
// substrings.
func expectCode(t testing.TB, what string, r result, code int, stdoutHas, stderrHas string) {
	t.Helper()
	if r.Code != code || !strings.Contains(r.Stdout, stdoutHas) || !strings.Contains(r.Stderr, stderrHas) {
		t.Errorf("%s:\n got: %s\nwant: exit %d, stdout containing %q, stderr containing %q", what, r, code, stdoutHas, stderrHas)
	}
}

// warn is Dokku's ` !     ` prefix on a line.
func warn(msg string) string { return " !     " + msg + "\n" }

// checkGolden compares got with testdata/NAME.golden, or rewrites the file
// with -update.
func checkGolden(t testing.TB, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (trailing spaces shown as ␠; -update rewrites the file):\n%s", path, lineDiff(string(want), got))
	}
}

// lineDiff shows a line diff of want and got (longest common subsequence),
// with trailing spaces made visible.
func lineDiff(want, got string) string {
	split := func(s string) []string {
		l := strings.SplitAfter(s, "\n")
		if l[len(l)-1] == "" {
			l = l[:len(l)-1]
		}
		return l
	}
	wl, gl := split(want), split(got)
	vis := func(s string) string {
		trimmed := strings.TrimSuffix(s, "\n")
		n := len(trimmed) - len(strings.TrimRight(trimmed, " "))
		out := strings.TrimRight(trimmed, " ") + strings.Repeat("␠", n)
		if !strings.HasSuffix(s, "\n") && s != "" {
			out += "⏎(no newline at end)"
		}
		return out
	}
	// lcs[i][j] = length of the LCS of wl[i:] and gl[j:].
	lcs := make([][]int, len(wl)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(gl)+1)
	}
	for i := len(wl) - 1; i >= 0; i-- {
		for j := len(gl) - 1; j >= 0; j-- {
			if wl[i] == gl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var b strings.Builder
	i, j := 0, 0
	for i < len(wl) || j < len(gl) {
		switch {
		case i < len(wl) && j < len(gl) && wl[i] == gl[j]:
			fmt.Fprintf(&b, "  %s\n", vis(wl[i]))
			i++
			j++
		case j < len(gl) && (i == len(wl) || lcs[i][j+1] >= lcs[i+1][j]):
			fmt.Fprintf(&b, "+ %s\n", vis(gl[j]))
			j++
		default:
			fmt.Fprintf(&b, "- %s\n", vis(wl[i]))
			i++
		}
	}
	return "(- want, + got)\n" + b.String()
}

// waitFor polls cond until it is true or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
}

// authLogLines returns the server log lines about an authentication attempt
// with the key fingerprint fp, split into accepted and refused ones. A line
// says "accepted" or "refused" in words, or carries an accepted=true|false
// attribute (slog text or JSON).
func authLogLines(log, fp string) (accepted, refused []string) {
	for _, line := range strings.Split(log, "\n") {
		if !strings.Contains(line, fp) {
			continue
		}
		l := strings.ToLower(line)
		switch {
		case strings.Contains(l, "accepted=false"), strings.Contains(l, `"accepted":false`), strings.Contains(l, "refused"):
			refused = append(refused, line)
		case strings.Contains(l, "accepted"):
			accepted = append(accepted, line)
		}
	}
	return accepted, refused
}

// copyFile copies a file (for making variants of keys).
func copyFile(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// writeFile writes a test fixture.
func writeFile(t testing.TB, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// readUntilClosed reads what a TCP connection delivers until EOF or timeout.
func readUntilClosed(c net.Conn, timeout time.Duration) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	return io.ReadAll(c)
}

// startAndWait starts s.cmd with its output in s.log and waits until its
// port answers with an SSH banner; what names the program in errors.
func (s *server) startAndWait(t testing.TB, what string) error {
	t.Helper()
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited during start-up (%v); log:\n%s", what, s.waitErr, s.log.String())
		default:
		}
		if banner, err := readBanner(s.Addr, 2*time.Second); err == nil && strings.HasPrefix(banner, "SSH-2.0-") {
			return nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("%s did not answer on %s within %v; log:\n%s", what, s.Addr, startTimeout, s.log.String())
		}
		time.Sleep(pollInterval)
	}
}
