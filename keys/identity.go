// Package keys is the key store: sshcommand-format authorized_keys (read and
// written byte-compatibly), fingerprints, key names, the admin policy, trusted
// user CAs, atomic writes and reload on change.
package keys

// Identity is who a verified connection is. It is built only from the key
// (or certificate) whose signature the SSH handshake verified, never from a
// key the client merely offered.
type Identity struct {
	Name        string // NAME from authorized_keys, or the certificate's key id
	Fingerprint string // SHA256:... of the authenticating key (for a certificate: of its signed key)
	Admin       bool   // may run root-only commands (ssh-keys:add, ssh-keys:remove)
	Cert        bool   // authenticated by a CA-signed certificate
	Local       bool   // not over SSH: the host administrator running dokku-sshd COMMAND
}
