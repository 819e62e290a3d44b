package sshd

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// floodConns opens perSource idle TCP connections from each source address
// that never send a byte, and returns once the server has dealt with every
// one of them (sent its banner, or closed it). They stay open until the
// test ends, unless the server closes them.
func floodConns(t *testing.T, addr string, sources []string, perSource int) []net.Conn {
	t.Helper()
	var out []net.Conn
	for range perSource {
		for _, src := range sources {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				continue // refused while connecting: dealt with
			}
			t.Cleanup(func() { c.Close() })
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = bufio.NewReader(c).ReadString('\n')
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("flood connection from %s: no banner and not closed", src)
			}
			c.SetReadDeadline(time.Time{})
			out = append(out, c)
		}
	}
	return out
}

// unauthenticated is the server's count of unauthenticated connections, in
// all and from ip.
func (ts *testServer) unauthenticated(ip string) (all, from int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.unauth, len(ts.unauthByIP[ip])
}

// A flood of idle connections from a few addresses, larger than every
// limit, leaves room for a real ssh command from another address, and for
// the authenticated connections already open (regression: the flood held
// every slot until the handshake timeout; the command got "Connection
// reset").
func TestPreAuthFloodLeavesRoom(t *testing.T) {
	requireOpenSSH(t)
	ts := startServer(t, Config{MaxConnections: 24, MaxConnectionsPerIP: 8, MaxUnauthenticated: 6}, Handlers{})
	k := keygen(t, t.TempDir(), "bob", "ed25519")
	ts.keys.add("bob", k.pub)
	signer := newSigner(t)
	ts.keys.add("carol", signer.PublicKey())
	authed := ts.mustDial(t, signer)

	flood := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}
	floodConns(t, ts.addr, flood, 8) // 32 connections, the per-address limit of each

	if all, _ := ts.unauthenticated(""); all > 6 {
		t.Errorf("%d unauthenticated connections held, budget 6", all)
	}
	if r := ts.ssh(t, sshOpts{identities: []string{k.priv}}, "exit", "0"); r.code != 0 {
		t.Fatalf("ssh during the flood: %v", r)
	}
	if r := run(t, authed, "", "exit 3"); r.code != 3 {
		t.Fatalf("authenticated connection during the flood: %v", r)
	}
	// The flood keeps coming: still room.
	floodConns(t, ts.addr, flood, 4)
	if r := ts.ssh(t, sshOpts{identities: []string{k.priv}}, "exit", "0"); r.code != 0 {
		t.Fatalf("ssh during the second wave: %v", r)
	}
	if len(ts.log.find("unauthenticated connection closed to make room", map[string]string{"reason": reasonMaxUnauthenticated})) == 0 {
		t.Error("no eviction logged")
	}
	// Still per address: each flooding address is at most at its limit.
	ts.mu.Lock()
	for _, ip := range flood {
		if n := ts.perIP[ip]; n > 8 {
			t.Errorf("%s holds %d connections, limit 8", ip, n)
		}
	}
	ts.mu.Unlock()
}

// When the unauthenticated budget is full, the connection closed to make
// room is the oldest of the address holding the most; a client from an
// address of its own is never the one closed while another holds more, and
// new connections from a flooding address are refused rather than let
// churn the budget.
func TestPreAuthEvictionChoice(t *testing.T) {
	ts := startServer(t, Config{MaxUnauthenticated: 4}, Handlers{})
	alone := holdConns(t, ts.addr, 1, "127.0.0.9")[0]
	flood := floodConns(t, ts.addr, []string{"127.0.0.2", "127.0.0.3"}, 10)
	if all, from := ts.unauthenticated("127.0.0.9"); all != 4 || from != 1 {
		t.Fatalf("unauthenticated: %d in all, %d from the lone address; want 4, 1", all, from)
	}
	_, a := ts.unauthenticated("127.0.0.2")
	_, b := ts.unauthenticated("127.0.0.3")
	if a+b != 3 || a > 2 || b > 2 {
		t.Errorf("flooding addresses hold %d and %d, want a fair 3 between them", a, b)
	}
	// The lone client's connection is open and working: its handshake can
	// go on.
	if _, err := fmt.Fprintf(alone, "SSH-2.0-test\r\n"); err != nil {
		t.Fatal(err)
	}
	alone.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := alone.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
		t.Fatalf("the lone address's connection was closed: %v", err)
	}
	// Most of the flood was turned away at once.
	open := 0
	for _, c := range flood {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); isTimeout(err) {
			open++
		}
	}
	if open > 3 {
		t.Errorf("%d flood connections still open, want at most 3", open)
	}
	if len(ts.log.find("connection refused: limit reached", map[string]string{"reason": reasonMaxUnauthenticated})) == 0 {
		t.Error("no refusal logged")
	}
	// A newcomer from a third address gets in, by closing the oldest of a
	// flooding address.
	holdConns(t, ts.addr, 1, "127.0.0.7")
	if all, from := ts.unauthenticated("127.0.0.9"); all != 4 || from != 1 {
		t.Fatalf("after a newcomer: %d in all, %d from the lone address; want 4, 1", all, from)
	}
}

// A connection refused for flooding is held silent in the tarpit (so the
// flood cannot reconnect at once), within its bound, and reset when the
// delay passes or at shutdown; other refusals are immediate.
func TestTarpit(t *testing.T) {
	ts := startServer(t, Config{MaxUnauthenticated: 2}, Handlers{}, func(s *Server) {
		s.tarpitDelay = time.Hour
		s.tarpitMax = 2
	})
	holdConns(t, ts.addr, 2, "127.0.0.2") // the budget
	dial := func(src string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	heldCount := func() int {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return len(ts.held)
	}
	var tarpitted []net.Conn
	for i := range 2 {
		tarpitted = append(tarpitted, dial("127.0.0.2"))
		if !waitFor(10*time.Second, func() bool { return heldCount() == i+1 }) {
			t.Fatalf("refused connection %d not held", i+1)
		}
	}
	// Past the bound: refused at once.
	refusedBeforeHandshake(t, ts.addr, "127.0.0.2")
	for _, c := range tarpitted {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if n, err := c.Read(make([]byte, 1)); !isTimeout(err) {
			t.Fatalf("a held connection got %d bytes, %v; want silence", n, err)
		}
	}
	// Shutdown resets them.
	ts.Shutdown(t.Context())
	for _, c := range tarpitted {
		expectClosed(t, c, 10*time.Second)
	}
	if n := heldCount(); n != 0 {
		t.Errorf("%d connections still held after shutdown", n)
	}

	// The delay passes: reset.
	ts2 := startServer(t, Config{MaxUnauthenticated: 1}, Handlers{}, func(s *Server) { s.tarpitDelay = 50 * time.Millisecond })
	holdConns(t, ts2.addr, 1, "127.0.0.2")
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	c, err := d.Dial("tcp", ts2.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := expectClosed(t, c, 10*time.Second); got != "" {
		t.Fatalf("held connection got %q", got)
	}

	// Over the per-address limit: refused at once, not held.
	ts3 := startServer(t, Config{MaxConnectionsPerIP: 1}, Handlers{}, func(s *Server) { s.tarpitDelay = time.Hour })
	holdConns(t, ts3.addr, 1, "127.0.0.4")
	refusedBeforeHandshake(t, ts3.addr, "127.0.0.4")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Failed authentication under a flood of attempts: per address, the first
// attempts are logged one by one, the rest are counted into one summary
// line, and a successful login is always logged (regression: one line per
// attempt, 30,000 lines in 40 s from one bot).
func TestAuthLogFloodAggregated(t *testing.T) {
	ts := startServer(t, Config{}, Handlers{})
	ts.authLogs.set(authLogBurst, time.Hour) // one window for the whole test
	good := newSigner(t)
	ts.keys.add("bob", good.PublicKey())
	stranger := newSigner(t)

	dialFrom := func(src string, auth gossh.AuthMethod) error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
		nc, err := d.Dial("tcp", ts.addr)
		if err != nil {
			return err
		}
		defer nc.Close()
		c, chans, reqs, err := gossh.NewClientConn(nc, ts.addr, &gossh.ClientConfig{
			User: "dokku", Auth: []gossh.AuthMethod{auth}, HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		})
		if err != nil {
			return err
		}
		gossh.NewClient(c, chans, reqs).Close()
		return nil
	}
	const attempts = 60
	for range attempts {
		if err := dialFrom("127.0.0.1", gossh.PublicKeys(stranger)); err == nil {
			t.Fatal("a stranger logged in")
		}
	}
	for range 3 {
		if err := dialFrom("127.0.0.2", gossh.PublicKeys(stranger)); err == nil {
			t.Fatal("a stranger logged in")
		}
	}
	if err := dialFrom("127.0.0.1", gossh.PublicKeys(good)); err != nil {
		t.Fatalf("login after the flood: %v", err)
	}
	// Shutdown writes the summaries still held.
	ts.Shutdown(t.Context())

	failed := func(ip string) (lines int) {
		for _, r := range ts.log.find("auth attempt", map[string]string{"accepted": "false"}) {
			if strings.HasPrefix(r.attrs["remote"], ip+":") {
				lines++
			}
		}
		return lines
	}
	summed := func(ip string) (lines, count int) {
		for _, r := range ts.log.find("auth attempts not logged one by one", map[string]string{"remote": ip}) {
			lines++
			var n int
			fmt.Sscan(r.attrs["count"], &n)
			count += n
		}
		return lines, count
	}
	if n := failed("127.0.0.1"); n != authLogBurst {
		t.Errorf("%d failed attempts from the flooding address logged one by one, want %d", n, authLogBurst)
	}
	if lines, n := summed("127.0.0.1"); lines != 1 || n != attempts-authLogBurst {
		t.Errorf("%d summary lines counting %d attempts, want 1 counting %d", lines, n, attempts-authLogBurst)
	}
	if n := failed("127.0.0.2"); n != 3 {
		t.Errorf("%d failed attempts from the other address logged, want all 3", n)
	}
	if lines, _ := summed("127.0.0.2"); lines != 0 {
		t.Errorf("summary for an address under its share")
	}
	if n := len(ts.log.find("auth attempt", map[string]string{"accepted": "true", "fingerprint": gossh.FingerprintSHA256(good.PublicKey())})); n != 1 {
		t.Errorf("%d lines for the successful login, want 1", n)
	}
}

// The limiter alone: bounded lines per key and interval, bounded keys, and
// every held line counted in a summary.
func TestLogLimiter(t *testing.T) {
	got := map[string]int{}
	l := newLogLimiter(2, time.Hour, 3, func(key string, n int, _ time.Time) { got[key] += n })
	written := map[string]int{}
	for i := range 100 {
		key := fmt.Sprintf("k%d", i%5) // five keys, room for three
		if l.allow(key) {
			written[key]++
		}
	}
	l.flush(time.Time{})
	total := 0
	for _, n := range written {
		total += n
	}
	for _, n := range got {
		total += n
	}
	if total != 100 {
		t.Errorf("%d written + summarised, want 100", total)
	}
	if written["k0"] != 2 || written["k1"] != 2 || written["k2"] != 2 || written["k3"]+written["k4"] != 2 {
		t.Errorf("written %v: want 2 for each of three keys, and 2 for the two past the bound together", written)
	}
	if len(l.windows) != 0 || l.timer != nil {
		t.Error("windows left after a full flush")
	}
}

// A flooding address refused because every slot is in use (no budget of
// its own for unauthenticated connections) is refused for that reason,
// not for a budget that is not full.
func TestFloodRefusalNamesTheFullLimit(t *testing.T) {
	ts := startServer(t, Config{MaxConnections: 4, MaxUnauthenticated: -1}, Handlers{})
	floodConns(t, ts.addr, []string{"127.0.0.2", "127.0.0.3"}, 10)
	if len(ts.log.find("connection refused: limit reached", map[string]string{"reason": reasonMaxConnections})) == 0 {
		t.Error("no refusal logged with reason max_connections")
	}
	if n := len(ts.log.find("connection refused: limit reached", map[string]string{"reason": reasonMaxUnauthenticated})); n != 0 {
		t.Errorf("%d refusals logged as max_unauthenticated, with no such budget", n)
	}
}
