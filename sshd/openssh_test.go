package sshd

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The transport as the OpenSSH client sees it.
func TestOpenSSHSessions(t *testing.T) {
	requireOpenSSH(t)
	ts := startServer(t, Config{}, Handlers{})
	k := keygen(t, t.TempDir(), "bob", "ed25519")
	ts.keys.add("bob", k.pub)
	id := []string{k.priv}

	for _, c := range []struct {
		name   string
		args   []string
		stdin  string
		remote []string
		want   result
	}{
		{"exit status 0", nil, "", []string{"exit", "0"}, result{}},
		{"exit status 1", nil, "", []string{"exit", "1"}, result{code: 1}},
		{"exit status 42", nil, "", []string{"exit", "42"}, result{code: 42}},
		{"stderr separate without a pty", nil, "", []string{"both"}, result{"out\n", "err\n", 3}},
		{"stderr merged with -tt", []string{"-tt"}, "", []string{"both"}, result{stdout: "out\r\nerr\r\n", code: 3}},
		{"pty info with -tt", []string{"-tt"}, "", []string{"pty"}, result{stdout: "term=vt100 size=0x0\r\n"}},
		{"stdin", nil, "hello\nworld\n", []string{"read"}, result{stdout: "hello\nworld\n"}},
		{"stdin from /dev/null (-n)", []string{"-n"}, "", []string{"read"}, result{}},
		{"stdin at EOF", nil, "", []string{"read"}, result{}},
		{"env allow-list", []string{"-o", "SetEnv=LANG=C.UTF-8 LC_ALL=C GIT_PROTOCOL=version=2 SECRET=x PATH=/tmp LD_PRELOAD=/x.so"}, "",
			[]string{"env"}, result{stdout: "GIT_PROTOCOL=version=2\nLANG=C.UTF-8\nLC_ALL=C\n"}},
		{"who", nil, "", []string{"who"}, result{stdout: "name=bob admin=false cert=false fp=" + k.fp + "\n"}},
		{"panicking handler", nil, "", []string{"panic"}, result{"before\n", "internal error\n", 255}},
		{"after the panic", nil, "", []string{"exit", "0"}, result{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := ts.ssh(t, sshOpts{identities: id, args: c.args, stdin: c.stdin}, c.remote...)
			if r != c.want {
				t.Fatalf("got %v, want %v", r, c.want)
			}
		})
	}

	t.Run("remote forwarding refused (-R)", func(t *testing.T) {
		r := ts.ssh(t, sshOpts{identities: id, args: []string{"-N", "-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"}})
		if r.code != 255 || !strings.Contains(r.stderr, "forwarding failed") {
			t.Fatalf("got %v", r)
		}
	})

	t.Run("local forwarding refused (-L)", func(t *testing.T) {
		port := freePort(t)
		cmd, _, stderr := ts.sshCmd(t, sshOpts{identities: id,
			args: []string{"-N", "-o", "ExitOnForwardFailure=yes", "-L", strconv.Itoa(port) + ":" + ts.addr}})
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		var fwd net.Conn
		if !waitFor(10*time.Second, func() bool {
			var err error
			fwd, err = net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
			return err == nil
		}) {
			t.Fatalf("ssh -L never listened: %s", stderr)
		}
		defer fwd.Close()
		// A forwarded connection would carry this server's own banner.
		if got := expectClosed(t, fwd, 10*time.Second); got != "" {
			t.Fatalf("the forwarded connection got %q", got)
		}
	})
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// A command that prints nothing for longer than IdleTimeout survives while
// the client answers keepalives (OpenSSH and x/crypto both do).
func TestSilentCommandOutlivesIdleTimeout(t *testing.T) {
	requireOpenSSH(t)
	ts := startServer(t, Config{IdleTimeout: 100 * time.Millisecond, KeepaliveInterval: 50 * time.Millisecond, KeepaliveCountMax: 40}, Handlers{})
	k := keygen(t, t.TempDir(), "bob", "ed25519")
	ts.keys.add("bob", k.pub)
	if r := ts.ssh(t, sshOpts{identities: []string{k.priv}}, "sleep", "1s"); r != (result{stdout: "done\n"}) {
		t.Fatalf("got %v", r)
	}
	u := newSigner(t)
	ts.keys.add("u", u.PublicKey())
	if r := run(t, ts.mustDial(t, u), "", "sleep 1s"); r != (result{stdout: "done\n"}) {
		t.Fatalf("x/crypto: got %v", r)
	}
}
