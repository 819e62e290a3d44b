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

// With RefuseSignals a signal request is refused and the command goes on,
// as sshd treats forced-command sessions.
func TestRefuseSignals(t *testing.T) {
	ts := startServer(t, Config{RefuseSignals: true}, Handlers{})
	u := newSigner(t)
	ts.keys.add("u", u.PublicKey())
	c := ts.mustDial(t, u)
	ch, _, err := c.OpenChannel("session", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if ok, err := ch.SendRequest("exec", true, gossh.Marshal(execRequest{Command: "sleep 300ms"})); err != nil || !ok {
		t.Fatalf("exec: %v %v", ok, err)
	}
	ok, err := ch.SendRequest("signal", true, gossh.Marshal(struct{ Signal string }{"TERM"}))
	if err != nil || ok {
		t.Fatalf("signal request answered %v (%v), want refused", ok, err)
	}
	out, _ := io.ReadAll(ch)
	if string(out) != "done\n" {
		t.Errorf("the command printed %q after a refused signal, want it to finish", out)
	}
}
