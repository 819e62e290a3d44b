package tui

import (
	"fmt"
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"dokku-sshd/keys"
)

func TestRootFrame(t *testing.T) {
	for _, sz := range sizes {
		e := testEnv(t, keys.Identity{Name: "admin", Admin: true})
		got := screenAt(e, sz.w, sz.h, placeholder{"apps"}, placeholder{"myapp"})
		lines := strings.Split(got, "\n")
		if len(lines) != sz.h {
			t.Fatalf("%dx%d: %d lines", sz.w, sz.h, len(lines))
		}
		golden(t, fmt.Sprintf("root-%dx%d", sz.w, sz.h), got)
	}
}

func TestRootKeys(t *testing.T) {
	e := testEnv(t, keys.Identity{Name: "dev"})
	m := &root{e: e, stack: []Screen{placeholder{"apps"}, placeholder{"myapp"}}, width: 80, height: 24}
	m.Update(tea.KeyPressMsg{Code: '?', Text: "?"})
	if !m.help || !strings.Contains(m.render(), "ctrl+c") {
		t.Fatal("? does not show the keys")
	}
	m.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
	if m.help {
		t.Fatal("a key does not close the help")
	}
	_, cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyEscape})
	if len(m.stack) != 1 || cmd != nil {
		t.Fatalf("esc: stack %d, cmd %v", len(m.stack), cmd)
	}
	_, cmd = m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"})
	if cmd == nil {
		t.Fatal("q on the first screen does not quit")
	}
	if _, ok := cmd().(tea.QuitMsg); !ok {
		t.Fatal("q on the first screen does not quit")
	}
}

// placeholder is a screen that only has a title, for the root's tests.
type placeholder struct{ title string }

func (s placeholder) Init() tea.Cmd                    { return nil }
func (s placeholder) Update(tea.Msg) (Screen, tea.Cmd) { return s, nil }
func (s placeholder) View(w, h int) string             { return s.title + ": a screen" }
func (s placeholder) Title() string                    { return s.title }
func (s placeholder) Keys() []key.Binding              { return nil }
func (s placeholder) Capturing() bool                  { return false }
