package sshd

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

func newRSASigner(t testing.TB) gossh.AlgorithmSigner {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return s.(gossh.AlgorithmSigner)
}

// withAlgorithms restricts a signer to some signature algorithms.
func withAlgorithms(t testing.TB, s gossh.AlgorithmSigner, algos ...string) gossh.Signer {
	t.Helper()
	ms, err := gossh.NewSignerWithAlgorithms(s, algos)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// userCert certifies key for the login user "dokku", signed by ca with
// the first of its algorithms.
func userCert(t testing.TB, key gossh.Signer, ca gossh.Signer, id string) gossh.Signer {
	t.Helper()
	cert := &gossh.Certificate{
		Key: key.PublicKey(), CertType: gossh.UserCert, KeyId: id, ValidPrincipals: []string{"dokku"},
		ValidAfter: uint64(time.Now().Add(-time.Hour).Unix()), ValidBefore: uint64(time.Now().Add(time.Hour).Unix()),
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	cs, err := gossh.NewCertSigner(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// writeRSAHostKey puts an RSA host key into a new host key directory, so
// that the test does not wait for a 3072-bit key to be generated.
func writeRSAHostKey(t testing.TB, k *rsa.PrivateKey) string {
	t.Helper()
	dir := t.TempDir()
	block, err := gossh.MarshalPrivateKey(k, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ssh_host_rsa_key"), pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestAlgorithmPolicy connects x/crypto clients restricted to given
// algorithms: OpenSSH's default policy refuses the SHA-1 key exchange and
// ssh-rsa signatures (user, CA, host key), the legacy flag accepts them,
// and what neither policy has is refused by both. Each login's log line
// names its key exchange and signature algorithm; each refusal says why.
func TestAlgorithmPolicy(t *testing.T) {
	hostRSA, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ed, rsaKey, ca := newSigner(t), newRSASigner(t), newRSASigner(t)
	servers := map[bool]*testServer{}
	for _, legacy := range []bool{false, true} {
		ts := startServer(t, Config{HostKeyDir: writeRSAHostKey(t, hostRSA), LegacyAlgorithms: legacy,
			TrustedUserCAKeys: []gossh.PublicKey{ca.PublicKey()}}, Handlers{})
		ts.keys.add("ed", ed.PublicKey())
		ts.keys.add("rsa", rsaKey.PublicKey())
		servers[legacy] = ts
	}

	type outcome int
	const (
		refused outcome = iota
		accepted
	)
	for _, c := range []struct {
		name   string
		kex    []string // client's lists; nil: x/crypto's defaults
		hostKs []string
		cipher []string
		mac    []string
		signer gossh.Signer
		// Outcomes without and with the legacy flag.
		std, legacy outcome
		// Log attributes of an accepted login (kex, sig_alg, legacy; the
		// host key algorithm only when given).
		wantKex, wantSig, wantHostKey string
		// Refused without the flag: the log line's message and a part of
		// its reason.
		refusal, reason string
	}{
		{name: "x/crypto defaults, ed25519", signer: ed, std: accepted, legacy: accepted,
			wantKex: gossh.KeyExchangeMLKEM768X25519, wantSig: gossh.KeyAlgoED25519},
		{name: "curve25519", kex: []string{gossh.KeyExchangeCurve25519}, signer: ed, std: accepted, legacy: accepted,
			wantKex: gossh.KeyExchangeCurve25519, wantSig: gossh.KeyAlgoED25519},
		{name: "ecdh-sha2-nistp256", kex: []string{gossh.KeyExchangeECDHP256}, signer: ed, std: accepted, legacy: accepted,
			wantKex: gossh.KeyExchangeECDHP256, wantSig: gossh.KeyAlgoED25519},
		{name: "diffie-hellman-group-exchange-sha256", kex: []string{gossh.KeyExchangeDHGEXSHA256}, signer: ed, std: accepted, legacy: accepted,
			wantKex: gossh.KeyExchangeDHGEXSHA256, wantSig: gossh.KeyAlgoED25519},
		{name: "diffie-hellman-group16-sha512", kex: []string{gossh.KeyExchangeDH16SHA512}, signer: ed, std: accepted, legacy: accepted,
			wantKex: gossh.KeyExchangeDH16SHA512, wantSig: gossh.KeyAlgoED25519},
		{name: "rsa-sha2-256 signature", signer: withAlgorithms(t, rsaKey, gossh.KeyAlgoRSASHA256), std: accepted, legacy: accepted,
			wantKex: gossh.KeyExchangeMLKEM768X25519, wantSig: gossh.KeyAlgoRSASHA256},
		{name: "rsa-sha2-512 signature", signer: withAlgorithms(t, rsaKey, gossh.KeyAlgoRSASHA512), std: accepted, legacy: accepted,
			wantKex: gossh.KeyExchangeMLKEM768X25519, wantSig: gossh.KeyAlgoRSASHA512},
		{name: "rsa-sha2-512 host key", hostKs: []string{gossh.KeyAlgoRSASHA512}, signer: ed, std: accepted, legacy: accepted,
			wantKex: gossh.KeyExchangeMLKEM768X25519, wantSig: gossh.KeyAlgoED25519},
		{name: "certificate signed with rsa-sha2-512", signer: userCert(t, ed, ca, "cert-sha2"), std: accepted, legacy: accepted,
			wantKex: gossh.KeyExchangeMLKEM768X25519, wantSig: gossh.KeyAlgoED25519},

		{name: "SHA-1 key exchange only", kex: []string{gossh.InsecureKeyExchangeDH14SHA1}, signer: ed, std: refused, legacy: accepted,
			wantKex: gossh.InsecureKeyExchangeDH14SHA1, wantSig: gossh.KeyAlgoED25519,
			refusal: "handshake refused", reason: "no common key exchange algorithm; the client offers diffie-hellman-group14-sha1 (SHA-1), which --legacy-algorithms accepts"},
		{name: "ssh-rsa signature only", signer: withAlgorithms(t, rsaKey, gossh.KeyAlgoRSA), std: refused, legacy: accepted,
			wantKex: gossh.KeyExchangeMLKEM768X25519, wantSig: gossh.KeyAlgoRSA,
			refusal: "auth attempt", reason: "signature algorithm ssh-rsa (SHA-1) is refused; the client must use rsa-sha2-256 or rsa-sha2-512, or the server --legacy-algorithms"},
		{name: "SHA-1 key exchange and ssh-rsa signature (JSch 0.1 with an RSA key)", kex: []string{gossh.InsecureKeyExchangeDH14SHA1},
			signer: withAlgorithms(t, rsaKey, gossh.KeyAlgoRSA), std: refused, legacy: accepted,
			wantKex: gossh.InsecureKeyExchangeDH14SHA1, wantSig: gossh.KeyAlgoRSA,
			refusal: "handshake refused", reason: "--legacy-algorithms accepts"},
		{name: "ssh-rsa host key only", hostKs: []string{gossh.KeyAlgoRSA}, signer: ed, std: refused, legacy: accepted,
			wantKex: gossh.KeyExchangeMLKEM768X25519, wantSig: gossh.KeyAlgoED25519, wantHostKey: gossh.KeyAlgoRSA,
			refusal: "handshake refused", reason: "no common host key algorithm; the client offers ssh-rsa (SHA-1) host key signatures, which --legacy-algorithms accepts"},
		{name: "RSA certificate, ssh-rsa signature", signer: userCert(t, withAlgorithms(t, rsaKey, gossh.KeyAlgoRSA), ca, "rsa-cert"), std: refused, legacy: accepted,
			wantKex: gossh.KeyExchangeMLKEM768X25519, wantSig: gossh.KeyAlgoRSA,
			refusal: "auth attempt", reason: "signature algorithm ssh-rsa (SHA-1) is refused"},
		{name: "certificate signed with ssh-rsa", signer: userCert(t, ed, withAlgorithms(t, ca, gossh.KeyAlgoRSA), "cert-sha1"), std: refused, legacy: accepted,
			wantKex: gossh.KeyExchangeMLKEM768X25519, wantSig: gossh.KeyAlgoED25519,
			refusal: "auth attempt", reason: "certificate signed with ssh-rsa (SHA-1) by its CA: re-sign it with rsa-sha2-512, or run the server with --legacy-algorithms"},

		{name: "diffie-hellman-group1-sha1 only", kex: []string{gossh.InsecureKeyExchangeDH1SHA1}, signer: ed,
			refusal: "handshake refused", reason: "no common key exchange algorithm"},
		{name: "diffie-hellman-group-exchange-sha1 only", kex: []string{gossh.InsecureKeyExchangeDHGEXSHA1}, signer: ed,
			refusal: "handshake refused", reason: "no common key exchange algorithm"},
		{name: "aes128-cbc only", cipher: []string{gossh.InsecureCipherAES128CBC}, signer: ed,
			refusal: "handshake refused", reason: "cipher algorithm"},
		{name: "hmac-sha1-96 only", cipher: []string{gossh.CipherAES128CTR}, mac: []string{gossh.InsecureHMACSHA196}, signer: ed,
			refusal: "handshake refused", reason: "MAC algorithm"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, legacy := range []bool{false, true} {
				ts := servers[legacy]
				want := c.std
				if legacy {
					want = c.legacy
				}
				version := "SSH-2.0-algotest-" + strings.ReplaceAll(c.name, " ", "_")
				cl, err := gossh.Dial("tcp", ts.addr, &gossh.ClientConfig{
					Config:            gossh.Config{KeyExchanges: c.kex, Ciphers: c.cipher, MACs: c.mac},
					HostKeyAlgorithms: c.hostKs, ClientVersion: version,
					User: "dokku", Auth: []gossh.AuthMethod{gossh.PublicKeys(c.signer)},
					HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
				})
				if want == refused {
					if err == nil {
						cl.Close()
						t.Fatalf("legacy=%v: login accepted", legacy)
					}
					if legacy {
						continue
					}
					var found bool
					waitFor(5*time.Second, func() bool {
						for _, r := range ts.log.find(c.refusal, nil) {
							// Lines written after the handshake also name the client.
							if v, ok := r.attrs["client_version"]; strings.Contains(r.attrs["reason"], c.reason) && (!ok || v == version) {
								found = true
							}
						}
						return found
					})
					if !found {
						t.Errorf("no %q log line with a reason containing %q; log:\n%v", c.refusal, c.reason, ts.log.find(c.refusal, nil))
					}
					continue
				}
				if err != nil {
					t.Fatalf("legacy=%v: %v", legacy, err)
				}
				r := run(t, cl, "", "exit 3")
				cl.Close()
				if r.code != 3 {
					t.Fatalf("legacy=%v: %v", legacy, r)
				}
				lines := ts.log.find("auth attempt", map[string]string{"client_version": version, "accepted": "true"})
				if len(lines) != 1 {
					t.Fatalf("legacy=%v: %d accepted auth lines for %s", legacy, len(lines), version)
				}
				wantLegacy := c.wantKex == gossh.InsecureKeyExchangeDH14SHA1 || c.wantSig == gossh.KeyAlgoRSA || c.wantHostKey == gossh.KeyAlgoRSA
				got := lines[0].attrs
				if got["kex"] != c.wantKex || got["sig_alg"] != c.wantSig || got["legacy"] != boolString(wantLegacy) ||
					got["host_key_alg"] == "" || c.wantHostKey != "" && got["host_key_alg"] != c.wantHostKey {
					t.Errorf("legacy=%v: auth line has kex=%q sig_alg=%q host_key_alg=%q legacy=%q, want %q %q %q %v", legacy,
						got["kex"], got["sig_alg"], got["host_key_alg"], got["legacy"], c.wantKex, c.wantSig, c.wantHostKey, wantLegacy)
				}
			}
		})
	}
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// The algorithms the server offers, as a client sees them in the key
// exchange: nothing SHA-1 but hmac-sha1 (as OpenSSH), unless the legacy
// flag is on.
func TestAlgorithmPolicyLists(t *testing.T) {
	std, legacy := newAlgorithms(false), newAlgorithms(true)
	sha1 := []string{gossh.InsecureKeyExchangeDH14SHA1, gossh.InsecureKeyExchangeDH1SHA1, gossh.InsecureKeyExchangeDHGEXSHA1,
		gossh.KeyAlgoRSA, "ssh-dss", gossh.InsecureHMACSHA196}
	for _, a := range sha1 {
		for _, list := range [][]string{std.keyExchanges, std.ciphers, std.macs, std.signatures, std.rsaHostKeySig} {
			for _, x := range list {
				if x == a {
					t.Errorf("the default policy has %s", a)
				}
			}
		}
	}
	if got := strings.Join(legacy.keyExchanges, ","); !strings.HasSuffix(got, ","+gossh.InsecureKeyExchangeDH14SHA1) {
		t.Errorf("legacy key exchanges %s", got)
	}
	if got := strings.Join(legacy.signatures, ","); !strings.HasSuffix(got, ","+gossh.KeyAlgoRSA) {
		t.Errorf("legacy signatures %s", got)
	}
	// Every algorithm of the policy is one x/crypto implements.
	sup := gossh.SupportedAlgorithms()
	for _, l := range []struct {
		name      string
		have, sup []string
	}{
		{"kex", std.keyExchanges, sup.KeyExchanges},
		{"ciphers", std.ciphers, sup.Ciphers},
		{"macs", std.macs, sup.MACs},
		{"signatures", std.signatures, sup.PublicKeyAuths},
	} {
		for _, a := range l.have {
			if !strings.Contains(","+strings.Join(l.sup, ",")+",", ","+a+",") {
				t.Errorf("%s: %s is not among x/crypto's supported algorithms", l.name, a)
			}
		}
	}
}
