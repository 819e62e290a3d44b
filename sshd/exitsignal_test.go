package sshd

import (
	"io"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// A handler that sets ExitSignal gets exit-signal sent instead of
// exit-status, with sshd's empty message and language; LocalAddr is the
// server's end of the connection.
func TestExitSignal(t *testing.T) {
	ts := startServer(t, Config{}, Handlers{Command: func(s *Session) int {
		_, _ = io.WriteString(s.Stdout, s.LocalAddr.String())
		s.ExitSignal = &ExitSignal{Signal: "TERM", CoreDumped: true}
		return 0
	}})
	u := newSigner(t)
	ts.keys.add("u", u.PublicKey())
	c := ts.mustDial(t, u)
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if ok, err := ch.SendRequest("exec", true, gossh.Marshal(execRequest{Command: "x"})); err != nil || !ok {
		t.Fatalf("exec: %v %v", ok, err)
	}
	out, err := io.ReadAll(ch)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != ts.addr {
		t.Errorf("LocalAddr %q, want %q", out, ts.addr)
	}
	req := <-reqs
	var es exitSignal
	if req == nil || req.Type != "exit-signal" || gossh.Unmarshal(req.Payload, &es) != nil {
		t.Fatalf("request %+v, want exit-signal", req)
	}
	if es != (exitSignal{Signal: "TERM", CoreDumped: true}) {
		t.Errorf("exit-signal %+v", es)
	}
}
