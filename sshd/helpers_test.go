package sshd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"dokku-sshd/keys"

	"dokku-sshd/internal/testenv"
)

// keyTable is the test data standing in for the key store: keys by their
// wire form, and which names are admins.
type keyTable struct {
	mu     sync.Mutex
	names  map[string]string // marshalled key -> name
	admins map[string]bool
}

func newKeyTable() *keyTable {
	return &keyTable{names: map[string]string{}, admins: map[string]bool{"admin": true, "ca-admin": true}}
}

func (k *keyTable) LookupKey(key gossh.PublicKey) (keys.Identity, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n, ok := k.names[string(key.Marshal())]
	return keys.Identity{Name: n, Fingerprint: gossh.FingerprintSHA256(key), Admin: k.admins[n]}, ok
}

func (k *keyTable) IsAdmin(name string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.admins[name]
}

func (k *keyTable) add(name string, pub gossh.PublicKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.names[string(pub.Marshal())] = name
}

func (k *keyTable) remove(pub gossh.PublicKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.names, string(pub.Marshal()))
}

// logRecords is a slog handler keeping every record, for assertions on
// the auth log.
type logRecords struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	return nil
}

// find returns the records with message msg whose attributes include all
// of want.
func (l *logRecords) find(msg string, want map[string]string) []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logRecord
next:
	for _, r := range l.recs {
		if r.msg != msg {
			continue
		}
		for k, v := range want {
			if r.attrs[k] != v {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

// authCounts counts the auth log lines for a fingerprint.
func (l *logRecords) authCounts(fp string) (accepted, refused int) {
	return len(l.find("auth attempt", map[string]string{"fingerprint": fp, "accepted": "true"})),
		len(l.find("auth attempt", map[string]string{"fingerprint": fp, "accepted": "false"}))
}

// waitAuthCounts waits (the log line of a failed handshake is written when
// the server closes its side) until the counts are as wanted.
func (l *logRecords) waitAuthCounts(t *testing.T, fp string, accepted, refused int) {
	t.Helper()
	var a, r int
	if !waitFor(5*time.Second, func() bool { a, r = l.authCounts(fp); return a == accepted && r == refused }) {
		t.Errorf("auth log for %s: %d accepted, %d refused; want %d, %d", fp, a, r, accepted, refused)
	}
}

func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

func newSigner(t testing.TB) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testHandler is the Command handler of the test server: it does what the
// command asks, so tests can observe the transport.
func testHandler(s *Session) int {
	words := strings.Fields(s.RawCommand)
	if len(words) == 0 {
		fmt.Fprintf(s.Stdout, "command handler: shell pty=%v\n", s.PTY != nil)
		return 0
	}
	arg := func(i int) string {
		if i < len(words) {
			return words[i]
		}
		return ""
	}
	switch words[0] {
	case "who":
		id := s.Identity
		fmt.Fprintf(s.Stdout, "name=%s admin=%v cert=%v fp=%s\n", id.Name, id.Admin, id.Cert, id.Fingerprint)
	case "both":
		io.WriteString(s.Stdout, "out\n")
		io.WriteString(s.Stderr, "err\n")
		return 3
	case "exit":
		n, _ := strconv.Atoi(arg(1))
		return n
	case "panic":
		io.WriteString(s.Stdout, "before\n")
		panic("boom")
	case "env":
		var lines []string
		for k, v := range s.Env {
			lines = append(lines, k+"="+v)
		}
		slices.Sort(lines)
		for _, l := range lines {
			fmt.Fprintln(s.Stdout, l)
		}
	case "wait": // until the session is cancelled
		<-s.Context.Done()
		io.WriteString(s.Stdout, "cancelled\n")
		return 130
	case "read": // stdin to stdout, to EOF
		if _, err := io.Copy(s.Stdout, s.Stdin); err != nil {
			fmt.Fprintln(s.Stderr, err)
			return 1
		}
	case "line": // one line of input
		line, err := bufio.NewReader(s.Stdin).ReadString('\n')
		fmt.Fprintf(s.Stdout, "[%q %v]\n", line, err)
	case "sleep": // a silent command
		d, _ := time.ParseDuration(arg(1))
		select {
		case <-time.After(d):
			io.WriteString(s.Stdout, "done\n")
		case <-s.Context.Done():
			return 130
		}
	case "big": // lots of output on both streams
		out := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
		s.Stdout.Write(out)
		s.Stderr.Write(out[:100<<10])
		return 7
	case "raw": // a prompt, then four bytes from Raw, echoed back quoted through Raw
		io.WriteString(s.Raw, "> ")
		b := make([]byte, 4)
		io.ReadFull(s.Raw, b)
		fmt.Fprintf(s.Raw, "%q ctx=%v\n", b, s.Context.Err())
	case "pty":
		if s.PTY == nil {
			io.WriteString(s.Stdout, "no pty\n")
			return 0
		}
		fmt.Fprintf(s.Stdout, "term=%s size=%dx%d\n", s.PTY.Term, s.PTY.Width, s.PTY.Height)
	case "resize": // after one line of input, the newest window size
		bufio.NewReader(s.Stdin).ReadString('\n')
		select {
		case w := <-s.PTY.Resize:
			fmt.Fprintf(s.Stdout, "resized %dx%d\n", w.Width, w.Height)
		default:
			io.WriteString(s.Stdout, "no resize\n")
		}
	default:
		fmt.Fprintf(s.Stderr, "unknown command %q\n", s.RawCommand)
		return 1
	}
	return 0
}

type testServer struct {
	*Server
	addr string
	port int
	keys *keyTable
	log  *logRecords
}

// startServer runs a server on 127.0.0.1 with the test handler (unless h
// says otherwise) until the test ends; opts change it before it serves.
func startServer(t testing.TB, cfg Config, h Handlers, opts ...func(*Server)) *testServer {
	t.Helper()
	ts := &testServer{keys: newKeyTable(), log: &logRecords{}}
	if cfg.HostKeyDir == "" {
		cfg.HostKeyDir = t.TempDir()
	}
	cfg.Keys = ts.keys
	cfg.Logger = slog.New(ts.log)
	if h.Command == nil {
		h.Command = testHandler
	}
	srv, err := New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	// Tests count one auth line per attempt, many from 127.0.0.1 on one
	// server; the flood aggregation has tests of its own (authLogs.set).
	if cfg.AuthLogBurst == 0 {
		srv.authLogs.set(math.MaxInt, authLogInterval)
	}
	// Refusals are immediate, so tests see them at once; TestTarpit has
	// the tarpit.
	srv.tarpitDelay = 0
	for _, o := range opts {
		o(srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		if err := <-served; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	ts.Server = srv
	ts.addr = l.Addr().String()
	ts.port = l.Addr().(*net.TCPAddr).Port
	return ts
}

// dial connects an x/crypto client.
func (ts *testServer) dial(user string, signers ...gossh.Signer) (*gossh.Client, error) {
	return gossh.Dial("tcp", ts.addr, &gossh.ClientConfig{
		User: user, Auth: []gossh.AuthMethod{gossh.PublicKeys(signers...)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
	})
}

func (ts *testServer) mustDial(t testing.TB, signers ...gossh.Signer) *gossh.Client {
	t.Helper()
	c, err := ts.dial("dokku", signers...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// result is what a command gave back.
type result struct {
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
}

// run runs a command on an x/crypto connection.
func run(t testing.TB, c *gossh.Client, stdin, cmd string) result {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var o, e bytes.Buffer
	s.Stdout, s.Stderr = &o, &e
	s.Stdin = strings.NewReader(stdin)
	err = s.Run(cmd)
	var ee *gossh.ExitError
	r := result{stdout: o.String(), stderr: e.String()}
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitStatus()
	case err != nil:
		t.Fatalf("run %q: %v", cmd, err)
	}
	return r
}

// ---- OpenSSH client ----

func requireOpenSSH(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ssh", "ssh-keygen"} {
		testenv.Tool(t, tool)
	}
}

// sshKey is a key pair made by ssh-keygen.
type sshKey struct {
	priv string
	pub  gossh.PublicKey
	fp   string
}

func keygen(t testing.TB, dir, name, typ string, extra ...string) sshKey {
	t.Helper()
	p := filepath.Join(dir, name)
	mustRun(t, "ssh-keygen", append([]string{"-q", "-t", typ, "-N", "", "-C", name, "-f", p}, extra...)...)
	return readKey(t, p)
}

func readKey(t testing.TB, priv string) sshKey {
	t.Helper()
	b, err := os.ReadFile(priv + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := gossh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return sshKey{priv: priv, pub: pub, fp: gossh.FingerprintSHA256(pub)}
}

func mustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// sshOpts are the per-call knobs of the OpenSSH client.
type sshOpts struct {
	user       string   // "dokku"
	identities []string // -i, in order
	cert       string   // CertificateFile
	args       []string // more options
	stdin      string
	knownHosts string // a fresh file unless set
}

// ssh runs the OpenSSH client against the server.
func (ts *testServer) ssh(t testing.TB, o sshOpts, remote ...string) result {
	t.Helper()
	cmd, stdout, stderr := ts.sshCmd(t, o, remote...)
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("ssh: %v", err)
	}
	return r
}

func (ts *testServer) sshCmd(t testing.TB, o sshOpts, remote ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	if o.user == "" {
		o.user = "dokku"
	}
	if o.knownHosts == "" {
		o.knownHosts = filepath.Join(t.TempDir(), "known_hosts")
	}
	args := []string{"-F", "/dev/null", "-o", "UserKnownHostsFile=" + o.knownHosts,
		"-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
		"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-p", strconv.Itoa(ts.port)}
	for _, id := range o.identities {
		args = append(args, "-i", id)
	}
	if o.cert != "" {
		args = append(args, "-o", "CertificateFile="+o.cert)
	}
	args = append(args, o.args...)
	args = append(args, o.user+"@127.0.0.1")
	args = append(args, remote...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.Stdin = strings.NewReader(o.stdin)
	cmd.Env = append(os.Environ(), "TERM=vt100")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// waitBanner reads the server's version line from a raw connection: the
// connection has been admitted.
func waitBanner(t testing.TB, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "SSH-2.0-") {
		t.Fatalf("no server banner: %q %v", line, err)
	}
	c.SetReadDeadline(time.Time{})
}

// expectClosed waits for the server to close a raw connection and returns
// what it sent first.
func expectClosed(t testing.TB, c net.Conn, within time.Duration) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v (read %q)", within, b)
	}
	return string(b)
}
