package keys

import (
	"fmt"
	"os"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// LoadCAKeys reads the user CA keys trusted for certificates, in OpenSSH's
// TrustedUserCAKeys format: one "<type> <base64> [comment]" per line, blank
// lines and # comments allowed. Where sshd silently skips a line it cannot
// read, this is stricter, since the file is read once at startup: a line
// that is not a plain public key (invalid, with options, a certificate) is
// an error naming the line, and so is a file without any key.
func LoadCAKeys(path string) ([]gossh.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trusted user CA keys: %w", err)
	}
	var out []gossh.PublicKey
	for i, raw := range strings.Split(string(b), "\n") {
		l, skip, err := parseLine(raw)
		switch {
		case skip:
			continue
		case err != nil:
			return nil, fmt.Errorf("trusted user CA keys %s line %d: %w", path, i+1, err)
		case l.optField != "":
			return nil, fmt.Errorf("trusted user CA keys %s line %d: options are not allowed here", path, i+1)
		}
		if _, isCert := l.pub.(*gossh.Certificate); isCert {
			return nil, fmt.Errorf("trusted user CA keys %s line %d: a certificate cannot be a CA key", path, i+1)
		}
		out = append(out, l.pub)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("trusted user CA keys %s: no keys", path)
	}
	return out, nil
}
