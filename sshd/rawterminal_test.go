package sshd

import (
	"fmt"
	"io"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// With Config.RawTerminal, keys typed before a Command handler with a PTY
// reads them reach it as typed: not echoed, CR not made LF, ^C a byte that
// cancels nothing. Its Stdout still turns LF into CRLF.
func TestRawTerminal(t *testing.T) {
	typed := make(chan struct{})
	handler := func(s *Session) int {
		<-typed
		var in io.Reader = s.Raw
		if s.RawCommand == "stdin" {
			in = s.Stdin
		}
		b := make([]byte, 3)
		_, err := io.ReadFull(in, b)
		fmt.Fprintf(s.Stdout, "%q %v ctx=%v\n", b, err, s.Context.Err())
		return 0
	}
	ts := startServer(t, Config{RawTerminal: true}, Handlers{Command: handler})
	user := newSigner(t)
	ts.keys.add("bob", user.PublicKey())
	c := ts.mustDial(t, user)
	for _, cmd := range []string{"raw", "stdin"} {
		t.Run(cmd, func(t *testing.T) {
			s, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{gossh.ECHO: 1}); err != nil {
				t.Fatal(err)
			}
			in, _ := s.StdinPipe()
			out, _ := s.StdoutPipe()
			if err := s.Start(cmd); err != nil {
				t.Fatal(err)
			}
			if _, err := io.WriteString(in, "a\r\x03"); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond) // the keys are at the server before the handler reads
			typed <- struct{}{}
			got, _ := io.ReadAll(out)
			if err := s.Wait(); err != nil {
				t.Errorf("exit: %v", err)
			}
			if want := "\"a\\r\\x03\" <nil> ctx=<nil>\r\n"; string(got) != want {
				t.Errorf("output %q, want %q", got, want)
			}
		})
	}
}
