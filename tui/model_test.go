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

// recorder pushes next on "enter", pops on "x", and records the other keys.
type recorder struct {
	placeholder
	e    *env
	next Screen
	keys []string
}

func (s *recorder) Update(msg tea.Msg) (Screen, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	switch {
	case !ok:
	case k.String() == "enter" && s.next != nil:
		return s, s.e.push(s.next)
	case k.String() == "x":
		return s, s.e.pop()
	default:
		s.keys = append(s.keys, k.String())
	}
	return s, nil
}

// A key that arrives before the command of the previous one ran (typed
// together, pasted, a laggy link) reaches the screen that key opened or
// uncovered, not the one it left.
func TestRootNavigatesBeforeNextKey(t *testing.T) {
	e := testEnv(t, keys.Identity{Name: "dev"})
	second := &recorder{placeholder: placeholder{"second"}, e: e}
	first := &recorder{placeholder: placeholder{"first"}, e: e, next: second}
	m := &root{e: e, stack: []Screen{first}, width: 80, height: 24}
	for _, k := range []tea.KeyPressMsg{{Code: tea.KeyEnter}, {Code: '3', Text: "3"}, {Code: 'x', Text: "x"}, {Code: '4', Text: "4"}} {
		m.Update(k) // the returned commands are never run
	}
	if fmt.Sprint(second.keys) != "[3]" || fmt.Sprint(first.keys) != "[4]" || len(m.stack) != 1 {
		t.Fatalf("first got %v, second %v, stack %d", first.keys, second.keys, len(m.stack))
	}
	// The commands, run late, change nothing more.
	m.Update(pushMsg{second})
	m.Update(popMsg{})
	if len(m.stack) != 1 || m.top() != first {
		t.Fatalf("a late push or pop message moved the stack: %d", len(m.stack))
	}
}

// busyScreen runs something until done.
type busyScreen struct {
	placeholder
	running bool
}

func (s *busyScreen) Busy() bool                       { return s.running }
func (s *busyScreen) Update(tea.Msg) (Screen, tea.Cmd) { return s, nil }

// ctrl+c while a command runs asks first; any other key cancels the
// question; once nothing runs it quits at once.
func TestRootQuitWhileBusy(t *testing.T) {
	e := testEnv(t, keys.Identity{Name: "dev"})
	b := &busyScreen{placeholder: placeholder{"restart"}, running: true}
	m := &root{e: e, stack: []Screen{placeholder{"apps"}, b}, width: 80, height: 24}
	ctrlC := tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	if _, cmd := m.Update(ctrlC); cmd != nil || !strings.Contains(m.render(), "ctrl+c again") {
		t.Fatalf("the first ctrl+c while busy did not ask:\n%s", m.render())
	}
	if strings.Contains(m.render(), "q/esc back") {
		t.Fatal("the key line offers back while a command runs")
	}
	m.Update(tea.KeyPressMsg{Code: 'x', Text: "x"})
	if _, cmd := m.Update(ctrlC); cmd != nil {
		t.Fatal("ctrl+c after another key quit without asking again")
	}
	if _, cmd := m.Update(ctrlC); cmd == nil {
		t.Fatal("the second ctrl+c did not quit")
	}
	b.running = false
	m = &root{e: e, stack: []Screen{placeholder{"apps"}, b}, width: 80, height: 24}
	if _, cmd := m.Update(ctrlC); cmd == nil {
		t.Fatal("ctrl+c with nothing running did not quit")
	}
}
