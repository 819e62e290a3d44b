// Package sshd is the transport: listener, host keys, authentication to an
// identity, limits, keepalives, and routing of each session to the git, command
// or TUI handler it is given. It knows nothing of what those handlers do.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"dokku-sshd/keys"
)

// Authorizer answers who a key is; keys.Store implements it.
type Authorizer interface {
	LookupKey(key gossh.PublicKey) (keys.Identity, bool)
	IsAdmin(name string) bool
}

// Config configures the server. Zero values get the defaults noted.
type Config struct {
	Listen              string     // ":2222"
	HostKeyDir          string     // required
	User                string     // "dokku"
	Keys                Authorizer // required
	TrustedUserCAKeys   []gossh.PublicKey
	HandshakeTimeout    time.Duration // 30s
	IdleTimeout         time.Duration // 10m: a connection without any session is closed after this
	KeepaliveInterval   time.Duration // 15s
	KeepaliveCountMax   int           // 3
	MaxConnections      int           // 1024, checked before the handshake
	MaxConnectionsPerIP int           // 64, checked before the handshake
	MaxSessionsPerConn  int           // 10
	ShutdownGrace       time.Duration // 30s
	Logger              *slog.Logger
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = ":2222"
	}
	if c.User == "" {
		c.User = "dokku"
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = 30 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.KeepaliveInterval == 0 {
		c.KeepaliveInterval = 15 * time.Second
	}
	if c.KeepaliveCountMax == 0 {
		c.KeepaliveCountMax = 3
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 1024
	}
	if c.MaxConnectionsPerIP == 0 {
		c.MaxConnectionsPerIP = 64
	}
	if c.MaxSessionsPerConn == 0 {
		c.MaxSessionsPerConn = 10
	}
	if c.ShutdownGrace == 0 {
		c.ShutdownGrace = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Window is a terminal size.
type Window struct{ Width, Height int }

// PTY describes the terminal a client asked for. No OS terminal is
// allocated: handlers that need one (container exec) pass these on.
type PTY struct {
	Term          string
	Width, Height int
	// Resize delivers window changes; only the newest is kept when the
	// handler does not read them, so the request loop never blocks.
	Resize <-chan Window
}

// Session is one exec or shell request of an authenticated client.
type Session struct {
	Context    context.Context // cancelled when the client closes the channel or disconnects
	Identity   keys.Identity
	RawCommand string // the exec command as sent; "" for a shell
	// Stdin, Stdout and Stderr are for line-oriented programs: with a PTY,
	// Stdin is cooked (echo, line editing, CR to LF, ^C cancels Context,
	// ^D ends input), Stdout turns LF into CRLF and Stderr writes to
	// Stdout (one merged stream, as on a terminal).
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Raw is the channel itself, for handlers that relay a terminal
	// (container exec with a TTY): no translation at all.
	Raw        io.ReadWriter
	PTY        *PTY
	Env        map[string]string // allow-listed variables only
	RemoteAddr net.Addr
}

// Handler serves a session and returns its exit status.
type Handler func(s *Session) int

// Handlers route sessions by what they ask for.
type Handlers struct {
	Command Handler // exec requests, and shells without a PTY
	Git     Handler // git-receive-pack, git-upload-pack, git-upload-archive; nil: Command
	TUI     Handler // shell with a PTY; nil: Command
}

// Server is the SSH server.
type Server struct {
	cfg      Config
	handlers Handlers
	srv      *ssh.Server
	signers  []gossh.Signer

	mu       sync.Mutex
	perIP    map[string]int
	conns    map[*connState]struct{}
	total    int
	closing  bool
	sessions sync.WaitGroup
	stopKA   chan struct{}
	kaOnce   sync.Once
}

// connState is what the server tracks of one connection.
type connState struct {
	net.Conn
	srv      *Server
	ip       string
	ctx      ssh.Context
	once     sync.Once
	sessions atomic.Int32
	idleFrom atomic.Int64 // unix nanos when the last session ended (or auth finished)
	missed   atomic.Int32 // unanswered keepalives
	probing  atomic.Bool
}

type ctxKey struct{}

// New loads (or creates) the host keys and prepares the server.
func New(cfg Config, h Handlers) (*Server, error) {
	cfg.defaults()
	if cfg.Keys == nil {
		return nil, errors.New("sshd: no key store")
	}
	if h.Command == nil {
		return nil, errors.New("sshd: no command handler")
	}
	signers, err := loadHostKeys(cfg.HostKeyDir, cfg.Logger)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, handlers: h, signers: signers, perIP: map[string]int{}, conns: map[*connState]struct{}{}, stopKA: make(chan struct{})}
	s.srv = &ssh.Server{
		Addr:             cfg.Listen,
		Version:          "dokku-sshd",
		HandshakeTimeout: cfg.HandshakeTimeout,
		PublicKeyHandler: s.authenticate,
		ConnCallback:     s.admit,
		ServerConfigCallback: func(ssh.Context) *gossh.ServerConfig {
			return &gossh.ServerConfig{VerifiedPublicKeyCallback: s.verified}
		},
		ChannelHandlers: map[string]ssh.ChannelHandler{"session": s.handleSession},
		// No RequestHandlers: tcpip-forward and every other global request
		// is refused; no LocalPortForwardingCallback: direct-tcpip refused.
		ConnectionFailedCallback: func(conn net.Conn, err error) {
			if !errors.Is(err, io.EOF) {
				cfg.Logger.Debug("handshake failed", "remote", conn.RemoteAddr().String(), "err", err)
			}
		},
	}
	for _, sg := range signers {
		s.srv.AddHostKey(sg)
	}
	go s.keepaliveLoop()
	return s, nil
}

// HostKeys returns the server's public host keys.
func (s *Server) HostKeys() []gossh.PublicKey {
	out := make([]gossh.PublicKey, len(s.signers))
	for i, sg := range s.signers {
		out[i] = sg.PublicKey()
	}
	return out
}

// Serve accepts connections on l until Shutdown.
func (s *Server) Serve(l net.Listener) error { return s.srv.Serve(l) }

// ListenAndServe listens on Config.Listen.
func (s *Server) ListenAndServe() error {
	l, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(l)
}

// admit enforces the connection limits before any SSH byte is read, and
// tunes the socket for latency.
func (s *Server) admit(ctx ssh.Context, c net.Conn) net.Conn {
	ip := remoteIP(c.RemoteAddr())
	s.mu.Lock()
	if s.closing || s.total >= s.cfg.MaxConnections || s.perIP[ip] >= s.cfg.MaxConnectionsPerIP {
		closing := s.closing
		s.mu.Unlock()
		if !closing {
			s.cfg.Logger.Warn("connection refused: limit reached", "remote", c.RemoteAddr().String(),
				"max_connections", s.cfg.MaxConnections, "max_connections_per_ip", s.cfg.MaxConnectionsPerIP)
		}
		return nil
	}
	st := &connState{Conn: c, srv: s, ip: ip, ctx: ctx}
	s.total++
	s.perIP[ip]++
	s.conns[st] = struct{}{}
	s.mu.Unlock()
	st.idleFrom.Store(time.Now().UnixNano())
	ctx.SetValue(ctxKey{}, st)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		quickAck(tc)
	}
	return st
}

// Read re-arms TCP_QUICKACK after every read: Linux falls back to delayed
// ACKs, which cost a client that waits for them tens of milliseconds per
// round trip.
func (c *connState) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if tc, ok := c.Conn.(*net.TCPConn); ok && n > 0 {
		quickAck(tc)
	}
	return n, err
}

func quickAck(tc *net.TCPConn) {
	if rc, err := tc.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
		})
	}
}

// Close releases the connection's slots once.
func (c *connState) Close() error {
	c.once.Do(func() {
		s := c.srv
		s.mu.Lock()
		s.total--
		if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
			delete(s.perIP, c.ip)
		}
		delete(s.conns, c)
		s.mu.Unlock()
	})
	return c.Conn.Close()
}

func remoteIP(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.IP.String()
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// keepaliveLoop probes every connection with keepalive@openssh.com and
// closes those that stop answering, and closes connections that stayed
// without a session for IdleTimeout. One goroutine for the whole server;
// each probe runs in a short-lived goroutine so a stuck peer delays nobody.
func (s *Server) keepaliveLoop() {
	t := time.NewTicker(s.cfg.KeepaliveInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stopKA:
			return
		case now := <-t.C:
			s.mu.Lock()
			conns := make([]*connState, 0, len(s.conns))
			for c := range s.conns {
				conns = append(conns, c)
			}
			s.mu.Unlock()
			for _, c := range conns {
				s.tick(c, now)
			}
		}
	}
}

func (s *Server) tick(c *connState, now time.Time) {
	sc, _ := c.ctx.Value(ssh.ContextKeyConn).(*gossh.ServerConn)
	if sc == nil {
		return // still in the handshake: HandshakeTimeout covers it
	}
	if c.sessions.Load() == 0 && now.Sub(time.Unix(0, c.idleFrom.Load())) >= s.cfg.IdleTimeout {
		s.cfg.Logger.Info("closing idle connection", "remote", c.RemoteAddr().String())
		c.Close()
		return
	}
	if int(c.missed.Load()) >= s.cfg.KeepaliveCountMax {
		s.cfg.Logger.Info("closing unresponsive connection", "remote", c.RemoteAddr().String(), "missed_keepalives", c.missed.Load())
		c.Close()
		return
	}
	if !c.probing.CompareAndSwap(false, true) {
		c.missed.Add(1) // the previous probe is still unanswered
		return
	}
	go func() {
		defer c.probing.Store(false)
		if _, _, err := sc.SendRequest("keepalive@openssh.com", true, nil); err == nil {
			c.missed.Store(0)
		}
	}()
}

// Shutdown stops accepting, closes connections without a running session,
// lets running sessions finish until ctx ends (or ShutdownGrace), then
// closes everything.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownGrace)
		defer cancel()
	}
	s.kaOnce.Do(func() { close(s.stopKA) })
	// charm's Shutdown closes the listeners, then waits for connections.
	shutdownDone := make(chan error, 1)
	go func() { shutdownDone <- s.srv.Shutdown(ctx) }()
	idle := func() {
		s.mu.Lock()
		var drop []*connState
		for c := range s.conns {
			if c.sessions.Load() == 0 {
				drop = append(drop, c)
			}
		}
		s.mu.Unlock()
		for _, c := range drop {
			c.Close()
		}
	}
	done := make(chan struct{})
	go func() { s.sessions.Wait(); close(done) }()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		idle()
		select {
		case <-done:
			idle()
			_ = s.srv.Close()
			<-shutdownDone
			return nil
		case <-ctx.Done():
			_ = s.srv.Close()
			<-shutdownDone
			return ctx.Err()
		case <-t.C:
		}
	}
}
