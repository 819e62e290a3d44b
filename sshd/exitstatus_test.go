package sshd

import (
	"io"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// TestExitStatusBeforeEOF: PuTTY's plink and dropbear's dbclient close the
// channel as soon as both directions are at EOF; x/crypto then answers
// their close at once, and an exit-status sent after the server's EOF was
// lost (the clients reported exit 0 for a failed command, now and then).
// So the exit status must come before the EOF: this client, like them,
// looks for it when the EOF arrives and then closes. (With the old order
// the status is often, not always, queued by then: hence the repetitions.)
func TestExitStatusBeforeEOF(t *testing.T) {
	ts := startServer(t, Config{MaxSessionsPerConn: -1}, Handlers{})
	u := newSigner(t)
	ts.keys.add("u", u.PublicKey())
	c := ts.mustDial(t, u)
	for i := range 100 {
		cmd := []string{"exit 20", "both", "exit 0"}[i%3]
		func() {
			ch, reqs, err := c.OpenChannel("session", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ch.Close()
			ok, err := ch.SendRequest("exec", true, gossh.Marshal(execRequest{Command: cmd}))
			if err != nil || !ok {
				t.Fatalf("exec: %v %v", ok, err)
			}
			// Stdin at EOF, as with </dev/null (an error when the server
			// has closed the channel already).
			_ = ch.CloseWrite()
			go io.Copy(io.Discard, ch.Stderr())
			if _, err := io.Copy(io.Discard, ch); err != nil { // to the server's EOF
				t.Fatal(err)
			}
			// Requests and EOF are handled in the order they arrive: an
			// exit-status sent before the EOF is queued by now.
			select {
			case req := <-reqs:
				if req.Type != "exit-status" {
					t.Fatalf("first request after the command: %q, want exit-status", req.Type)
				}
			default:
				t.Fatalf("%q, session %d: EOF arrived before the exit-status", cmd, i)
			}
			ch.Close()
		}()
	}
}
