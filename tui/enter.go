package tui

import tea "charm.land/bubbletea/v2"

// enterCmd hands the terminal to a shell in app's container dyno (web.1)
// and gives it back to the TUI when the shell exits.
func enterCmd(e *env, app, dyno string) tea.Cmd { return nil }
