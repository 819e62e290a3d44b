package sshd

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// holdConns opens n raw TCP connections that never start the SSH
// handshake, each admitted (the server sent its banner).
func holdConns(t *testing.T, addr string, n int, local string) []net.Conn {
	t.Helper()
	var out []net.Conn
	for range n {
		d := net.Dialer{}
		if local != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
		}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		waitBanner(t, c)
		out = append(out, c)
	}
	return out
}

// refusedBeforeHandshake checks that a new connection is closed without a
// byte from the server.
func refusedBeforeHandshake(t *testing.T, addr, local string) {
	t.Helper()
	d := net.Dialer{}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return // refused outright is fine too
	}
	defer c.Close()
	if got := expectClosed(t, c, 10*time.Second); got != "" {
		t.Fatalf("connection over the limit got %q", got)
	}
}

func TestConnectionLimitsBeforeAuth(t *testing.T) {
	// Every slot held by an authenticated connection: nothing can be made
	// room for, so new connections are refused, from any address.
	t.Run("global", func(t *testing.T) {
		ts := startServer(t, Config{MaxConnections: 3}, Handlers{})
		user := newSigner(t)
		ts.keys.add("bob", user.PublicKey())
		c := ts.mustDial(t, user)
		ts.mustDial(t, user)
		ts.mustDial(t, user)
		refusedBeforeHandshake(t, ts.addr, "")
		refusedBeforeHandshake(t, ts.addr, "127.0.0.2")
		if _, err := ts.dial("dokku", user); err == nil {
			t.Fatal("a fourth connection was accepted")
		}
		if len(ts.log.find("connection refused: limit reached", map[string]string{"reason": reasonMaxConnections})) == 0 {
			t.Error("refusal not logged")
		}
		// Slots are released when connections close.
		c.Close()
		if !waitFor(10*time.Second, func() bool {
			c, err := ts.dial("dokku", user)
			if err == nil {
				c.Close()
			}
			return err == nil
		}) {
			t.Fatal("slots not released")
		}
	})

	t.Run("per address", func(t *testing.T) {
		ts := startServer(t, Config{MaxConnectionsPerIP: 2}, Handlers{})
		user := newSigner(t)
		ts.keys.add("bob", user.PublicKey())
		holdConns(t, ts.addr, 2, "127.0.0.1")
		refusedBeforeHandshake(t, ts.addr, "127.0.0.1")
		// Another address still gets in (Linux routes all of 127/8 to lo).
		other := holdConns(t, ts.addr, 1, "127.0.0.2")
		other[0].Close()
	})

	t.Run("OpenSSH over the limit", func(t *testing.T) {
		requireOpenSSH(t)
		ts := startServer(t, Config{MaxConnectionsPerIP: 1}, Handlers{})
		k := keygen(t, t.TempDir(), "bob", "ed25519")
		ts.keys.add("bob", k.pub)
		holdConns(t, ts.addr, 1, "")
		if r := ts.ssh(t, sshOpts{identities: []string{k.priv}}, "exit", "0"); r.code != 255 {
			t.Fatalf("got %v", r)
		}
	})
}

// A connection that sends nothing, or stops in the middle of the
// handshake, is closed after HandshakeTimeout.
func TestHandshakeTimeout(t *testing.T) {
	ts := startServer(t, Config{HandshakeTimeout: 300 * time.Millisecond}, Handlers{})
	silent := holdConns(t, ts.addr, 1, "")[0]
	expectClosed(t, silent, 10*time.Second)

	versionOnly := holdConns(t, ts.addr, 1, "")[0]
	io.WriteString(versionOnly, "SSH-2.0-slowloris\r\n")
	expectClosed(t, versionOnly, 10*time.Second)

	// Their slots are free again.
	if !waitFor(5*time.Second, func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return len(ts.conns) == 0
	}) {
		t.Fatal("connections still counted")
	}
}

// freezeProxy forwards TCP to the server until frozen; then nothing passes
// either way (a peer that vanished without a FIN).
type freezeProxy struct {
	l      net.Listener
	mu     sync.Mutex
	frozen bool
	thaw   chan struct{}
}

func newFreezeProxy(t *testing.T, target string) *freezeProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &freezeProxy{l: l, thaw: make(chan struct{})}
	t.Cleanup(func() { l.Close(); p.unfreeze() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			t.Cleanup(func() { c.Close(); s.Close() })
			go p.pipe(c, s)
			go p.pipe(s, c)
		}
	}()
	return p
}

func (p *freezeProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		frozen, thaw := p.frozen, p.thaw
		p.mu.Unlock()
		if frozen {
			<-thaw
		}
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

func (p *freezeProxy) freeze() {
	p.mu.Lock()
	p.frozen = true
	p.mu.Unlock()
}

func (p *freezeProxy) unfreeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.frozen = false
		close(p.thaw)
		p.thaw = make(chan struct{})
	}
}

// A client that stops answering keepalives is dropped even while its
// session runs (and the session's context is cancelled); a client that
// answers keeps a silent session open.
func TestKeepaliveDropsDeadClient(t *testing.T) {
	started, cancelled := make(chan struct{}, 1), make(chan struct{})
	ts := startServer(t, Config{KeepaliveInterval: 50 * time.Millisecond, KeepaliveCountMax: 4}, Handlers{Command: func(s *Session) int {
		started <- struct{}{}
		<-s.Context.Done()
		close(cancelled)
		return 0
	}})
	user := newSigner(t)
	ts.keys.add("bob", user.PublicKey())
	p := newFreezeProxy(t, ts.addr)
	ts.addr = p.l.Addr().String()
	c := ts.mustDial(t, user)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("x"); err != nil {
		t.Fatal(err)
	}
	<-started
	if !waitFor(5*time.Second, func() bool {
		return len(ts.log.find("closing connection", nil)) == 0 && keepalivesAnswered(ts)
	}) {
		t.Fatal("no keepalive answered")
	}
	p.freeze()
	select {
	case <-cancelled:
	case <-time.After(15 * time.Second):
		t.Fatal("session of an unresponsive client still running")
	}
	if len(ts.log.find("closing connection", map[string]string{"reason": "keepalives unanswered"})) != 1 {
		t.Error("no log line for the dropped connection")
	}
}

// keepalivesAnswered reports whether some connection had a probe answered
// (a probe went out and the missed count is back at 0 after it).
func keepalivesAnswered(ts *testServer) bool {
	ts.mu.Lock()
	var cs []*conn
	for c := range ts.conns {
		cs = append(cs, c)
	}
	ts.mu.Unlock()
	for _, c := range cs {
		c.mu.Lock()
		ok := c.answered > 0
		c.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}

// Connections without a session are closed after IdleTimeout, also after
// their sessions ended.
func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, Config{IdleTimeout: 200 * time.Millisecond, KeepaliveInterval: 50 * time.Millisecond}, Handlers{})
	user := newSigner(t)
	ts.keys.add("bob", user.PublicKey())
	for _, withSession := range []bool{false, true} {
		c, err := ts.dial("dokku", user)
		if err != nil {
			t.Fatal(err)
		}
		if withSession {
			if r := run(t, c, "", "exit 0"); r.code != 0 {
				t.Fatal(r)
			}
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatalf("idle connection (had a session: %v) still open", withSession)
		}
	}
	if n := len(ts.log.find("closing connection", map[string]string{"reason": "idle"})); n != 2 {
		t.Errorf("%d idle log lines, want 2", n)
	}

	// Keepalives off: the idle timer alone.
	ts2 := startServer(t, Config{IdleTimeout: 200 * time.Millisecond, KeepaliveInterval: -1}, Handlers{})
	ts2.keys.add("bob", user.PublicKey())
	c, err := ts2.dial("dokku", user)
	if err != nil {
		t.Fatal(err)
	}
	run(t, c, "", "exit 0")
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("idle connection still open without keepalives")
	}
}
