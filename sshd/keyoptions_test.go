package sshd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"dokku-sshd/keys"
)

// With Config.KeyPTYOptions a key whose authorized_keys line says no-pty
// or restrict (without a later pty) gets no terminal, as under sshd; the
// session itself still runs. Without it, every key gets one.
func TestKeyPTYOptions(t *testing.T) {
	signers := map[string]gossh.Signer{}
	var lines []string
	for _, k := range []struct{ name, options string }{
		{"plain", keys.DefaultOptions},
		{"nopty", "no-pty," + keys.DefaultOptions},
		{"restrict", "restrict"},
		{"restrictpty", "restrict,pty"},
	} {
		s := newSigner(t)
		signers[k.name] = s
		text := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey())))
		lines = append(lines, keys.FormatLine(k.name, gossh.FingerprintSHA256(s.PublicKey()), k.options, text, "/home/dokku"))
	}
	path := filepath.Join(t.TempDir(), "authorized_keys")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := keys.Open(path, nil)
	useStore := func(s *Server) { s.cfg.Keys = store }
	for _, on := range []bool{true, false} {
		ts := startServer(t, Config{KeyPTYOptions: on}, Handlers{}, useStore)
		for name, want := range map[string]bool{"plain": true, "nopty": !on, "restrict": !on, "restrictpty": true} {
			c := ts.mustDial(t, signers[name])
			s, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			err = s.RequestPty("xterm", 24, 80, nil)
			if got := err == nil; got != want {
				t.Errorf("KeyPTYOptions %v, key %s: terminal granted %v, want %v (%v)", on, name, got, want, err)
			}
			out, err := s.Output("pty")
			if err != nil || len(out) == 0 {
				t.Errorf("KeyPTYOptions %v, key %s: the session did not run: %v %q", on, name, err, out)
			}
			s.Close()
		}
	}
}
