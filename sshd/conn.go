package sshd

import (
	"net"
	"slices"
	"strings"
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
		// Refused: admit closed it, or holds it in the tarpit.
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

	seq        uint64    // admission order
	admittedAt time.Time // TCP accept
	// Guarded by s.mu, not mu.
	pending  bool // in the unauthenticated budget
	released bool // out of every count

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

// Admission. Connections before authentication ("unauthenticated") have a
// budget of their own, MaxUnauthenticated, inside MaxConnections: a flood of
// connections that never authenticate fills that budget, not the server.
// When the budget (or MaxConnections) is full, a new connection is still
// admitted and an unauthenticated one is closed to make room (evict): the
// oldest one of the address that holds the most unauthenticated
// connections. A new connection from an address that already has some is
// refused instead when admitting it would not leave its address below that
// one (the two would swap places, or it would replace its own): that would
// only churn, and a refusal costs an accept and a close (after the tarpit,
// tarpit.go) where an admission costs a goroutine and a handshake. So a
// client from an address with no pending connection always gets in, and is
// never the one closed while a flooding address holds more; when every
// address holds one, the oldest goes first. A connection is also refused
// when its own address is at MaxConnectionsPerIP, when every slot is held
// by an authenticated connection, and during shutdown.
//
// Why a connection was refused (refuse) or closed to make room (evict):
// the values of the "reason" attribute of their log lines.
const (
	reasonShuttingDown        = "shutting_down"
	reasonMaxConnections      = "max_connections"        // refused: every slot authenticated; evicted: all slots in use
	reasonMaxConnectionsPerIP = "max_connections_per_ip" // refused: the address is at its limit
	// refused: the unauthenticated budget (or every slot) is full and the
	// address holds the largest share of it; evicted: the budget is full.
	reasonMaxUnauthenticated = "max_unauthenticated"
)

// admit applies the connection limits and tunes the socket; nil: refused.
func (s *Server) admit(nc net.Conn) *conn {
	ip := remoteIP(nc.RemoteAddr())
	s.mu.Lock()
	var reason string
	switch {
	case s.closing:
		reason = reasonShuttingDown
	case over(s.perIP[ip], s.cfg.MaxConnectionsPerIP):
		reason = reasonMaxConnectionsPerIP
	case over(len(s.conns), s.cfg.MaxConnections) && s.unauth == 0:
		reason = reasonMaxConnections
	}
	if reason != "" {
		total, perIP := len(s.conns), s.perIP[ip]
		s.mu.Unlock()
		s.refuse(nc, reason, total, perIP)
		return nil
	}
	var victim *conn
	switch {
	case over(s.unauth, s.cfg.MaxUnauthenticated):
		victim, reason = s.evictionVictim(), reasonMaxUnauthenticated
	case over(len(s.conns), s.cfg.MaxConnections):
		victim, reason = s.evictionVictim(), reasonMaxConnections
	}
	if n := len(s.unauthByIP[ip]); victim != nil && n > 0 && n+1 >= len(s.unauthByIP[victim.ip]) {
		total, perIP := len(s.conns), s.perIP[ip]
		s.mu.Unlock()
		s.refuseFlooder(nc, reason, total, perIP)
		return nil
	}
	if victim != nil {
		s.release(victim)
	}
	s.seq++
	now := time.Now()
	c := &conn{Conn: nc, s: s, ip: ip, seq: s.seq, admittedAt: now, idleSince: now, pending: true}
	s.conns[c] = struct{}{}
	s.perIP[ip]++
	s.unauthByIP[ip] = append(s.unauthByIP[ip], c)
	s.unauth++
	unauth := s.unauth
	s.mu.Unlock()
	if victim != nil {
		s.evict(victim, reason, unauth)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		// Small request/response exchanges (a command's round trip) must not
		// wait for delayed ACKs (Go turns Nagle off on every TCP connection).
		if raw, err := tc.SyscallConn(); err == nil {
			c.raw = raw
			c.quickAck()
		}
	}
	return c
}

// refuse closes a connection admission turned away, before a byte was sent
// (a flooding address's after its time in the tarpit). The log lines are
// thinned out under a flood: one per reason every ten seconds, then a count.
func (s *Server) refuse(nc net.Conn, reason string, total, perIP int) {
	s.refuseConn(nc, reason, total, perIP, false)
}

// refuseFlooder refuses a connection from an address that holds the largest
// share of a full budget (reason says which: the unauthenticated one, or
// every slot): it waits in the tarpit before its reset.
func (s *Server) refuseFlooder(nc net.Conn, reason string, total, perIP int) {
	s.refuseConn(nc, reason, total, perIP, true)
}

func (s *Server) refuseConn(nc net.Conn, reason string, total, perIP int, flooder bool) {
	// Counted before the client can see the reset.
	s.connRefused(reason)
	if !flooder || !s.tarpit(nc) { // see tarpit.go
		reset(nc)
	}
	if reason == reasonShuttingDown || !s.admitLogs.allow(logRefused+reason) {
		return
	}
	s.log.Warn("connection refused: limit reached", "remote", addrString(nc.RemoteAddr()), "reason", reason,
		"connections", total, "max_connections", s.cfg.MaxConnections,
		"connections_from_ip", perIP, "max_connections_per_ip", s.cfg.MaxConnectionsPerIP)
}

// evict closes an unauthenticated connection admission released to make
// room for a new one. Logged like refusals.
func (s *Server) evict(c *conn, reason string, unauth int) {
	s.connEvicted(reason)
	_ = c.Close()
	if !s.admitLogs.allow(logEvicted + reason) {
		return
	}
	s.log.Warn("unauthenticated connection closed to make room", "remote", addrString(c.RemoteAddr()), "reason", reason,
		"age", time.Since(c.admittedAt).Round(time.Millisecond).String(),
		"unauthenticated", unauth, "max_unauthenticated", s.cfg.MaxUnauthenticated)
}

// Keys of admitLogs: what happened, then the reason.
const (
	logRefused = "refused "
	logEvicted = "evicted "
)

// admitSummary is the line for refusals or evictions admitLogs held back.
func (s *Server) admitSummary(key string, n int, since time.Time) {
	msg := "connections refused, not logged one by one"
	reason, evicted := strings.CutPrefix(key, logEvicted)
	if !evicted {
		reason = strings.TrimPrefix(key, logRefused)
	} else {
		msg = "unauthenticated connections closed to make room, not logged one by one"
	}
	s.log.Warn(msg, "reason", reason, "count", n, "since", since.UTC().Format(time.RFC3339))
}

// evictionVictim picks the unauthenticated connection to close: the oldest
// of the address holding the most (ties: the address whose oldest is
// oldest). Called with s.mu held and s.unauth > 0.
func (s *Server) evictionVictim() *conn {
	var victim *conn
	most := 0
	for _, cs := range s.unauthByIP {
		if len(cs) > most || (len(cs) == most && cs[0].seq < victim.seq) {
			victim, most = cs[0], len(cs)
		}
	}
	return victim
}

// release takes a connection out of every count, once. Called with s.mu
// held.
func (s *Server) release(c *conn) {
	if c.released {
		return
	}
	c.released = true
	delete(s.conns, c)
	if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
		delete(s.perIP, c.ip)
	}
	s.leaveUnauthenticated(c)
}

// leaveUnauthenticated takes c out of the unauthenticated budget (it
// authenticated, or is gone). Called with s.mu held.
func (s *Server) leaveUnauthenticated(c *conn) {
	if !c.pending {
		return
	}
	c.pending = false
	s.unauth--
	cs := s.unauthByIP[c.ip]
	if i := slices.Index(cs, c); i >= 0 {
		cs = slices.Delete(cs, i, i+1)
	}
	if len(cs) == 0 {
		delete(s.unauthByIP, c.ip)
	} else {
		s.unauthByIP[c.ip] = cs
	}
}

// authenticated moves c from the unauthenticated budget to the
// authenticated connections.
// authenticated takes c out of the unauthenticated budget once it has
// logged in; false when admission had already released it to make room (it
// is being closed), which the login must not outlive.
func (s *Server) authenticated(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.released {
		return false
	}
	s.leaveUnauthenticated(c)
	return true
}

// over reports whether n in use reaches limit (a negative limit: none).
func over(n, limit int) bool { return limit >= 0 && n >= limit }

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
	sc := c.serverConnLocked()
	c.mu.Unlock()
	if first && sc != nil {
		go c.s.logTransportEnd(sc, addrString(c.RemoteAddr()))
	}
	if first {
		s := c.s
		if unverified != nil {
			// An acceptable key was offered but the connection ended without
			// a valid signature for any key: a failed attempt with that key
			// (a forged signature, or a client that could not sign). Told
			// before the slot is released, so that once Stats no longer
			// counts the connection its attempts are all accounted for.
			s.authFailed(c.RemoteAddr(), "remote", addrString(c.RemoteAddr()), "user", unverified.user,
				"key_type", unverified.keyType, "fingerprint", unverified.fingerprint,
				"accepted", false, "reason", "no valid signature before the connection ended")
			s.authAttempt("publickey", false)
		}
		s.mu.Lock()
		s.release(c)
		s.mu.Unlock()
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
