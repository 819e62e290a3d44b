package sshd

import (
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// The algorithm policy is OpenSSH's default one (sshd_config(5) of OpenSSH
// 9.x and 10.x: KexAlgorithms, Ciphers, MACs, HostKeyAlgorithms,
// PubkeyAcceptedAlgorithms, CASignatureAlgorithms), limited to what
// x/crypto implements. x/crypto's own defaults are weaker in three ways:
// the SHA-1 key exchange diffie-hellman-group14-sha1, ssh-rsa (SHA-1) and
// ssh-dss signatures, and the hmac-sha1-96 MAC. OpenSSH dropped the first
// two in 8.2 and 8.8 (ssh-dss long before) and the last in 7.2.
//
// Not in x/crypto, so not offered: sntrup761x25519-sha512 and
// diffie-hellman-group18-sha512 key exchanges, the umac-* and hmac-sha1-etm
// MACs. Kept as OpenSSH keeps them: hmac-sha1 (an HMAC needs no collision
// resistance) and the finite-field DH exchanges over 2048 bits and more.
var (
	policyKeyExchanges = []string{
		gossh.KeyExchangeMLKEM768X25519, // post-quantum hybrid, OpenSSH 10's first choice
		gossh.KeyExchangeCurve25519,     // x/crypto adds the curve25519-sha256@libssh.org alias
		gossh.KeyExchangeECDHP256,
		gossh.KeyExchangeECDHP384,
		gossh.KeyExchangeECDHP521,
		gossh.KeyExchangeDHGEXSHA256,
		gossh.KeyExchangeDH16SHA512,
		gossh.KeyExchangeDH14SHA256,
	}
	// The client's order decides; this one only matters to x/crypto
	// clients, for which AES-GCM is the fast path.
	policyCiphers = []string{
		gossh.CipherAES128GCM,
		gossh.CipherAES256GCM,
		gossh.CipherChaCha20Poly1305,
		gossh.CipherAES128CTR,
		gossh.CipherAES192CTR,
		gossh.CipherAES256CTR,
	}
	policyMACs = []string{
		gossh.HMACSHA256ETM,
		gossh.HMACSHA512ETM,
		gossh.HMACSHA256,
		gossh.HMACSHA512,
		gossh.HMACSHA1,
	}
	// User signatures, and CA signatures on user certificates.
	policySignatures = []string{
		gossh.KeyAlgoED25519,
		gossh.KeyAlgoSKED25519,
		gossh.KeyAlgoSKECDSA256,
		gossh.KeyAlgoECDSA256,
		gossh.KeyAlgoECDSA384,
		gossh.KeyAlgoECDSA521,
		gossh.KeyAlgoRSASHA512,
		gossh.KeyAlgoRSASHA256,
	}
	// RSA host key signatures.
	policyRSAHostSignatures = []string{gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256}
)

// What Config.LegacyAlgorithms adds back, for clients that know nothing
// newer (JSch 0.1.x signs with ssh-rsa only; very old clients know no
// key exchange but diffie-hellman-group14-sha1).
const (
	legacyKeyExchange = gossh.InsecureKeyExchangeDH14SHA1
	legacySignature   = gossh.KeyAlgoRSA // user, CA and RSA host key signatures
)

// algorithms is the policy in force.
type algorithms struct {
	legacy        bool
	keyExchanges  []string
	ciphers       []string
	macs          []string
	signatures    []string // user and CA signatures
	rsaHostKeySig []string
}

func newAlgorithms(legacy bool) algorithms {
	a := algorithms{
		legacy:        legacy,
		keyExchanges:  slices.Clone(policyKeyExchanges),
		ciphers:       slices.Clone(policyCiphers),
		macs:          slices.Clone(policyMACs),
		signatures:    slices.Clone(policySignatures),
		rsaHostKeySig: slices.Clone(policyRSAHostSignatures),
	}
	if legacy {
		a.keyExchanges = append(a.keyExchanges, legacyKeyExchange)
		a.signatures = append(a.signatures, legacySignature)
		a.rsaHostKeySig = append(a.rsaHostKeySig, legacySignature)
	}
	return a
}

// isLegacy says whether an algorithm is one only the legacy flag allows.
func isLegacy(algo string) bool { return algo == legacyKeyExchange || algo == legacySignature }

// apply puts the policy into a connection's configuration.
func (a algorithms) apply(c *gossh.ServerConfig) {
	c.KeyExchanges = a.keyExchanges
	c.Ciphers = a.ciphers
	c.MACs = a.macs
	c.PublicKeyAuthAlgorithms = a.signatures
}

// hostSigners restricts RSA host keys to the policy's signature
// algorithms (x/crypto would also sign with ssh-rsa); other keys have one
// algorithm each.
func (a algorithms) hostSigners(signers []gossh.Signer) ([]gossh.Signer, error) {
	out := make([]gossh.Signer, 0, len(signers))
	for _, sg := range signers {
		if sg.PublicKey().Type() != gossh.KeyAlgoRSA {
			out = append(out, sg)
			continue
		}
		as, ok := sg.(gossh.AlgorithmSigner)
		if !ok {
			return nil, errors.New("sshd: the RSA host key cannot choose its signature algorithm")
		}
		ms, err := gossh.NewSignerWithAlgorithms(as, a.rsaHostKeySig)
		if err != nil {
			return nil, err
		}
		out = append(out, ms)
	}
	return out, nil
}

// log writes the policy at start-up: the lists at debug level, and a
// warning that names what the legacy flag lets in.
func (a algorithms) log(l *slog.Logger) {
	l.Debug("ssh algorithms", "legacy", a.legacy, "kex", strings.Join(a.keyExchanges, ","),
		"ciphers", strings.Join(a.ciphers, ","), "macs", strings.Join(a.macs, ","),
		"signatures", strings.Join(a.signatures, ","), "rsa_host_key_signatures", strings.Join(a.rsaHostKeySig, ","))
	if a.legacy {
		l.Warn("legacy algorithms enabled: SHA-1 key exchange " + legacyKeyExchange + " and " + legacySignature +
			" (SHA-1) signatures are accepted; auth lines with legacy=true show the clients that need them")
	}
}

// negotiated describes what a connection agreed on, for its log lines;
// sigAlgo is the user signature's algorithm ("" when none yet).
func negotiated(meta gossh.ConnMetadata, sigAlgo string) []any {
	var kex, hostKey string
	if am, ok := meta.(gossh.AlgorithmsConnMetadata); ok {
		kex, hostKey = am.Algorithms().KeyExchange, am.Algorithms().HostKey
	}
	attrs := []any{"kex", kex, "host_key_alg", hostKey}
	if sigAlgo != "" {
		attrs = append(attrs, "sig_alg", sigAlgo)
	}
	legacy := isLegacy(kex) || isLegacy(hostKey) || isLegacy(sigAlgo)
	return append(attrs, "legacy", legacy, "client_version", string(meta.ClientVersion()))
}

// refusedSignature recognises x/crypto's refusal of a user signature
// algorithm outside PublicKeyAuthAlgorithms; the key itself is not known
// then (x/crypto refuses before it parses the key).
func refusedSignature(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	rest, ok := strings.CutPrefix(err.Error(), `ssh: algorithm "`)
	if !ok {
		return "", false
	}
	algo, ok := strings.CutSuffix(rest, `" not accepted`)
	return algo, ok
}

// signatureRefusal is the reason logged for a refused signature algorithm.
func (a algorithms) signatureRefusal(algo string) string {
	if algo == legacySignature && !a.legacy {
		return "signature algorithm " + algo + " (SHA-1) is refused; the client must use rsa-sha2-256 or rsa-sha2-512, or the server --legacy-algorithms"
	}
	return "signature algorithm " + algo + " is not accepted"
}

// logNegotiationFailure logs a handshake that found no common algorithm,
// with what the client offered and, when the legacy flag would have let
// it in, says so; false when err is something else.
func (s *Server) logNegotiationFailure(nc net.Conn, err error) bool {
	var ne *gossh.AlgorithmNegotiationError
	if !errors.As(err, &ne) {
		return false
	}
	reason := "no common " + ne.What + " algorithm"
	if !s.algos.legacy {
		switch {
		case ne.What == "key exchange" && slices.Contains(ne.RequestedAlgorithms, legacyKeyExchange):
			reason += "; the client offers " + legacyKeyExchange + " (SHA-1), which --legacy-algorithms accepts"
		case ne.What == "host key" && slices.Contains(ne.RequestedAlgorithms, legacySignature) && s.hasRSAHostKey():
			reason += "; the client offers " + legacySignature + " (SHA-1) host key signatures, which --legacy-algorithms accepts"
		}
	}
	s.log.Info("handshake refused", "remote", addrString(nc.RemoteAddr()), "reason", reason,
		"client_offers", strings.Join(ne.RequestedAlgorithms, ","))
	return true
}

func (s *Server) hasRSAHostKey() bool {
	for _, sg := range s.signers {
		if sg.PublicKey().Type() == gossh.KeyAlgoRSA {
			return true
		}
	}
	return false
}
