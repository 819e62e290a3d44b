package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// placeholder stands for a screen being built; removed once every screen
// has landed.
type placeholder struct{ title string }

func (s placeholder) Init() tea.Cmd                    { return nil }
func (s placeholder) Update(tea.Msg) (Screen, tea.Cmd) { return s, nil }
func (s placeholder) View(w, h int) string             { return s.title + ": not built yet" }
func (s placeholder) Title() string                    { return s.title }
func (s placeholder) Keys() []key.Binding              { return nil }
func (s placeholder) Capturing() bool                  { return false }
