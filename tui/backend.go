package tui

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"dokku-sshd/commands"
	"dokku-sshd/keys"
)

// backend runs commands for a session exactly as its key runs them over
// SSH: the same dispatcher, the same identity, the same checks. What the
// TUI shows of an app is what those commands print (JSON where they have
// it), and every action is its command.
type backend struct {
	srv *Server
	id  keys.Identity
}

// result is what a command printed and its exit status.
type result struct {
	Stdout, Stderr string
	Code           int
}

// run runs argv with no terminal and its output captured.
func (b *backend) run(ctx context.Context, argv ...string) result {
	return b.runStdin(ctx, "", argv...)
}

// runStdin runs argv with stdin as its input (a pasted key for
// ssh-keys:add).
func (b *backend) runStdin(ctx context.Context, stdin string, argv ...string) result {
	var out, errb bytes.Buffer
	code := b.srv.Commands.Run(ctx, commands.IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}, b.id, argv)
	return result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// stream runs argv writing its output to w, stdout and stderr as one
// stream in the order written (as a terminal shows them), and returns
// its exit status.
// The end of each is logged (debug): a stream the TUI started (a log
// follow) must end with the screen or the session.
func (b *backend) stream(ctx context.Context, w io.Writer, argv ...string) int {
	lw := &lockedWriter{w: w}
	start := time.Now()
	code := b.srv.Commands.Run(ctx, commands.IO{Stdin: bytes.NewReader(nil), Stdout: lw, Stderr: lw}, b.id, argv)
	if l := b.srv.Logger; l != nil {
		l.Debug("tui stream ended", "name", b.id.Name, "argv", argv, "exit", code, "duration", time.Since(start))
	}
	return code
}

// allowed reports whether the session's key may run the command name.
func (b *backend) allowed(name string) bool { return b.srv.Commands.Allowed(b.id, name) }

// lockedWriter serialises writes of two streams into one.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// errText is what a failed command told its user, for a screen: its
// stderr (its stdout when it said nothing there) without Dokku's " !"
// prefix, escapes and control characters, one message per line; "exit
// status N" when it said nothing at all.
func errText(r result) string {
	msg := r.Stderr
	if strings.TrimSpace(msg) == "" {
		msg = r.Stdout
	}
	var lines []string
	for l := range strings.SplitSeq(msg, "\n") {
		l = strings.TrimSpace(l)
		if rest, ok := strings.CutPrefix(l, "!"); ok {
			l = strings.TrimSpace(rest)
		}
		if l = plainLine(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		return fmt.Sprintf("exit status %d", r.Code)
	}
	return strings.Join(lines, "\n")
}

// errLine is errText on one line.
func errLine(r result) string { return strings.ReplaceAll(errText(r), "\n", " ") }
