package forcedcmd

import "strings"

// AssignmentPrefix returns the variable assignments that open a forced
// command (sshcommand writes `FINGERPRINT=... NAME="..." ...`) as written,
// quoting kept, "" when there are none: the variables the shell puts in
// the command's environment. It ends before the first word that is not an
// assignment, or at an unterminated quote.
func AssignmentPrefix(command string) string {
	end := 0
	for {
		start := end + len(command[end:]) - len(strings.TrimLeft(command[end:], " \t"))
		n, name, ok := shellWord(command[start:])
		if !ok || n == 0 || !validName(name) {
			return command[:end]
		}
		end = start + n
	}
}

// shellWord reads one word at the start of s (unquoted text, "..." where \
// escapes, '...', \x) and returns its length and, when it is an
// assignment, the name before its "=" (unquoted, as the shell requires);
// ok is false for an unterminated quote.
func shellWord(s string) (n int, name string, ok bool) {
	eq := -1
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|':
			return i, assignedName(s, eq), true
		case c == '=' && eq < 0:
			eq = i
		case c == '\\':
			i++
		case c == '\'' || c == '"':
			if eq < 0 {
				return 0, "", true // a quote in the name: not an assignment
			}
			j := i + 1
			for ; j < len(s) && s[j] != c; j++ {
				if c == '"' && s[j] == '\\' {
					j++
				}
			}
			if j >= len(s) {
				return 0, "", false
			}
			i = j
		}
	}
	return min(i, len(s)), assignedName(s, eq), true
}

func assignedName(s string, eq int) string {
	if eq < 0 {
		return ""
	}
	return s[:eq]
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
