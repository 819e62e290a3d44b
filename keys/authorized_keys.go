package keys

import (
	"encoding/json"
	"fmt"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// DefaultOptions are the options sshcommand writes (SSHCOMMAND_ALLOWED_KEYS):
// no forwarding of any kind, no ~/.ssh/rc; PTYs stay allowed.
const DefaultOptions = "no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding"

// Key is one sshcommand-managed line of authorized_keys.
type Key struct {
	Name          string          // NAME="..." of the forced command
	Fingerprint   string          // FINGERPRINT=... as recorded in the file
	Options       string          // options after the command, e.g. DefaultOptions
	PublicKey     gossh.PublicKey // the key itself
	PublicKeyText string          // "<type> <base64> [<comment>]" as in the file
	Line          int             // 1-based line number
}

// FormatLine renders the exact line `sshcommand acl-add` appends (reference
// 1.3); home is the directory that holds .sshcommand.
func FormatLine(name, fingerprint, options, publicKeyText, home string) string {
	return fmt.Sprintf("command=\"FINGERPRINT=%s NAME=\\\"%s\\\" `cat %s/.sshcommand` $SSH_ORIGINAL_COMMAND\",%s %s",
		fingerprint, name, home, options, publicKeyText)
}

// splitOptions splits an authorized_keys line into its options field and the
// rest, honouring double quotes (options may contain quoted spaces).
func splitOptions(line string) (opts, rest string) {
	inQuote := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\' && inQuote && i+1 < len(line):
			i++
		case c == '"':
			inQuote = !inQuote
		case (c == ' ' || c == '\t') && !inQuote:
			return line[:i], strings.TrimLeft(line[i:], " \t")
		}
	}
	return line, ""
}

// ParseLine parses one authorized_keys line. ok is false for blank lines,
// comments and lines sshcommand does not manage (no `command="FINGERPRINT=`
// prefix); err is set for lines OpenSSH would not accept either.
func ParseLine(line string) (k Key, ok bool, err error) {
	line = strings.TrimRight(line, "\r\n")
	trimmed := strings.TrimSpace(line)
	if trimmed == "" || strings.HasPrefix(trimmed, "#") {
		return Key{}, false, nil
	}
	pub, _, _, _, err := gossh.ParseAuthorizedKey([]byte(trimmed))
	if err != nil {
		return Key{}, false, fmt.Errorf("invalid authorized_keys line: %w", err)
	}
	const prefix = `command="FINGERPRINT=`
	if !strings.HasPrefix(trimmed, prefix) {
		return Key{PublicKey: pub}, false, nil
	}
	opts, rest := splitOptions(trimmed)
	// sshcommand's list regex: ^command="FINGERPRINT=(\S+) NAME=(\\"|)(.*)\2 `.*",(\S+).*
	body := strings.TrimPrefix(opts, prefix)
	fp, afterFP, found := strings.Cut(body, " NAME=")
	if !found || fp == "" || strings.ContainsAny(fp, " \t") {
		return Key{PublicKey: pub}, false, nil
	}
	var name, tail string
	if strings.HasPrefix(afterFP, `\"`) {
		i := strings.LastIndex(afterFP, "\\\" `")
		if i < 2 {
			return Key{PublicKey: pub}, false, nil
		}
		name, tail = afterFP[2:i], afterFP[i+3:]
	} else {
		i := strings.LastIndex(afterFP, " `")
		if i < 0 {
			return Key{PublicKey: pub}, false, nil
		}
		name, tail = afterFP[:i], afterFP[i+1:]
	}
	j := strings.LastIndex(tail, `",`)
	if j < 0 {
		return Key{PublicKey: pub}, false, nil
	}
	return Key{
		Name:          name,
		Fingerprint:   fp,
		Options:       tail[j+2:],
		PublicKey:     pub,
		PublicKeyText: rest,
	}, true, nil
}

// FormatText renders `sshcommand list` text output.
func FormatText(keys []Key) string {
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s NAME=\"%s\" SSHCOMMAND_ALLOWED_KEYS=\"%s\"\n", k.Fingerprint, k.Name, k.Options)
	}
	return b.String()
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// FormatJSON renders `ssh-keys:list --format json`: sshcommand's hand-built
// spaced array, or jq's compact form when a name filter was given.
func FormatJSON(keys []Key, compact bool) string {
	objs := make([]string, 0, len(keys))
	for _, k := range keys {
		f := `{ "fingerprint": %s, "name": %s, "SSHCOMMAND_ALLOWED_KEYS": %s, "public-key": %s }`
		if compact {
			f = `{"fingerprint":%s,"name":%s,"SSHCOMMAND_ALLOWED_KEYS":%s,"public-key":%s}`
		}
		objs = append(objs, fmt.Sprintf(f, jsonString(k.Fingerprint), jsonString(k.Name), jsonString(k.Options), jsonString(k.PublicKeyText)))
	}
	return "[" + strings.Join(objs, ",") + "]"
}
