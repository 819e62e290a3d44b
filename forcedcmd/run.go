package forcedcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// Request is one session's forced command.
type Request struct {
	Command  string // the key's command="..." option, dequoted
	Original string // the command the client sent (SSH_ORIGINAL_COMMAND); "" for none
	// Exec says the client sent an exec request, not a shell request:
	// SSH_ORIGINAL_COMMAND is then set even when Original is empty, as
	// sshd sets it for an exec of an empty command.
	Exec   bool
	Remote net.Addr
	Local  net.Addr
	// Without a terminal: the channel's streams, kept apart. With one:
	// Stdin and Stdout are the channel's data stream untranslated both
	// ways (the terminal does the translating); Stderr is not used.
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	Terminal *Terminal // nil: no terminal
}

// Terminal is the client's pty-req and its window changes.
type Terminal struct {
	Term          string
	Width, Height int
	Modes         string      // encoded terminal modes (RFC 4254 section 8)
	Resize        <-chan Size // the newest size first; may be nil
}

// Size is a terminal's size in characters.
type Size struct{ Width, Height int }

// Exit is how the command ended: its exit status, or the signal that
// killed it (then Code is 0 and Signal is OpenSSH's name for it, sent as
// exit-signal).
type Exit struct {
	Code       int
	Signal     string
	CoreDumped bool
}

// Runner runs forced commands as Login.
type Runner struct {
	Login Login
	// TZ is passed on when set, as sshd passes its own TZ.
	TZ string
	// Grace is how long a command has to end after the SIGHUP sent when
	// its client went away, before its process group is killed.
	Grace time.Duration
	// Errors gets the message sshd's session child would print when the
	// home directory is not there (it then runs in /).
	Errors io.Writer
}

// DefaultGrace is Runner.Grace when it is zero.
const DefaultGrace = 10 * time.Second

// Run runs req.Command with the login shell, `SHELL -c COMMAND` (argv[0]
// the shell's base name, as sshd execs it), in a session of its own
// (setsid), until it ends. When ctx ends first (the client went away) the
// command's process group gets SIGHUP, and SIGKILL after Grace. An error
// means the command could not be started.
func (r *Runner) Run(ctx context.Context, req Request) (Exit, error) {
	defaultSignals()
	cmd := &exec.Cmd{
		Path: r.Login.Shell,
		Args: []string{filepath.Base(r.Login.Shell), "-c", req.Command},
		Dir:  r.dir(req),
	}
	s := session{original: req.Original, exec: req.Exec || req.Original != "", remote: req.Remote, local: req.Local, tz: r.TZ}
	if req.Terminal != nil {
		return r.runTerminal(ctx, cmd, s, req)
	}
	cmd.Env = environ(r.Login, s)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return r.runPipes(ctx, cmd, req)
}

// childSignals are the signals sshd's sessions start with at their default
// action. A signal the server itself was started with ignored (nohup, a
// background job of a script) would stay ignored across exec in the
// command, and a hangup would then not end it.
var childSignals = []os.Signal{syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGPIPE}

// defaultSignals gives an ignored signal of childSignals a handler that
// drops it: the server keeps not acting on it, and a caught signal is
// reset to its default action by exec, as the command needs.
func defaultSignals() {
	for _, sig := range childSignals {
		if signal.Ignored(sig) {
			signal.Notify(make(chan os.Signal, 1), sig)
		}
	}
}

// dir is the login's home, or / with sshd's message on stderr when it is
// not a directory.
func (r *Runner) dir(req Request) string {
	fi, err := os.Stat(r.Login.Home)
	if err == nil && fi.IsDir() {
		return r.Login.Home
	}
	if err == nil {
		err = syscall.ENOTDIR
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	w := req.Stderr
	if req.Terminal != nil {
		w = req.Stdout
	}
	if w != nil {
		msg := fmt.Sprintf("Could not chdir to home directory %s: %s\n", r.Login.Home, errnoText(err))
		if req.Terminal != nil {
			msg = msg[:len(msg)-1] + "\r\n"
		}
		_, _ = io.WriteString(w, msg)
	}
	return "/"
}

// errnoText is strerror's text: Go's errno strings are strerror's with
// the first letter in lower case.
func errnoText(err error) string {
	s := err.Error()
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[size:]
}

// runPipes runs cmd with pipes for stdin, stdout and stderr, as sshd does
// without a terminal: the client's EOF closes stdin, and the session ends
// when the command has exited and its output reached EOF (or the client
// went away).
func (r *Runner) runPipes(ctx context.Context, cmd *exec.Cmd, req Request) (Exit, error) {
	stdin, err := cmd.StdinPipe() // closed by Wait
	if err != nil {
		return Exit{}, fmt.Errorf("stdin pipe: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return Exit{}, fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return Exit{}, fmt.Errorf("stderr pipe: %w", err)
	}
	defer outR.Close()
	defer errR.Close()
	cmd.Stdout, cmd.Stderr = outW, errW
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		return Exit{}, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	go func() {
		_, _ = io.Copy(stdin, req.Stdin)
		_ = stdin.Close()
	}()
	drained := make(chan struct{}, 2)
	for _, p := range []struct {
		r *os.File
		w io.Writer
	}{{outR, req.Stdout}, {errR, req.Stderr}} {
		go func() {
			_, _ = io.Copy(p.w, p.r)
			_ = p.r.Close() // a client that cannot take more: the command gets EPIPE, as under sshd
			drained <- struct{}{}
		}()
	}
	exit := r.wait(ctx, cmd, nil)
	for range 2 {
		select {
		case <-drained:
		case <-ctx.Done():
			return exit, nil // the deferred closes end the copies
		}
	}
	return exit, nil
}

// wait waits for cmd to exit; when ctx ends first it hangs the command up
// (hangup, with hang as the hangup itself when set). Its exit status, or
// signal, is the result.
func (r *Runner) wait(ctx context.Context, cmd *exec.Cmd, hang func()) Exit {
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		r.hangup(cmd.Process.Pid, done, hang)
	}
	return exitOf(cmd.ProcessState)
}

// hangup sends SIGHUP (and SIGCONT, as a terminal's hangup does, so a
// stopped process sees it) to the process group of pid, then SIGKILL to
// the group when the command, or anything of its group, has not exited
// within Grace. It returns once the command has exited and its group is
// gone or killed.
//
// hang, when set, is the hangup instead of the signals: a terminal's is
// closing its master, as sshd does, so that the kernel hangs the session
// up once (a signal of ours and then the kernel's, when the session
// leader exits, would reach a command twice).
func (r *Runner) hangup(pid int, done <-chan struct{}, hang func()) {
	if hang != nil {
		hang()
	} else {
		_ = syscall.Kill(-pid, syscall.SIGHUP)
		_ = syscall.Kill(-pid, syscall.SIGCONT)
	}
	grace := r.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-done
		return
	}
	// The command ended; what it started in its group and that ignores
	// the hangup gets the rest of the grace, then SIGKILL too.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for syscall.Kill(-pid, 0) == nil {
		select {
		case <-t.C:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			return
		case <-tick.C:
		}
	}
}

// exitOf reads a finished process's wait status.
func exitOf(ps *os.ProcessState) Exit {
	if ps == nil {
		return Exit{Code: 255}
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return Exit{Code: ps.ExitCode()}
	}
	return Exit{Signal: SignalName(ws.Signal()), CoreDumped: ws.CoreDump()}
}

// SignalName is the name OpenSSH's sshd gives a signal in exit-signal:
// RFC 4254's names, and "SIG@openssh.com" for any other.
func SignalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGABRT:
		return "ABRT"
	case syscall.SIGALRM:
		return "ALRM"
	case syscall.SIGFPE:
		return "FPE"
	case syscall.SIGHUP:
		return "HUP"
	case syscall.SIGILL:
		return "ILL"
	case syscall.SIGINT:
		return "INT"
	case syscall.SIGKILL:
		return "KILL"
	case syscall.SIGPIPE:
		return "PIPE"
	case syscall.SIGQUIT:
		return "QUIT"
	case syscall.SIGSEGV:
		return "SEGV"
	case syscall.SIGTERM:
		return "TERM"
	case syscall.SIGUSR1:
		return "USR1"
	case syscall.SIGUSR2:
		return "USR2"
	}
	return "SIG@openssh.com"
}
