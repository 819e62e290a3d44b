package forcedcmd

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"dokku-sshd/internal/testbuf"
	"dokku-sshd/internal/testenv"
)

// testRunner runs commands with /bin/sh as the login shell, in a fresh
// home.
func testRunner(t *testing.T) *Runner {
	t.Helper()
	return &Runner{Login: Login{Name: "someone", UID: 4242, Home: t.TempDir(), Shell: "/bin/sh"}, Grace: 300 * time.Millisecond}
}

// waitOutput waits until b holds want.
func waitOutput(t *testing.T, b *testbuf.Buffer, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("output never held %q: %q", want, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunPipes(t *testing.T) {
	remote := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 40000}
	local := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 22}
	for _, tc := range []struct {
		name               string
		command, original  string
		stdin              string
		wantOut, wantErr   string
		want               Exit
		wantOutHasHomeOnly bool
	}{
		{name: "streams apart, stdin to EOF, exit status", command: `cat; echo err >&2; exit 3`, stdin: "in\nput",
			wantOut: "in\nput", wantErr: "err\n", want: Exit{Code: 3}},
		{name: "the shell gets the command, SSH_ORIGINAL_COMMAND the client's",
			command: `echo "$0" "$SSH_ORIGINAL_COMMAND" "$SSH_CONNECTION"`, original: "apps:list 'a b'",
			wantOut: "sh apps:list 'a b' 127.0.0.1 40000 127.0.0.1 22\n"},
		{name: "killed by a signal", command: `echo before; kill -TERM $$`, wantOut: "before\n", want: Exit{Signal: "TERM"}},
		{name: "killed by a signal without a name in RFC 4254", command: `kill -WINCH $$; kill -URG $$; kill -TTIN $$; kill -SYS $$`,
			want: Exit{Signal: "SIG@openssh.com"}},
		{name: "home is the working directory", command: `pwd`, wantOutHasHomeOnly: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testRunner(t)
			var out, errb testbuf.Buffer
			got, err := r.Run(context.Background(), Request{Command: tc.command, Original: tc.original, Remote: remote, Local: local,
				Stdin: strings.NewReader(tc.stdin), Stdout: &out, Stderr: &errb})
			if err != nil {
				t.Fatal(err)
			}
			wantOut := tc.wantOut
			if tc.wantOutHasHomeOnly {
				wantOut = r.Login.Home + "\n"
			}
			if got.CoreDumped {
				got.CoreDumped = false // SIGSYS may dump core, depending on the host
			}
			if got != tc.want || out.String() != wantOut || errb.String() != tc.wantErr {
				t.Errorf("Run = %+v, stdout %q, stderr %q; want %+v, %q, %q", got, out.String(), errb.String(), tc.want, wantOut, tc.wantErr)
			}
		})
	}
}

// The command sees exactly sshd's environment, nothing of the server's.
func TestRunEnvironmentOnly(t *testing.T) {
	t.Setenv("DOKKU_SSHD_SECRET", "leak")
	r := testRunner(t)
	var out testbuf.Buffer
	if _, err := r.Run(context.Background(), Request{Command: "env", Stdin: strings.NewReader(""), Stdout: &out, Stderr: io.Discard}); err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"USER": true, "LOGNAME": true, "HOME": true, "PATH": true, "MAIL": true, "SHELL": true,
		"SSH_CLIENT": true, "SSH_CONNECTION": true, "PWD": true} // PWD: the shell's own
	for _, kv := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if name, _, _ := strings.Cut(kv, "="); !allowed[name] {
			t.Errorf("unexpected variable %q", kv)
		}
	}
}

// A home that is not there: sshd's message, and the command runs in /.
func TestRunMissingHome(t *testing.T) {
	r := testRunner(t)
	r.Login.Home = "/nonexistent-home"
	var out, errb testbuf.Buffer
	if _, err := r.Run(context.Background(), Request{Command: "pwd", Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "/\n" || errb.String() != "Could not chdir to home directory /nonexistent-home: No such file or directory\n" {
		t.Errorf("stdout %q, stderr %q", out.String(), errb.String())
	}
}

// bgSleep starts a background sleep and prints "ready PID" once it runs
// sleep: a signal that reaches the forked shell before its exec, while it
// still has the parent's traps, would be lost with them.
const bgSleep = `sleep 30 & pid=$!; until [ "$(cat /proc/$pid/comm 2>/dev/null)" = sleep ]; do :; done; echo "ready $pid"`

// A client that goes away: SIGHUP to the process group, SIGKILL after the
// grace period for a command that ignores it. The whole group: a
// background child of the command ends too.
func TestRunHangup(t *testing.T) {
	for _, tc := range []struct {
		name, command string
		want          Exit
		// grace is the Runner's: long where the shell must run its trap
		// first (a loaded machine may take far longer than 300 ms to
		// schedule it; CI saw KILL), short where the kill is the point.
		grace time.Duration
	}{
		{"the command handles SIGHUP", `trap 'exit 5' HUP; ` + bgSleep + `; while :; do sleep 0.05; done`, Exit{Code: 5}, 5 * time.Second},
		{"SIGHUP is the default end", bgSleep + `; wait`, Exit{Signal: "HUP"}, 5 * time.Second},
		{"the command ignores SIGHUP", `trap '' HUP; ` + bgSleep + `; wait`, Exit{Signal: "KILL"}, 300 * time.Millisecond},
		{"the command ends, its child ignores SIGHUP", `trap 'exit 5' HUP; trap '' HUP; ` + bgSleep + `; trap 'exit 5' HUP; while :; do sleep 0.05; done`, Exit{Code: 5}, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testRunner(t)
			r.Grace = tc.grace
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out testbuf.Buffer
			stdin, hold := io.Pipe() // the client never sends EOF
			defer hold.Close()
			done := make(chan Exit, 1)
			go func() {
				exit, err := r.Run(ctx, Request{Command: tc.command, Stdin: stdin, Stdout: &out, Stderr: io.Discard})
				if err != nil {
					t.Error(err)
				}
				done <- exit
			}()
			waitOutput(t, &out, "\n")
			child, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(out.String(), "ready ")))
			if err != nil {
				t.Fatalf("output %q: %v", out.String(), err)
			}
			cancel()
			select {
			case got := <-done:
				if got != tc.want {
					t.Errorf("Run = %+v, want %+v", got, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return after the hangup")
			}
			waitGone(t, child)
		})
	}
}

// waitGone waits until process pid has ended (gone, or a zombie).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		_, after, _ := strings.Cut(string(stat), ") ")
		if err != nil || strings.HasPrefix(after, "Z") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d of the command's group still runs: %s", pid, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With a terminal: it is the command's controlling terminal, of the
// client's size and type, named by SSH_TTY; a window change reaches it.
func TestRunTerminal(t *testing.T) {
	needPTY(t)
	r := testRunner(t)
	resize := make(chan Size, 1)
	stdin, typed := io.Pipe()
	defer typed.Close()
	var out testbuf.Buffer
	done := make(chan Exit, 1)
	go func() {
		exit, err := r.Run(context.Background(), Request{
			Command: `stty size; [ "$(tty)" = "$SSH_TTY" ] && echo "tty $TERM"; read x; stty size; echo "got $x"; exit 4`,
			Stdin:   stdin, Stdout: &out,
			Terminal: &Terminal{Term: "xterm-test", Width: 80, Height: 24, Resize: resize},
		})
		if err != nil {
			t.Error(err)
		}
		done <- exit
	}()
	waitOutput(t, &out, "tty xterm-test\r\n")
	resize <- Size{Width: 100, Height: 50}
	time.Sleep(200 * time.Millisecond)
	if _, err := typed.Write([]byte("hello\r")); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got != (Exit{Code: 4}) {
			t.Errorf("exit %+v, want 4", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the command did not end; output %q", out.String())
	}
	want := "24 80\r\ntty xterm-test\r\nhello\r\n50 100\r\ngot hello\r\n"
	if out.String() != want {
		t.Errorf("terminal output %q, want %q", out.String(), want)
	}
}

func TestErrnoText(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{syscall.ENOENT, "No such file or directory"},
		{syscall.ENOTDIR, "Not a directory"},
		{errors.New("Already upper"), "Already upper"},
		{errors.New("5 digits first"), "5 digits first"},
		{errors.New("élan"), "Élan"},
		{errors.New(""), ""},
	} {
		if got := errnoText(tc.err); got != tc.want {
			t.Errorf("errnoText(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// SSH_ORIGINAL_COMMAND is set for every exec request, an empty command's
// too, and never for a shell request.
func TestRunOriginalCommandSet(t *testing.T) {
	for _, tc := range []struct {
		name     string
		original string
		exec     bool
		want     string
	}{
		{"exec", "apps:list", true, "set apps:list\n"},
		{"exec without Exec", "apps:list", false, "set apps:list\n"},
		{"exec of an empty command", "", true, "set \n"},
		{"shell", "", false, "unset\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out testbuf.Buffer
			_, err := testRunner(t).Run(context.Background(), Request{Command: `if [ "${SSH_ORIGINAL_COMMAND+x}" ]; then echo "set $SSH_ORIGINAL_COMMAND"; else echo unset; fi`,
				Original: tc.original, Exec: tc.exec, Stdin: strings.NewReader(""), Stdout: &out, Stderr: io.Discard})
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Errorf("output %q, want %q", out.String(), tc.want)
			}
		})
	}
}

// needPTY skips (fails under CI=true) a test that needs pseudo-terminals
// where the machine has none.
func needPTY(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/ptmx"); err != nil {
		testenv.SkipOrFail(t, "this test needs pseudo-terminals (/dev/ptmx, a devpts mount): %v", err)
	}
}

// A server started with SIGHUP ignored (under nohup) still hangs its
// commands up: they start with SIGHUP at its default action, as under sshd.
func TestRunHangupServerIgnoresHUP(t *testing.T) {
	signal.Ignore(syscall.SIGHUP)
	t.Cleanup(func() { signal.Reset(syscall.SIGHUP) })
	r := testRunner(t)
	var out testbuf.Buffer
	exit, err := r.Run(context.Background(), Request{Command: `kill -HUP $$; echo survived`, Stdin: strings.NewReader(""), Stdout: &out, Stderr: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if exit != (Exit{Signal: "HUP"}) || out.String() != "" {
		t.Errorf("Run = %+v, output %q; want the command ended by SIGHUP", exit, out.String())
	}
}
