package tui

import (
	"context"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"dokku-sshd/keys"
)

// env is what every screen of one session shares.
type env struct {
	ctx   context.Context // the session's: ends when the client goes away
	b     *backend
	id    keys.Identity
	admin bool
	st    styles
	// send delivers a message to the program from any goroutine (a
	// stream's lines); a no-op in model tests.
	send func(tea.Msg)
	// term hands the client's terminal to a container's TTY (enter); nil
	// in model tests.
	term *terminal
	// nav is what push (a screen) and pop (nil) asked for since the root
	// last looked.
	nav []Screen
}

// Screen is one full-screen view. The root model keeps a stack of them:
// the top one gets the keys and draws the body; every one gets the other
// messages (each ignores what is not its own), so a stream keeps feeding
// a screen under another.
type Screen interface {
	Init() tea.Cmd
	Update(msg tea.Msg) (Screen, tea.Cmd)
	// View draws the body, width x height cells (the root draws the title
	// line above it and the key line below).
	View(width, height int) string
	// Title is the screen's part of the title line ("apps", "myapp",
	// "logs").
	Title() string
	// Keys are the screen's key bindings, for the key line and `?`.
	Keys() []key.Binding
	// Capturing is true while a text field has the keys: the root then
	// passes q, ? and Esc to the screen instead of acting on them.
	Capturing() bool
}

// Closer is a Screen that stops something (a stream, a watch) when it
// leaves the stack.
type Closer interface{ Close() }

// pushMsg and popMsg are what push and pop's commands deliver once run:
// the stack has already changed by then (env.nav), so the root ignores
// them; model tests read them to see what a key asked for.
type (
	pushMsg struct{ s Screen }
	popMsg  struct{}
)

// push opens s on top of the current screen. The root applies it as soon
// as the Update that asked returns, before the next key: keys typed
// together (a paste, a laggy link) reach the screen they were meant for.
func (e *env) push(s Screen) tea.Cmd {
	e.nav = append(e.nav, s)
	return func() tea.Msg { return pushMsg{s} }
}

// pop closes the top screen (the first one quits), as push does.
func (e *env) pop() tea.Cmd {
	e.nav = append(e.nav, nil)
	return func() tea.Msg { return popMsg{} }
}

// Global key bindings.
var (
	keyQuit = key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit"))
	keyBack = key.NewBinding(key.WithKeys("q", "esc"), key.WithHelp("q/esc", "back"))
	// keyLeave is q on the first screen, where it ends the session.
	keyLeave = key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit"))
	keyHelp  = key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "keys"))
)

// root is the program's model: the screen stack, the terminal size and
// the help overlay.
type root struct {
	e             *env
	stack         []Screen
	width, height int
	help          bool
	closed        bool // closeAll ran
	quitArmed     bool // ctrl+c once while an action ran: the next quits
}

// Busy is a Screen running something that quitting would stop halfway
// (an action's command).
type Busy interface{ Busy() bool }

// busy reports whether a screen on the stack runs such a thing.
func (m *root) busy() bool {
	for _, s := range m.stack {
		if b, ok := s.(Busy); ok && b.Busy() {
			return true
		}
	}
	return false
}

func newRoot(e *env) *root {
	return &root{e: e, stack: []Screen{newAppsScreen(e)}, width: 80, height: 24}
}

func (m *root) top() Screen { return m.stack[len(m.stack)-1] }

func (m *root) Init() tea.Cmd { return m.top().Init() }

func (m *root) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, m.broadcast(msg)
	case pushMsg, popMsg:
		return m, nil // applied when asked (navigate)
	case tea.KeyPressMsg:
		cmd := m.key(msg)
		return m, tea.Batch(cmd, m.navigate())
	case tea.PasteMsg, tea.PasteStartMsg, tea.PasteEndMsg:
		// Typed input, as keys are: the top screen's only.
		s, cmd := m.top().Update(msg)
		m.stack[len(m.stack)-1] = s
		return m, tea.Batch(cmd, m.navigate())
	}
	cmd := m.broadcast(msg)
	return m, tea.Batch(cmd, m.navigate())
}

// navigate applies the pushes and pops screens asked for.
func (m *root) navigate() tea.Cmd {
	var cmds []tea.Cmd
	for len(m.e.nav) > 0 {
		s := m.e.nav[0]
		m.e.nav = m.e.nav[1:]
		if s == nil {
			cmds = append(cmds, m.popScreen())
			continue
		}
		m.stack = append(m.stack, s)
		cmds = append(cmds, s.Init())
	}
	return tea.Batch(cmds...)
}

// key handles a key press: the help overlay and the global keys first,
// unless the top screen has a text field.
func (m *root) key(msg tea.KeyPressMsg) tea.Cmd {
	if key.Matches(msg, keyQuit) {
		// Quitting stops what an action runs: ask once.
		if m.busy() && !m.quitArmed {
			m.quitArmed = true
			return nil
		}
		return m.quit()
	}
	m.quitArmed = false
	if m.help {
		m.help = false
		return nil
	}
	top := m.top()
	if !top.Capturing() {
		switch {
		case key.Matches(msg, keyHelp):
			m.help = true
			return nil
		case key.Matches(msg, keyBack):
			if msg.String() == "q" && len(m.stack) == 1 {
				return m.quit()
			}
			if len(m.stack) > 1 {
				return m.popScreen()
			}
			return nil
		}
	}
	s, cmd := top.Update(msg)
	m.stack[len(m.stack)-1] = s
	return cmd
}

// broadcast passes msg to every screen on the stack.
func (m *root) broadcast(msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	for i, s := range m.stack {
		var cmd tea.Cmd
		m.stack[i], cmd = s.Update(msg)
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}

// popScreen closes the top screen; the first one quits.
func (m *root) popScreen() tea.Cmd {
	if len(m.stack) == 1 {
		return m.quit()
	}
	if c, ok := m.top().(Closer); ok {
		c.Close()
	}
	m.stack = m.stack[:len(m.stack)-1]
	return nil
}

func (m *root) quit() tea.Cmd {
	m.closeAll()
	return tea.Quit
}

// closeAll closes every screen on the stack, once: when the user quits,
// and when the session ends however it ended (a client that went away
// quits nothing).
func (m *root) closeAll() {
	if m.closed {
		return
	}
	m.closed = true
	for _, s := range m.stack {
		if c, ok := s.(Closer); ok {
			c.Close()
		}
	}
}

func (m *root) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "dokku-sshd"
	return v
}

// render draws the title line, the top screen's body (or the key help)
// and the key line, exactly width x height.
func (m *root) render() string {
	w, h := max(m.width, 20), max(m.height, 5)
	st := m.e.st
	titles := make([]string, len(m.stack))
	for i, s := range m.stack {
		titles[i] = s.Title()
	}
	who := m.e.id.Name
	if m.e.admin {
		who += " (admin)"
	}
	left := truncate(" "+strings.Join(titles, " › "), w-lipgloss.Width(who)-2)
	gap := max(w-lipgloss.Width(left)-lipgloss.Width(who)-1, 1)
	title := st.title.Render(left) + strings.Repeat(" ", gap) + st.dim.Render(who)
	bodyH := h - 2
	var body string
	if m.help {
		body = m.helpView(w, bodyH)
	} else {
		body = m.top().View(w, bodyH)
	}
	return fit(title, w, 1) + "\n" + fit(body, w, bodyH) + "\n" + fit(m.keyLine(w), w, 1)
}

// backKey is what q does here: back, or quit on the first screen.
func (m *root) backKey() key.Binding {
	if len(m.stack) == 1 {
		return keyLeave
	}
	return keyBack
}

// keyLine is the global keys, then the top screen's, in one line: at 80
// columns a busy screen's keys are cut, never the way back or to `?`.
func (m *root) keyLine(w int) string {
	if m.help {
		return m.e.st.dim.Render(" any key: close")
	}
	if m.quitArmed {
		return m.e.st.warn.Render(" a command is running: ctrl+c again stops it and quits; any other key: stay")
	}
	global := []key.Binding{m.backKey(), keyHelp}
	if m.busy() {
		global = nil // q, esc and ? wait for the command
	}
	var parts []string
	for _, b := range append(global, m.top().Keys()...) {
		if b.Enabled() {
			parts = append(parts, m.e.st.key.Render(b.Help().Key)+" "+m.e.st.dim.Render(b.Help().Desc))
		}
	}
	return truncate(" "+strings.Join(parts, "  "), w)
}

// helpView lists every key of the top screen and the global ones.
func (m *root) helpView(w, h int) string {
	var b strings.Builder
	b.WriteString(m.e.st.heading.Render("Keys") + "\n\n")
	for _, k := range append(m.top().Keys(), m.backKey(), keyHelp, keyQuit) {
		if k.Enabled() {
			b.WriteString("  " + m.e.st.key.Render(padRight(k.Help().Key, 12)) + " " + k.Help().Desc + "\n")
		}
	}
	return b.String()
}
