package sshd

import (
	"net"
	"sync"
	"syscall"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// listener admits connections in the accept loop itself, before charm
// starts a goroutine or the handshake sends a byte: over MaxConnections or
// MaxConnectionsPerIP the TCP connection is closed at once.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if c := l.s.admit(nc); c != nil {
			return c, nil
		}
		_ = nc.Close()
	}
}

// conn is one admitted connection: its slots in the limits, its sessions,
// its keepalive state. It wraps the net.Conn charm serves.
type conn struct {
	net.Conn
	s   *Server
	ip  string
	raw syscall.RawConn // TCP socket, for TCP_QUICKACK; nil otherwise
	// ahead holds bytes read from the socket but not yet returned, while
	// x/crypto reads the client's version line one byte at a time (see
	// Read); nil the rest of the connection's life.
	ahead []byte

	wmu      sync.Mutex // orders writes against the writes held back (hold)
	batching bool
	batch    []byte

	mu        sync.Mutex
	ctx       ssh.Context // charm's connection context, from connStarted
	timer     *time.Timer // keepalive and idle checks
	sessions  int
	idleSince time.Time // when sessions last dropped to 0 (or accept)
	probing   bool      // a keepalive is in flight
	missed    int       // keepalive ticks that found the last probe unanswered
	answered  int       // probes answered, ever
	closed    bool
	authed    bool
	offer     *offer // the last key whose offer was acceptable, until a signature verifies
}

// offer is what is known of an acceptable key offer, for the log line when
// no valid signature follows.
type offer struct{ user, keyType, fingerprint string }

// admit applies the connection limits and tunes the socket; nil: refused.
func (s *Server) admit(nc net.Conn) *conn {
	ip := remoteIP(nc.RemoteAddr())
	s.mu.Lock()
	if s.closing || over(len(s.conns), s.cfg.MaxConnections) || over(s.perIP[ip], s.cfg.MaxConnectionsPerIP) {
		closing := s.closing
		total, perIP := len(s.conns), s.perIP[ip]
		var suppressed int
		var log bool
		if !closing {
			log, suppressed = s.refusals.allow(time.Now())
		}
		s.mu.Unlock()
		if log {
			s.log.Warn("connection refused: limit reached", "remote", addrString(nc.RemoteAddr()),
				"connections", total, "max_connections", s.cfg.MaxConnections,
				"connections_from_ip", perIP, "max_connections_per_ip", s.cfg.MaxConnectionsPerIP,
				"refusals_not_logged", suppressed)
		}
		return nil
	}
	c := &conn{Conn: nc, s: s, ip: ip, idleSince: time.Now()}
	s.conns[c] = struct{}{}
	s.perIP[ip]++
	s.mu.Unlock()
	if tc, ok := nc.(*net.TCPConn); ok {
		// Small request/response exchanges (a command's round trip) must not
		// wait for Nagle or for delayed ACKs on either side.
		_ = tc.SetNoDelay(true)
		if raw, err := tc.SyscallConn(); err == nil {
			c.raw = raw
			c.quickAck()
		}
	}
	return c
}

// over reports whether n in use reaches limit (a negative limit: none).
func over(n, limit int) bool { return limit >= 0 && n >= limit }

// refusalLog limits the "limit reached" lines to one a second, so a flood
// of connections does not become a flood of log lines.
type refusalLog struct {
	last       time.Time
	suppressed int
}

func (r *refusalLog) allow(now time.Time) (bool, int) {
	if now.Sub(r.last) < time.Second {
		r.suppressed++
		return false, 0
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	return true, n
}

// connStarted runs on charm's connection goroutine before the handshake:
// it ties the connection to charm's context and starts its timer.
func (s *Server) connStarted(ctx ssh.Context, nc net.Conn) net.Conn {
	c, ok := nc.(*conn)
	if !ok { // not from our listener (charm's HandleConn called directly)
		if c = s.admit(nc); c == nil {
			return nil
		}
	}
	ctx.SetValue(connKey{}, c)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.ctx = ctx
	if d := c.tickInterval(); d > 0 {
		c.timer = time.AfterFunc(d, c.tick)
	}
	return c
}

type connKey struct{}

func connFromContext(ctx ssh.Context) *conn {
	c, _ := ctx.Value(connKey{}).(*conn)
	return c
}

// readAhead is how much one small read takes from the socket: the client's
// version line (at most 255 bytes) and what follows it in the same flight.
const readAhead = 512

// Read re-arms TCP_QUICKACK after each read from the socket: Linux leaves
// quick-ACK mode on its own, and a client waiting on a delayed ACK (40 ms)
// before its next packet would lose that on every round trip.
//
// x/crypto reads the version line a byte at a time, which would be two
// system calls (read, setsockopt) per byte; a small read takes up to
// readAhead bytes instead and the following reads are served from them.
// Later reads come from x/crypto's own 4 KiB buffer and go straight through.
// Only one goroutine reads a connection at a time (x/crypto's reader).
func (c *conn) Read(p []byte) (int, error) {
	if len(c.ahead) > 0 {
		n := copy(p, c.ahead)
		c.ahead = c.ahead[n:]
		if len(c.ahead) == 0 {
			c.ahead = nil
		}
		return n, nil
	}
	if len(p) >= readAhead {
		n, err := c.Conn.Read(p)
		if n > 0 && c.raw != nil {
			c.quickAck()
		}
		return n, err
	}
	buf := make([]byte, readAhead)
	n, err := c.Conn.Read(buf)
	if n > 0 && c.raw != nil {
		c.quickAck()
	}
	m := copy(p, buf[:n])
	if m < n {
		c.ahead = buf[m:n]
		err = nil // the error comes again on the read after the buffered bytes
	}
	return m, err
}

func (c *conn) quickAck() {
	_ = c.raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	})
}

// Close releases the connection's slots (once) and closes the socket.
func (c *conn) Close() error {
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	unverified := c.offer
	if c.authed {
		unverified = nil
	}
	c.mu.Unlock()
	if first {
		s := c.s
		s.mu.Lock()
		delete(s.conns, c)
		if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
			delete(s.perIP, c.ip)
		}
		s.mu.Unlock()
		if unverified != nil {
			// An acceptable key was offered but the connection ended without
			// a valid signature for any key: a failed attempt with that key
			// (a forged signature, or a client that could not sign).
			s.log.Info("auth attempt", "remote", addrString(c.RemoteAddr()), "user", unverified.user,
				"key_type", unverified.keyType, "fingerprint", unverified.fingerprint,
				"accepted", false, "reason", "no valid signature before the connection ended")
		}
	}
	return c.Conn.Close()
}

// sessionStarted counts a session channel in, within MaxSessionsPerConn.
func (c *conn) sessionStarted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if over(c.sessions, c.s.cfg.MaxSessionsPerConn) {
		return false
	}
	c.sessions++
	return true
}

// sessionEnded counts a session out; the connection closes when it was the
// last one during a shutdown.
func (c *conn) sessionEnded() {
	c.mu.Lock()
	c.sessions--
	last := c.sessions == 0
	if last {
		c.idleSince = time.Now()
		if c.timer != nil && c.s.cfg.KeepaliveInterval <= 0 {
			c.timer.Reset(c.s.cfg.IdleTimeout) // no keepalive tick to notice sooner
		}
	}
	c.mu.Unlock()
	if last && c.s.isClosing() {
		_ = c.Close()
	}
}

func (c *conn) sessionCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions
}

// tickInterval is how often tick runs: the keepalive interval, or the idle
// timeout when keepalives are off (0: neither is on).
func (c *conn) tickInterval() time.Duration {
	cfg := &c.s.cfg
	switch {
	case cfg.KeepaliveInterval > 0 && cfg.IdleTimeout > 0:
		return min(cfg.KeepaliveInterval, cfg.IdleTimeout)
	case cfg.KeepaliveInterval > 0:
		return cfg.KeepaliveInterval
	case cfg.IdleTimeout > 0:
		return cfg.IdleTimeout
	}
	return 0
}

// tick runs on its own timer goroutine every tickInterval: it closes the
// connection when it has been without sessions for IdleTimeout, or when
// KeepaliveCountMax probes in a row went unanswered, and otherwise sends the
// next keepalive@openssh.com probe and waits for its answer. Only answers
// to probes count as signs of life (not other traffic: a client with a
// silent session is alive as long as it answers), and an answer never makes
// a connection without sessions less idle. Idle connections cost no
// goroutine between ticks.
func (c *conn) tick() {
	defer c.s.recoverLog("keepalive")
	cfg := &c.s.cfg
	now := time.Now()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	sc, _ := c.ctx.Value(ssh.ContextKeyConn).(*gossh.ServerConn)
	if sc == nil { // still in the handshake: HandshakeTimeout covers it
		c.timer.Reset(c.tickInterval())
		c.mu.Unlock()
		return
	}
	var reason string
	switch {
	case cfg.IdleTimeout > 0 && c.sessions == 0 && now.Sub(c.idleSince) >= cfg.IdleTimeout:
		reason = "idle"
	case cfg.KeepaliveInterval > 0 && c.probing:
		c.missed++
		if c.missed >= cfg.KeepaliveCountMax {
			reason = "keepalives unanswered"
		}
	}
	if reason != "" {
		missed := c.missed
		c.mu.Unlock()
		c.s.log.Info("closing connection", "remote", addrString(c.RemoteAddr()), "reason", reason, "missed_keepalives", missed)
		_ = c.Close()
		return
	}
	next := c.tickInterval()
	if cfg.IdleTimeout > 0 && c.sessions == 0 {
		next = min(next, max(cfg.IdleTimeout-now.Sub(c.idleSince), time.Millisecond))
	}
	c.timer.Reset(next)
	probe := cfg.KeepaliveInterval > 0 && !c.probing
	c.probing = c.probing || probe
	c.mu.Unlock()
	if !probe {
		return
	}
	// Blocks until the client answers (success or failure both mean it is
	// alive) or the connection closes.
	_, _, err := sc.SendRequest("keepalive@openssh.com", true, nil)
	c.mu.Lock()
	c.probing = false
	if err == nil {
		c.missed = 0
		c.answered++
	}
	c.mu.Unlock()
}

func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(addrString(a))
	if err != nil {
		return addrString(a)
	}
	return host
}
