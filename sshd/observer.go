package sshd

import gossh "golang.org/x/crypto/ssh"

// Observer is told of the transport's events, for metrics
// (metrics.Metrics implements it; Config.Observer nil: nobody is told, at
// no cost). Its methods run on the connection's goroutines, some in the
// accept loop: they must be cheap and safe for concurrent use. Every
// string passed is from the fixed sets below, never from the client.
type Observer interface {
	// ConnRefused: a new connection was closed at accept (Refused* reasons).
	ConnRefused(reason string)
	// ConnEvicted: an unauthenticated connection was closed to make room
	// for a new one (RefusedMaxUnauthenticated or RefusedMaxConnections:
	// which budget was full).
	ConnEvicted(reason string)
	// AuthAttempt: one authentication request of a client was answered
	// (method: one of AuthMethods, or "other").
	AuthAttempt(method string, accepted bool)
	// SessionStarted: a session's exec or shell started (Session* kinds).
	SessionStarted(kind string)
}

// Reasons a connection is refused at accept or evicted (see admit).
const (
	RefusedShuttingDown        = reasonShuttingDown
	RefusedMaxConnections      = reasonMaxConnections
	RefusedMaxConnectionsPerIP = reasonMaxConnectionsPerIP
	RefusedMaxUnauthenticated  = reasonMaxUnauthenticated
)

// Kinds of sessions, by the handler they are routed to.
const (
	SessionCommand = "command"
	SessionGit     = "git"
	SessionTUI     = "tui"
)

// AuthMethods are the method names passed to AuthAttempt as they are; any
// other name a client sends is passed as "other".
var AuthMethods = []string{"publickey", "password", "keyboard-interactive", "hostbased", "gssapi-with-mic"}

// Stats is the server's load at one moment.
type Stats struct {
	Connections     int // open, counted from TCP accept
	Unauthenticated int // of those, not (yet) authenticated
	Sessions        int // running
}

// Stats counts the open connections and running sessions (for metrics:
// read at each scrape, so the accept and session paths pay nothing).
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Connections: len(s.conns), Unauthenticated: s.unauth, Sessions: s.sessions}
}

// connRefused tells the observer why admit refused a connection (one of
// the reason constants).
func (s *Server) connRefused(reason string) {
	if o := s.cfg.Observer; o != nil {
		o.ConnRefused(reason)
	}
}

// connEvicted tells the observer that admit closed an unauthenticated
// connection to make room.
func (s *Server) connEvicted(reason string) {
	if o := s.cfg.Observer; o != nil {
		o.ConnEvicted(reason)
	}
}

// authLogged is x/crypto's AuthLogCallback: every answered authentication
// request is counted, then logged. "none" is every client's opening
// question, not an attempt.
func (s *Server) authLogged(meta gossh.ConnMetadata, method string, err error) {
	if method != "none" {
		s.authAttempt(method, err == nil)
	}
	s.authLog(meta, method, err)
}

// authAttempt tells the observer of an authentication attempt.
func (s *Server) authAttempt(method string, accepted bool) {
	if o := s.cfg.Observer; o != nil {
		o.AuthAttempt(authMethodLabel(method), accepted)
	}
}

// authMethodLabel maps a client's method name to a bounded set.
func authMethodLabel(method string) string {
	for _, m := range AuthMethods {
		if m == method {
			return m
		}
	}
	return "other"
}

// sessionKind tells the observer of a session's start.
func (s *Server) sessionKind(rt route) {
	o := s.cfg.Observer
	if o == nil {
		return
	}
	switch rt {
	case routeGit:
		o.SessionStarted(SessionGit)
	case routeTUI:
		o.SessionStarted(SessionTUI)
	default:
		o.SessionStarted(SessionCommand)
	}
}
