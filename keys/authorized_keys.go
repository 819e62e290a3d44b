package keys

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// DefaultOptions are the options sshcommand writes (SSHCOMMAND_ALLOWED_KEYS):
// no forwarding of any kind, no ~/.ssh/rc; PTYs stay allowed.
const DefaultOptions = "no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding"

// Key is one sshcommand-managed line of authorized_keys.
type Key struct {
	Name          string          // NAME of the forced command (quoted or legacy unquoted form)
	Fingerprint   string          // FINGERPRINT=... as recorded in the file (SHA256:... or legacy MD5 hex)
	Options       string          // options after the command, e.g. DefaultOptions
	PublicKey     gossh.PublicKey // the key itself
	PublicKeyText string          // "<type> <base64> [<comment>]" as in the file
	Line          int             // 1-based line number (set by Store.List; 0 from ParseLine)
}

// FormatLine renders, byte for byte, the line `sshcommand acl-add` appends
// (docs/dokku-behaviour.md#authorized-keys-line); home is the directory that
// holds .sshcommand (the authorized_keys file's ../..). It does not validate
// its arguments: Store.Add does.
func FormatLine(name, fingerprint, options, publicKeyText, home string) string {
	return `command="FINGERPRINT=` + fingerprint + ` NAME=\"` + name + `\" ` +
		"`cat " + home + "/.sshcommand` $SSH_ORIGINAL_COMMAND\"," + options + " " + publicKeyText
}

// line is one authorized_keys line as OpenSSH reads it.
type line struct {
	pub      gossh.PublicKey
	text     string // "<type> <base64> [<comment>]", trailing white space dropped
	optField string // the options field, "" when the line has none

	managed bool // optField is sshcommand's: command="FINGERPRINT=... NAME=... `...`"[,options]
	name    string
	fp      string
	options string // optField after sshcommand's command option and its comma
}

var errLineBreak = errors.New("line break inside an authorized_keys line")

// parseLine parses one line the way OpenSSH's ssh-keygen -lf and sshd do:
// leading white space is skipped, blank and # lines are skipped (skip), the
// line is first read as "<type> <base64> [comment]" and, failing that, as an
// options field followed by a key. The declared type must match the key's.
func parseLine(s string) (l line, skip bool, err error) {
	s = strings.TrimRight(s, "\r\n")
	if strings.ContainsAny(s, "\n") {
		return line{}, false, errLineBreak
	}
	s = strings.TrimLeft(s, " \t")
	if s == "" || s[0] == '#' {
		return line{}, true, nil
	}
	s = strings.TrimRight(s, " \t\r")
	if pub, err := parseKeyText(s); err == nil {
		return line{pub: pub, text: s}, false, nil
	}
	opts, rest, err := splitOptionsField(s)
	if err != nil {
		return line{}, false, err
	}
	rest = strings.TrimLeft(rest, " \t")
	pub, err := parseKeyText(rest)
	if err != nil {
		return line{}, false, err
	}
	l = line{pub: pub, text: rest, optField: opts}
	l.managed, l.fp, l.name, l.options = parseSSHCommandOptions(opts)
	return l, false, nil
}

// parseKeyText parses "<type> <base64> [comment]".
func parseKeyText(s string) (gossh.PublicKey, error) {
	typ, rest, ok := cutWhite(s)
	if !ok {
		return nil, errors.New("no key data")
	}
	b64, _, _ := cutWhite(strings.TrimLeft(rest, " \t"))
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("key data: %w", err)
	}
	pub, err := gossh.ParsePublicKey(blob)
	if err != nil {
		return nil, err
	}
	if pub.Type() != typ {
		return nil, fmt.Errorf("key type %q does not match the key data (%s)", typ, pub.Type())
	}
	return pub, nil
}

// cutWhite splits s at its first space or tab.
func cutWhite(s string) (before, after string, found bool) {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], s[i:], true
	}
	return s, "", false
}

// splitOptionsField splits off the options field: everything up to the first
// space or tab outside double quotes, where \" does not open or close a
// quote (OpenSSH's sshkey_advance_past_options). An unterminated quote is
// an error.
func splitOptionsField(s string) (opts, rest string, err error) {
	quoted := false
	i := 0
	for ; i < len(s) && (quoted || (s[i] != ' ' && s[i] != '\t')); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '"':
			i++
		case s[i] == '"':
			quoted = !quoted
		}
	}
	if quoted {
		return "", "", errors.New("unterminated quote in options")
	}
	return s[:i], s[i:], nil
}

// splitOptionList splits an options field at the commas outside quotes.
func splitOptionList(field string) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(field); i++ {
		switch c := field[i]; {
		case c == '\\' && i+1 < len(field) && field[i+1] == '"':
			i++
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			out = append(out, field[start:i])
			start = i + 1
		}
	}
	if start < len(field) {
		out = append(out, field[start:])
	}
	return out
}

// parseSSHCommandOptions recognises sshcommand's forced command at the start
// of an options field:
//
//	command="FINGERPRINT=<fp> NAME=\"<name>\" `...`...",<options>
//	command="FINGERPRINT=<fp> NAME=<legacy unquoted name> `...`...",<options>
//
// It follows sshcommand's list regex
// ^command="FINGERPRINT=(\S+) NAME=(\\"|)(.*)\2 `.*",(\S+).* except that
// the command ends at its closing quote (so a comment containing `",` does
// not shift the options), the options may be empty, and a name containing
// a backslash or a double quote is refused (FormatLine could not write it
// back, and OpenSSH's shell would not see it as one word either).
func parseSSHCommandOptions(field string) (ok bool, fp, name, options string) {
	const prefix = `command="FINGERPRINT=`
	if !strings.HasPrefix(field, prefix) {
		return false, "", "", ""
	}
	body := field[len(`command="`):]
	end := -1
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' && i+1 < len(body) && body[i+1] == '"' {
			i++
		} else if body[i] == '"' {
			end = i
			break
		}
	}
	if end < 0 {
		return false, "", "", ""
	}
	cmd, after := body[:end], body[end+1:]
	switch {
	case after == "":
	case after[0] == ',':
		options = after[1:]
	default:
		return false, "", "", "" // junk after the quoted command: OpenSSH rejects the options
	}
	cmd = strings.TrimPrefix(cmd, "FINGERPRINT=")
	fp, rest, _ := cutWhite(cmd)
	if fp == "" || !strings.HasPrefix(rest, " NAME=") {
		return false, "", "", ""
	}
	rest = rest[len(" NAME="):]
	if r, quoted := strings.CutPrefix(rest, `\"`); quoted {
		i := strings.Index(r, `\"`)
		if i < 0 || !strings.HasPrefix(r[i+2:], " `") {
			return false, "", "", ""
		}
		name = r[:i]
	} else {
		i := strings.Index(rest, " `")
		if i < 0 {
			return false, "", "", ""
		}
		name = rest[:i]
	}
	if strings.ContainsAny(name, `\"`) {
		return false, "", "", ""
	}
	return true, fp, name, options
}

// ParseLine parses one authorized_keys line.
//
// For an sshcommand-managed line it returns the Key and ok=true. For a blank
// line or a comment it returns a zero Key, false and nil. For any other
// valid line (a key added by hand, with or without options) it returns
// false and a Key with only PublicKey and PublicKeyText set. err is set for
// a line OpenSSH would not accept either (ssh-keygen -lf fails on it), and
// for a string holding a line break.
func ParseLine(s string) (Key, bool, error) {
	l, skip, err := parseLine(s)
	if err != nil {
		return Key{}, false, fmt.Errorf("invalid authorized_keys line: %w", err)
	}
	if skip {
		return Key{}, false, nil
	}
	k := Key{PublicKey: l.pub, PublicKeyText: l.text}
	if !l.managed {
		return k, false, nil
	}
	k.Name, k.Fingerprint, k.Options = l.name, l.fp, l.options
	return k, true, nil
}

// safeOptions are the authorized_keys options this server honours by
// construction: it never forwards ports, agents, X11 or tunnels, never runs
// ~/.ssh/rc, and ignores environment= (OpenSSH ignores it too unless
// PermitUserEnvironment). In native mode PTYs are allowed regardless of
// no-pty/restrict, which grants nothing beyond what a command without PTY
// can do; Dokku host mode honours them as sshd does (Store.PTYAllowed).
var safeOptions = map[string]bool{
	"agent-forwarding": true, "no-agent-forwarding": true,
	"port-forwarding": true, "no-port-forwarding": true,
	"pty": true, "no-pty": true,
	"user-rc": true, "no-user-rc": true,
	"x11-forwarding": true, "no-x11-forwarding": true,
	"restrict": true, "no-touch-required": true,
	"permitopen": true, "permitlisten": true, "environment": true, "tunnel": true,
}

// authorizes reports whether the line lets its key log in here, and as whom.
// A managed line logs in as its NAME. A line without options (added by hand)
// logs in with an empty name: OpenSSH gives it no NAME variable (Dokku then
// uses "default" for SSH_NAME), and the key's comment is not a name anyone
// vouched for, so it never matches an admin name. A line with an option this
// server cannot enforce - a forced command other than sshcommand's, from=,
// expiry-time=, principals=, cert-authority, verify-required, or one OpenSSH
// does not know - does not log in at all (fail closed); later lines with the
// same key still can, as in sshd.
func (l *line) authorizes() (name string, ok bool) {
	opts := l.optField
	if l.managed {
		opts = l.options
	}
	for _, o := range splitOptionList(opts) {
		n, _, _ := strings.Cut(o, "=")
		if !safeOptions[strings.ToLower(n)] {
			return "", false
		}
	}
	if l.managed {
		return l.name, true
	}
	return "", true
}

// FormatText renders `sshcommand list` text output: one line per key.
// (sshcommand prints a single empty line when there is no managed key and no
// name filter; that is the caller's business.)
func FormatText(keys []Key) string {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k.Fingerprint + ` NAME="` + k.Name + `" SSHCOMMAND_ALLOWED_KEYS="` + k.Options + "\"\n")
	}
	return b.String()
}

// FormatJSON renders `ssh-keys:list --format json` without trailing newline:
// sshcommand's hand-built spaced array (compact=false, no name filter), or
// `jq -cM` compact output (compact=true, name filter). Strings are escaped as
// jq escapes them (sshcommand's spaced form does not escape at all, which
// only differs for names or comments that would make it invalid JSON).
func FormatJSON(keys []Key, compact bool) string {
	objs := make([]string, 0, len(keys))
	for _, k := range keys {
		if compact {
			objs = append(objs, `{"fingerprint":`+jqString(k.Fingerprint)+`,"name":`+jqString(k.Name)+
				`,"SSHCOMMAND_ALLOWED_KEYS":`+jqString(k.Options)+`,"public-key":`+jqString(k.PublicKeyText)+`}`)
		} else {
			objs = append(objs, `{ "fingerprint": `+jqString(k.Fingerprint)+`, "name": `+jqString(k.Name)+
				`, "SSHCOMMAND_ALLOWED_KEYS": `+jqString(k.Options)+`, "public-key": `+jqString(k.PublicKeyText)+` }`)
		}
	}
	return "[" + strings.Join(objs, ",") + "]"
}

// jqString quotes s as jq prints strings: only ", \ and control characters
// (and DEL) are escaped, no HTML escaping; invalid UTF-8 becomes U+FFFD.
func jqString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r) // utf8.RuneError for invalid bytes
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
