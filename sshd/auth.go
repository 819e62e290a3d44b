package sshd

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"time"

	"charm.land/ssh"
	gossh "golang.org/x/crypto/ssh"

	"dokku-sshd/keys"
)

// authenticate is called for every key a client offers or signs with. It
// only says yes or no: the identity a session runs as is computed again from
// the key whose signature the handshake verified (identify), never carried
// over from an offer (the CVE-2024-45337 pattern). Accepting an offer is not
// a login, so only refusals are logged here; logins are logged by
// verified, once the signature checked out.
func (s *Server) authenticate(ctx ssh.Context, key ssh.PublicKey) bool {
	_, err := s.identify(ctx.User(), key, ctx.RemoteAddr())
	if err != nil {
		s.cfg.Logger.Info("auth attempt", "remote", addrString(ctx.RemoteAddr()), "user", ctx.User(), "key_type", key.Type(),
			"fingerprint", keyFingerprint(key), "accepted", false, "reason", err.Error())
		return false
	}
	s.cfg.Logger.Debug("key offer acceptable", "remote", addrString(ctx.RemoteAddr()), "user", ctx.User(), "fingerprint", keyFingerprint(key))
	return true
}

// verified runs after the client proved it holds the key: the one log line
// of a successful login.
func (s *Server) verified(conn gossh.ConnMetadata, key gossh.PublicKey, perms *gossh.Permissions, _ string) (*gossh.Permissions, error) {
	id, err := s.identify(conn.User(), key, conn.RemoteAddr())
	attrs := []any{"remote", addrString(conn.RemoteAddr()), "user", conn.User(), "key_type", key.Type(), "fingerprint", keyFingerprint(key)}
	if err != nil { // the key store changed between offer and signature
		s.cfg.Logger.Info("auth attempt", append(attrs, "accepted", false, "reason", err.Error())...)
		return nil, err
	}
	s.cfg.Logger.Info("auth attempt", append(attrs, "accepted", true, "name", id.Name, "admin", id.Admin, "cert", id.Cert)...)
	return perms, nil
}

// keyFingerprint is the fingerprint people know a key by: for a
// certificate, that of the certified key (stable across re-issues).
func keyFingerprint(key gossh.PublicKey) string {
	if cert, ok := key.(*gossh.Certificate); ok {
		return gossh.FingerprintSHA256(cert.Key)
	}
	return gossh.FingerprintSHA256(key)
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// identify maps a (user, key) to an identity, or says why not.
func (s *Server) identify(user string, key gossh.PublicKey, remote net.Addr) (keys.Identity, error) {
	if user != s.cfg.User {
		return keys.Identity{}, fmt.Errorf("user %q is not %q", user, s.cfg.User)
	}
	if cert, ok := key.(*gossh.Certificate); ok {
		return s.identifyCert(user, cert, remote)
	}
	id, ok := s.cfg.Keys.LookupKey(key)
	if !ok {
		return keys.Identity{}, fmt.Errorf("key not authorized")
	}
	return id, nil
}

// identifyCert accepts a user certificate signed by a trusted CA, valid now,
// naming the login user among its principals, with no critical option but
// source-address (which is enforced).
func (s *Server) identifyCert(user string, cert *gossh.Certificate, remote net.Addr) (keys.Identity, error) {
	if len(s.cfg.TrustedUserCAKeys) == 0 {
		return keys.Identity{}, fmt.Errorf("certificates are not accepted (no trusted CA)")
	}
	if cert.CertType != gossh.UserCert {
		return keys.Identity{}, fmt.Errorf("not a user certificate")
	}
	if len(cert.ValidPrincipals) == 0 {
		// x/crypto treats an empty list as "any principal"; OpenSSH's
		// TrustedUserCAKeys refuses such certificates, and so do we.
		return keys.Identity{}, fmt.Errorf("certificate lists no principals")
	}
	checker := gossh.CertChecker{
		IsUserAuthority: func(auth gossh.PublicKey) bool {
			for _, ca := range s.cfg.TrustedUserCAKeys {
				if bytes.Equal(ca.Marshal(), auth.Marshal()) {
					return true
				}
			}
			return false
		},
		SupportedCriticalOptions: []string{"source-address"},
		Clock:                    time.Now,
	}
	if !checker.IsUserAuthority(cert.SignatureKey) {
		return keys.Identity{}, fmt.Errorf("certificate signed by an untrusted CA")
	}
	if err := checker.CheckCert(user, cert); err != nil {
		return keys.Identity{}, fmt.Errorf("certificate: %w", err)
	}
	if src, ok := cert.CriticalOptions["source-address"]; ok && !sourceAllowed(src, remote) {
		return keys.Identity{}, fmt.Errorf("certificate source-address %q does not allow %s", src, addrString(remote))
	}
	return keys.Identity{
		Name:        cert.KeyId,
		Fingerprint: gossh.FingerprintSHA256(cert.Key),
		Admin:       s.cfg.Keys.IsAdmin(cert.KeyId),
		Cert:        true,
	}, nil
}

// sourceAllowed checks a certificate's source-address list (CIDRs or IPs).
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
