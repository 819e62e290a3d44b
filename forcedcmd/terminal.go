package forcedcmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// terminalDrain bounds how long output is still read after the command
// exited: a background process that kept the terminal open (nohup) would
// otherwise hold the session forever.
const terminalDrain = 2 * time.Second

// runTerminal runs cmd on a new pseudo-terminal, as sshd does after a
// pty-req: the terminal is the command's controlling terminal and its
// stdin, stdout and stderr; TERM and SSH_TTY name it; window changes
// resize it (the kernel sends SIGWINCH).
func (r *Runner) runTerminal(ctx context.Context, cmd *exec.Cmd, s session, req Request) (Exit, error) {
	t := req.Terminal
	ptmx, tty, err := pty.Open()
	if err != nil {
		return Exit{}, fmt.Errorf("open a pseudo-terminal: %w", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, winsize(Size{Width: t.Width, Height: t.Height})); err != nil {
		tty.Close()
		return Exit{}, fmt.Errorf("terminal size: %w", err)
	}
	s.term, s.tty = t.Term, tty.Name()
	cmd.Env = environ(r.Login, s)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	tty.Close()
	if err != nil {
		return Exit{}, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	go func() { _, _ = io.Copy(ptmx, req.Stdin) }()
	drained := make(chan struct{})
	go func() {
		_, _ = io.Copy(req.Stdout, ptmx) // ends with EIO once no process holds the terminal
		close(drained)
	}()
	stop := make(chan struct{})
	defer close(stop)
	go resizeLoop(ptmx, t.Resize, stop)
	exit := r.wait(ctx, cmd)
	select {
	case <-drained:
	case <-ctx.Done():
	case <-time.After(terminalDrain):
	}
	return exit, nil
}

// resizeLoop applies window changes until stop is closed.
func resizeLoop(ptmx *os.File, resize <-chan Size, stop <-chan struct{}) {
	if resize == nil {
		return
	}
	for {
		select {
		case <-stop:
			return
		case sz, ok := <-resize:
			if !ok {
				return
			}
			_ = pty.Setsize(ptmx, winsize(sz))
		}
	}
}

func winsize(sz Size) *pty.Winsize {
	clamp := func(n int) uint16 { return uint16(min(max(n, 0), 0xffff)) }
	return &pty.Winsize{Cols: clamp(sz.Width), Rows: clamp(sz.Height)}
}
