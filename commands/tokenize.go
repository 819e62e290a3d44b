package commands

import (
	"strings"
)

// UnmatchedQuoteError is returned for a command line with an open quote. Dokku
// silently truncates such a line (xargs prints a warning); we refuse it, since
// running half a command is never what the user meant.
type UnmatchedQuoteError struct{ Quote byte }

func (e *UnmatchedQuoteError) Error() string {
	if e.Quote == '\'' {
		return "unmatched single quote in command; quote values with \"...\" or '...' and close every quote"
	}
	return "unmatched double quote in command; quote values with \"...\" or '...' and close every quote"
}

// Tokenize splits an SSH command line the way Dokku does
// (docs/dokku-behaviour.md#tokenizing): when the first word contains "git"
// (bash's unanchored `git-*`/`git:*` regex) the line is split on white space
// only, quotes kept literally; otherwise it follows GNU xargs' quoting rules.
func Tokenize(raw string) ([]string, error) {
	first := raw
	if f := strings.Fields(raw); len(f) > 0 {
		first = f[0]
	}
	if strings.Contains(first, "git") {
		return strings.Fields(raw), nil
	}
	return xargsSplit(raw)
}

func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// xargsSplit implements GNU xargs' default input parsing: blanks separate
// words; '...' and "..." quote (no escapes inside, no newline inside);
// a backslash outside quotes takes the next character literally. Words that
// are empty after unquoting ("") are dropped, as Dokku's `xargs -n 1 |
// mapfile` pipeline drops them.
func xargsSplit(raw string) ([]string, error) {
	var (
		out   []string
		cur   strings.Builder
		quote byte
	)
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
		}
		cur.Reset()
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if quote != 0 {
			switch c {
			case quote:
				quote = 0
			case '\n':
				return nil, &UnmatchedQuoteError{Quote: quote}
			default:
				cur.WriteByte(c)
			}
			continue
		}
		switch {
		case isBlank(c):
			flush()
		case c == '\\':
			if i+1 < len(raw) {
				i++
				cur.WriteByte(raw[i])
			} else {
				cur.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote = c
		default:
			cur.WriteByte(c)
		}
	}
	if quote != 0 {
		return nil, &UnmatchedQuoteError{Quote: quote}
	}
	flush()
	return out, nil
}
