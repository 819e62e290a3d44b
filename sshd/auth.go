package sshd

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"dokku-sshd/keys"
)

// How a session learns who it runs as: x/crypto calls PublicKeyCallback
// (charm's wrapper around authenticate) for every key a client offers, and
// VerifiedPublicKeyCallback (verified) only for the key whose signature it
// has just checked. verified computes the identity and returns it in the
// connection's Permissions; x/crypto attaches those Permissions to the
// ServerConn only when that attempt completes the authentication, and
// sessions read the identity from there (identityFromPermissions). Nothing
// computed for a merely offered key reaches a session (the CVE-2024-45337
// pattern, where a server remembered the last offered key).
const (
	extName        = "dokku-sshd/name"
	extFingerprint = "dokku-sshd/fingerprint"
	extAdmin       = "dokku-sshd/admin"
	extCert        = "dokku-sshd/cert"
)

// serverConfig is the x/crypto configuration of one connection; charm adds
// the host keys and its PublicKeyCallback.
func (s *Server) serverConfig(ctx ssh.Context) *gossh.ServerConfig {
	c := connFromContext(ctx)
	cfg := &gossh.ServerConfig{
		MaxAuthTries: maxAuthTries,
		VerifiedPublicKeyCallback: func(meta gossh.ConnMetadata, key gossh.PublicKey, perms *gossh.Permissions, sigAlgo string) (*gossh.Permissions, error) {
			return s.verified(c, meta, key, perms, sigAlgo)
		},
		AuthLogCallback: s.authLogged,
	}
	s.algos.apply(cfg)
	return cfg
}

// authenticate answers a key offer (and the signed attempt that follows,
// from x/crypto's cache): may this key log in as this user? Refusals are
// logged here, one line each; an acceptable offer is not yet a login (the
// client has not proven it holds the key), so it is only remembered for the
// log line in case no valid signature follows.
func (s *Server) authenticate(ctx ssh.Context, key ssh.PublicKey) bool {
	_, err := s.identify(ctx.User(), key, ctx.RemoteAddr())
	if err != nil {
		s.authFailed(ctx.RemoteAddr(), authAttrs(ctx.RemoteAddr(), ctx.User(), key, false, "reason", err.Error())...)
		return false
	}
	if c := connFromContext(ctx); c != nil {
		c.mu.Lock()
		c.offer = &offer{user: ctx.User(), keyType: key.Type(), fingerprint: keyFingerprint(key)}
		c.mu.Unlock()
	}
	if s.log.Enabled(ctx, slog.LevelDebug) { // a fingerprint is a hash: not for nothing
		s.log.Debug("key offer ok, signature pending", "remote", addrString(ctx.RemoteAddr()), "user", ctx.User(), "fingerprint", keyFingerprint(key))
	}
	return true
}

// verified runs once the client proved it holds key: the identity is
// computed again (the key store may have changed since the offer), logged
// as the one line of a successful login, and carried in the Permissions.
// The line names the key exchange and the signature algorithm, so that an
// operator sees which clients use the legacy ones (legacy=true).
func (s *Server) verified(c *conn, meta gossh.ConnMetadata, key gossh.PublicKey, perms *gossh.Permissions, sigAlgo string) (*gossh.Permissions, error) {
	algos := negotiated(meta, sigAlgo)
	id, err := s.identify(meta.User(), key, meta.RemoteAddr())
	if err == nil && c != nil && !s.authenticated(c) {
		// Out of the unauthenticated budget before the login counts:
		// admission may have picked this connection to make room.
		err = errors.New("connection closed to make room for a new one")
	}
	if err != nil {
		more := append([]any{"reason", err.Error()}, algos...)
		s.authFailed(meta.RemoteAddr(), authAttrs(meta.RemoteAddr(), meta.User(), key, false, more...)...)
		// This line and x/crypto's AuthLogCallback account for the attempt
		// with this key: its offer must not be counted again at close.
		if c != nil {
			c.mu.Lock()
			if c.offer != nil && c.offer.fingerprint == keyFingerprint(key) {
				c.offer = nil
			}
			c.mu.Unlock()
		}
		return nil, err
	}
	more := append([]any{"name", id.Name, "admin", id.Admin, "cert", id.Cert}, algos...)
	s.log.Info("auth attempt", authAttrs(meta.RemoteAddr(), meta.User(), key, true, more...)...)
	if c != nil {
		c.mu.Lock()
		c.authed = true
		c.mu.Unlock()
	}
	out := &gossh.Permissions{Extensions: map[string]string{}}
	if perms != nil {
		maps.Copy(out.Extensions, perms.Extensions) // charm's copy of the key
	}
	out.Extensions[extName] = id.Name
	out.Extensions[extFingerprint] = id.Fingerprint
	out.Extensions[extAdmin] = boolExt(id.Admin)
	out.Extensions[extCert] = boolExt(id.Cert)
	return out, nil
}

func boolExt(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// identityFromPermissions reads the identity verified put into the
// connection's Permissions; false when there is none.
func identityFromPermissions(p *gossh.Permissions) (keys.Identity, bool) {
	if p == nil {
		return keys.Identity{}, false
	}
	name, ok := p.Extensions[extName]
	fp := p.Extensions[extFingerprint]
	if !ok || fp == "" {
		return keys.Identity{}, false
	}
	return keys.Identity{
		Name:        name,
		Fingerprint: fp,
		Admin:       p.Extensions[extAdmin] == "yes",
		Cert:        p.Extensions[extCert] == "yes",
	}, true
}

// authLog logs attempts with methods this server does not offer (password,
// keyboard-interactive): brute-force bots try them, fail2ban wants them.
// Public key attempts are logged by authenticate and verified, except those
// x/crypto refuses for their signature algorithm before asking us (ssh-rsa
// without the legacy flag); "none" is every client's opening question, not
// an attempt.
func (s *Server) authLog(meta gossh.ConnMetadata, method string, err error) {
	if method == "publickey" {
		if algo, ok := refusedSignature(err); ok {
			sig := algo
			if algo == gossh.CertAlgoRSAv01 { // a certificate signing with ssh-rsa
				sig = gossh.KeyAlgoRSA
			}
			s.authFailed(meta.RemoteAddr(), append([]any{"remote", addrString(meta.RemoteAddr()), "user", meta.User(), "method", method,
				"key_type", algo, "accepted", false, "reason", s.algos.signatureRefusal(sig)}, negotiated(meta, sig)...)...)
		}
		return
	}
	if method == "none" || err == nil {
		return
	}
	s.authFailed(meta.RemoteAddr(), "remote", addrString(meta.RemoteAddr()), "user", meta.User(), "method", method,
		"accepted", false, "reason", "only public keys are accepted")
}

// Failed authentication is logged one line per attempt, but per source
// address only the first authLogBurst lines of each authLogInterval: the
// rest are counted into one summary line per address and interval. A bot
// repeating attempts as fast as it can (30,000 lines in 40 s, seen) then
// writes a handful of lines, and fail2ban still sees each address's first
// attempts at once. Successful logins are always logged.
const (
	maxAuthTries    = 6
	authLogBurst    = maxAuthTries // one client's full round of key offers, each with its fingerprint
	authLogInterval = 10 * time.Second
	authLogMaxAddrs = 4096 // addresses tracked at once; more share one summary
)

// authFailed writes the log line of a failed attempt, unless its address
// is over its share.
func (s *Server) authFailed(remote net.Addr, attrs ...any) {
	if s.authLogs.allow(remoteIP(remote)) {
		s.log.Info("auth attempt", attrs...)
	}
}

// authSummary is the line for the failed attempts authFailed held back.
func (s *Server) authSummary(ip string, n int, since time.Time) {
	if ip == overflowKey {
		ip = "other addresses"
	}
	s.log.Info("auth attempts not logged one by one", "remote", ip, "accepted", false, "count", n,
		"since", since.UTC().Format(time.RFC3339))
}

func authAttrs(remote net.Addr, user string, key gossh.PublicKey, accepted bool, more ...any) []any {
	attrs := []any{"remote", addrString(remote), "user", user, "method", "publickey", "key_type", key.Type(),
		"fingerprint", keyFingerprint(key), "accepted", accepted}
	if cert, ok := key.(*gossh.Certificate); ok {
		attrs = append(attrs, "cert_id", cert.KeyId, "cert_serial", cert.Serial, "ca_fingerprint", gossh.FingerprintSHA256(cert.SignatureKey))
	}
	return append(attrs, more...)
}

// keyFingerprint is the fingerprint people know a key by: for a
// certificate, that of the certified key (stable across re-issues).
func keyFingerprint(key gossh.PublicKey) string {
	if cert, ok := key.(*gossh.Certificate); ok {
		return gossh.FingerprintSHA256(cert.Key)
	}
	return gossh.FingerprintSHA256(key)
}

// identify maps a (user, key) to an identity, or says why not.
func (s *Server) identify(user string, key gossh.PublicKey, remote net.Addr) (keys.Identity, error) {
	if user != s.cfg.User {
		return keys.Identity{}, fmt.Errorf("login user %q is not %q", user, s.cfg.User)
	}
	if cert, ok := key.(*gossh.Certificate); ok {
		return s.identifyCert(user, cert, remote)
	}
	id, ok := s.cfg.Keys.LookupKey(key)
	if !ok {
		return keys.Identity{}, errors.New("key not authorized")
	}
	id.Local = false
	return id, nil
}

// identifyCert accepts a user certificate that
//   - is a user certificate (not a host certificate),
//   - is signed by one of TrustedUserCAKeys,
//   - is valid now (valid-after <= now < valid-before),
//   - lists the login user among its principals (a certificate without
//     principals is refused, as OpenSSH's TrustedUserCAKeys does),
//   - has a key id (it becomes the identity's name),
//   - carries no critical option but source-address, which is honoured:
//     the TCP peer address must be in its list. Others (force-command,
//     verify-required, unknown ones) make the certificate unusable here,
//     as a restriction this server cannot apply must not be dropped.
//
// Certificate extensions (permit-pty, ...) are not consulted.
func (s *Server) identifyCert(user string, cert *gossh.Certificate, remote net.Addr) (keys.Identity, error) {
	if len(s.caKeys) == 0 {
		return keys.Identity{}, errors.New("certificates are not accepted (no trusted user CA)")
	}
	if cert.CertType != gossh.UserCert {
		return keys.Identity{}, errors.New("not a user certificate")
	}
	if !s.caKeys[string(cert.SignatureKey.Marshal())] {
		return keys.Identity{}, errors.New("certificate signed by an untrusted CA")
	}
	// OpenSSH's CASignatureAlgorithms: no SHA-1 (ssh-rsa) CA signature
	// unless the legacy flag is on, no DSA ever.
	if cert.Signature == nil {
		return keys.Identity{}, errors.New("certificate has no signature")
	}
	if f := cert.Signature.Format; !slices.Contains(s.algos.signatures, f) {
		if f == legacySignature {
			return keys.Identity{}, errors.New("certificate signed with ssh-rsa (SHA-1) by its CA: re-sign it with rsa-sha2-512, or run the server with --legacy-algorithms")
		}
		return keys.Identity{}, fmt.Errorf("certificate signed with %s by its CA, which is not accepted", f)
	}
	if len(cert.ValidPrincipals) == 0 {
		return keys.Identity{}, errors.New("certificate lists no principals")
	}
	if cert.KeyId == "" {
		return keys.Identity{}, errors.New("certificate has no key id")
	}
	checker := gossh.CertChecker{SupportedCriticalOptions: []string{"source-address"}, Clock: time.Now}
	if err := checker.CheckCert(user, cert); err != nil {
		return keys.Identity{}, fmt.Errorf("certificate: %s", strings.TrimPrefix(err.Error(), "ssh: "))
	}
	if src, ok := cert.CriticalOptions["source-address"]; ok && !sourceAllowed(src, remote) {
		return keys.Identity{}, fmt.Errorf("certificate source-address %q does not include %s", src, remoteIP(remote))
	}
	return keys.Identity{
		Name:        cert.KeyId,
		Fingerprint: gossh.FingerprintSHA256(cert.Key),
		Admin:       s.cfg.Keys.IsAdmin(cert.KeyId),
		Cert:        true,
	}, nil
}

// sourceAllowed checks a certificate's source-address list (addresses or
// CIDRs, comma separated). A malformed entry matches nothing.
func sourceAllowed(list string, remote net.Addr) bool {
	ip := net.ParseIP(remoteIP(remote))
	if ip == nil {
		return false
	}
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if !strings.Contains(item, "/") {
			if p := net.ParseIP(item); p != nil && p.Equal(ip) {
				return true
			}
			continue
		}
		if _, n, err := net.ParseCIDR(item); err == nil && n.Contains(ip) {
			return true
		}
	}
	return false
}
