package sshd

import (
	"bytes"
	"io"
	"sync"
)

// crlfWriter does what a terminal's output processing (onlcr) would: LF
// becomes CRLF. Stdout and stderr share one, so writes are serialised.
type crlfWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.IndexByte(p, '\n') < 0 {
		return c.w.Write(p)
	}
	var b bytes.Buffer
	b.Grow(len(p) + 16)
	for i, x := range p {
		if x == '\n' && (i == 0 || p[i-1] != '\r') {
			b.WriteByte('\r')
		}
		b.WriteByte(x)
	}
	if _, err := c.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// cookedReader is a minimal canonical-mode line discipline for commands run
// with a PTY but no OS terminal: it echoes, edits the line (backspace, ^U),
// turns CR into LF, ends input on ^D and cancels the command on ^C.
type cookedReader struct {
	r         io.Reader
	echo      io.Writer
	interrupt func()
	line      []byte
	ready     []byte
	eof       bool
}

func (c *cookedReader) Read(p []byte) (int, error) {
	var buf [256]byte
	for len(c.ready) == 0 {
		if c.eof {
			return 0, io.EOF
		}
		n, err := c.r.Read(buf[:])
		for _, b := range buf[:n] {
			c.feed(b)
		}
		if err != nil {
			c.eof = true
			c.ready = append(c.ready, c.line...)
			c.line = nil
		}
	}
	n := copy(p, c.ready)
	c.ready = c.ready[n:]
	return n, nil
}

func (c *cookedReader) feed(b byte) {
	if c.eof {
		return
	}
	switch b {
	case '\r', '\n':
		c.line = append(c.line, '\n')
		c.ready = append(c.ready, c.line...)
		c.line = c.line[:0]
		_, _ = c.echo.Write([]byte("\n"))
	case 0x7f, 0x08: // backspace, delete
		if len(c.line) > 0 {
			c.line = c.line[:len(c.line)-1]
			_, _ = c.echo.Write([]byte("\b \b"))
		}
	case 0x15: // ^U
		_, _ = c.echo.Write(bytes.Repeat([]byte("\b \b"), len(c.line)))
		c.line = c.line[:0]
	case 0x03: // ^C
		_, _ = c.echo.Write([]byte("^C\n"))
		c.eof = true
		if c.interrupt != nil {
			c.interrupt()
		}
	case 0x04: // ^D
		if len(c.line) == 0 {
			c.eof = true
		} else {
			c.ready = append(c.ready, c.line...)
			c.line = c.line[:0]
		}
	default:
		c.line = append(c.line, b)
		_, _ = c.echo.Write([]byte{b})
	}
}
