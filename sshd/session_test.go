package sshd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"dokku-sshd/internal/testbuf"

	gossh "golang.org/x/crypto/ssh"
)

func TestSessionsXCrypto(t *testing.T) {
	ts := startServer(t, Config{}, Handlers{})
	user := newSigner(t)
	ts.keys.add("bob", user.PublicKey())
	c := ts.mustDial(t, user)

	for _, tc := range []struct {
		name, stdin, cmd string
		want             result
	}{
		{"exit 0", "", "exit 0", result{code: 0}},
		{"exit 1", "", "exit 1", result{code: 1}},
		{"exit 42", "", "exit 42", result{code: 42}},
		{"exit out of range", "", "exit 300", result{code: 255}},
		{"stdout and stderr separate", "", "both", result{"out\n", "err\n", 3}},
		{"stdin to EOF", "hello\nworld", "read", result{stdout: "hello\nworld"}},
		{"empty stdin", "", "read", result{}},
		{"no pty", "", "pty", result{stdout: "no pty\n"}},
		{"shell without pty goes to Command", "", "", result{stdout: "command handler: shell pty=false\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r result
			if tc.cmd == "" {
				r = shell(t, c, false)
			} else {
				r = run(t, c, tc.stdin, tc.cmd)
			}
			if r != tc.want {
				t.Fatalf("got %v, want %v", r, tc.want)
			}
		})
	}

	t.Run("all output arrives before the exit status", func(t *testing.T) {
		r := run(t, c, "", "big")
		if len(r.stdout) != 1<<20 || len(r.stderr) != 100<<10 || r.code != 7 {
			t.Fatalf("stdout %d bytes, stderr %d bytes, exit %d", len(r.stdout), len(r.stderr), r.code)
		}
	})

	t.Run("panicking handler", func(t *testing.T) {
		r := run(t, c, "", "panic")
		if r.code != 255 || r.stdout != "before\n" || r.stderr != "internal error\n" {
			t.Fatalf("got %v", r)
		}
		if len(ts.log.find("session handler panicked", map[string]string{"panic": "boom"})) != 1 {
			t.Error("panic not logged")
		}
		// The connection and the server go on.
		if r := run(t, c, "", "exit 0"); r.code != 0 {
			t.Fatalf("after a panic: %v", r)
		}
		c2 := ts.mustDial(t, user)
		if r := run(t, c2, "", "exit 5"); r.code != 5 {
			t.Fatalf("new connection after a panic: %v", r)
		}
	})

	t.Run("env allow-list", func(t *testing.T) {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, e := range []struct {
			name string
			ok   bool
		}{
			{"LANG", true}, {"LC_ALL", true}, {"LC_CTYPE", true}, {"TERM", true}, {"GIT_PROTOCOL", true},
			{"COLORTERM", true}, {"NO_COLOR", true},
			{"LD_PRELOAD", false}, {"PATH", false}, {"HOME", false}, {"DOKKU_ROOT", false}, {"LANGUAGE", false}, {"lang", false},
		} {
			err := s.Setenv(e.name, "v-"+e.name)
			if (err == nil) != e.ok {
				t.Errorf("Setenv %s: %v, want accepted=%v", e.name, err, e.ok)
			}
		}
		out, err := s.Output("env")
		if err != nil {
			t.Fatal(err)
		}
		want := "COLORTERM=v-COLORTERM\nGIT_PROTOCOL=v-GIT_PROTOCOL\nLANG=v-LANG\nLC_ALL=v-LC_ALL\nLC_CTYPE=v-LC_CTYPE\nNO_COLOR=v-NO_COLOR\nTERM=v-TERM\n"
		if string(out) != want {
			t.Fatalf("env %q, want %q", out, want)
		}
	})

	t.Run("signal cancels the session", func(t *testing.T) {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var out bytes.Buffer
		s.Stdout = &out
		if err := s.Start("wait"); err != nil {
			t.Fatal(err)
		}
		if err := s.Signal(gossh.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := s.Wait(); exitOf(err) != 130 || out.String() != "cancelled\n" {
			t.Fatalf("after SIGTERM: %v %q", err, out.String())
		}
	})

	t.Run("closing the channel cancels the session", func(t *testing.T) {
		cancelled := make(chan struct{})
		ts2 := startServer(t, Config{}, Handlers{Command: func(s *Session) int {
			<-s.Context.Done()
			close(cancelled)
			return 0
		}})
		ts2.keys.add("bob", user.PublicKey())
		c2 := ts2.mustDial(t, user)
		s, err := c2.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start("x"); err != nil {
			t.Fatal(err)
		}
		s.Close()
		select {
		case <-cancelled:
		case <-time.After(10 * time.Second):
			t.Fatal("handler context not cancelled after the channel closed")
		}
	})

	t.Run("disconnect cancels the session", func(t *testing.T) {
		cancelled := make(chan struct{})
		started := make(chan struct{})
		ts2 := startServer(t, Config{}, Handlers{Command: func(s *Session) int {
			close(started)
			<-s.Context.Done()
			close(cancelled)
			return 0
		}})
		ts2.keys.add("bob", user.PublicKey())
		c2, err := ts2.dial("dokku", user)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := c2.NewSession()
		if err := s.Start("x"); err != nil {
			t.Fatal(err)
		}
		<-started
		c2.Close()
		select {
		case <-cancelled:
		case <-time.After(10 * time.Second):
			t.Fatal("handler context not cancelled after the client disconnected")
		}
	})

	t.Run("subsystem, agent, x11 and a second exec refused", func(t *testing.T) {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.RequestSubsystem("sftp"); err == nil {
			t.Error("subsystem accepted")
		}
		for _, req := range []string{"auth-agent-req@openssh.com", "x11-req", "break", "signal"} {
			if ok, _ := s.SendRequest(req, true, nil); ok {
				t.Errorf("%s accepted", req)
			}
		}
		if err := s.Start("wait"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := s.SendRequest("exec", true, gossh.Marshal(execRequest{"who"})); ok {
			t.Error("second exec on one session accepted")
		}
		if ok, _ := s.SendRequest("env", true, gossh.Marshal(envRequest{"LANG", "C"})); ok {
			t.Error("env after exec accepted")
		}
		if ok, _ := s.SendRequest("pty-req", true, gossh.Marshal(ptyRequest{Term: "xterm", Cols: 80, Rows: 24})); ok {
			t.Error("pty-req after exec accepted")
		}
	})

	t.Run("port forwarding refused", func(t *testing.T) {
		if conn, err := c.Dial("tcp", ts.addr); err == nil {
			conn.Close()
			t.Error("direct-tcpip accepted")
		} else if !strings.Contains(err.Error(), "unsupported channel type") {
			t.Errorf("direct-tcpip: %v", err)
		}
		if l, err := c.Listen("tcp", "127.0.0.1:0"); err == nil {
			l.Close()
			t.Error("tcpip-forward accepted")
		}
		if _, _, err := c.OpenChannel("x11", nil); err == nil {
			t.Error("x11 channel accepted")
		}
	})
}

func exitOf(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*gossh.ExitError); ok {
		return ee.ExitStatus()
	}
	return -1
}

// shell starts a shell session, with or without a PTY.
func shell(t testing.TB, c *gossh.Client, pty bool) result {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if pty {
		if err := s.RequestPty("xterm-256color", 30, 100, nil); err != nil {
			t.Fatal(err)
		}
	}
	var o, e bytes.Buffer
	s.Stdout, s.Stderr = &o, &e
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	code := exitOf(s.Wait())
	return result{o.String(), e.String(), code}
}

func TestMaxSessionsPerConnection(t *testing.T) {
	ts := startServer(t, Config{MaxSessionsPerConn: 2}, Handlers{})
	user := newSigner(t)
	ts.keys.add("bob", user.PublicKey())
	c := ts.mustDial(t, user)
	a, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if s, err := c.NewSession(); err == nil {
		s.Close()
		t.Fatal("third session accepted with MaxSessionsPerConn 2")
	} else if !strings.Contains(err.Error(), "too many sessions") {
		t.Errorf("third session: %v", err)
	}
	// Other connections have their own allowance.
	if r := run(t, ts.mustDial(t, user), "", "exit 0"); r.code != 0 {
		t.Fatalf("another connection: %v", r)
	}
	a.Close()
	b.Run("exit 0")
	b.Close()
	// Closed sessions free their slots.
	if !waitFor(5*time.Second, func() bool {
		s, err := c.NewSession()
		if err != nil {
			return false
		}
		s.Close()
		return true
	}) {
		t.Fatal("slots not freed after the sessions ended")
	}
}

func TestRouting(t *testing.T) {
	tag := func(name string) Handler {
		return func(s *Session) int {
			fmt.Fprintf(s.Stdout, "%s %q pty=%v shell=%v", name, s.RawCommand, s.PTY != nil, s.Shell)
			return 0
		}
	}
	user := newSigner(t)
	full := startServer(t, Config{}, Handlers{Command: tag("command"), Git: tag("git"), TUI: tag("tui")})
	full.keys.add("bob", user.PublicKey())
	bare := startServer(t, Config{}, Handlers{Command: tag("command")})
	bare.keys.add("bob", user.PublicKey())
	cf, cb := full.mustDial(t, user), bare.mustDial(t, user)

	for _, c := range []struct {
		cmd      string
		pty      bool
		shell    bool
		full     string
		fallback string
	}{
		{cmd: "git-receive-pack 'app'", full: `git "git-receive-pack 'app'" pty=false shell=false`},
		{cmd: "git-upload-pack 'app'", full: `git "git-upload-pack 'app'" pty=false shell=false`},
		{cmd: "git-upload-archive 'app'", full: `git "git-upload-archive 'app'" pty=false shell=false`},
		{cmd: "git-upload-pack 'app'", pty: true, full: `git "git-upload-pack 'app'" pty=true shell=false`},
		{cmd: "git-receive-packs app", full: `command "git-receive-packs app" pty=false shell=false`},
		// git-shell's rule: "git" and one blank is "git-".
		{cmd: "git receive-pack app", full: `git "git receive-pack app" pty=false shell=false`},
		{cmd: "git upload-pack 'app'", full: `git "git upload-pack 'app'" pty=false shell=false`},
		{cmd: "git\tupload-archive 'app'", full: `git "git\tupload-archive 'app'" pty=false shell=false`},
		{cmd: "git  receive-pack app", full: `command "git  receive-pack app" pty=false shell=false`},
		{cmd: "git receive-packs app", full: `command "git receive-packs app" pty=false shell=false`},
		{cmd: "git help", full: `command "git help" pty=false shell=false`},
		{cmd: "apps:list", full: `command "apps:list" pty=false shell=false`},
		{cmd: "apps:list", pty: true, full: `command "apps:list" pty=true shell=false`},
		// exec with an empty command is not a shell request
		{cmd: "", full: `command "" pty=false shell=false`},
		{shell: true, full: `command "" pty=false shell=true`},
		{shell: true, pty: true, full: `tui "" pty=true shell=true`},
	} {
		name := fmt.Sprintf("%q pty=%v shell=%v", c.cmd, c.pty, c.shell)
		t.Run(name, func(t *testing.T) {
			for _, side := range []struct {
				c    *gossh.Client
				want string
			}{{cf, c.full}, {cb, "command " + strings.SplitN(c.full, " ", 2)[1]}} {
				s, err := side.c.NewSession()
				if err != nil {
					t.Fatal(err)
				}
				if c.pty {
					if err := s.RequestPty("xterm", 24, 80, nil); err != nil {
						t.Fatal(err)
					}
				}
				var out []byte
				if c.shell {
					var b bytes.Buffer
					s.Stdout = &b
					s.Shell()
					s.Wait()
					out = b.Bytes()
				} else {
					out, _ = s.Output(c.cmd)
				}
				s.Close()
				if string(out) != side.want {
					t.Errorf("got %q, want %q", out, side.want)
				}
			}
		})
	}
}

func TestPTY(t *testing.T) {
	tui := func(s *Session) int {
		b := make([]byte, 3)
		io.ReadFull(s.Stdin, b)
		fmt.Fprintf(s.Stdout, "tui read %q\nsize %dx%d\n", b, s.PTY.Width, s.PTY.Height)
		return 0
	}
	ts := startServer(t, Config{}, Handlers{TUI: tui})
	user := newSigner(t)
	ts.keys.add("bob", user.PublicKey())
	c := ts.mustDial(t, user)

	// start runs cmd with a PTY; the returned func waits for the result.
	start := func(t *testing.T, cmd string) (*gossh.Session, io.WriteCloser, func() result, *testbuf.Buffer) {
		t.Helper()
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if err := s.RequestPty("xterm-256color", 30, 100, gossh.TerminalModes{gossh.ECHO: 1}); err != nil {
			t.Fatal(err)
		}
		in, _ := s.StdinPipe()
		var o, e testbuf.Buffer
		s.Stdout, s.Stderr = &o, &e
		if err := s.Start(cmd); err != nil {
			t.Fatal(err)
		}
		return s, in, func() result {
			err := s.Wait()
			return result{o.String(), e.String(), exitOf(err)}
		}, &o
	}

	for _, tc := range []struct {
		name, cmd, input string
		want             result
	}{
		{"streams merged, LF as CRLF", "both", "", result{stdout: "out\r\nerr\r\n", code: 3}},
		{"pty info", "pty", "", result{stdout: "term=xterm-256color size=100x30\r\n"}},
		{"line editing and echo", "line", "ab\x7fc\r", result{stdout: "ab\b \bc\r\n[\"ac\\n\" <nil>]\r\n"}},
		{"^D at line start ends input", "read", "hi\r\x04", result{stdout: "hi\r\nhi\r\n"}},
		{"client EOF ends input", "read", "partial", result{stdout: "partialpartial"}},
		{"^C cancels a command that does not read", "wait", "\x03", result{stdout: "^C\r\ncancelled\r\n", code: 130}},
		{"Raw bypasses the line discipline", "raw", "a\x03\r\x7f", result{stdout: "> \"a\\x03\\r\\x7f\" ctx=<nil>\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, in, wait, out := start(t, tc.cmd)
			if tc.cmd == "raw" {
				// keys typed after the handler's prompt: Raw is in use by then
				if !waitFor(10*time.Second, func() bool { return strings.HasPrefix(out.String(), "> ") }) {
					t.Fatalf("no prompt: %q", out.String())
				}
			}
			if tc.input != "" {
				io.WriteString(in, tc.input)
			}
			if tc.cmd == "read" && !strings.Contains(tc.input, "\x04") || tc.cmd == "both" || tc.cmd == "pty" {
				in.Close()
			}
			if r := wait(); r != tc.want {
				t.Fatalf("got %v, want %v", r, tc.want)
			}
		})
	}

	t.Run("window changes never block, newest kept", func(t *testing.T) {
		s, in, wait, _ := start(t, "resize")
		for i := 1; i <= 50; i++ {
			// want-reply: each is handled before the next is sent
			ok, err := s.SendRequest("window-change", true, gossh.Marshal(windowChange{Cols: uint32(100 + i), Rows: uint32(i)}))
			if !ok || err != nil {
				t.Fatalf("window-change %d: %v %v", i, ok, err)
			}
		}
		io.WriteString(in, "\r")
		if r := wait(); r.stdout != "\r\nresized 150x50\r\n" || r.code != 0 {
			t.Fatalf("got %v", r)
		}
	})

	t.Run("no echo when the terminal modes say so", func(t *testing.T) {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{gossh.ECHO: 0}); err != nil {
			t.Fatal(err)
		}
		s.Stdin = strings.NewReader("secret\r")
		out, err := s.Output("line")
		if err != nil || string(out) != "[\"secret\\n\" <nil>]\r\n" {
			t.Fatalf("%v %q", err, out)
		}
	})

	t.Run("window-change without pty refused", func(t *testing.T) {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if ok, _ := s.SendRequest("window-change", true, gossh.Marshal(windowChange{Cols: 1, Rows: 1})); ok {
			t.Fatal("accepted")
		}
	})

	t.Run("TUI reads raw keys", func(t *testing.T) {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.RequestPty("xterm", 40, 120, nil)
		in, _ := s.StdinPipe()
		var o bytes.Buffer
		s.Stdout = &o
		if err := s.Shell(); err != nil {
			t.Fatal(err)
		}
		io.WriteString(in, "\x1b[A")
		if err := s.Wait(); err != nil || o.String() != "tui read \"\\x1b[A\"\r\nsize 120x40\r\n" {
			t.Fatalf("%v %q", err, o.String())
		}
	})
}

// A command without a terminal has its first writes held back (conn.hold)
// so that a quick one leaves in one write. One that waits for the client
// after a prompt must still have the prompt delivered: the client answers
// only once it has seen it.
func TestPromptReachesClientWhileCommandWaits(t *testing.T) {
	ts := startServer(t, Config{}, Handlers{Command: func(s *Session) int {
		io.WriteString(s.Stdout, "name? ")
		line, err := bufio.NewReader(s.Stdin).ReadString('\n')
		if err != nil {
			return 1
		}
		io.WriteString(s.Stdout, "hello "+line)
		return 0
	}})
	user := newSigner(t)
	ts.keys.add("bob", user.PublicKey())
	c := ts.mustDial(t, user)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stdin, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("ask"); err != nil {
		t.Fatal(err)
	}
	// Generous bound: this guards against the prompt never coming.
	prompt := make(chan string, 1)
	go func() {
		b := make([]byte, len("name? "))
		_, err := io.ReadFull(stdout, b)
		if err != nil {
			prompt <- err.Error()
			return
		}
		prompt <- string(b)
	}()
	select {
	case p := <-prompt:
		if p != "name? " {
			t.Fatalf("prompt: %q", p)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the prompt never reached the client while the command waited for its answer")
	}
	io.WriteString(stdin, "bob\n")
	rest, err := io.ReadAll(stdout)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	if string(rest) != "hello bob\n" {
		t.Errorf("after the answer: %q", rest)
	}
}
