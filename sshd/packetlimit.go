package sshd

import (
	"strings"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// maxTransportPacket is x/crypto/ssh's limit on one packet (as OpenSSH's).
const maxTransportPacket = 256 << 10

// serverConnLocked is the connection's SSH transport once the handshake is
// done, else nil; c.mu is held.
func (c *conn) serverConnLocked() *gossh.ServerConn {
	if c.ctx == nil {
		return nil
	}
	sc, _ := c.ctx.Value(ssh.ContextKeyConn).(*gossh.ServerConn)
	return sc
}

// logTransportEnd waits for the transport of a closed connection to end and
// logs the one reason nobody would otherwise hear of: a packet over
// maxTransportPacket from the client, such as an exec request whose command
// line is longer than that. x/crypto/ssh drops the connection then and
// stops its writer at the same moment, so the client cannot be told (not
// even with a disconnect message); the log line is what is left.
func (s *Server) logTransportEnd(sc *gossh.ServerConn, remote string) {
	defer s.recoverLog("transport end")
	err := sc.Wait()
	if err == nil {
		return
	}
	// x/crypto's errors carry no type: "packet too large" (chacha20-poly1305,
	// CBC, CTR) and "max packet length exceeded" (AES-GCM).
	if msg := err.Error(); strings.Contains(msg, "packet too large") || strings.Contains(msg, "max packet length exceeded") {
		s.log.Warn("connection dropped: packet over the transport's size limit (a command line that long?)",
			"remote", remote, "user", sc.User(), "limit_bytes", maxTransportPacket, "err", msg)
	}
}
