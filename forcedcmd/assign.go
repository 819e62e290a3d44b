package forcedcmd

import "strings"

// Assignments returns the variable assignments that open a forced command
// (sshcommand writes `FINGERPRINT=... NAME="..." ...`), as NAME=value
// entries with the shell's quoting removed: the variables the shell puts in
// the command's environment. It stops at the first word that is not an
// assignment, and leaves out a value the shell would expand ($ or `
// outside single quotes), which only the shell could evaluate.
func Assignments(command string) []string {
	var env []string
	rest := strings.TrimLeft(command, " \t")
	for rest != "" {
		word, n, ok := shellWord(rest)
		if !ok {
			break
		}
		name, _, isAssign := strings.Cut(word.raw, "=")
		if !isAssign || !validName(name) {
			break
		}
		if !word.expands {
			env = append(env, name+"="+word.value[len(name)+1:])
		}
		rest = strings.TrimLeft(rest[n:], " \t")
	}
	return env
}

// word is one shell word: raw up to its first quote (enough to see an
// assignment's name), value with the quoting removed.
type word struct {
	raw, value string
	expands    bool
}

// shellWord reads one word of s: unquoted text, "..." (where \ escapes
// $ ` " \), '...' and \x; ok is false for an unterminated quote.
func shellWord(s string) (w word, n int, ok bool) {
	var b strings.Builder
	quoted := false
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if !quoted && (c == '\'' || c == '"' || c == '\\') {
			quoted = true
			w.raw = b.String() // the unquoted start, where a name would be
		}
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|':
			return finish(w, b.String(), quoted), i, true
		case c == '\\' && i+1 < len(s):
			b.WriteByte(s[i+1])
			i++
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return w, 0, false
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case c == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' && j+1 < len(s) && strings.IndexByte("$`\"\\", s[j+1]) >= 0 {
					j++
				} else if s[j] == '$' || s[j] == '`' {
					w.expands = true
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return w, 0, false
			}
			i = j
		case c == '$' || c == '`':
			w.expands = true
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return finish(w, b.String(), quoted), i, true
}

func finish(w word, value string, quoted bool) word {
	w.value = value
	if !quoted {
		w.raw = w.value
	}
	return w
}

// validName is a shell variable name.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}
