package schedulers

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// ExpandCommand expands a Procfile command as procfile-util show does:
// $VAR and ${VAR} from the app's config, then PORT (the default port) and
// PS (the process type); unknown variables expand to "" and "$(" is kept.
// Every scheduler starts a process type with these words.
func ExpandCommand(cmd string, env map[string]string, proc string, port int) string {
	const paren = "\x00EXPENV_PARENTHESIS\x00"
	s := strings.ReplaceAll(cmd, "$(", paren)
	s = os.Expand(s, func(key string) string {
		if v, ok := env[key]; ok && v != "" {
			return v
		}
		switch key {
		case "PS":
			return proc
		case "PORT":
			return strconv.Itoa(port)
		}
		return ""
	})
	return strings.ReplaceAll(s, paren, "$(")
}

// SplitWords splits a command line into arguments the way a shell does
// for plain words: blanks separate, single quotes are literal, double
// quotes allow \" \\ \$ \` escapes, a backslash outside quotes escapes the
// next character. Dokku passes the start command as words after the
// image, not through a shell.
func SplitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		case c == '\'':
			in = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			in = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
		case c == '\\':
			in = true
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			}
		default:
			in = true
			cur.WriteByte(c)
		}
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
