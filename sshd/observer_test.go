package sshd

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// events counts what the server tells its Observer.
type events struct {
	mu sync.Mutex
	n  map[string]int
}

func (e *events) add(k string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n == nil {
		e.n = map[string]int{}
	}
	e.n[k]++
}

func (e *events) get(k string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.n[k]
}

func (e *events) ConnRefused(reason string) { e.add("refused " + reason) }
func (e *events) AuthAttempt(method string, accepted bool) {
	e.add(fmt.Sprintf("auth %s %v", method, accepted))
}
func (e *events) ConnEvicted(reason string)  { e.add("evicted " + reason) }
func (e *events) SessionStarted(kind string) { e.add("session " + kind) }

// wait waits until event k was told want times.
func (e *events) wait(t *testing.T, k string, want int) {
	t.Helper()
	if !waitFor(10*time.Second, func() bool { return e.get(k) == want }) {
		t.Fatalf("%q told %d times, want %d", k, e.get(k), want)
	}
}

func waitStats(t *testing.T, s *Server, want Stats) {
	t.Helper()
	if !waitFor(10*time.Second, func() bool { return s.Stats() == want }) {
		t.Fatalf("Stats() = %+v, want %+v", s.Stats(), want)
	}
}

// The observer hears of every login attempt once (accepted, refused key,
// offered key never signed for), of sessions by kind, of refusals and
// evictions by reason; Stats counts open and unauthenticated connections.
func TestObserver(t *testing.T) {
	ev := &events{}
	ts := startServer(t, Config{MaxConnectionsPerIP: 2, MaxUnauthenticated: 2, Observer: ev}, Handlers{})
	bob, stranger, attacker := newSigner(t), newSigner(t), newSigner(t)
	ts.keys.add("bob", bob.PublicKey())
	waitStats(t, ts.Server, Stats{})

	c := ts.mustDial(t, bob)
	ev.wait(t, "auth publickey true", 1)
	if r := run(t, c, "", "who"); r.code != 0 {
		t.Fatalf("who: %v", r)
	}
	ev.wait(t, "session command", 1)
	waitStats(t, ts.Server, Stats{Connections: 1})

	if c, err := ts.dial("dokku", stranger); err == nil {
		c.Close()
		t.Fatal("an unknown key was accepted")
	}
	ev.wait(t, "auth publickey false", 1)
	waitStats(t, ts.Server, Stats{Connections: 1}) // the per-address limit is 2
	// bob's key offered, signed by another: refused when the signature
	// fails, counted when the connection ends.
	if c, err := ts.dial("dokku", offerSigner{offered: bob.PublicKey(), signer: attacker}); err == nil {
		c.Close()
		t.Fatal("a forged signature was accepted")
	}
	ev.wait(t, "auth publickey false", 2)
	if n := ev.get("auth publickey true"); n != 1 {
		t.Errorf("accepted logins told %d times, want 1", n)
	}
	waitStats(t, ts.Server, Stats{Connections: 1})

	// Limits: bob's connection and one held in the handshake fill the
	// per-address limit.
	holdConns(t, ts.addr, 1, "")
	waitStats(t, ts.Server, Stats{Connections: 2, Unauthenticated: 1})
	refusedBeforeHandshake(t, ts.addr, "")
	ev.wait(t, "refused "+RefusedMaxConnectionsPerIP, 1)
	// One from another address fills the unauthenticated budget; a third
	// address gets in, the oldest unauthenticated connection makes room.
	holdConns(t, ts.addr, 1, "127.0.0.2")
	holdConns(t, ts.addr, 1, "127.0.0.3")
	ev.wait(t, "evicted "+RefusedMaxUnauthenticated, 1)
	waitStats(t, ts.Server, Stats{Connections: 3, Unauthenticated: 2})
	// An address that already holds one is refused rather than churn.
	refusedBeforeHandshake(t, ts.addr, "127.0.0.2")
	ev.wait(t, "refused "+RefusedMaxUnauthenticated, 1)
	if n := ev.get("refused " + RefusedMaxConnections); n != 0 {
		t.Errorf("refused for max_connections %d times, want 0", n)
	}
}

func TestAuthMethodLabel(t *testing.T) {
	for in, want := range map[string]string{
		"publickey": "publickey", "password": "password", "keyboard-interactive": "keyboard-interactive",
		"hostbased": "hostbased", "gssapi-with-mic": "gssapi-with-mic", "": "other", "x-anything\n": "other",
	} {
		if got := authMethodLabel(in); got != want {
			t.Errorf("authMethodLabel(%q) = %q, want %q", in, got, want)
		}
	}
}
