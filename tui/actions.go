package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// actionCommands maps each action to the command it is: the screen runs
// exactly that command, so what it may do and what it prints are the
// command's.
var actionCommands = map[string]string{
	"restart": "ps:restart",
	"stop":    "ps:stop",
	"start":   "ps:start",
	"rebuild": "ps:rebuild",
	"scale":   "ps:scale",
	"destroy": "apps:destroy",
}

// actionPhase is where an action screen is: asking, running, finished.
type actionPhase int

const (
	actionConfirm actionPhase = iota // y/n question (restart, stop, start, rebuild)
	actionLoading                    // reading the current scale
	actionForm                       // a field to fill (scale counts, destroy's app name)
	actionFailed                     // the form could not be built (ps:scale failed)
	actionRunning                    // the command runs, its output streams in
	actionDone                       // the command ended
)

// Bounds on what one action keeps of its command's output: the screen
// shows the tail, and a chatty command (a rebuild's build log) must not
// grow a session's memory without bound.
const (
	actionMaxLines   = 1000
	actionMaxLineLen = 4096
)

// actionModel is one action on one app: a confirmation (or the scale
// form, or destroy's type-the-name field), then its command's output.
type actionModel struct {
	e         *env
	app, name string
	command   string
	phase     actionPhase

	// scale: one field per process type, from ps:scale --format json.
	rows  []actionScaleRow
	focus int
	// destroy: the app's name, typed.
	confirm textinput.Model

	problem string // why enter did not run (invalid count, name mismatch), or why the form failed
	notice  string // a note that is not a failure (nothing changed, wait for the run)

	argv []string // the command run
	out  *actionOutput
	spin spinner.Model
	code int
}

// actionScaleRow is one process type's count field.
type actionScaleRow struct {
	proc string
	was  int
	in   textinput.Model
}

// Messages of an action screen, tagged with it: the root broadcasts every
// message to every screen on the stack.
type (
	actionScaleMsg struct {
		s    *actionModel
		rows []actionScaleRow
		err  string
	}
	actionOutMsg  struct{ s *actionModel }
	actionDoneMsg struct {
		s    *actionModel
		code int
	}
)

// actionScreen asks to confirm one action on app (restart, stop, start,
// rebuild, scale, destroy), runs its command and shows the output; nil
// when the session's key may not run it.
func actionScreen(e *env, app, name string) Screen {
	command, ok := actionCommands[name]
	if !ok || !e.b.allowed(command) {
		return nil
	}
	s := &actionModel{e: e, app: app, name: name, command: command,
		spin: spinner.New(spinner.WithSpinner(spinner.Line))}
	switch name {
	case "scale":
		s.phase = actionLoading
	case "destroy":
		s.phase = actionForm
		s.confirm = actionField(200) // an app name is far shorter
		s.confirm.Focus()
	}
	return s
}

// actionField is a text field with the server-side clipboard paste off:
// ctrl+v would run xclip on the server. A client's bracketed paste
// (tea.PasteMsg) still works.
func actionField(limit int) textinput.Model {
	ti := textinput.New()
	ti.KeyMap.Paste.SetEnabled(false)
	ti.CharLimit = limit
	ti.Prompt = "> "
	// A steady cursor: no blink ticks, and the same frame every time.
	st := ti.Styles()
	st.Cursor.Blink = false
	ti.SetStyles(st)
	return ti
}

func (s *actionModel) Init() tea.Cmd {
	if s.phase != actionLoading {
		return nil
	}
	e, app := s.e, s.app
	return func() tea.Msg {
		r := e.b.run(e.ctx, "ps:scale", app, "--format", "json")
		if r.Code != 0 {
			return actionScaleMsg{s: s, err: errText(r)}
		}
		var list []struct {
			ProcessType string `json:"process_type"`
			Quantity    int    `json:"quantity"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
			return actionScaleMsg{s: s, err: "ps:scale printed something other than JSON: " + err.Error()}
		}
		rows := make([]actionScaleRow, len(list))
		for i, p := range list {
			in := actionField(9)
			in.Prompt = ""
			in.SetValue(strconv.Itoa(p.Quantity))
			rows[i] = actionScaleRow{proc: p.ProcessType, was: p.Quantity, in: in}
		}
		return actionScaleMsg{s: s, rows: rows}
	}
}

func (s *actionModel) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case actionScaleMsg:
		if msg.s != s {
			return s, nil
		}
		if msg.err != "" {
			s.phase, s.problem = actionFailed, msg.err
			return s, nil
		}
		s.rows, s.phase = msg.rows, actionForm
		s.setFocus(0)
		return s, nil
	case actionOutMsg:
		if msg.s == s {
			s.out.seen()
		}
		return s, nil
	case actionDoneMsg:
		if msg.s != s {
			return s, nil
		}
		s.out.flush()
		s.phase, s.code, s.notice = actionDone, msg.code, ""
		return s, nil
	case spinner.TickMsg:
		if s.phase != actionRunning {
			return s, nil
		}
		var cmd tea.Cmd
		s.spin, cmd = s.spin.Update(msg)
		return s, cmd
	case tea.PasteMsg:
		return s, s.updateField(msg)
	case tea.KeyPressMsg:
		return s.key(msg)
	}
	return s, nil
}

// key handles a key press in each phase.
func (s *actionModel) key(msg tea.KeyPressMsg) (Screen, tea.Cmd) {
	k := msg.String()
	switch s.phase {
	case actionConfirm:
		switch k {
		case "y", "Y", "enter":
			return s, s.run(s.command, s.app)
		case "n", "N":
			return s, s.e.pop()
		}
	case actionForm:
		if k == "esc" {
			return s, s.e.pop()
		}
		if s.name == "destroy" {
			if k == "enter" {
				if s.confirm.Value() != s.app {
					s.problem = "Confirmation did not match"
					return s, nil
				}
				return s, s.run("apps:destroy", "--force", s.app)
			}
			s.problem = ""
			return s, s.updateField(msg)
		}
		return s, s.scaleKey(msg)
	case actionRunning:
		// Leaving would hide a command that goes on running: say so.
		if k == "q" || k == "esc" {
			s.notice = "running — wait for it to finish"
		}
	case actionDone:
		if s.name == "destroy" && s.code == 0 {
			// The app view under this screen shows an app that is gone.
			return s, tea.Batch(s.e.pop(), s.e.pop())
		}
		return s, s.e.pop()
	}
	return s, nil
}

// scaleKey moves between the count fields, edits them, and on enter runs
// ps:scale with the counts that changed.
func (s *actionModel) scaleKey(msg tea.KeyPressMsg) tea.Cmd {
	switch msg.String() {
	case "q":
		return s.e.pop() // counts are digits: q cannot be meant as input
	case "tab", "down":
		s.setFocus(s.focus + 1)
		return nil
	case "shift+tab", "up":
		s.setFocus(s.focus - 1)
		return nil
	case "enter":
		return s.submitScale()
	}
	if msg.Text != "" && strings.Trim(msg.Text, "0123456789") != "" {
		return nil // digits only
	}
	s.problem, s.notice = "", ""
	return s.updateField(msg)
}

var actionCount = regexp.MustCompile(`^[0-9]+$`)

// submitScale validates every field and runs ps:scale APP TYPE=N for the
// types whose count changed; ps:scale itself judges the rest (a type the
// release cannot run, an app.json formation).
func (s *actionModel) submitScale() tea.Cmd {
	if len(s.rows) == 0 {
		return nil
	}
	argv := []string{"ps:scale", s.app}
	for i, r := range s.rows {
		v := strings.TrimSpace(r.in.Value())
		n, err := strconv.Atoi(v)
		if !actionCount.MatchString(v) || err != nil {
			s.problem = fmt.Sprintf("%s: %q is not a non-negative integer", r.proc, v)
			s.setFocus(i)
			return nil
		}
		if n != r.was {
			argv = append(argv, fmt.Sprintf("%s=%d", r.proc, n))
		}
	}
	if len(argv) == 2 {
		s.problem, s.notice = "", "Nothing changed: every count is what it was"
		return nil
	}
	return s.run(argv...)
}

// setFocus focuses count field i (wrapping around).
func (s *actionModel) setFocus(i int) {
	if len(s.rows) == 0 {
		return
	}
	s.focus = (i%len(s.rows) + len(s.rows)) % len(s.rows)
	for j := range s.rows {
		if j == s.focus {
			s.rows[j].in.Focus()
			s.rows[j].in.CursorEnd()
		} else {
			s.rows[j].in.Blur()
		}
	}
}

// updateField passes msg to the focused field, if any.
func (s *actionModel) updateField(msg tea.Msg) tea.Cmd {
	if s.phase != actionForm {
		return nil
	}
	var cmd tea.Cmd
	if s.name == "destroy" {
		s.confirm, cmd = s.confirm.Update(msg)
	} else if len(s.rows) > 0 {
		s.rows[s.focus].in, cmd = s.rows[s.focus].in.Update(msg)
	}
	return cmd
}

// run starts argv, its output streaming into the screen. It runs under
// the session's context: a client that goes away cancels it, as it would
// an SSH command.
func (s *actionModel) run(argv ...string) tea.Cmd {
	s.phase, s.argv, s.problem, s.notice = actionRunning, argv, "", ""
	s.confirm.Blur()
	e := s.e
	s.out = &actionOutput{notify: func() { e.send(actionOutMsg{s}) }}
	out := s.out
	return tea.Batch(s.spin.Tick, func() tea.Msg {
		return actionDoneMsg{s: s, code: e.b.stream(e.ctx, out, argv...)}
	})
}

func (s *actionModel) Title() string { return s.name }

// Busy: the command runs (the root asks before a quit stops it).
func (s *actionModel) Busy() bool { return s.phase == actionRunning }

func (s *actionModel) Capturing() bool {
	switch s.phase {
	case actionForm, actionRunning, actionDone:
		return true
	}
	return false
}

func (s *actionModel) Keys() []key.Binding {
	b := func(keys, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(strings.Split(keys, "/")...), key.WithHelp(help, desc))
	}
	switch s.phase {
	case actionConfirm:
		return []key.Binding{b("y/enter", "y/enter", "run"), b("n", "n", "cancel")}
	case actionForm:
		if s.name == "destroy" {
			return []key.Binding{b("enter", "enter", "destroy"), b("esc", "esc", "cancel")}
		}
		return []key.Binding{b("tab/up/down", "tab/↑/↓", "field"), b("enter", "enter", "scale"), b("esc", "esc", "cancel")}
	case actionDone:
		return []key.Binding{b("any", "any key", "back")}
	}
	return nil
}

func (s *actionModel) View(w, h int) string {
	st := s.e.st
	var b strings.Builder
	line := func(v string) { b.WriteString(" " + v + "\n") }
	verb := strings.ToUpper(s.name[:1]) + s.name[1:]
	switch s.phase {
	case actionConfirm:
		line("")
		line(st.heading.Render(verb+" "+s.app+"?") + " y/enter to run, n/esc to cancel")
		line("")
		line(st.dim.Render("Runs: dokku " + s.command + " " + s.app))
		return b.String()
	case actionLoading:
		line("")
		line("Reading the process counts (ps:scale " + s.app + ")…")
		return b.String()
	case actionFailed:
		line("")
		line(st.bad.Render("Cannot scale " + s.app + ":"))
		for _, l := range strings.Split(s.problem, "\n") {
			line(st.bad.Render(l))
		}
		return b.String()
	case actionForm:
		line("")
		if s.name == "destroy" {
			line(st.heading.Render("Destroy "+s.app+"?") + " This cannot be undone.")
			line("Type the app's name, " + st.heading.Render(s.app) + ", and press enter to destroy it; esc cancels.")
			line("")
			s.confirm.SetWidth(max(w-6, 1))
			line(s.confirm.View())
		} else {
			s.scaleView(line)
		}
		line("")
		if s.problem != "" {
			line(st.bad.Render(s.problem))
		}
		if s.notice != "" {
			line(st.warn.Render(s.notice))
		}
		return b.String()
	}
	// Running or done: the command, its state, then its output's tail.
	line("")
	line(st.dim.Render("$ dokku " + strings.Join(s.argv, " ")))
	switch {
	case s.phase == actionRunning:
		status := s.spin.View() + " running…"
		if s.notice != "" {
			status += "  " + st.warn.Render(s.notice)
		}
		line(status)
	case s.code == 0:
		line(st.ok.Render(fmt.Sprintf("done (exit %d)", s.code)) + st.dim.Render(" — any key to go back"))
	default:
		line(st.bad.Render(fmt.Sprintf("failed (exit %d)", s.code)) + st.dim.Render(" — any key to go back"))
	}
	line("")
	for _, l := range actionWrapTail(s.out, w-1, max(h-4, 1)) {
		line(l)
	}
	return b.String()
}

// actionWrapTail is the last n lines of o's output wrapped to w cells,
// the first saying how many earlier lines are not shown.
func actionWrapTail(o *actionOutput, w, n int) []string {
	raw, dropped := o.tail(n)
	var wrapped [][]string
	total := 0
	for _, l := range raw {
		ls := strings.Split(ansi.Wrap(l, max(w, 1), ""), "\n")
		wrapped = append(wrapped, ls)
		total += len(ls)
	}
	// Drop whole lines from the top until the rest fits under the note.
	for len(wrapped) > 0 && (total > n || (dropped > 0 && total > n-1)) {
		total -= len(wrapped[0])
		wrapped = wrapped[1:]
		dropped++
	}
	var out []string
	if dropped > 0 {
		out = append(out, fmt.Sprintf("… %d earlier lines", dropped))
	}
	for _, ls := range wrapped {
		out = append(out, ls...)
	}
	return out
}

// scaleView draws the count fields, one line per process type.
func (s *actionModel) scaleView(line func(string)) {
	st := s.e.st
	line(st.heading.Render("Scale "+s.app) + ": process counts")
	line("")
	if len(s.rows) == 0 {
		line("ps:scale " + s.app + " lists no process type yet: deploy the app first.")
		return
	}
	width := 4
	for _, r := range s.rows {
		width = max(width, ansi.StringWidth(r.proc))
	}
	for i, r := range s.rows {
		mark := "  "
		if i == s.focus {
			mark = "› "
		}
		field := r.in.View()
		pad := strings.Repeat(" ", max(10-ansi.StringWidth(r.in.Value())-1, 1))
		now := st.dim.Render(fmt.Sprintf("(now %d)", r.was))
		if v, err := strconv.Atoi(r.in.Value()); err == nil && v != r.was {
			now = st.warn.Render(fmt.Sprintf("(now %d, changed)", r.was))
		}
		line(mark + padRight(r.proc, width) + "  [" + field + pad + "] " + now)
	}
	line("")
	line(st.dim.Render("enter runs: dokku ps:scale " + s.app + " TYPE=N … for the changed types only"))
}

// actionOutput collects a running command's output (stdout and stderr as
// one stream) as lines, keeping the last actionMaxLines, and tells the
// program that there is more with at most one notification pending: a
// command never waits on a slow terminal beyond that one send.
type actionOutput struct {
	mu      sync.Mutex
	lines   []string
	partial []byte
	dropped int
	pending bool
	notify  func()
}

func (o *actionOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		o.add(string(o.partial[:i]))
		o.partial = o.partial[i+1:]
	}
	if len(o.partial) > actionMaxLineLen {
		o.add(string(o.partial))
		o.partial = nil
	}
	o.partial = append([]byte(nil), o.partial...)
	notify := !o.pending
	o.pending = true
	o.mu.Unlock()
	if notify {
		o.notify()
	}
	return len(p), nil
}

// add keeps one line, dropping the oldest beyond actionMaxLines.
func (o *actionOutput) add(l string) {
	l = capLine(plainLine(l), actionMaxLineLen)
	if len(o.lines) >= actionMaxLines {
		copy(o.lines, o.lines[1:])
		o.lines = o.lines[:len(o.lines)-1]
		o.dropped++
	}
	o.lines = append(o.lines, l)
}

// seen is called when the program took the notification: the next write
// sends another.
func (o *actionOutput) seen() {
	o.mu.Lock()
	o.pending = false
	o.mu.Unlock()
}

// flush keeps an unfinished last line once the command has ended.
func (o *actionOutput) flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.partial) > 0 {
		o.add(string(o.partial))
		o.partial = nil
	}
}

// tail returns the last n lines (with the unfinished one) and how many
// earlier lines were dropped, counting those not returned.
func (o *actionOutput) tail(n int) ([]string, int) {
	if o == nil {
		return nil, 0
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	all := o.lines
	if len(o.partial) > 0 {
		all = append(all[:len(all):len(all)], capLine(plainLine(string(o.partial)), actionMaxLineLen))
	}
	dropped := o.dropped
	if len(all) > n {
		// One line goes to saying how many are hidden.
		k := max(n-1, 0)
		dropped += len(all) - k
		all = all[len(all)-k:]
	}
	return append([]string(nil), all...), dropped
}
