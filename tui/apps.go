package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// appsScreen is the first screen: every app. (Being built: this version
// only says so.)
type appsScreen struct{ e *env }

func newAppsScreen(e *env) *appsScreen { return &appsScreen{e: e} }

func (s *appsScreen) Init() tea.Cmd                    { return nil }
func (s *appsScreen) Update(tea.Msg) (Screen, tea.Cmd) { return s, nil }
func (s *appsScreen) View(w, h int) string             { return "Loading apps…" }
func (s *appsScreen) Title() string                    { return "apps" }
func (s *appsScreen) Keys() []key.Binding              { return nil }
func (s *appsScreen) Capturing() bool                  { return false }
