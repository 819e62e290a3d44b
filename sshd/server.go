// Package sshd is the transport: listener, host keys, authentication to an
// identity, limits, keepalives, and routing of each session to the git,
// command or TUI handler it is given. It knows nothing of what those handlers
// do.
//
// It is built on charm.land/ssh's Server for the accept loop, the handshake
// deadline, the per-connection context and panic containment, but answers
// the session channel itself (session.go): charm's default session handler
// accepts subsystems, agent forwarding and every environment variable, which
// this server must refuse.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"sync"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"dokku-sshd/keys"
)

// Authorizer answers who a key is; keys.Store implements it.
type Authorizer interface {
	// LookupKey maps a plain (non-certificate) public key to an identity.
	LookupKey(key gossh.PublicKey) (keys.Identity, bool)
	// IsAdmin is the role of a certificate identity (name = the
	// certificate's key id).
	IsAdmin(name string) bool
}

// Config configures the server. Zero values get the defaults noted; a
// negative duration disables that timer, a negative limit lifts it.
type Config struct {
	Listen     string // ":2222"
	HostKeyDir string // required; see hostkeys.go for the files
	// HostKeyRSA also generates ssh_host_rsa_key (RSA 3072) on first start.
	// Off by default: it costs up to a second or two once, and every client
	// of the last decade takes ed25519 or ECDSA. An existing RSA key in
	// HostKeyDir is always used.
	HostKeyRSA bool
	User       string     // the only login user accepted: "dokku"
	Keys       Authorizer // required
	// TrustedUserCAKeys: user certificates signed by one of these are
	// accepted (see identifyCert for the rules).
	TrustedUserCAKeys []gossh.PublicKey
	HandshakeTimeout  time.Duration // 30s: TCP accept to end of authentication
	// IdleTimeout closes an authenticated connection that has had no open
	// session for this long (10m). A connection with a session is never
	// closed for being quiet; keepalives find dead peers instead.
	IdleTimeout time.Duration
	// KeepaliveInterval is how often each connection is probed with a
	// keepalive@openssh.com global request (15s); after KeepaliveCountMax
	// (3) unanswered probes in a row the connection is closed.
	KeepaliveInterval   time.Duration
	KeepaliveCountMax   int
	MaxConnections      int           // 1024 in all, counted from TCP accept (before the handshake)
	MaxConnectionsPerIP int           // 64 per remote address, likewise
	MaxSessionsPerConn  int           // 10 session channels open at once per connection
	ShutdownGrace       time.Duration // 30s
	Logger              *slog.Logger  // nil: discard
	// LegacyAlgorithms adds diffie-hellman-group14-sha1 key exchange and
	// ssh-rsa (SHA-1) signatures to OpenSSH's default policy (algorithms.go),
	// for clients that know nothing newer, such as JSch 0.1.x with RSA keys.
	LegacyAlgorithms bool

	// MaxUnauthenticated is the budget of connections not yet authenticated
	// (256), inside MaxConnections; see admit for what happens when full.
	MaxUnauthenticated int
	// AuthLogBurst is how many failed authentication attempts per source
	// address are logged one by one every 10s (6); the rest are counted
	// into one line. Negative: every attempt is logged.
	AuthLogBurst int
	Observer     Observer // nil: no metrics
	// RefuseSignals refuses signal requests and leaves the session running,
	// as sshd does for sessions that run a forced command (Dokku host
	// mode runs only those). Otherwise a signal ends the session (its
	// Context).
	RefuseSignals bool
}

// Defaults.
const (
	DefaultListen              = ":2222"
	DefaultUser                = "dokku"
	DefaultHandshakeTimeout    = 30 * time.Second
	DefaultIdleTimeout         = 10 * time.Minute
	DefaultKeepaliveInterval   = 15 * time.Second
	DefaultKeepaliveCountMax   = 3
	DefaultMaxConnections      = 1024
	DefaultMaxConnectionsPerIP = 64
	DefaultMaxSessionsPerConn  = 10
	DefaultShutdownGrace       = 30 * time.Second
	// DefaultMaxUnauthenticated: OpenSSH's MaxStartups (10:30:100) starts
	// dropping new connections at random at 10 pending logins and drops all
	// at 100, because each costs it a process. Here one costs a goroutine
	// and some KiB, and a full budget evicts instead of refusing, so the
	// budget is sized for legitimate bursts (four addresses' worth of
	// MaxConnectionsPerIP handshakes at once, e.g. a CI fleet pushing) while
	// leaving three quarters of MaxConnections to authenticated clients.
	DefaultMaxUnauthenticated = 256
)

func (c *Config) defaults() {
	setDefault(&c.Listen, DefaultListen)
	setDefault(&c.User, DefaultUser)
	setDefault(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.KeepaliveInterval, DefaultKeepaliveInterval)
	setDefault(&c.KeepaliveCountMax, DefaultKeepaliveCountMax)
	setDefault(&c.MaxConnections, DefaultMaxConnections)
	setDefault(&c.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP)
	setDefault(&c.MaxSessionsPerConn, DefaultMaxSessionsPerConn)
	setDefault(&c.MaxUnauthenticated, DefaultMaxUnauthenticated)
	setDefault(&c.AuthLogBurst, authLogBurst)
	if c.AuthLogBurst < 0 {
		c.AuthLogBurst = math.MaxInt
	}
	setDefault(&c.ShutdownGrace, DefaultShutdownGrace)
	if c.KeepaliveCountMax < 0 {
		c.KeepaliveCountMax = 1
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// Window is a terminal size in character cells.
type Window struct{ Width, Height int }

// PTY describes the terminal a client asked for. No OS terminal is
// allocated: handlers that need one (container exec) pass these on.
type PTY struct {
	Term          string
	Width, Height int
	// Modes are the client's encoded terminal modes (RFC 4254 section 8),
	// as sent, for a handler that sets up a real terminal.
	Modes string
	// Resize delivers window changes. It holds the newest size only: when
	// the handler does not read it, older sizes are dropped, so the
	// session's request loop never waits for the handler.
	Resize <-chan Window
}

// Session is one exec or shell request of an authenticated client.
type Session struct {
	// Context is cancelled when the client closes the channel or
	// disconnects, when it sends a signal request, on ^C typed into a PTY
	// (Command handler), and when Shutdown's grace period ends.
	Context    context.Context
	Identity   keys.Identity
	RawCommand string // the exec command exactly as sent; "" for a shell
	// Stdin, Stdout and Stderr. Without a PTY they are the channel's data
	// and extended-data streams, untouched; stdin ends with the client's
	// EOF. With a PTY, Stdout and Stderr are one stream in which LF becomes
	// CRLF (a terminal's onlcr), and Stdin depends on the handler:
	//   - Command: a line discipline like a cooked terminal's: echo
	//     (unless the client's terminal modes turn ECHO off), line editing
	//     (backspace, ^W, ^U), CR read as LF, ^D ends input, ^C cancels
	//     Context (also while the handler is not reading);
	//   - TUI: the raw bytes the client types (key sequences);
	//   - Git: no translation on any stream, PTY or not.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Raw is the channel's data stream without any translation either way,
	// for handlers that relay a terminal (container exec with a TTY). On
	// the Command route with a PTY, the first read from Raw turns the line
	// discipline off for good (^C then reaches the relayed program as a
	// byte). Use Raw or Stdin for input, not both.
	Raw        io.ReadWriter
	PTY        *PTY              // nil without pty-req
	Env        map[string]string // allow-listed variables only: LANG, LC_*, TERM, GIT_PROTOCOL
	RemoteAddr net.Addr
	LocalAddr  net.Addr // the server's end of the connection
	// ExitSignal, when the handler sets it, is sent as exit-signal instead
	// of the handler's exit-status: the name (RFC 4254, without "SIG") of
	// the signal that killed the command the handler ran, as sshd reports
	// a child killed by a signal.
	ExitSignal *ExitSignal
}

// ExitSignal is the body of an exit-signal request (RFC 4254 6.10).
type ExitSignal struct {
	Signal     string
	CoreDumped bool
}

// Handler serves a session and returns its exit status.
type Handler func(s *Session) int

// Handlers route sessions by what they ask for.
type Handlers struct {
	Command Handler // exec requests, and shells without a PTY (RawCommand "")
	Git     Handler // exec of git-receive-pack, git-upload-pack, git-upload-archive; nil: Command
	TUI     Handler // shell with a PTY; nil: Command
}

// ErrServerClosed is what Serve returns after Shutdown.
var ErrServerClosed = ssh.ErrServerClosed

// Server is the SSH server.
type Server struct {
	cfg      Config
	handlers Handlers
	srv      *ssh.Server
	signers  []gossh.Signer
	log      *slog.Logger
	caKeys   map[string]bool // marshalled trusted CA keys
	algos    algorithms

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perIP     map[string]int
	closing   bool
	sessions  int           // running sessions, all connections
	drained   chan struct{} // closed when closing and sessions reaches 0
	// The unauthenticated connections, per address, oldest first; and
	// their number. seq numbers connections in admission order.
	unauthByIP  map[string][]*conn
	unauth      int
	seq         uint64
	held        map[net.Conn]struct{} // refused, in the tarpit
	tarpitDelay time.Duration
	tarpitMax   int
	admitLogs   *logLimiter // refusal and eviction lines, per reason
	authLogs    *logLimiter // failed authentication lines, per address
}

// New loads (or creates) the host keys and prepares the server.
func New(cfg Config, h Handlers) (*Server, error) {
	cfg.defaults()
	if cfg.Keys == nil {
		return nil, errors.New("sshd: no key store (Config.Keys)")
	}
	if cfg.HostKeyDir == "" {
		return nil, errors.New("sshd: no host key directory (Config.HostKeyDir)")
	}
	if h.Command == nil {
		return nil, errors.New("sshd: no command handler")
	}
	signers, err := loadHostKeys(cfg.HostKeyDir, cfg.HostKeyRSA, cfg.Logger)
	if err != nil {
		return nil, err
	}
	algos := newAlgorithms(cfg.LegacyAlgorithms)
	if signers, err = algos.hostSigners(signers); err != nil {
		return nil, err
	}
	algos.log(cfg.Logger)
	s := &Server{
		cfg:       cfg,
		handlers:  h,
		signers:   signers,
		log:       cfg.Logger,
		caKeys:    map[string]bool{},
		algos:     algos,
		conns:     map[*conn]struct{}{},
		listeners: map[net.Listener]struct{}{},
		perIP:     map[string]int{},

		unauthByIP:  map[string][]*conn{},
		held:        map[net.Conn]struct{}{},
		tarpitDelay: tarpitDelay,
		tarpitMax:   tarpitLimit(),
	}
	s.admitLogs = newLogLimiter(1, 10*time.Second, 16, s.admitSummary)
	s.authLogs = newLogLimiter(cfg.AuthLogBurst, authLogInterval, authLogMaxAddrs, s.authSummary)
	for _, ca := range cfg.TrustedUserCAKeys {
		s.caKeys[string(ca.Marshal())] = true
	}
	s.srv = &ssh.Server{
		Addr:                 cfg.Listen,
		Version:              "dokku-sshd",
		HandshakeTimeout:     positive(cfg.HandshakeTimeout),
		PublicKeyHandler:     s.authenticate,
		ConnCallback:         s.connStarted,
		ServerConfigCallback: s.serverConfig,
		// Only session channels; direct-tcpip and anything else is
		// refused by charm ("unsupported channel type").
		ChannelHandlers: map[string]ssh.ChannelHandler{"session": s.handleSession},
		// No global request handlers: tcpip-forward, streamlocal and the
		// rest are answered "failure".
		RequestHandlers:   map[string]ssh.RequestHandler{},
		SubsystemHandlers: map[string]ssh.SubsystemHandler{},
		ConnectionFailedCallback: func(c net.Conn, err error) {
			if s.logNegotiationFailure(c, err) {
				return
			}
			if !errors.Is(err, io.EOF) {
				s.log.Debug("handshake failed", "remote", addrString(c.RemoteAddr()), "err", err)
			}
		},
	}
	for _, sg := range signers {
		s.srv.AddHostKey(sg)
	}
	return s, nil
}

func positive(d time.Duration) time.Duration { return max(d, 0) }

// HostKeys returns the server's public host keys.
func (s *Server) HostKeys() []gossh.PublicKey {
	out := make([]gossh.PublicKey, len(s.signers))
	for i, sg := range s.signers {
		out[i] = sg.PublicKey()
	}
	return out
}

// Serve accepts connections on l until Shutdown, then returns
// ErrServerClosed. The connection limits apply from TCP accept: a connection
// over a limit is closed before the server sends a byte.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		_ = l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	err := s.srv.Serve(&listener{Listener: l, s: s})
	s.mu.Lock()
	delete(s.listeners, l)
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return ErrServerClosed
	}
	return err
}

// Listen listens on a TCP address for Serve. TCP keepalives are off: the
// SSH keepalives (Config.KeepAliveInterval) find dead peers of open
// connections and the handshake deadline those of the others, and Go's
// default would cost four setsockopt calls per accepted connection.
func Listen(addr string) (net.Listener, error) {
	l, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return l, nil
}

// Shutdown stops accepting connections and new sessions, closes connections
// without a running session (and each remaining one when its last session
// ends), and lets running sessions finish until ctx is done or ShutdownGrace
// has passed, whichever comes first. Then it closes every connection, which
// cancels the contexts of the sessions still running, and returns the
// context's error (nil when every session finished in time).
func (s *Server) Shutdown(ctx context.Context) error {
	if s.cfg.ShutdownGrace > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ShutdownGrace)
		defer cancel()
	}
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		s.drained = make(chan struct{})
		if s.sessions == 0 {
			close(s.drained)
		}
	}
	drained := s.drained
	var idle []*conn
	for c := range s.conns {
		if c.sessionCount() == 0 {
			idle = append(idle, c)
		}
	}
	// Closing the listeners ends Serve. (Not charm's Shutdown: it waits
	// for connections on a goroutine whose WaitGroup.Wait races with
	// connections still completing their handshake.)
	for l := range s.listeners {
		_ = l.Close()
	}
	s.mu.Unlock()
	for _, c := range idle {
		_ = c.Close()
	}

	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = ctx.Err()
		s.log.Warn("shutdown grace over, closing running sessions")
	}
	s.closeAll()
	return err
}

// closeAll closes every connection, in the handshake or not.
func (s *Server) closeAll() {
	_ = s.srv.Close()
	s.mu.Lock()
	all := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		_ = c.Close()
	}
	s.releaseHeld()
	// What the log limiters held back is written now, not lost.
	s.admitLogs.flush(time.Time{})
	s.authLogs.flush(time.Time{})
}

// sessionStarted counts a session in; false when shutting down.
func (s *Server) sessionStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sessions++
	return true
}

func (s *Server) sessionEnded() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions--
	if s.closing && s.sessions == 0 {
		select {
		case <-s.drained:
		default:
			close(s.drained)
		}
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
