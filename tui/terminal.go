package tui

import (
	"context"
	"io"
	"net"
	"os"
	"sync"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"dokku-sshd/schedulers"
)

// terminal owns the client's terminal for the TUI and hands it over to a
// relayed container TTY (enter) and back. One goroutine reads what the
// client types and passes it to the current owner:
//   - the TUI, through an OS pipe: Bubble Tea cancels reads of an *os.File
//     for real (epoll), so handing the terminal over loses no keystroke,
//     where a canceled read of a plain reader would swallow the next one;
//   - a relay (take), which reads the bytes until it gives the terminal
//     back.
//
// Window changes go to the same owner.
type terminal struct {
	s      *Session
	pr, pw *os.File // the TUI's input pipe

	mu      sync.Mutex
	relay   *relay          // nil: the TUI owns the terminal
	window  Window          // the client's newest size
	resizes chan ssh.Window // to wish's middleware (the TUI)
	closed  bool
}

// newTerminal starts reading s's input and window changes until ctx ends.
func newTerminal(ctx context.Context, s *Session) *terminal {
	t := &terminal{s: s, resizes: make(chan ssh.Window, 1), window: s.Window}
	pr, pw, err := os.Pipe()
	if err == nil {
		t.pr, t.pw = pr, pw
	}
	go t.pumpInput()
	go t.pumpResize(ctx)
	return t
}

// input is what the TUI reads its keys from.
func (t *terminal) input() io.Reader {
	if t.pr == nil {
		return t.s.Stdin
	}
	return t.pr
}

// endInput marks the client's input ended: the TUI's reader gets EOF.
// The read end stays open: the reader may still be using it (close, after
// the program has ended, closes it).
func (t *terminal) endInput() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	if t.pw != nil {
		t.pw.Close()
	}
}

// close ends the input and closes the pipe; once the program has ended.
func (t *terminal) close() {
	t.endInput()
	if t.pr != nil {
		t.pr.Close()
	}
}

// pumpInput passes the client's keystrokes to the owner of the terminal;
// it ends with the client's input (the session's end).
func (t *terminal) pumpInput() {
	if t.pw == nil {
		return
	}
	buf := make([]byte, 4096)
	for {
		n, err := t.s.Stdin.Read(buf)
		if n > 0 && !t.deliver(buf[:n]) {
			return
		}
		if err != nil {
			t.endInput()
			return
		}
	}
}

// deliver passes p to the owner of the terminal: a relay while it has
// it, else the TUI. A relay given back while p waits for it (it stopped
// reading: the shell exited) does not keep p: p goes to the next owner.
// It reports false once nothing can take input any more.
func (t *terminal) deliver(p []byte) bool {
	for {
		t.mu.Lock()
		r, closed := t.relay, t.closed
		t.mu.Unlock()
		switch {
		case closed:
			return false
		case r == nil:
			_, err := t.pw.Write(p)
			return err == nil
		}
		select {
		case r.in <- append([]byte(nil), p...):
			return true
		case <-r.done:
			// Given back: look again at who owns the terminal.
		case <-t.s.Ctx.Done():
			return false
		}
	}
}

// pumpResize passes window changes to the owner of the terminal.
func (t *terminal) pumpResize(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case w, ok := <-t.s.Resize:
			if !ok {
				return
			}
			t.mu.Lock()
			t.window = w
			r := t.relay
			t.mu.Unlock()
			if r != nil {
				sendNewest(r.resize, schedulers.WindowSize{Width: w.Width, Height: w.Height})
				continue
			}
			sendNewest(t.resizes, ssh.Window{Width: w.Width, Height: w.Height})
		}
	}
}

// sendNewest puts v in a channel of capacity 1, replacing what is there.
func sendNewest[T any](c chan T, v T) {
	for {
		select {
		case c <- v:
			return
		default:
			select {
			case <-c:
			default:
			}
		}
	}
}

// relay is the terminal while a container's TTY has it.
type relay struct {
	t      *terminal
	done   chan struct{} // closed by give: reads end
	in     chan []byte
	resize chan schedulers.WindowSize
	rest   []byte
}

// take hands the terminal to a relay: keystrokes and window changes go to
// the returned Terminal until give is called.
func (t *terminal) take() (term *schedulers.Terminal, give func()) {
	r := &relay{t: t, done: make(chan struct{}), in: make(chan []byte, 16), resize: make(chan schedulers.WindowSize, 1)}
	t.mu.Lock()
	t.relay = r
	w := t.window
	t.mu.Unlock()
	term = &schedulers.Terminal{Term: t.s.Term, Width: w.Width, Height: w.Height, Resize: r.resize, Raw: r}
	return term, func() {
		t.mu.Lock()
		t.relay = nil
		w := t.window
		t.mu.Unlock()
		// A read the container's relay left pending ends now, not with
		// the session.
		close(r.done)
		// What the TUI missed of the size while the relay had it.
		sendNewest(t.resizes, ssh.Window{Width: w.Width, Height: w.Height})
	}
}

// Read returns the client's keystrokes while the relay has the terminal;
// io.EOF once it gave the terminal back or the session ends.
func (r *relay) Read(p []byte) (int, error) {
	if len(r.rest) == 0 {
		select {
		case b := <-r.in:
			r.rest = b
		case <-r.done:
			return 0, io.EOF
		case <-r.t.s.Ctx.Done():
			return 0, io.EOF
		}
	}
	n := copy(p, r.rest)
	r.rest = r.rest[n:]
	return n, nil
}

// Write writes the container's TTY output untranslated.
func (r *relay) Write(p []byte) (int, error) { return r.t.s.Raw.Write(p) }

// wishSession is the session as wish's Bubble Tea middleware wants it: an
// emulated PTY whose input the program takes from the terminal's pipe
// instead (Serve sets tea.WithInput), and whose output is the session's.
type wishSession struct {
	ctx *wishContext
	s   *Session
	t   *terminal
}

var _ ssh.Session = (*wishSession)(nil)

func newWishSession(ctx context.Context, s *Session, t *terminal) *wishSession {
	return &wishSession{ctx: &wishContext{Context: ctx, s: s}, s: s, t: t}
}

func (w *wishSession) Read(p []byte) (int, error)  { return w.t.input().Read(p) }
func (w *wishSession) Write(p []byte) (int, error) { return w.s.Stdout.Write(p) }
func (w *wishSession) Close() error                { return nil } // the transport closes the channel
func (w *wishSession) CloseWrite() error           { return nil }
func (w *wishSession) SendRequest(string, bool, []byte) (bool, error) {
	return false, nil
}
func (w *wishSession) Stderr() io.ReadWriter    { return stdoutOnly{w.s.Stdout} }
func (w *wishSession) User() string             { return w.s.User }
func (w *wishSession) RemoteAddr() net.Addr     { return w.s.RemoteAddr }
func (w *wishSession) LocalAddr() net.Addr      { return w.s.LocalAddr }
func (w *wishSession) Exit(int) error           { return nil }
func (w *wishSession) Command() []string        { return nil }
func (w *wishSession) RawCommand() string       { return "" }
func (w *wishSession) Subsystem() string        { return "" }
func (w *wishSession) PublicKey() ssh.PublicKey { return nil }
func (w *wishSession) Context() ssh.Context     { return w.ctx }
func (w *wishSession) Permissions() ssh.Permissions {
	return ssh.Permissions{Permissions: &gossh.Permissions{}}
}
func (w *wishSession) EmulatedPty() bool         { return true }
func (w *wishSession) Signals(chan<- ssh.Signal) {}
func (w *wishSession) Break(chan<- bool)         {}

func (w *wishSession) Environ() []string {
	env := make([]string, 0, len(w.s.Env))
	for k, v := range w.s.Env {
		if k != "TERM" { // the middleware adds the PTY's
			env = append(env, k+"="+v)
		}
	}
	return env
}

func (w *wishSession) Pty() (ssh.Pty, <-chan ssh.Window, bool) {
	w.t.mu.Lock()
	win := ssh.Window{Width: w.t.window.Width, Height: w.t.window.Height}
	w.t.mu.Unlock()
	return ssh.Pty{Term: w.s.Term, Window: win}, w.t.resizes, true
}

// stdoutOnly is the session's stderr as the middleware sees it: with a
// PTY, one stream with stdout.
type stdoutOnly struct{ io.Writer }

func (stdoutOnly) Read([]byte) (int, error) { return 0, io.EOF }

// wishContext is the session's context with the connection's details.
type wishContext struct {
	context.Context
	sync.Mutex
	s *Session
}

func (c *wishContext) User() string          { return c.s.User }
func (c *wishContext) SessionID() string     { return "" }
func (c *wishContext) ClientVersion() string { return "" }
func (c *wishContext) ServerVersion() string { return "" }
func (c *wishContext) RemoteAddr() net.Addr  { return c.s.RemoteAddr }
func (c *wishContext) LocalAddr() net.Addr   { return c.s.LocalAddr }
func (c *wishContext) Permissions() *ssh.Permissions {
	return &ssh.Permissions{Permissions: &gossh.Permissions{}}
}
func (c *wishContext) SetValue(key, value any) {}
