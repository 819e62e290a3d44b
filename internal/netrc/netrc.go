// Package netrc edits a netrc file (the machine/login/password entries curl
// reads for git's HTTP remotes) the way git:auth does: one entry per host
// set or removed, every other line of the file kept as it was.
package netrc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"unicode"
)

// entry is one "machine" (or "default") entry of a file: its place in the
// text and what it says.
type entry struct {
	start, end int // byte span in the text, from "machine" to the next entry
	machine    string
	isDefault  bool
	login      string
	password   string
}

// token is one word of a netrc file and where it ends.
type token struct {
	text       string
	start, end int
}

// tokens splits a netrc text into words: whitespace separates them, "#"
// starts a comment to the end of the line (curl's rule), a macdef's body
// runs to the next empty line and is no word.
func tokens(s string) []token {
	var out []token
	i := 0
	for i < len(s) {
		r := rune(s[i])
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		default:
			start := i
			for i < len(s) && !unicode.IsSpace(rune(s[i])) {
				i++
			}
			out = append(out, token{s[start:i], start, i})
			if s[start:i] == "macdef" {
				// name, then the body up to an empty line
				if j := strings.Index(s[i:], "\n\n"); j >= 0 {
					i += j + 2
				} else {
					i = len(s)
				}
			}
		}
	}
	return out
}

// parse finds the entries of a netrc text. An entry spans from its
// "machine" or "default" word to the start of the next one (or the end of
// the text).
func parse(s string) []entry {
	toks := tokens(s)
	var es []entry
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch t.text {
		case "machine", "default":
			if len(es) > 0 {
				es[len(es)-1].end = t.start
			}
			e := entry{start: t.start, end: len(s), isDefault: t.text == "default"}
			if !e.isDefault && i+1 < len(toks) {
				i++
				e.machine = toks[i].text
			}
			es = append(es, e)
		case "login", "password", "account":
			if i+1 >= len(toks) || len(es) == 0 {
				continue
			}
			i++
			switch t.text {
			case "login":
				es[len(es)-1].login = toks[i].text
			case "password":
				es[len(es)-1].password = toks[i].text
			}
		}
	}
	return es
}

// ErrBadValue is returned for a host, login or password a netrc file cannot
// hold as one word.
var ErrBadValue = errors.New("netrc values cannot contain whitespace or start with a quote")

// Check returns ErrBadValue when a value cannot be written to the file.
func Check(values ...string) error {
	for _, v := range values {
		if err := checkValue(v); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(v string) error {
	if v == "" || strings.IndexFunc(v, unicode.IsSpace) >= 0 || strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "#") {
		return ErrBadValue
	}
	return nil
}

// read returns the file's text; a missing file is empty.
func read(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read netrc: %w", err)
	}
	return string(b), nil
}

// Get returns the login and password of host's entry; ok is false when the
// file has none.
func Get(path, host string) (login, password string, ok bool, err error) {
	s, err := read(path)
	if err != nil {
		return "", "", false, err
	}
	for _, e := range parse(s) {
		if !e.isDefault && e.machine == host {
			return e.login, e.password, true, nil
		}
	}
	return "", "", false, nil
}

// without returns s with every entry of host cut out.
func without(s, host string) string {
	es := parse(s)
	for i := len(es) - 1; i >= 0; i-- {
		if e := es[i]; !e.isDefault && e.machine == host {
			s = s[:e.start] + s[e.end:]
		}
	}
	return s
}

// Set returns the text of the file at path with host's entry set to login
// and password (replacing any entry of host, added last).
func Set(path, host, login, password string) (string, error) {
	if err := Check(host, login, password); err != nil {
		return "", err
	}
	s, err := read(path)
	if err != nil {
		return "", err
	}
	s = without(s, host)
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s + fmt.Sprintf("machine %s\n  login %s\n  password %s\n", host, login, password), nil
}

// Unset returns the text of the file at path without host's entry, and
// whether there was one.
func Unset(path, host string) (text string, found bool, err error) {
	s, err := read(path)
	if err != nil {
		return "", false, err
	}
	out := without(s, host)
	return out, out != s, nil
}
