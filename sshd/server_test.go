package sshd

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"dokku-sshd/keys"
)

// keyTable is test data standing in for the key store: a map of keys.
type keyTable struct {
	mu     sync.Mutex
	names  map[string]string // marshalled key -> name
	admins map[string]bool
}

func (k *keyTable) LookupKey(key gossh.PublicKey) (keys.Identity, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n, ok := k.names[string(key.Marshal())]
	return keys.Identity{Name: n, Fingerprint: gossh.FingerprintSHA256(key), Admin: k.admins[n]}, ok
}

func (k *keyTable) IsAdmin(name string) bool { return k.admins[name] }

func newSigner(t *testing.T) gossh.Signer {
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

type testServer struct {
	addr string
	srv  *Server
	kt   *keyTable
}

// echoIdentity prints who the session runs as, and what it was asked.
func echoIdentity(s *Session) int {
	switch s.RawCommand {
	case "panic":
		panic("boom")
	case "env":
		for k, v := range s.Env {
			io.WriteString(s.Stdout, k+"="+v+"\n")
		}
		return 0
	case "both":
		io.WriteString(s.Stdout, "out\n")
		io.WriteString(s.Stderr, "err\n")
		return 3
	case "wait":
		<-s.Context.Done()
		return 0
	case "read":
		b, _ := io.ReadAll(s.Stdin)
		s.Stdout.Write(b)
		return 0
	}
	io.WriteString(s.Stdout, "name="+s.Identity.Name+" admin="+map[bool]string{true: "yes", false: "no"}[s.Identity.Admin]+"\n")
	return 0
}

func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	kt := &keyTable{names: map[string]string{}, admins: map[string]bool{"admin": true}}
	cfg.HostKeyDir = t.TempDir()
	cfg.Keys = kt
	srv, err := New(cfg, Handlers{Command: echoIdentity})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return &testServer{addr: l.Addr().String(), srv: srv, kt: kt}
}

func (ts *testServer) authorize(name string, s gossh.Signer) {
	ts.kt.mu.Lock()
	defer ts.kt.mu.Unlock()
	ts.kt.names[string(s.PublicKey().Marshal())] = name
}

func dial(t *testing.T, addr, user string, auth ...gossh.AuthMethod) (*gossh.Client, error) {
	t.Helper()
	return gossh.Dial("tcp", addr, &gossh.ClientConfig{User: user, Auth: auth, HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
}

func runCmd(t *testing.T, c *gossh.Client, cmd string) (stdout, stderr string, code int) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var o, e bytes.Buffer
	s.Stdout, s.Stderr = &o, &e
	err = s.Run(cmd)
	var ee *gossh.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitStatus()
	case err != nil:
		t.Fatalf("run %q: %v", cmd, err)
	}
	return o.String(), e.String(), code
}

func TestAuthAndIdentity(t *testing.T) {
	ts := startServer(t, Config{})
	admin, user, stranger := newSigner(t), newSigner(t), newSigner(t)
	ts.authorize("admin", admin)
	ts.authorize("bob", user)

	c, err := dial(t, ts.addr, "dokku", gossh.PublicKeys(user))
	if err != nil {
		t.Fatal(err)
	}
	if out, _, code := runCmd(t, c, "who"); out != "name=bob admin=no\n" || code != 0 {
		t.Fatalf("identity = %q (%d)", out, code)
	}
	c.Close()
	if _, err := dial(t, ts.addr, "dokku", gossh.PublicKeys(stranger)); err == nil {
		t.Fatal("unknown key accepted")
	}
	if _, err := dial(t, ts.addr, "root", gossh.PublicKeys(user)); err == nil {
		t.Fatal("other login user accepted")
	}
}

// offerSigner offers one public key but signs with another key.
type offerSigner struct {
	offered gossh.PublicKey
	signer  gossh.Signer
}

func (o offerSigner) PublicKey() gossh.PublicKey { return o.offered }
func (o offerSigner) Sign(r io.Reader, data []byte) (*gossh.Signature, error) {
	return o.signer.Sign(r, data)
}

// TestAuthBypassOfferedKey is the CVE-2024-45337 regression: offering the
// admin's public key without its private key must neither authenticate nor
// lend its identity to another key.
func TestAuthBypassOfferedKey(t *testing.T) {
	ts := startServer(t, Config{})
	admin, user, attacker := newSigner(t), newSigner(t), newSigner(t)
	ts.authorize("admin", admin)
	ts.authorize("bob", user)

	if _, err := dial(t, ts.addr, "dokku", gossh.PublicKeys(offerSigner{admin.PublicKey(), attacker})); err == nil {
		t.Fatal("a signature by another key was accepted for the admin's key")
	}
	// Offer admin's key first (the server accepts the offer, the signature
	// then fails), then bob's. x/crypto's server drops the connection on a
	// bad signature; should a client get through, it must be bob, not admin.
	if c, err := dial(t, ts.addr, "dokku", gossh.PublicKeys(offerSigner{admin.PublicKey(), attacker}, user)); err == nil {
		defer c.Close()
		if out, _, _ := runCmd(t, c, "who"); out != "name=bob admin=no\n" {
			t.Fatalf("identity after offering the admin key = %q", out)
		}
	}
	// An offered but refused key followed by a good one: bob, not the first.
	c, err := dial(t, ts.addr, "dokku", gossh.PublicKeys(attacker, user))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if out, _, _ := runCmd(t, c, "who"); out != "name=bob admin=no\n" {
		t.Fatalf("identity = %q", out)
	}
}

func TestSessionBehaviour(t *testing.T) {
	ts := startServer(t, Config{MaxSessionsPerConn: 2})
	user := newSigner(t)
	ts.authorize("bob", user)
	c, err := dial(t, ts.addr, "dokku", gossh.PublicKeys(user))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	t.Run("exit status and separate streams", func(t *testing.T) {
		out, errOut, code := runCmd(t, c, "both")
		if out != "out\n" || errOut != "err\n" || code != 3 {
			t.Fatalf("stdout=%q stderr=%q code=%d", out, errOut, code)
		}
	})
	t.Run("panic is contained", func(t *testing.T) {
		_, errOut, code := runCmd(t, c, "panic")
		if code != 255 || !strings.Contains(errOut, "internal error") {
			t.Fatalf("panic: stderr=%q code=%d", errOut, code)
		}
		if out, _, _ := runCmd(t, c, "who"); out == "" {
			t.Fatal("server unusable after a panic")
		}
	})
	t.Run("env allow-list", func(t *testing.T) {
		s, _ := c.NewSession()
		defer s.Close()
		if err := s.Setenv("LANG", "C.UTF-8"); err != nil {
			t.Fatalf("LANG refused: %v", err)
		}
		if err := s.Setenv("LD_PRELOAD", "/x.so"); err == nil {
			t.Fatal("LD_PRELOAD accepted")
		}
		out, _ := s.Output("env")
		if string(out) != "LANG=C.UTF-8\n" {
			t.Fatalf("env = %q", out)
		}
	})
	t.Run("stdin to EOF", func(t *testing.T) {
		s, _ := c.NewSession()
		defer s.Close()
		s.Stdin = strings.NewReader("hello")
		out, err := s.Output("read")
		if err != nil || string(out) != "hello" {
			t.Fatalf("read = %q %v", out, err)
		}
	})
	t.Run("pty merges streams and translates newlines", func(t *testing.T) {
		s, _ := c.NewSession()
		defer s.Close()
		if err := s.RequestPty("xterm", 40, 80, gossh.TerminalModes{}); err != nil {
			t.Fatal(err)
		}
		var o, e bytes.Buffer
		s.Stdout, s.Stderr = &o, &e
		s.Run("both")
		if o.String() != "out\r\nerr\r\n" || e.Len() != 0 {
			t.Fatalf("stdout=%q stderr=%q", o.String(), e.String())
		}
	})
	t.Run("subsystem, agent and x11 refused", func(t *testing.T) {
		s, _ := c.NewSession()
		defer s.Close()
		if err := s.RequestSubsystem("sftp"); err == nil {
			t.Fatal("subsystem accepted")
		}
		ok, _ := s.SendRequest("auth-agent-req@openssh.com", true, nil)
		if ok {
			t.Fatal("agent forwarding accepted")
		}
	})
	t.Run("port forwarding refused", func(t *testing.T) {
		if _, err := c.Dial("tcp", ts.addr); err == nil {
			t.Fatal("direct-tcpip accepted")
		}
		if _, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
			t.Fatal("tcpip-forward accepted")
		}
	})
	t.Run("max sessions per connection", func(t *testing.T) {
		a, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if s, err := c.NewSession(); err == nil {
			s.Close()
			t.Fatal("third session accepted with MaxSessionsPerConn 2")
		}
	})
}

func TestConnectionLimitsBeforeAuth(t *testing.T) {
	ts := startServer(t, Config{MaxConnectionsPerIP: 2, HandshakeTimeout: 500 * time.Millisecond})
	user := newSigner(t)
	ts.authorize("bob", user)
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	// Admission runs on the server's accept goroutine: wait until both
	// connections hold their slots.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ts.srv.mu.Lock()
		n := ts.srv.perIP["127.0.0.1"]
		ts.srv.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("held connections not admitted (%d)", n)
		}
	}
	if _, err := dial(t, ts.addr, "dokku", gossh.PublicKeys(user)); err == nil {
		t.Fatal("third connection from one address accepted")
	}
	// The held connections send nothing: the handshake timeout closes them.
	for _, c := range held {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 1024)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatal("silent connection not closed by the handshake timeout")
				}
				break
			}
		}
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := dial(t, ts.addr, "dokku", gossh.PublicKeys(user))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slots not released: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestShutdownGrace(t *testing.T) {
	kt := &keyTable{names: map[string]string{}}
	srv, err := New(Config{HostKeyDir: t.TempDir(), Keys: kt}, Handlers{Command: echoIdentity})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(l)
	user := newSigner(t)
	kt.names[string(user.PublicKey().Marshal())] = "bob"
	c, err := dial(t, l.Addr().String(), "dokku", gossh.PublicKeys(user))
	if err != nil {
		t.Fatal(err)
	}
	s, _ := c.NewSession()
	in, _ := s.StdinPipe()
	var out bytes.Buffer
	s.Stdout = &out
	if err := s.Start("read"); err != nil {
		t.Fatal(err)
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	time.Sleep(200 * time.Millisecond)
	if _, err := dial(t, l.Addr().String(), "dokku", gossh.PublicKeys(user)); err == nil {
		t.Fatal("new connection accepted during shutdown")
	}
	in.Write([]byte("finish"))
	in.Close()
	if err := s.Wait(); err != nil || out.String() != "finish" {
		t.Fatalf("running session did not finish: %v %q", err, out.String())
	}
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}
