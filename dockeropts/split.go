// Package dockeropts is Dokku's docker-options: the options an app adds
// for its build, deploy and run phases, stored one option per line, and a
// parser of the docker CLI's option set that turns them into the Engine
// API's structures (container.Config, container.HostConfig, the image
// build's options). Nothing here runs a shell: words are split by the
// rules in this file and flags are parsed with pflag.
package dockeropts

import (
	"errors"
	"fmt"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// SplitInput splits what a user typed after docker-options:add/remove's
// phases into options, one per flag with its values
// (docs/dokku-behaviour.md#docker-options): the text is split into shell
// words (quotes delimit and are removed; nothing is expanded, so $VAR,
// $(...) and backticks stay as typed; an unquoted shell operator such as
// `(` or `;` is an error), the words are grouped so that each group starts
// at a word beginning with "-", and each group is written back as one line
// with every word that needs it single-quoted. Empty input gives nil; an
// error says why the text does not parse (the caller adds Dokku's
// "Unable to parse docker option: ").
func SplitInput(input string) ([]string, error) {
	if strings.TrimSpace(input) == "" {
		return nil, nil
	}
	if strings.IndexByte(input, 0) >= 0 {
		return nil, errors.New("a docker option cannot contain a NUL byte")
	}
	words, _, err := shellWords(input)
	if err != nil {
		return nil, err
	}
	for _, w := range words {
		if strings.ContainsAny(w, "\n\r") {
			return nil, errors.New("a docker option cannot contain a line break")
		}
	}
	var out []string
	for _, g := range groupWords(words) {
		out = append(out, JoinWords(g))
	}
	return out, nil
}

// Same reports whether a stored option line and an option denote the same
// option: equal text, or the same shell words. A line that does not parse
// matches only itself.
func Same(stored, option string) bool {
	if stored == option {
		return true
	}
	a, _, err := shellWords(stored)
	if err != nil {
		return false
	}
	b, _, err := shellWords(option)
	if err != nil || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Words splits one stored option line into the words docker receives. Dokku
// splits the phase's lines with xargs' quoting rules; for the lines this
// package writes (plain words, or single-quoted ones with '\” for a quote)
// those are the shell's rules. A line no rule can split is an error that
// names it.
func Words(line string) ([]string, error) {
	words, err := xargsWords(line)
	if err != nil {
		return nil, fmt.Errorf("docker option %s: %w", line, err)
	}
	return words, nil
}

// xargsWords is GNU xargs' splitting: blanks separate, '...' and "..."
// quote with no escapes inside, a backslash outside quotes takes the next
// character as it is.
func xargsWords(s string) ([]string, error) {
	var (
		out   []string
		cur   strings.Builder
		quote byte
		in    bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		case '\\':
			in = true
			if i+1 < len(s) {
				i++
				cur.WriteByte(s[i])
			} else {
				cur.WriteByte(c)
			}
		case '\'', '"':
			in = true
			quote = c
		default:
			in = true
			cur.WriteByte(c)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unmatched %c quote", quote)
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

// shellWords splits s into shell words without expanding anything and
// returns the offset just past the last word (a "#" comment ends the
// input early).
func shellWords(s string) (words []string, end int, err error) {
	p := syntax.NewParser()
	for w, err := range p.WordsSeq(strings.NewReader(s)) {
		if err != nil {
			return nil, 0, err
		}
		words = append(words, literalWord(s, w.Parts))
		end = int(w.End().Offset())
	}
	return words, end, nil
}

// literalWord is a word's text after quote removal: literal parts lose
// their escaping backslashes, single-quoted parts their quotes,
// double-quoted parts their quotes and the backslashes that escape inside
// them; any other part ($VAR, $(...), `...`, $((...))) is kept as written.
func literalWord(src string, parts []syntax.WordPart) string {
	var b strings.Builder
	for _, part := range parts {
		switch p := part.(type) {
		case *syntax.Lit:
			b.WriteString(unescape(p.Value, false))
		case *syntax.SglQuoted:
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			for _, inner := range p.Parts {
				if lit, ok := inner.(*syntax.Lit); ok {
					b.WriteString(unescape(lit.Value, true))
				} else {
					b.WriteString(src[inner.Pos().Offset():inner.End().Offset()])
				}
			}
		default:
			b.WriteString(src[part.Pos().Offset():part.End().Offset()])
		}
	}
	return b.String()
}

// unescape removes the backslashes quote removal removes: outside quotes
// before any character, inside double quotes only before $ ` " \ and a
// newline (an escaped newline disappears with its backslash).
func unescape(s string, dquoted bool) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			next := s[i+1]
			if next == '\n' {
				i++
				continue
			}
			if !dquoted || strings.IndexByte("$`\"\\", next) >= 0 {
				b.WriteByte(next)
				i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// groupWords starts a new group at each word that looks like a flag ("-"
// and at least one more character); words before the first flag form a
// group of their own, so nothing typed is dropped.
func groupWords(words []string) [][]string {
	var (
		groups [][]string
		cur    []string
	)
	for _, w := range words {
		if isFlag(w) && len(cur) > 0 {
			groups = append(groups, cur)
			cur = nil
		}
		cur = append(cur, w)
	}
	if len(cur) > 0 {
		groups = append(groups, cur)
	}
	return groups
}

func isFlag(w string) bool { return len(w) > 1 && w[0] == '-' }

// JoinWords writes words as one line that Words splits back into them:
// a word with a blank, a quote or a character a shell would act on is
// single-quoted ('\” for a quote inside), an empty word is ”.
func JoinWords(words []string) string {
	parts := make([]string, len(words))
	for i, w := range words {
		parts[i] = quoteWord(w)
	}
	return strings.Join(parts, " ")
}

func quoteWord(w string) string {
	if w == "" {
		return "''"
	}
	if !strings.ContainsAny(w, " \t\n\r\v\f\"'$`\\*?[]<>|&;(){}!#~") {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}
