package integration

import (
	"bufio"
	"bytes"
	"context"
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
	"syscall"
	"testing"
	"time"

	"dokku-sshd/internal/testbuf"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Forwarding of every kind is refused (sshcommand's no-port-forwarding,
// no-agent-forwarding, no-X11-forwarding), and env is ignored.
func TestForwardingRefused(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t)

	t.Run("openssh -L", func(t *testing.T) {
		local := freePort(t)
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		defer cancel()
		argv := s.sshArgv(admin, sshOpts{Extra: []string{"-N", "-L", fmt.Sprintf("127.0.0.1:%d:%s", local, s.Addr)}})
		cmd := exec.CommandContext(ctx, "ssh", argv...)
		cmd.Env = cleanEnv()
		var stderr testbuf.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		var c net.Conn
		if !waitFor(15*time.Second, func() bool {
			var err error
			c, err = net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", local))
			return err == nil
		}) {
			t.Fatalf("ssh -L never listened on %d; ssh stderr:\n%s", local, stderr.String())
		}
		defer c.Close()
		// Through a working tunnel the server's own SSH banner would arrive.
		got, err := readUntilClosed(c, 15*time.Second)
		if len(got) > 0 {
			t.Errorf("data came through a -L tunnel: %q", got)
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("the -L tunnel connection stayed open (the channel open was not refused)")
		}
	})

	t.Run("openssh -R", func(t *testing.T) {
		r := s.sshWith(t, admin, sshOpts{Extra: []string{"-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:" + s.Addr}})
		if r.Code != 255 || !strings.Contains(r.Stderr, "remote port forwarding failed") {
			t.Errorf("ssh -R with ExitOnForwardFailure: %s\nwant exit 255 with `remote port forwarding failed`", r)
		}
	})

	t.Run("openssh -A and SendEnv", func(t *testing.T) {
		r := s.sshWith(t, admin, sshOpts{Extra: []string{"-A", "-o", "SendEnv=FOO", "-o", "SendEnv=LANG"}, Env: []string{"FOO=bar", "LANG=C.UTF-8"}}, "apps:list")
		expect(t, "apps:list with -A and SendEnv", r, 0, "=====> My Apps\n", warn("You haven't deployed any applications yet"))
	})

	t.Run("x/crypto", func(t *testing.T) {
		c, err := s.dialX(loadSigner(t, admin))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if conn, err := c.Dial("tcp", s.Addr); err == nil {
			conn.Close()
			t.Error("direct-tcpip channel was accepted")
		}
		if conn, err := c.Dial("unix", "/run/docker.sock"); err == nil {
			conn.Close()
			t.Error("direct-streamlocal channel was accepted")
		}
		if l, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
			l.Close()
			t.Error("tcpip-forward was accepted")
		}
		if ch, _, err := c.OpenChannel("auth-agent@openssh.com", nil); err == nil {
			ch.Close()
			t.Error("an auth-agent channel from the client was accepted")
		}

		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := agent.RequestAgentForwarding(sess); err == nil {
			t.Error("agent forwarding request was accepted")
		}
		x11 := struct {
			SingleConnection bool
			AuthProtocol     string
			AuthCookie       string
			ScreenNumber     uint32
		}{false, "MIT-MAGIC-COOKIE-1", "0123456789abcdef0123456789abcdef", 0}
		if ok, err := sess.SendRequest("x11-req", true, gossh.Marshal(&x11)); err == nil && ok {
			t.Error("x11-req was accepted")
		}
		_ = sess.Setenv("FOO", "bar") // ignored or refused; either way no effect
		var out bytes.Buffer
		sess.Stdout = &out
		if err := sess.Run("version"); err != nil || !versionLine.MatchString(out.String()) {
			t.Errorf("version after refused requests: %v %q", err, out.String())
		}
		sess.Close()
		// The connection is still usable.
		r := runX(t, c, "", "apps:exists nope")
		expect(t, "apps:exists after refused requests", r, 20, "", warn("App nope does not exist"))
	})
}

// keyscan returns the server's host keys as "type base64" lines, sorted.
func keyscan(t testing.TB, s *server) []string {
	t.Helper()
	out := run(t, "", "ssh-keyscan", "-p", strconv.Itoa(s.Port), "-T", "10", "127.0.0.1")
	var keys []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && !strings.HasPrefix(line, "#") {
			keys = append(keys, f[1]+" "+f[2])
		}
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		t.Fatalf("ssh-keyscan found no host keys:\n%s", out)
	}
	return keys
}

// Host keys are made on first start, kept private and reused.
func TestHostKeyPersistence(t *testing.T) {
	t.Parallel()
	requireTools(t, "ssh", "ssh-keygen", "ssh-keyscan")
	dataDir := t.TempDir()
	hostKeyDir := filepath.Join(dataDir, "host-keys")
	if _, err := os.Stat(hostKeyDir); err == nil {
		t.Fatal("host key directory exists before the first start")
	}
	s1 := startServerCfg(t, serverConfig{DataDir: dataDir, Args: []string{"--admin-keys", "admin"}})
	admin := newKey(t, "ed25519", "admin")
	s1.addKey(t, "admin", admin)

	ents, err := os.ReadDir(hostKeyDir)
	if err != nil {
		t.Fatalf("no host key directory after the first start: %v", err)
	}
	files := map[string][]byte{}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(hostKeyDir, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(e.Name(), ".pub") && fi.Mode().Perm() != 0o600 {
			t.Errorf("host key %s has mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
		b, _ := os.ReadFile(p)
		files[e.Name()] = b
	}
	if len(files) == 0 {
		t.Fatalf("no host key files in %s", hostKeyDir)
	}
	scan1 := keyscan(t, s1)
	expectVersion(t, "first start", s1.ssh(t, admin, "version"))
	known, err := os.ReadFile(s1.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	s1.Stop()

	s2 := startServerCfg(t, serverConfig{DataDir: dataDir, Args: []string{"--admin-keys", "admin"}})
	if scan2 := keyscan(t, s2); strings.Join(scan1, "\n") != strings.Join(scan2, "\n") {
		t.Errorf("host keys changed across a restart:\nbefore: %q\n after: %q", scan1, scan2)
	}
	for name, b := range files {
		now, err := os.ReadFile(filepath.Join(hostKeyDir, name))
		if err != nil || !bytes.Equal(now, b) {
			t.Errorf("host key file %s changed or vanished across a restart", name)
		}
	}
	// The known_hosts entry recorded before the restart still verifies the
	// server with strict checking (rewritten for the new port).
	oldHost := fmt.Sprintf("[127.0.0.1]:%d", s1.Port)
	newHost := fmt.Sprintf("[127.0.0.1]:%d", s2.Port)
	writeFile(t, s2.KnownHosts, strings.ReplaceAll(string(known), oldHost, newHost))
	r := s2.sshWith(t, admin, sshOpts{Extra: []string{"-o", "StrictHostKeyChecking=yes"}}, "version")
	expectVersion(t, "strict host key checking after a restart", r)
}

// holdRawConn opens a TCP connection that never starts a handshake, and
// returns it once the server has answered with its banner (so it counts
// against the limits). It retries while the server is still counting the
// connections of a moment ago.
func holdRawConn(t testing.TB, addr string) net.Conn {
	t.Helper()
	var conn net.Conn
	ok := waitFor(10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "SSH-2.0-") {
			c.Close()
			return false
		}
		_ = c.SetReadDeadline(time.Time{})
		conn = c
		return true
	})
	if !ok {
		t.Fatalf("could not open a raw connection to %s", addr)
	}
	return conn
}

// Limits before authentication: connections over the limit are turned away
// before any handshake, and the slots come back when connections close.
func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		flag string
		hold int
	}{
		{"--max-connections-per-ip", 2},
		{"--max-connections", 1},
	} {
		t.Run(c.flag, func(t *testing.T) {
			t.Parallel()
			s, admin := adminServer(t, c.flag, strconv.Itoa(c.hold))
			var held []net.Conn
			for range c.hold {
				held = append(held, holdRawConn(t, s.Addr))
			}
			r := s.sshWith(t, admin, sshOpts{Timeout: 20 * time.Second}, "version")
			if r.Code != 255 || strings.Contains(r.Stderr, "Permission denied") {
				t.Errorf("connection %d with %s %d: %s\nwant ssh to fail before authentication (exit 255)", c.hold+1, c.flag, c.hold, r)
			}
			for _, h := range held {
				h.Close()
			}
			var last result
			if !waitFor(10*time.Second, func() bool {
				last = s.ssh(t, admin, "version")
				return last.Code == 0
			}) {
				t.Errorf("ssh after closing the held connections: %s", last)
			}
		})
	}
}

// A flood of idle connections larger than --max-connections, from a few
// other addresses, leaves room for a real command: unauthenticated
// connections have their own budget (--max-unauthenticated) (regression:
// the flood held every slot until the handshake timeout and the command got
// "Connection reset"). The per-address limit is TestConnectionLimits'.
func TestPreAuthFlood(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t, "--max-connections", "12", "--max-connections-per-ip", "4",
		"--max-unauthenticated", "8", "--handshake-timeout", "5m")
	var flood []net.Conn
	for range 5 { // one more than the per-address limit
		for _, src := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"} {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
			c, err := d.Dial("tcp", s.Addr)
			if err != nil {
				continue
			}
			defer c.Close()
			flood = append(flood, c)
		}
	}
	// Wait until the server dealt with each: a banner, or closed (refused
	// ones after a second in the tarpit).
	deadline := time.Now().Add(20 * time.Second)
	for _, c := range flood {
		_ = c.SetReadDeadline(deadline)
		if _, err := bufio.NewReader(c).ReadString('\n'); isTimeout(err) {
			t.Fatal("a flood connection was neither answered nor closed")
		}
		_ = c.SetReadDeadline(time.Time{})
	}
	expectVersion(t, "version during the flood", s.ssh(t, admin, "version"))
	// Each flooding address was held to its share of the budget.
	if !strings.Contains(s.Log(), "connection refused: limit reached") || !strings.Contains(s.Log(), "reason=max_unauthenticated") {
		t.Errorf("no refusal logged with its reason:\n%s", s.Log())
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Connections without a session are closed after --idle-timeout; a running
// session is never cut by it.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t, "--idle-timeout", "1s", "--keepalive-interval", "200ms")
	s.mustLocal(t, "apps:create", "slow")
	signer := loadSigner(t, admin)

	idle, err := s.dialX(signer)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	closed := make(chan error, 1)
	go func() { closed <- idle.Wait() }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Error("a connection without sessions was still open 20s after --idle-timeout 1s")
	}

	busy, err := s.dialX(signer)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	sess, err := busy.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	stdin, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr testbuf.Buffer
	sess.Stdout, sess.Stderr = &stdout, &stderr
	if err := sess.Start("apps:destroy slow"); err != nil {
		t.Fatal(err)
	}
	if !waitFor(15*time.Second, func() bool { return strings.Contains(stdout.String(), "> ") }) {
		t.Fatalf("no prompt: %q %q", stdout.String(), stderr.String())
	}
	time.Sleep(3 * time.Second) // three idle timeouts with a session waiting for input
	if _, err := io.WriteString(stdin, "slow\n"); err != nil {
		t.Fatalf("the waiting session was cut: %v", err)
	}
	stdin.Close()
	if err := sess.Wait(); err != nil {
		t.Errorf("session waiting longer than --idle-timeout: %v\nstdout %q\nstderr %q", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "-----> Destroying slow") {
		t.Errorf("stdout %q", stdout.String())
	}
}

func TestMaxSessionsPerConnection(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t, "--max-sessions", "1")
	c, err := s.dialX(loadSigner(t, admin))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	first, err := c.NewSession()
	if err != nil {
		t.Fatalf("first session: %v", err)
	}
	if second, err := c.NewSession(); err == nil {
		second.Close()
		t.Error("a second session channel was accepted with --max-sessions 1")
	}
	var out bytes.Buffer
	first.Stdout = &out
	if err := first.Run("version"); err != nil || !versionLine.MatchString(out.String()) {
		t.Errorf("first session after the refused second: %v %q", err, out.String())
	}
	first.Close()
}

// A client that stalls before authenticating is dropped after
// --handshake-timeout.
func TestHandshakeTimeout(t *testing.T) {
	t.Parallel()
	s := startServer(t, "--handshake-timeout", "1s")
	for _, c := range []struct {
		name, send string
	}{
		{"silent", ""},
		{"version line only", "SSH-2.0-stalling_client\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", s.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if c.send != "" {
				if _, err := io.WriteString(conn, c.send); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readUntilClosed(conn, 20*time.Second)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("a stalled connection was still open after 20s with --handshake-timeout 1s (read %d bytes)", len(got))
			}
			if len(got) > 0 && !strings.HasPrefix(string(got), "SSH-2.0-") {
				t.Errorf("unexpected data before close: %q", got)
			}
		})
	}
}

// SIGTERM: stop accepting, let running sessions finish, then exit.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	s, admin := adminServer(t, "--shutdown-grace", "60s")
	s.mustLocal(t, "apps:create", "doomed")

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", s.sshArgv(admin, sshOpts{}, "apps:destroy", "doomed")...)
	cmd.Env = cleanEnv()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr testbuf.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	if !waitFor(15*time.Second, func() bool { return strings.Contains(stdout.String(), "> ") }) {
		t.Fatalf("no confirmation prompt; stdout %q stderr %q", stdout.String(), stderr.String())
	}

	s.Signal(syscall.SIGTERM)
	// New connections are refused while the session runs.
	var refused result
	if !waitFor(15*time.Second, func() bool {
		refused = s.sshWith(t, admin, sshOpts{Timeout: 15 * time.Second}, "version")
		return refused.Code == 255
	}) {
		t.Errorf("a new connection after SIGTERM: %s\nwant it refused", refused)
	}
	select {
	case <-s.Exited():
		t.Fatalf("the server exited while a session was still running; log:\n%s", s.Log())
	default:
	}

	// The running session completes normally.
	if _, err := io.WriteString(stdin, "doomed\n"); err != nil {
		t.Fatalf("write confirmation: %v", err)
	}
	stdin.Close()
	err = cmd.Wait()
	code := 0
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		code = xe.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if code != 0 || !strings.Contains(stdout.String(), "-----> Destroying doomed (including all add-ons)") {
		t.Errorf("session during shutdown: exit %d\nstdout %q\nstderr %q", code, stdout.String(), stderr.String())
	}
	if _, err := os.Stat(filepath.Join(s.DataDir, "home", "doomed")); err == nil {
		t.Error("the app was not destroyed")
	}

	// Then the server exits by itself, well before the 60s grace.
	select {
	case <-s.Exited():
		if s.ExitCode() != 0 {
			t.Errorf("server exit code %d after SIGTERM, want 0", s.ExitCode())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("the server did not exit after its last session ended")
	}
}

// systemd socket activation: LISTEN_FDS=1, the listener on fd 3.
func TestSocketActivation(t *testing.T) {
	t.Parallel()
	requireSSH(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := startServerCfg(t, serverConfig{Listener: l.(*net.TCPListener), Args: []string{"--admin-keys", "admin"}})
	l.Close() // the server holds its own copy now
	admin := newKey(t, "ed25519", "admin")
	s.addKey(t, "admin", admin)
	expectVersion(t, "ssh on the activated socket", s.ssh(t, admin, "version"))
	// --listen is ignored under socket activation.
	m := regexp.MustCompile(`--listen 127\.0\.0\.1:(\d+)`).FindStringSubmatch(strings.Join(s.cmd.Args, " "))
	if m == nil {
		t.Fatalf("no --listen in %q", s.cmd.Args)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+m[1], 2*time.Second); err == nil {
		c.Close()
		t.Errorf("the server also listens on --listen %s under socket activation", m[1])
	}
}

// The confirmation prompt works with a real terminal (tmux + ssh -t).
func TestTTYPrompt(t *testing.T) {
	t.Parallel()
	requireTools(t, "ssh", "ssh-keygen", "tmux")
	s, admin := adminServer(t)
	s.mustLocal(t, "apps:create", "ttyapp")

	sock := filepath.Join(t.TempDir(), "tmux.sock")
	tmux := func(args ...string) result {
		return runCmd(t, "", nil, "tmux", append([]string{"-S", sock, "-f", "/dev/null"}, args...)...)
	}
	var quoted []string
	for _, a := range append([]string{"ssh", "-t"}, s.sshArgv(admin, sshOpts{}, "apps:destroy", "ttyapp")...) {
		quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	shell := strings.Join(quoted, " ") + "; echo EXIT=$?; sleep 60"
	if r := tmux("new-session", "-d", "-x", "120", "-y", "40", "-s", "it", shell); r.Code != 0 {
		t.Fatalf("tmux new-session: %s", r)
	}
	t.Cleanup(func() { tmux("kill-server") })
	var mu sync.Mutex
	pane := func() string {
		mu.Lock()
		defer mu.Unlock()
		return tmux("capture-pane", "-p", "-t", "it").Stdout
	}
	if !waitFor(20*time.Second, func() bool { return strings.Contains(pane(), `To proceed, type "ttyapp"`) }) {
		t.Fatalf("no prompt in the terminal:\n%s", pane())
	}
	if !strings.Contains(pane(), " !     WARNING: Potentially Destructive Action") {
		t.Errorf("terminal lacks the warning:\n%s", pane())
	}
	if r := tmux("send-keys", "-t", "it", "ttyapp", "Enter"); r.Code != 0 {
		t.Fatalf("tmux send-keys: %s", r)
	}
	if !waitFor(20*time.Second, func() bool { return strings.Contains(pane(), "EXIT=") }) {
		t.Fatalf("ssh did not finish:\n%s", pane())
	}
	p := pane()
	if !strings.Contains(p, "EXIT=0") || !strings.Contains(p, "-----> Destroying ttyapp (including all add-ons)") {
		t.Errorf("apps:destroy in a terminal:\n%s", p)
	}
	// Lines start at column 0 (the PTY translates \n to \r\n).
	if !regexp.MustCompile(`(?m)^-----> Destroying ttyapp`).MatchString(p) {
		t.Errorf("output is not line-aligned in the terminal:\n%s", p)
	}
}
