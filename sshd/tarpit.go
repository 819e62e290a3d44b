package sshd

import (
	"net"
	"syscall"
	"time"
)

// The tarpit: a connection refused because its address holds the largest
// share of a full unauthenticated budget is a flood's, and a flood that is
// refused at once reconnects at once, as fast as the server can refuse (on
// loopback, 10,000 times a second, two cores busy between the two). Held
// silent for tarpitDelay before its reset, each connection of the flood
// comes back once per delay at most. A held connection costs a descriptor
// and a timer (no goroutine, no buffer), and there are at most tarpitMax of
// them: past that, refusals are immediate again.
const (
	tarpitDelay = time.Second
	tarpitMax   = 4096 // and at most a quarter of the descriptor limit
)

// tarpitLimit is how many connections the tarpit may hold with this
// process's descriptor limit.
func tarpitLimit() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	return int(min(uint64(tarpitMax), rl.Cur/4))
}

// tarpit keeps a refused connection open, unanswered, until tarpitDelay has
// passed or the server shuts down; false: no room, or no tarpit.
func (s *Server) tarpit(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || s.tarpitDelay <= 0 || len(s.held) >= s.tarpitMax {
		return false
	}
	s.held[nc] = struct{}{}
	time.AfterFunc(s.tarpitDelay, func() {
		s.mu.Lock()
		_, ok := s.held[nc]
		delete(s.held, nc)
		s.mu.Unlock()
		if ok {
			reset(nc)
		}
	})
	return true
}

// releaseHeld resets every connection in the tarpit (shutdown).
func (s *Server) releaseHeld() {
	s.mu.Lock()
	held := s.held
	s.held = map[net.Conn]struct{}{}
	s.mu.Unlock()
	for nc := range held {
		reset(nc)
	}
}

// reset closes a connection with a TCP reset rather than a FIN: no
// TIME_WAIT is left here and it is one packet instead of four, for a flood
// that reconnects as fast as it is refused.
func reset(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = nc.Close()
}
