package sshd

import (
	"bytes"
	"io"
	"sync"
	"unicode/utf8"
)

// crlfWriter does what a terminal's output processing (onlcr) would: LF
// becomes CRLF. Stdout and stderr share one, so writes are serialised (and
// never interleave within a write).
type crlfWriter struct {
	mu   sync.Mutex
	w    io.Writer
	last byte   // last byte written, so a CR LF split across writes stays one
	buf  []byte // scratch, reused
}

// crlfChunk bounds the scratch buffer: larger writes go out in pieces.
const crlfChunk = 32 << 10

func (c *crlfWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	if bytes.IndexByte(p, '\n') < 0 {
		n, err := c.w.Write(p)
		if n > 0 {
			c.last = p[n-1]
		}
		return n, err
	}
	done := 0
	for done < len(p) {
		chunk := p[done:min(len(p), done+crlfChunk)]
		c.buf = c.buf[:0]
		prev := c.last
		for _, b := range chunk {
			if b == '\n' && prev != '\r' {
				c.buf = append(c.buf, '\r')
			}
			c.buf = append(c.buf, b)
			prev = b
		}
		if _, err := c.w.Write(c.buf); err != nil {
			return done, err
		}
		c.last = prev
		done += len(chunk)
	}
	if cap(c.buf) > crlfChunk*2 {
		c.buf = nil
	}
	return len(p), nil
}

// ttyInput is a small canonical-mode line discipline for commands run with
// a PTY but no OS terminal (the client's terminal is in raw mode, so the
// server must echo and edit): it echoes, edits the line (backspace, ^W,
// ^U), reads CR as LF, ends input on ^D at the start of a line and cancels
// the session on ^C. A goroutine (pump) reads the channel while the
// handler runs, so ^C works even when the handler never reads its input;
// typed input waits for the handler up to ttyMaxPending bytes, then the
// pump stops reading and SSH flow control holds the client.
//
// The pump is the channel's only reader. A handler relaying a terminal
// uses Session.Raw (rawTTY) instead of Stdin: from its first read or write
// on, the line discipline is off and bytes pass untouched (^C included).
type ttyInput struct {
	mu        sync.Mutex
	cond      sync.Cond
	echo      io.Writer
	interrupt func()
	line      []byte // line being edited
	ready     []byte // input for the handler: complete lines, or raw bytes
	eof       bool   // cooked input ended (^D at a line start, ^C)
	closed    bool   // the client sent EOF or the channel closed
	raw       bool   // Raw was read: no line discipline any more
	stopped   bool   // the handler returned
}

const ttyMaxPending = 64 << 10

func newTTYInput(echo io.Writer, interrupt func()) *ttyInput {
	t := &ttyInput{echo: echo, interrupt: interrupt}
	t.cond.L = &t.mu
	return t
}

// Read returns cooked input, blocking until a line is complete.
func (t *ttyInput) Read(p []byte) (int, error) { return t.read(p, false) }

func (t *ttyInput) read(p []byte, raw bool) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if raw {
		t.setRawLocked()
	}
	for len(t.ready) == 0 && !t.closed && !t.stopped && (t.raw || !t.eof) {
		t.cond.Wait()
	}
	if len(t.ready) == 0 {
		return 0, io.EOF
	}
	n := copy(p, t.ready)
	t.ready = t.ready[n:]
	if len(t.ready) == 0 {
		t.ready = nil
	}
	t.cond.Broadcast() // room for the pump
	return n, nil
}

// setRaw turns the line discipline off for good; the line being edited is
// handed on as typed, as a terminal keeps its input queue when a program
// switches it to raw mode.
func (t *ttyInput) setRaw() {
	t.mu.Lock()
	t.setRawLocked()
	t.mu.Unlock()
}

func (t *ttyInput) setRawLocked() {
	if !t.raw {
		t.raw = true
		t.ready = append(t.ready, t.line...)
		t.line = nil
	}
}

// stop ends the pump's waiting, and its echo, once the handler returned;
// the pump's own read ends when the channel closes.
func (t *ttyInput) stop() {
	t.mu.Lock()
	t.stopped = true
	t.cond.Broadcast()
	t.mu.Unlock()
}

// pump reads the client's keystrokes until EOF, ^C or stop. The echo is
// written before the input it echoes is handed to Read (as a terminal
// echoes on receipt), and never after stop: stop waits for mu, which an
// echo in progress holds.
func (t *ttyInput) pump(r io.Reader) {
	buf := make([]byte, 256)
	var echo []byte
	for {
		n, err := r.Read(buf)
		t.mu.Lock()
		echo = echo[:0]
		interrupted := false
		for i, b := range buf[:n] {
			if t.raw {
				t.ready = append(t.ready, buf[i:n]...)
				break
			}
			var stop bool
			echo, stop = t.feed(b, echo)
			if stop {
				interrupted = true
				break
			}
		}
		if len(echo) > 0 && !t.stopped && t.echo != nil {
			_, _ = t.echo.Write(echo)
		}
		if err != nil || interrupted {
			// No more input. At the client's EOF (or a closed channel) a
			// partial line is still delivered, as a terminal's ^D would.
			t.closed = true
			if !t.eof {
				t.ready = append(t.ready, t.line...)
				t.line = nil
			}
		}
		t.cond.Broadcast()
		for !t.closed && len(t.ready) >= ttyMaxPending && !t.stopped {
			t.cond.Wait()
		}
		stopped := t.stopped
		t.mu.Unlock()
		if interrupted {
			t.interrupt()
			return
		}
		if err != nil || stopped {
			return
		}
	}
}

// rawTTY is Session.Raw with a PTY on the Command route: the untouched
// input (through the pump) and the untranslated output. Its first read or
// write turns the line discipline off: a handler that writes a prompt
// through Raw before it reads gets every key typed after the prompt.
type rawTTY struct {
	in *ttyInput
	w  io.Writer
}

func (r rawTTY) Read(p []byte) (int, error) { return r.in.read(p, true) }
func (r rawTTY) Write(p []byte) (int, error) {
	r.in.setRaw()
	return r.w.Write(p)
}

// feed applies one input byte; it returns the echo so far and whether the
// byte was ^C. Called with mu held.
func (t *ttyInput) feed(b byte, echo []byte) ([]byte, bool) {
	if t.eof {
		// After ^D the rest of the input is not for the command; only ^C
		// still means something.
		if b == 0x03 {
			return append(echo, "^C\n"...), true
		}
		return echo, false
	}
	switch b {
	case '\r', '\n':
		t.line = append(t.line, '\n')
		t.ready = append(t.ready, t.line...)
		t.line = t.line[:0]
		echo = append(echo, '\n')
	case 0x7f, 0x08: // DEL, backspace: one character (UTF-8 aware)
		if len(t.line) > 0 {
			_, size := utf8.DecodeLastRune(t.line)
			t.line = t.line[:len(t.line)-size]
			echo = append(echo, "\b \b"...)
		}
	case 0x17: // ^W: the word before the cursor
		end := len(t.line)
		for end > 0 && t.line[end-1] == ' ' {
			end--
		}
		for end > 0 && t.line[end-1] != ' ' {
			end--
		}
		echo = t.erase(echo, end)
	case 0x15: // ^U: the whole line
		echo = t.erase(echo, 0)
	case 0x03: // ^C
		t.eof = true
		t.line = nil
		return append(echo, "^C\n"...), true
	case 0x04: // ^D
		if len(t.line) == 0 {
			t.eof = true
		} else {
			t.ready = append(t.ready, t.line...)
			t.line = t.line[:0]
		}
	default:
		t.line = append(t.line, b)
		echo = append(echo, b)
	}
	return echo, false
}

// erase removes the line from byte offset from on, echoing one "\b \b" per
// character.
func (t *ttyInput) erase(echo []byte, from int) []byte {
	for range utf8.RuneCount(t.line[from:]) {
		echo = append(echo, "\b \b"...)
	}
	t.line = t.line[:from]
	return echo
}

// ptyEcho reads the ECHO flag (opcode 53) from a pty-req's encoded terminal
// modes (RFC 4254 section 8): a client that asks for no echo gets none.
// Without the flag, or with modes that do not parse, echo is on.
func ptyEcho(modes string) bool {
	for len(modes) >= 5 {
		op := modes[0]
		if op == 0 || op >= 160 { // TTY_OP_END, or opcodes with other argument types
			break
		}
		v := uint32(modes[1])<<24 | uint32(modes[2])<<16 | uint32(modes[3])<<8 | uint32(modes[4])
		if op == 53 {
			return v != 0
		}
		modes = modes[5:]
	}
	return true
}
