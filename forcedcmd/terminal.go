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
	"golang.org/x/sys/unix"
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
	ptmx, tty, err := openPTY()
	if err != nil {
		return Exit{}, err
	}
	defer ptmx.Close()
	if err := setSize(ptmx, Size{Width: t.Width, Height: t.Height}); err != nil {
		tty.Close()
		return Exit{}, fmt.Errorf("terminal size: %w", err)
	}
	if err := applyModes(tty, t.Modes); err != nil {
		tty.Close()
		return Exit{}, fmt.Errorf("terminal modes: %w", err)
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
	exit := r.wait(ctx, cmd, func() { _ = ptmx.Close() })
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
			_ = setSize(ptmx, sz)
		}
	}
}

// openPTY opens a pseudo-terminal pair. The master is made non-blocking
// and handed to Go's poller (pty.Open leaves it blocking), so that closing
// it ends a read in progress and no call races a close over its raw fd.
// The copy is close-on-exec from its creation (F_DUPFD_CLOEXEC): set in a
// second step, a command another session forks in between would inherit
// this terminal's master. (pty.Open's own descriptors are opened with
// O_CLOEXEC, as are the pipes of runPipes.)
func openPTY() (ptmx, tty *os.File, err error) {
	m, tty, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("open a pseudo-terminal: %w", err)
	}
	defer m.Close()
	fd, err := unix.FcntlInt(m.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err == nil {
		err = unix.SetNonblock(fd, true)
		if err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		tty.Close()
		return nil, nil, fmt.Errorf("pseudo-terminal master: %w", err)
	}
	return os.NewFile(uintptr(fd), m.Name()), tty, nil
}

// setSize sets the terminal's size; the kernel sends SIGWINCH to its
// foreground process group when it changed.
func setSize(ptmx *os.File, sz Size) error {
	clamp := func(n int) uint16 { return uint16(min(max(n, 0), 0xffff)) }
	ws := &unix.Winsize{Col: clamp(sz.Width), Row: clamp(sz.Height)}
	rc, err := ptmx.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	if err := rc.Control(func(fd uintptr) { ioErr = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) }); err != nil {
		return err
	}
	return ioErr
}
