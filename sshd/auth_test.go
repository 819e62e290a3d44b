package sshd

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

func TestAuthKeys(t *testing.T) {
	ts := startServer(t, Config{}, Handlers{})
	admin, bob, stranger := newSigner(t), newSigner(t), newSigner(t)
	ts.keys.add("admin", admin.PublicKey())
	ts.keys.add("bob", bob.PublicKey())
	fp := gossh.FingerprintSHA256

	for _, c := range []struct {
		name    string
		user    string
		signers []gossh.Signer
		want    string // "who" output; "" = refused
	}{
		{"admin key", "dokku", []gossh.Signer{admin}, "name=admin admin=true cert=false fp=" + fp(admin.PublicKey()) + "\n"},
		{"user key", "dokku", []gossh.Signer{bob}, "name=bob admin=false cert=false fp=" + fp(bob.PublicKey()) + "\n"},
		{"unknown key refused", "dokku", []gossh.Signer{stranger}, ""},
		{"unknown then known: the one that signed", "dokku", []gossh.Signer{stranger, bob}, "name=bob admin=false cert=false fp=" + fp(bob.PublicKey()) + "\n"},
		{"other login user refused", "root", []gossh.Signer{admin}, ""},
		{"git login user refused", "git", []gossh.Signer{bob}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl, err := ts.dial(c.user, c.signers...)
			if c.want == "" {
				if err == nil {
					cl.Close()
					t.Fatal("login accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			if r := run(t, cl, "", "who"); r.stdout != c.want || r.code != 0 {
				t.Fatalf("who: %v, want %q", r, c.want)
			}
		})
	}
	t.Run("password and keyboard-interactive refused", func(t *testing.T) {
		for _, m := range []gossh.AuthMethod{
			gossh.Password("dokku"),
			gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return []string{"x"}, nil }),
		} {
			c, err := gossh.Dial("tcp", ts.addr, &gossh.ClientConfig{User: "dokku", Auth: []gossh.AuthMethod{m},
				HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
			if err == nil {
				c.Close()
				t.Fatal("login without a key accepted")
			}
		}
	})
	// One line per attempt: the verified logins of admin and bob, the
	// refusals of the stranger's key and of the other users.
	ts.log.waitAuthCounts(t, fp(admin.PublicKey()), 1, 1)
	ts.log.waitAuthCounts(t, fp(bob.PublicKey()), 2, 1)
	ts.log.waitAuthCounts(t, fp(stranger.PublicKey()), 0, 2)
	line := ts.log.find("auth attempt", map[string]string{"fingerprint": fp(bob.PublicKey()), "accepted": "true"})[0]
	for _, k := range []string{"remote", "user", "key_type", "name"} {
		if line.attrs[k] == "" {
			t.Errorf("auth log line lacks %s: %v", k, line.attrs)
		}
	}
	if line.level.String() != "INFO" {
		t.Errorf("auth log level %v, want INFO", line.level)
	}
}

// offerSigner offers one public key but signs with another key.
type offerSigner struct {
	offered gossh.PublicKey
	signer  gossh.Signer
}

func (o offerSigner) PublicKey() gossh.PublicKey { return o.offered }
func (o offerSigner) Sign(r io.Reader, data []byte) (*gossh.Signature, error) {
	return o.signer.Sign(r, data)
}

// TestAuthBypassOfferedKeyNotSigned is the CVE-2024-45337 regression: a
// client that offers the admin's public key but signs with another key must
// be refused, must not be logged as an admin login, and must never run as
// admin.
func TestAuthBypassOfferedKeyNotSigned(t *testing.T) {
	ts := startServer(t, Config{}, Handlers{})
	admin, bob, attacker := newSigner(t), newSigner(t), newSigner(t)
	ts.keys.add("admin", admin.PublicKey())
	ts.keys.add("bob", bob.PublicKey())
	adminFP := gossh.FingerprintSHA256(admin.PublicKey())
	forged := offerSigner{offered: admin.PublicKey(), signer: attacker}

	if c, err := ts.dial("dokku", forged); err == nil {
		r := run(t, c, "", "who")
		c.Close()
		t.Fatalf("a signature by another key was accepted for the admin key: %v", r)
	}
	// Offer the admin key (the offer is acceptable), sign wrongly, then
	// offer bob: x/crypto's server drops the connection at the bad
	// signature; should a client ever get through, it must be bob.
	if c, err := ts.dial("dokku", forged, bob); err == nil {
		r := run(t, c, "", "who")
		c.Close()
		if !strings.HasPrefix(r.stdout, "name=bob admin=false") {
			t.Fatalf("after a forged admin offer: %v", r)
		}
	}
	// The forged attempts are logged as refused for the admin key, never
	// as accepted.
	ts.log.waitAuthCounts(t, adminFP, 0, 2)
	if n := len(ts.log.find("auth attempt", map[string]string{"accepted": "true"})); n != 0 {
		t.Errorf("%d accepted logins logged, want none", n)
	}
}

// The offered-but-not-signed sequence with OpenSSH: a passphrase-protected
// copy of the admin key in batch mode is offered (a query the server
// answers "ok") but never signs; bob's key then signs. The session is bob.
func TestAuthOfferedAdminKeyThenOtherKeyOpenSSH(t *testing.T) {
	requireOpenSSH(t)
	dir := t.TempDir()
	admin := keygen(t, dir, "admin", "ed25519")
	bob := keygen(t, dir, "bob", "ed25519")
	locked := filepath.Join(dir, "admin-locked")
	b, _ := os.ReadFile(admin.priv)
	os.WriteFile(locked, b, 0o600)
	mustRun(t, "ssh-keygen", "-q", "-p", "-P", "", "-N", "a passphrase nobody types", "-f", locked)
	ts := startServer(t, Config{}, Handlers{})
	ts.keys.add("admin", admin.pub)
	ts.keys.add("bob", bob.pub)

	r := ts.ssh(t, sshOpts{identities: []string{locked, bob.priv}}, "who")
	if want := "name=bob admin=false cert=false fp=" + bob.fp + "\n"; r.stdout != want || r.code != 0 {
		t.Fatalf("got %v, want %q", r, want)
	}
	ts.log.waitAuthCounts(t, bob.fp, 1, 0)
	if a, _ := ts.log.authCounts(admin.fp); a != 0 {
		t.Errorf("the offered admin key was logged as an accepted login")
	}
}

func TestAuthOpenSSH(t *testing.T) {
	requireOpenSSH(t)
	dir := t.TempDir()
	ts := startServer(t, Config{}, Handlers{})
	var known []sshKey
	for _, typ := range []string{"ed25519", "ecdsa", "rsa"} {
		k := keygen(t, dir, typ, typ)
		ts.keys.add("key-"+typ, k.pub)
		known = append(known, k)
	}
	unknown := keygen(t, dir, "unknown", "ed25519")

	for _, k := range known {
		r := ts.ssh(t, sshOpts{identities: []string{k.priv}}, "who")
		if !strings.HasPrefix(r.stdout, "name=key-") || r.code != 0 {
			t.Errorf("%s key: %v", k.pub.Type(), r)
		}
		ts.log.waitAuthCounts(t, k.fp, 1, 0)
	}
	r := ts.ssh(t, sshOpts{identities: []string{unknown.priv}}, "who")
	if r.code != 255 || !strings.Contains(r.stderr, "Permission denied") {
		t.Errorf("unknown key: %v", r)
	}
	ts.log.waitAuthCounts(t, unknown.fp, 0, 1)
	for _, user := range []string{"root", "git", "Dokku"} {
		r := ts.ssh(t, sshOpts{user: user, identities: []string{known[0].priv}}, "who")
		if r.code != 255 || r.stdout != "" {
			t.Errorf("login as %s: %v", user, r)
		}
	}
	ts.log.waitAuthCounts(t, known[0].fp, 1, 3)
}

// Certificates made by ssh-keygen, used by OpenSSH (and by x/crypto for
// a host certificate, which OpenSSH would not present).
func TestAuthCertificates(t *testing.T) {
	requireOpenSSH(t)
	dir := t.TempDir()
	ca := keygen(t, dir, "ca", "ed25519")
	otherCA := keygen(t, dir, "other-ca", "ed25519")
	ts := startServer(t, Config{TrustedUserCAKeys: []gossh.PublicKey{ca.pub}}, Handlers{})

	sign := func(name string, signer sshKey, args ...string) (sshKey, string) {
		k := keygen(t, dir, name, "ed25519")
		mustRun(t, "ssh-keygen", append(append([]string{"-q", "-s", signer.priv}, args...), k.priv+".pub")...)
		return k, k.priv + "-cert.pub"
	}
	for _, c := range []struct {
		name string
		ca   sshKey
		args []string
		want string // prefix of "who"; "" = refused
	}{
		{"valid", ca, []string{"-I", "alice", "-n", "dokku", "-V", "-5m:+1h"}, "name=alice admin=false cert=true"},
		{"valid forever, role from the key id", ca, []string{"-I", "ca-admin", "-n", "root,dokku"}, "name=ca-admin admin=true cert=true"},
		{"source-address honoured", ca, []string{"-I", "carol", "-n", "dokku", "-O", "source-address=127.0.0.0/8,::1"}, "name=carol"},
		{"expired", ca, []string{"-I", "alice", "-n", "dokku", "-V", "-2h:-1h"}, ""},
		{"not yet valid", ca, []string{"-I", "alice", "-n", "dokku", "-V", "+1h:+2h"}, ""},
		{"wrong principal", ca, []string{"-I", "alice", "-n", "root,git"}, ""},
		{"no principals", ca, []string{"-I", "alice"}, ""},
		{"no key id", ca, []string{"-I", "", "-n", "dokku"}, ""},
		{"untrusted CA", otherCA, []string{"-I", "alice", "-n", "dokku"}, ""},
		{"source-address elsewhere", ca, []string{"-I", "alice", "-n", "dokku", "-O", "source-address=10.0.0.0/8"}, ""},
		{"force-command refused", ca, []string{"-I", "alice", "-n", "dokku", "-O", "force-command=who"}, ""},
		{"verify-required refused", ca, []string{"-I", "alice", "-n", "dokku", "-O", "verify-required"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			k, cert := sign(strings.ReplaceAll(c.name, " ", "-"), c.ca, c.args...)
			r := ts.ssh(t, sshOpts{identities: []string{k.priv}, cert: cert}, "who")
			if c.want == "" {
				if r.code != 255 || r.stdout != "" {
					t.Fatalf("certificate accepted: %v", r)
				}
				return
			}
			if !strings.HasPrefix(r.stdout, c.want) || !strings.HasSuffix(r.stdout, "fp="+k.fp+"\n") || r.code != 0 {
				t.Fatalf("got %v, want %q... fp=%s", r, c.want, k.fp)
			}
			line := ts.log.find("auth attempt", map[string]string{"fingerprint": k.fp, "accepted": "true"})
			if len(line) != 1 || line[0].attrs["cert_id"] == "" || line[0].attrs["ca_fingerprint"] != ca.fp {
				t.Errorf("auth log for the certificate: %v", line)
			}
		})
	}

	t.Run("host certificate refused", func(t *testing.T) {
		k, certFile := sign("host", ca, "-h", "-I", "alice", "-n", "dokku")
		b, _ := os.ReadFile(certFile)
		pub, _, _, _, err := gossh.ParseAuthorizedKey(b)
		if err != nil {
			t.Fatal(err)
		}
		privBytes, _ := os.ReadFile(k.priv)
		signer, err := gossh.ParsePrivateKey(privBytes)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := gossh.NewCertSigner(pub.(*gossh.Certificate), signer)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := ts.dial("dokku", cs); err == nil {
			c.Close()
			t.Fatal("host certificate accepted for a user login")
		}
		if n := len(ts.log.find("auth attempt", map[string]string{"fingerprint": k.fp, "reason": "not a user certificate"})); n != 1 {
			t.Errorf("%d log lines refusing the host certificate, want 1", n)
		}
	})

	t.Run("no trusted CA: certificates refused", func(t *testing.T) {
		plain := startServer(t, Config{}, Handlers{})
		k, cert := sign("no-ca", ca, "-I", "alice", "-n", "dokku")
		if r := plain.ssh(t, sshOpts{identities: []string{k.priv}, cert: cert}, "who"); r.code != 255 {
			t.Fatalf("certificate accepted without TrustedUserCAKeys: %v", r)
		}
	})
}

func TestIdentityFromPermissions(t *testing.T) {
	for _, c := range []struct {
		name string
		ext  map[string]string
		ok   bool
	}{
		{"none", nil, false},
		{"only charm's key", map[string]string{"gliderlabs/ssh.PublicKey": "AAAA"}, false},
		{"no fingerprint", map[string]string{extName: "bob"}, false},
		{"complete", map[string]string{extName: "bob", extFingerprint: "SHA256:x", extAdmin: "yes", extCert: "no"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, ok := identityFromPermissions(&gossh.Permissions{Extensions: c.ext})
			if ok != c.ok {
				t.Fatalf("ok = %v", ok)
			}
			if ok && (id.Name != "bob" || !id.Admin || id.Cert || id.Fingerprint != "SHA256:x") {
				t.Fatalf("identity %+v", id)
			}
		})
	}
	if _, ok := identityFromPermissions(nil); ok {
		t.Fatal("nil permissions gave an identity")
	}
}

// removingSigner removes its key from the key store just before signing:
// the offer was acceptable, the signed attempt no longer is.
type removingSigner struct {
	gossh.Signer
	keys *keyTable
}

func (r removingSigner) Sign(rand io.Reader, data []byte) (*gossh.Signature, error) {
	r.keys.remove(r.Signer.PublicKey())
	return r.Signer.Sign(rand, data)
}

// A key removed between its offer and its signature is one failed login:
// one refused auth line and one rejected attempt told to the observer, not
// one more for the offer when the connection ends.
func TestKeyRemovedBeforeSignatureCountedOnce(t *testing.T) {
	ev := &events{}
	ts := startServer(t, Config{Observer: ev}, Handlers{})
	bob := newSigner(t)
	ts.keys.add("bob", bob.PublicKey())
	if c, err := ts.dial("dokku", removingSigner{Signer: bob, keys: ts.keys}); err == nil {
		c.Close()
		t.Fatal("a key removed before its signature was accepted")
	}
	// The connection's attempts are all told before Stats stops counting it.
	waitStats(t, ts.Server, Stats{})
	if a, r := ts.log.authCounts(gossh.FingerprintSHA256(bob.PublicKey())); a != 0 || r != 1 {
		t.Errorf("auth log: %d accepted, %d refused lines; want 0, 1", a, r)
	}
	if n := ev.get("auth publickey false"); n != 1 {
		t.Errorf("rejected attempts told %d times, want 1", n)
	}
	if n := ev.get("auth publickey true"); n != 0 {
		t.Errorf("accepted attempts told %d times, want 0", n)
	}
}

// evictingSigner stands for admission picking this connection to make room
// while its signature is on the way: the only connection of the server is
// released from the limits just before the client signs.
type evictingSigner struct {
	gossh.Signer
	s *Server
}

func (e evictingSigner) Sign(rand io.Reader, data []byte) (*gossh.Signature, error) {
	e.s.mu.Lock()
	for c := range e.s.conns {
		e.s.release(c)
	}
	e.s.mu.Unlock()
	return e.Signer.Sign(rand, data)
}

// A connection that admission released to make room cannot then log in:
// it would be served outside every limit (it no longer counts) and be
// closed under its user.
func TestLoginOfEvictedConnectionRefused(t *testing.T) {
	ts := startServer(t, Config{}, Handlers{})
	bob := newSigner(t)
	ts.keys.add("bob", bob.PublicKey())
	if c, err := ts.dial("dokku", evictingSigner{Signer: bob, s: ts.Server}); err == nil {
		c.Close()
		t.Fatal("a connection released to make room logged in")
	}
	if got := ts.log.find("auth attempt", map[string]string{"reason": "connection closed to make room for a new one"}); len(got) != 1 {
		t.Errorf("want one refused auth line naming the eviction, got %d", len(got))
	}
	// The server still serves a fresh connection.
	c := ts.mustDial(t, bob)
	c.Close()
}
