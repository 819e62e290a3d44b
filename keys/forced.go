package keys

import (
	"fmt"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// ForcedCommand returns the command="..." option of the line that lets the
// key with SHA256 fingerprint fp log in: the first line that authorizes it,
// the one LookupKey names it from. The command is dequoted as sshd does
// (\" becomes "; every other byte, backslashes included, stays). ok is
// false when no line authorizes the key (it was removed since it logged
// in); cmd is "" for a line without a command option (a key added by hand).
//
// The file is read afresh, settled as List reads it, so the command is the
// key's line as it is now.
func (s *Store) ForcedCommand(fp string) (cmd string, ok bool, err error) {
	b, err := readSettled(s.path)
	if err != nil {
		return "", false, fmt.Errorf("read %s: %w", s.path, err)
	}
	for _, raw := range strings.Split(string(b), "\n") {
		l, skip, err := parseLine(raw)
		if err != nil || skip {
			continue
		}
		if _, authorizes := l.authorizes(); !authorizes || gossh.FingerprintSHA256(l.pub) != fp {
			continue
		}
		return commandOption(l.optField), true, nil
	}
	return "", false, nil
}

// commandOption is the dequoted value of the command="..." option in an
// options field ("" when there is none). Option names are matched without
// regard to case, as sshd matches them; the first command option counts.
func commandOption(field string) string {
	const name = `command="`
	for _, o := range splitOptionList(field) {
		if len(o) < len(name) || !strings.EqualFold(o[:len(name)], name) {
			continue
		}
		return dequote(o[len(name):])
	}
	return ""
}

// dequote reads a quoted option value up to its closing quote: \" is a
// quote inside the value, nothing else is an escape (sshd's opt_dequote).
func dequote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '"':
			b.WriteByte('"')
			i++
		case s[i] == '"':
			return b.String()
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
