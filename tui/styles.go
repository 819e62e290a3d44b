package tui

import (
	"strings"

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
