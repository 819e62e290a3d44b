package sshd

import "time"

// coalesceLimit bounds how long writes are held back (see hold): a command
// that is still running after it has its output sent as it comes. It also
// bounds the wait should a held write be what the client must see before it
// can go on (a prompt, a window adjust, a key exchange).
const coalesceLimit = 10 * time.Millisecond

// Write sends p, or adds it to the batch while writes are held. x/crypto
// writes one packet per Write.
func (c *conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.batching {
		c.batch = append(c.batch, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// hold holds the connection's writes back until release is called or limit
// has passed, and then sends them in one write: one system call and one TCP
// segment for the client to wake up to, where a quick command (reply to the
// exec request, output, EOF, exit-status, close) would otherwise be five.
// Writes stay in order; a write error is not returned to the writer, x/crypto
// meets it on its next read or write of the broken connection.
func (c *conn) hold(limit time.Duration) (release func()) {
	c.wmu.Lock()
	c.batching = true
	c.wmu.Unlock()
	t := time.AfterFunc(limit, c.flushBatch)
	return func() {
		t.Stop()
		c.flushBatch()
	}
}

// flushBatch stops holding writes and sends what is held.
func (c *conn) flushBatch() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.batching {
		return
	}
	c.batching = false
	if len(c.batch) > 0 {
		_, _ = c.Conn.Write(c.batch)
	}
	c.batch = nil
}
