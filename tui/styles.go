package tui

import (
	"strings"
	"unicode/utf8"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// styles are the session's text styles. Colours are written in full and
// Bubble Tea lowers them to what the client's terminal supports (TERM,
// COLORTERM; none for a dumb terminal or NO_COLOR), so every state must
// also read without colour: selection is reverse video and a marker,
// states are words.
type styles struct {
	title, heading, dim, key, selected, ok, warn, bad lipgloss.Style
}

func newStyles() styles {
	return styles{
		title:    lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#7D56F4")),
		heading:  lipgloss.NewStyle().Bold(true),
		dim:      lipgloss.NewStyle().Faint(true),
		key:      lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#5FAFFF")),
		selected: lipgloss.NewStyle().Reverse(true),
		ok:       lipgloss.NewStyle().Foreground(lipgloss.Color("#5FD75F")),
		warn:     lipgloss.NewStyle().Foreground(lipgloss.Color("#FFAF00")),
		bad:      lipgloss.NewStyle().Bold(true).Foreground(lipgloss.Color("#FF5F5F")),
	}
}

// truncate cuts s (which may hold styles) to w cells, with an ellipsis.
func truncate(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return ansi.Truncate(s, w, "…")
}

// padRight pads s (plain) with spaces to w cells.
func padRight(s string, w int) string {
	if n := ansi.StringWidth(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

// fit makes s exactly h lines of exactly w cells: longer lines are cut,
// shorter ones padded, missing lines added, extra lines dropped.
func fit(s string, w, h int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	for i, l := range lines {
		lines[i] = padRight(truncate(l, w), w)
	}
	return strings.Join(lines, "\n")
}

// plainLine makes one line of a command's output safe to draw: no escape
// sequences (colours, cursor moves, titles), no control characters, tabs
// expanded; after a carriage return (a progress line redrawn in place)
// only what a terminal would show last. Every text a screen shows from a
// command goes through it.
func plainLine(s string) string {
	s = ansi.Strip(s)
	if i := strings.LastIndexByte(strings.TrimRight(s, "\r"), '\r'); i >= 0 {
		s = s[i+1:]
	}
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	var sb strings.Builder
	col := 0
	for _, r := range s { // invalid UTF-8 comes out as U+FFFD
		switch {
		case r == '\t':
			n := 8 - col%8
			sb.WriteString(strings.Repeat(" ", n))
			col += n
		case r < 0x20 || (r >= 0x7f && r < 0xa0):
		default:
			sb.WriteRune(r)
			col += ansi.StringWidth(string(r))
		}
	}
	return sb.String()
}

// plainText is plainLine on every line of s.
func plainText(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = plainLine(l)
	}
	return strings.Join(lines, "\n")
}

// capLine cuts s to at most n bytes, on a character boundary.
func capLine(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
