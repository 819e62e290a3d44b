package keys

import (
	"fmt"

	"dokku-sshd/output"
)

// How the command layer prints the errors of this package:
//
//   - *SSHCommandError: refusals Dokku gets from sshcommand. Dokku prints
//     sshcommand's line bare on stderr, then its own wrapper line, so print
//     Error() + "\n" + " !     sshcommand returned an error: 1" and exit 1.
//   - the other messages (*output.Error, *LineError within one) and
//     anything else: print " !     " + Error() on stderr and exit 1
//     (dokku_log_fail).

// SSHCommandError is a refusal that Dokku reports through sshcommand
// (duplicate name, duplicate key, key already carrying options). Error() is
// sshcommand's own line, without any prefix.
type SSHCommandError struct{ Msg string }

func (e *SSHCommandError) Error() string { return e.Msg }

// LineError is a line of authorized_keys that OpenSSH would not accept
// (what sshcommand finds with `ssh-keygen -lf`). Line is 1-based. Validate
// returns it marked as a message for the client (output.UserError):
// sshcommand's own message, which names the file.
type LineError struct {
	Path string
	Line int
}

func (e *LineError) Error() string {
	return fmt.Sprintf("%s line %d failed ssh-keygen check.", e.Path, e.Line)
}

// Errors of Store.Add, with Dokku's texts, printed as is behind " !     "
// (compare with errors.Is).
var (
	// ErrNoKey: Add got no key text at all (nil): no file and no pipe.
	ErrNoKey = output.Userf("No key specified via file or pipe")
	// ErrEmptyKey: the key text is empty or only blank lines.
	ErrEmptyKey = output.Userf("Empty key was specified")
	// ErrTooManyKeys: more than one non-blank line.
	ErrTooManyKeys = output.Userf("Too many keys provided, set one per invocation of dokku ssh-keys:add <NAME> <KEY_FILE>")
	// ErrInvalidKey: not a public key line (Dokku's text, sic).
	ErrInvalidKey = output.Userf("Key specified in is not a valid ssh public key")
	// ErrUnsupportedKey: a valid line, but of a kind this server does not
	// add: certificates (authorized_keys takes plain keys; trust a CA with
	// TrustedUserCAKeys instead), DSA keys and RSA keys under 1024 bits
	// (OpenSSH and Go refuse to authenticate with them).
	ErrUnsupportedKey = output.Userf("Key type not supported, use an ed25519, ecdsa or rsa (at least 1024 bits) public key; certificates and dsa keys cannot be added")
	// ErrBadName: the name would break the authorized_keys line or the
	// shell command OpenSSH runs for it (NAME="<name>" is evaluated by the
	// dokku user's login shell).
	ErrBadName = output.Userf("Invalid key name: it must not be empty or contain double quotes, backslashes, backticks, dollar signs or control characters")

	// ErrDuplicateName: a line already carries NAME="<name>".
	ErrDuplicateName = &SSHCommandError{"Duplicate ssh key name"}
	// ErrDuplicateKey: the key (or its fingerprint) is already in the file.
	ErrDuplicateKey = &SSHCommandError{"Duplicate ssh public key specified"}
	// ErrKeyOptions: the key text already carries authorized_keys options
	// (`command="x" ssh-ed25519 ...`, `no-pty ssh-rsa ...`).
	ErrKeyOptions = &SSHCommandError{"Invalid ssh public key"}
)
