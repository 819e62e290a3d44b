package tui

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"dokku-sshd/deploy"
)

// appChangedMsg says that app changed (an action ran on it, a deploy
// ended): every app view of that app reloads what it shows. Any screen may
// return it from a Cmd (or hand it to e.send from a goroutine). The app
// view sends it itself when an action screen it opened closes, so the
// action's effect shows at once.
type appChangedMsg struct{ app string }

// appTab is one tab of the app view.
type appTab int

const (
	appTabReports appTab = iota
	appTabConfig
	appTabProcesses
	appTabBuilds
	appTabCount
)

var appTabNames = [appTabCount]string{"Reports", "Config", "Processes", "Builds"}

// appAction is an action key of the app view and the command it runs.
// The key is offered only when the session's key may run the command.
type appAction struct {
	name, cmd string
	key       key.Binding
}

// appActions are the app view's actions (a variable so that a test can
// map one to a root-only command: no ps:* command is root-only).
var appActions = []appAction{
	{"restart", "ps:restart", key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "restart"))},
	{"stop", "ps:stop", key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "stop"))},
	{"start", "ps:start", key.NewBinding(key.WithKeys("S"), key.WithHelp("S", "start"))},
	{"scale", "ps:scale", key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "scale"))},
	{"rebuild", "ps:rebuild", key.NewBinding(key.WithKeys("b"), key.WithHelp("b", "rebuild"))},
	{"destroy", "apps:destroy", key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "destroy"))},
}

// The app view's own keys. The ones shown on the key line are
// appKeyTabs..appKeyReload; the others act without being listed twice.
var (
	appKeyTabs     = key.NewBinding(key.WithKeys("tab", "right"), key.WithHelp("tab/←→/1-4", "tabs"))
	appKeyPrevTab  = key.NewBinding(key.WithKeys("shift+tab", "left"))
	appKeyTabN     = key.NewBinding(key.WithKeys("1", "2", "3", "4"))
	appKeyUp       = key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "move"))
	appKeyDown     = key.NewBinding(key.WithKeys("down", "j"))
	appKeyPgUp     = key.NewBinding(key.WithKeys("pgup", "ctrl+u"))
	appKeyPgDown   = key.NewBinding(key.WithKeys("pgdown", "ctrl+d", "space"))
	appKeyHome     = key.NewBinding(key.WithKeys("home", "g"))
	appKeyEnd      = key.NewBinding(key.WithKeys("end", "G"))
	appKeyOpen     = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "build output"))
	appKeyEnter    = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "enter"))
	appKeyReveal   = key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "reveal"))
	appKeyLogs     = key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "logs"))
	appKeyReload   = key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "reload"))
	appEventSettle = 300 * time.Millisecond // one reload for a burst of events
)

// appMask stands for every hidden config value: the same width whatever
// the value, so that it tells nothing of it.
const appMask = "••••••"

// appScreen is the app view: tabs of the app's reports, config, processes
// and builds, each what the commands print, with the app's actions.
type appScreen struct {
	e   *env
	app string
	tab appTab
	now func() time.Time // for "5m ago" (pinned in tests)
	// status is how the last enter from here ended, shown until a key.
	status    string
	statusBad bool

	// Per tab: its load (generation, so that a reload drops an older
	// answer), and the first line shown or the row selected.
	load [appTabCount]appLoad
	off  [appTabCount]int // first line shown
	sel  [appTabCount]int // selected row (processes, builds)
	// Lines of the last frame, so that keys scroll within the text.
	viewH [appTabCount]int
	lines [appTabCount]int

	reports string
	config  []appVar
	reveal  bool
	procs   appProcs
	builds  []deploy.Record

	actions []key.Binding // enabled when the key may run the command

	sub       *Subscription // e.b.srv.Events, nil when there is none
	done      chan struct{} // closed by Close: ends the wait on sub
	closeOnce sync.Once
}

// appLoad is one tab's data state.
type appLoad struct {
	started bool   // a load was started since the last reload
	loading bool   // waiting for its answer
	loaded  bool   // data arrived once
	gen     int    // the load awaited
	err     string // the command's error, "" when it worked
}

// appVar is one config var.
type appVar struct{ key, value string }

// appProcs is ps:report and ps:scale of the app.
type appProcs struct {
	deployed, running, processes string
	dynos                        []appDyno
	scale                        []appScale
}

type appDyno struct{ name, state, container string }

type appScale struct {
	Type     string `json:"process_type"`
	Quantity int    `json:"quantity"`
}

// appLoadedMsg is a tab's data, for the screen s that asked.
type appLoadedMsg struct {
	s       *appScreen
	tab     appTab
	gen     int
	err     string
	reports string
	config  []appVar
	procs   appProcs
	builds  []deploy.Record
}

// appEventMsg says Events published s's app.
type appEventMsg struct{ s *appScreen }

func newAppScreen(e *env, app string) Screen {
	s := &appScreen{e: e, app: app, now: time.Now}
	for _, a := range appActions {
		b := a.key
		b.SetEnabled(s.allowed(a.cmd))
		s.actions = append(s.actions, b)
	}
	return s
}

// allowed reports whether the session's key may run the command (never
// without a server: model tests).
func (s *appScreen) allowed(name string) bool {
	return s.e.b != nil && s.e.b.srv != nil && s.e.b.allowed(name)
}

func (s *appScreen) Init() tea.Cmd {
	cmds := []tea.Cmd{s.startLoad(s.tab)}
	if s.e.b != nil && s.e.b.srv != nil && s.e.b.srv.Events != nil && s.sub == nil {
		s.sub, s.done = s.e.b.srv.Events.Subscribe(), make(chan struct{})
		cmds = append(cmds, s.waitEvent())
	}
	return tea.Batch(cmds...)
}

// Close ends the subscription to Events and its wait.
func (s *appScreen) Close() {
	s.closeOnce.Do(func() {
		if s.sub != nil {
			s.sub.Close()
			close(s.done)
		}
	})
}

func (s *appScreen) Title() string   { return s.app }
func (s *appScreen) Capturing() bool { return false }

func (s *appScreen) Keys() []key.Binding {
	open, enter, reveal := appKeyOpen, appKeyEnter, appKeyReveal
	open.SetEnabled(s.tab == appTabBuilds && len(s.builds) > 0)
	enter.SetEnabled(s.tab == appTabProcesses && len(s.procs.dynos) > 0)
	reveal.SetEnabled(s.tab == appTabConfig)
	if s.reveal {
		reveal.SetHelp("v", "hide")
	}
	ks := []key.Binding{appKeyTabs, appKeyUp, open, enter, reveal, appKeyLogs}
	ks = append(ks, s.actions...)
	return append(ks, appKeyReload)
}

func (s *appScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case appLoadedMsg:
		if msg.s == s {
			s.loaded(msg)
		}
	case appChangedMsg:
		if msg.app == s.app {
			return s, s.reload()
		}
	case appEventMsg:
		if msg.s == s {
			return s, tea.Batch(s.reload(), s.waitEvent())
		}
	case enterDoneMsg:
		// The shell entered from here ended: say how, and look again at
		// the processes.
		if msg.App == s.app {
			s.status, s.statusBad = msg.String(), msg.Code != 0 || msg.Err != ""
			return s, s.reload()
		}
	case tea.KeyPressMsg:
		s.status = ""
		return s, s.key(msg)
	}
	return s, nil
}

func (s *appScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(msg, appKeyTabs):
		return s.setTab((s.tab + 1) % appTabCount)
	case key.Matches(msg, appKeyPrevTab):
		return s.setTab((s.tab + appTabCount - 1) % appTabCount)
	case key.Matches(msg, appKeyTabN):
		return s.setTab(appTab(msg.String()[0] - '1'))
	case key.Matches(msg, appKeyUp):
		s.move(-1)
	case key.Matches(msg, appKeyDown):
		s.move(1)
	case key.Matches(msg, appKeyPgUp):
		s.move(-max(s.viewH[s.tab]-1, 1))
	case key.Matches(msg, appKeyPgDown):
		s.move(max(s.viewH[s.tab]-1, 1))
	case key.Matches(msg, appKeyHome):
		s.move(-1 << 30)
	case key.Matches(msg, appKeyEnd):
		s.move(1 << 30)
	case key.Matches(msg, appKeyReload):
		return s.reload()
	case key.Matches(msg, appKeyReveal):
		if s.tab == appTabConfig {
			s.reveal = !s.reveal
		}
	case key.Matches(msg, appKeyLogs):
		proc := ""
		if d, ok := s.dyno(); ok {
			proc, _, _ = strings.Cut(d.name, ".")
		}
		return s.e.push(newLogsScreen(s.e, s.app, proc))
	case key.Matches(msg, appKeyEnter):
		if d, ok := s.dyno(); ok {
			return enterCmd(s.e, s.app, d.name)
		}
	case key.Matches(msg, appKeyOpen):
		if s.tab == appTabBuilds && s.sel[s.tab] < len(s.builds) {
			return s.e.push(newBuildScreen(s.e, s.app, s.builds[s.sel[s.tab]].ID))
		}
	default:
		for i, a := range appActions {
			if key.Matches(msg, s.actions[i]) {
				if sc := actionScreen(s.e, s.app, a.name); sc != nil {
					return s.e.push(&appChild{Screen: sc, e: s.e, app: s.app})
				}
				return nil
			}
		}
	}
	return nil
}

// dyno is the process selected on the processes tab.
func (s *appScreen) dyno() (appDyno, bool) {
	if s.tab != appTabProcesses || s.sel[s.tab] >= len(s.procs.dynos) {
		return appDyno{}, false
	}
	return s.procs.dynos[s.sel[s.tab]], true
}

// setTab shows tab t, loading it the first time.
func (s *appScreen) setTab(t appTab) tea.Cmd {
	if t < 0 || t >= appTabCount {
		return nil
	}
	s.tab = t
	if !s.load[t].started {
		return s.startLoad(t)
	}
	return nil
}

// move scrolls the text tabs by n lines, or moves the selection of the
// list tabs by n rows.
func (s *appScreen) move(n int) {
	t := s.tab
	switch t {
	case appTabProcesses:
		s.sel[t] = clampInt(s.sel[t]+n, 0, len(s.procs.dynos)-1)
	case appTabBuilds:
		s.sel[t] = clampInt(s.sel[t]+n, 0, len(s.builds)-1)
	default:
		// Before the first frame the length is not known: View clamps.
		hi := s.lines[t] - s.viewH[t]
		if s.viewH[t] == 0 {
			hi = 1 << 30
		}
		s.off[t] = clampInt(s.off[t]+n, 0, hi)
	}
}

func clampInt(v, lo, hi int) int { return max(lo, min(v, hi)) }

// reload reloads the tab shown, and the others when next shown.
func (s *appScreen) reload() tea.Cmd {
	for t := range s.load {
		s.load[t].started = false
	}
	return s.startLoad(s.tab)
}

// startLoad runs tab t's commands in a Cmd. The Cmd reads nothing of s
// but its constants (s only tags the answer).
func (s *appScreen) startLoad(t appTab) tea.Cmd {
	l := &s.load[t]
	l.started, l.loading = true, true
	l.gen++
	gen, e, app := l.gen, s.e, s.app
	return func() tea.Msg {
		m := appLoadedMsg{s: s, tab: t, gen: gen}
		if e.b == nil || e.b.srv == nil {
			m.err = "no server to ask"
			return m
		}
		switch t {
		case appTabReports:
			m.reports = appLoadReports(e, app)
		case appTabConfig:
			m.config, m.err = appLoadConfig(e, app)
		case appTabProcesses:
			m.procs, m.err = appLoadProcs(e, app)
		case appTabBuilds:
			m.builds, m.err = appLoadBuilds(e, app)
		}
		return m
	}
}

// loaded takes a tab's answer, unless a newer load was started since.
func (s *appScreen) loaded(m appLoadedMsg) {
	l := &s.load[m.tab]
	if m.gen != l.gen {
		return
	}
	l.loading, l.err = false, m.err
	if m.err != "" {
		return
	}
	l.loaded = true
	switch m.tab {
	case appTabReports:
		s.reports = m.reports
	case appTabConfig:
		s.config = m.config
	case appTabProcesses:
		// The selection stays on the same process when it still runs.
		s.sel[m.tab] = appKeep(s.procs.dynos, m.procs.dynos, s.sel[m.tab], func(d appDyno) string { return d.name })
		s.procs = m.procs
	case appTabBuilds:
		s.sel[m.tab] = appKeep(s.builds, m.builds, s.sel[m.tab], func(r deploy.Record) string { return r.ID })
		s.builds = m.builds
	}
}

// appKeep is the index in next of the row selected at sel in prev, or sel
// kept within next.
func appKeep[T any](prev, next []T, sel int, id func(T) string) int {
	if sel < len(prev) {
		want := id(prev[sel])
		if i := slices.IndexFunc(next, func(v T) bool { return id(v) == want }); i >= 0 {
			return i
		}
	}
	return clampInt(sel, 0, len(next)-1)
}

// appLoadReports runs every :report the key may run, as its stdout text,
// one after the other; a failing one leaves its error instead.
func appLoadReports(e *env, app string) string {
	var b strings.Builder
	for _, name := range e.b.srv.Commands.ReportCommands() {
		if !e.b.allowed(name) {
			continue
		}
		r := e.b.run(e.ctx, name, app)
		if r.Code != 0 {
			fmt.Fprintf(&b, "%s failed: %s\n\n", name, errLine(r))
			continue
		}
		b.WriteString(plainText(strings.TrimRight(r.Stdout, "\n")) + "\n")
		// What it warned of (a scheduler it could not ask) belongs with it.
		for l := range strings.SplitSeq(strings.TrimSpace(r.Stderr), "\n") {
			if l != "" {
				b.WriteString(plainLine(l) + "\n")
			}
		}
		b.WriteString("\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// appLoadConfig is config:export's vars, sorted by name.
func appLoadConfig(e *env, app string) ([]appVar, string) {
	r := e.b.run(e.ctx, "config:export", "--format", "json", app)
	if r.Code != 0 {
		return nil, errLine(r)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(r.Stdout), &m); err != nil {
		return nil, "config:export printed something other than JSON"
	}
	vars := make([]appVar, 0, len(m))
	for k, v := range m {
		vars = append(vars, appVar{k, v})
	}
	sort.Slice(vars, func(i, j int) bool { return vars[i].key < vars[j].key })
	return vars, ""
}

// appLoadProcs is ps:report's state and processes, and ps:scale.
func appLoadProcs(e *env, app string) (appProcs, string) {
	var p appProcs
	r := e.b.run(e.ctx, "ps:report", app, "--format", "json")
	if r.Code != 0 {
		return p, errLine(r)
	}
	var rep map[string]string
	if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil {
		return p, "ps:report printed something other than JSON"
	}
	p.deployed, p.running, p.processes = rep["deployed"], rep["running"], rep["processes"]
	for k, v := range rep {
		name, ok := strings.CutPrefix(k, "status-")
		if !ok {
			continue
		}
		// "running (CID: 0123abcd)"
		d := appDyno{name: name, state: v}
		if st, cid, ok := strings.Cut(v, " (CID: "); ok {
			d.state, d.container = st, strings.TrimSuffix(cid, ")")
		}
		p.dynos = append(p.dynos, d)
	}
	slices.SortFunc(p.dynos, func(a, b appDyno) int {
		at, an := appDynoParts(a.name)
		bt, bn := appDynoParts(b.name)
		return cmp.Or(cmp.Compare(at, bt), cmp.Compare(an, bn))
	})
	r = e.b.run(e.ctx, "ps:scale", app, "--format", "json")
	if r.Code != 0 {
		return p, errLine(r)
	}
	if err := json.Unmarshal([]byte(r.Stdout), &p.scale); err != nil {
		return p, "ps:scale printed something other than JSON"
	}
	return p, ""
}

// appDynoParts splits web.10 into web and 10, so that web.2 sorts before
// web.10.
func appDynoParts(dyno string) (string, int) {
	t, n, _ := strings.Cut(dyno, ".")
	i, _ := strconv.Atoi(n)
	return t, i
}

// appLoadBuilds is builds:list's records, newest first as it lists them.
func appLoadBuilds(e *env, app string) ([]deploy.Record, string) {
	r := e.b.run(e.ctx, "builds:list", app, "--format", "json")
	if r.Code != 0 {
		return nil, errLine(r)
	}
	var recs []deploy.Record
	if err := json.Unmarshal([]byte(r.Stdout), &recs); err != nil {
		return nil, "builds:list printed something other than JSON"
	}
	return recs, ""
}

// waitEvent waits for Events to publish the app (a burst of events makes
// one reload); it ends when the screen closes or the session ends.
func (s *appScreen) waitEvent() tea.Cmd {
	sub, done, ctx, app := s.sub, s.done, s.e.ctx, s.app
	if sub == nil {
		return nil
	}
	return func() tea.Msg {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-done:
				return nil
			case <-sub.C():
			}
			select {
			case <-ctx.Done():
				return nil
			case <-done:
				return nil
			case <-time.After(appEventSettle):
			}
			if slices.Contains(sub.Take(), app) {
				return appEventMsg{s}
			}
		}
	}
}

// appChild is a screen the app view opened over itself for an action:
// when it closes, the app view reloads, since the action may have changed
// everything it shows.
type appChild struct {
	Screen
	e   *env
	app string
}

func (c *appChild) Update(msg tea.Msg) (Screen, tea.Cmd) {
	s, cmd := c.Screen.Update(msg)
	c.Screen = s
	return c, cmd
}

func (c *appChild) Close() {
	if cl, ok := c.Screen.(Closer); ok {
		cl.Close()
	}
	// Close runs inside the program's Update: send from outside it. Send
	// returns when the program ends.
	go c.e.send(appChangedMsg{c.app})
}

// View draws the tab bar, a blank line and the tab.
func (s *appScreen) View(w, h int) string {
	ch := max(h-2, 1)
	var body string
	l := s.load[s.tab]
	switch {
	case !l.loaded && l.err == "":
		body = "Loading…"
	case !l.loaded:
		body = s.errView(l.err, w)
	default:
		switch s.tab {
		case appTabReports:
			body = s.reportsView(w, ch)
		case appTabConfig:
			body = s.configView(w, ch)
		case appTabProcesses:
			body = s.procsView(w, ch)
		case appTabBuilds:
			body = s.buildsView(w, ch)
		}
		if l.err != "" {
			// The last good data stays; the failed reload says why above it.
			body = s.errView("reload failed: "+l.err, w) + "\n" + body
		}
	}
	return s.tabBar(w) + "\n" + s.statusLine(w) + "\n" + fit(body, w, ch)
}

func (s *appScreen) errView(msg string, w int) string {
	return s.e.st.bad.Render(ansi.Wrap("! "+msg, w, ""))
}

// tabBar is the tabs, the selected one in reverse video and in brackets,
// and on the right whether a load runs or where the text is scrolled.
func (s *appScreen) tabBar(w int) string {
	var parts []string
	for i, name := range appTabNames {
		label := fmt.Sprintf("%d %s", i+1, name)
		if appTab(i) == s.tab {
			parts = append(parts, s.e.st.selected.Render("["+label+"]"))
		} else {
			parts = append(parts, " "+label+" ")
		}
	}
	left := " " + strings.Join(parts, " ")
	var right string
	switch l := s.load[s.tab]; {
	case l.loading && l.loaded:
		right = "reloading…"
	case l.loaded && (s.tab == appTabReports || s.tab == appTabConfig) && s.lines[s.tab] > s.viewH[s.tab]:
		right = fmt.Sprintf("%d-%d of %d", s.off[s.tab]+1, min(s.off[s.tab]+s.viewH[s.tab], s.lines[s.tab]), s.lines[s.tab])
	}
	if gap := w - ansi.StringWidth(left) - ansi.StringWidth(right) - 1; right != "" && gap >= 2 {
		return left + strings.Repeat(" ", gap) + s.e.st.dim.Render(right)
	}
	return truncate(left, w)
}

// statusLine is what the last enter ended with, until the next key.
func (s *appScreen) statusLine(w int) string {
	if s.status == "" {
		return ""
	}
	st := s.e.st.ok
	if s.statusBad {
		st = s.e.st.bad
	}
	return st.Render(truncate(s.status, w))
}

// scroll shows h of lines from tab's offset, kept within the text.
func (s *appScreen) scroll(t appTab, lines []string, h int) string {
	s.viewH[t], s.lines[t] = h, len(lines)
	s.off[t] = clampInt(s.off[t], 0, len(lines)-h)
	return strings.Join(lines[s.off[t]:min(s.off[t]+h, len(lines))], "\n")
}

// reportsView is the reports' text, long lines wrapped (a value is never
// cut off), headings in bold.
func (s *appScreen) reportsView(w, h int) string {
	var lines []string
	for l := range strings.SplitSeq(s.reports, "\n") {
		heading := strings.HasPrefix(l, "=====>")
		for wl := range strings.SplitSeq(appWrapField(l, w), "\n") {
			if heading {
				wl = s.e.st.heading.Render(wl)
			}
			lines = append(lines, wl)
		}
	}
	return s.scroll(appTabReports, lines, h)
}

// appWrapField wraps a report line to w cells: a "Label:   value" line
// goes on under its value's column, anything else at the left edge.
func appWrapField(l string, w int) string {
	if ansi.StringWidth(l) <= w {
		return l
	}
	if m := appFieldRe.FindStringSubmatchIndex(l); m != nil {
		col := m[3] // where the value starts
		if col <= w/2 {
			v := strings.Split(ansi.Hardwrap(l[col:], w-col, true), "\n")
			return l[:col] + strings.Join(v, "\n"+strings.Repeat(" ", col))
		}
	}
	return ansi.Hardwrap(l, w, true)
}

// appFieldRe is a report's field line: indent, label, colon, padding.
var appFieldRe = regexp.MustCompile(`^(\s+[^:]+:\s+)\S`)

// configView is the vars, KEY and value, values masked until revealed.
func (s *appScreen) configView(w, h int) string {
	st := s.e.st
	head := st.dim.Render("v: reveal values")
	if s.reveal {
		head = st.warn.Render("values shown") + st.dim.Render(" (v: hide)")
	}
	if len(s.config) == 0 {
		return head + "\n\nNo config vars set for " + s.app + "."
	}
	kw := 0
	for _, v := range s.config {
		kw = max(kw, ansi.StringWidth(v.key))
	}
	kw = min(kw, max(w/3, 12))
	lines := make([]string, 0, len(s.config))
	for _, v := range s.config {
		val := appMask
		if s.reveal {
			val = appShowValue(v.value)
		}
		lines = append(lines, padRight(truncate(v.key, kw), kw)+"  "+truncate(val, w-kw-2))
	}
	return head + "\n\n" + s.scroll(appTabConfig, lines, max(h-2, 1))
}

// procsView is the app's state, its scale, and each process with its
// state and container, one selectable row each.
func (s *appScreen) procsView(w, h int) string {
	st, p := s.e.st, s.procs
	var b strings.Builder
	fmt.Fprintf(&b, "deployed: %s   running: %s   processes: %s\n", appOr(p.deployed, "?"), appOr(p.running, "?"), appOr(p.processes, "?"))
	var scale []string
	for _, sc := range p.scale {
		scale = append(scale, fmt.Sprintf("%s=%d", sc.Type, sc.Quantity))
	}
	b.WriteString(truncate("scale: "+appOr(strings.Join(scale, " "), "none set"), w) + "\n\n")
	if len(p.dynos) == 0 {
		if p.running == "false" {
			b.WriteString("No processes running.")
		} else {
			b.WriteString(st.dim.Render("No per-process status: the scheduler reports none."))
		}
		return b.String()
	}
	rows := [][]string{{"PROCESS", "STATE", "CONTAINER"}}
	for _, d := range p.dynos {
		rows = append(rows, []string{d.name, d.state, d.container})
	}
	table := appTable(rows)
	items := make([][]string, len(p.dynos))
	for i := range p.dynos {
		items[i] = []string{table[i+1]}
	}
	b.WriteString(st.heading.Render("  "+table[0]) + "\n")
	b.WriteString(s.list(appTabProcesses, items, w, max(h-4, 1)))
	return b.String()
}

// buildsView is builds:list's records, one selectable row each, a failed
// build's error under it.
func (s *appScreen) buildsView(w, h int) string {
	st := s.e.st
	if len(s.builds) == 0 {
		return "No builds recorded for " + s.app + "."
	}
	rows := [][]string{{"BUILD", "KIND", "STATUS", "STARTED", "DURATION", "REV"}}
	for _, r := range s.builds {
		end := r.Finished
		if end.IsZero() {
			end = s.now()
		}
		rev := r.Rev
		if len(rev) > 7 {
			rev = rev[:7]
		}
		rows = append(rows, []string{r.ID, r.Kind, r.Status, appAgo(s.now(), r.Started), appDuration(end.Sub(r.Started)), rev})
	}
	table := appTable(rows)
	items := make([][]string, len(s.builds))
	for i, r := range s.builds {
		items[i] = []string{table[i+1]}
		if r.Error != "" {
			items[i] = append(items[i], st.bad.Render("    error: "+strings.ReplaceAll(r.Error, "\n", " ")))
		}
	}
	return st.heading.Render("  "+table[0]) + "\n" + s.list(appTabBuilds, items, w, max(h-1, 1))
}

// list draws rows (each a line and maybe more under it) in h lines, the
// selected one marked and in reverse video, scrolled to keep it in view.
func (s *appScreen) list(t appTab, rows [][]string, w, h int) string {
	sel := clampInt(s.sel[t], 0, len(rows)-1)
	var lines []string
	first, last := 0, 0 // the selected row's lines
	for i, r := range rows {
		if i == sel {
			first = len(lines)
			lines = append(lines, s.e.st.selected.Render(padRight(truncate("> "+r[0], w), w)))
		} else {
			lines = append(lines, "  "+r[0])
		}
		lines = append(lines, r[1:]...)
		if i == sel {
			last = len(lines) - 1
		}
	}
	off := s.off[t]
	if last >= off+h {
		off = last - h + 1
	}
	off = min(off, first)
	s.off[t] = clampInt(off, 0, len(lines)-h)
	s.viewH[t], s.lines[t] = h, len(lines)
	return strings.Join(lines[s.off[t]:min(s.off[t]+h, len(lines))], "\n")
}

// appTable aligns columns with two spaces between them.
func appTable(rows [][]string) []string {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], ansi.StringWidth(c))
		}
	}
	out := make([]string, len(rows))
	for n, r := range rows {
		var b strings.Builder
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(padRight(c, widths[i]) + "  ")
		}
		out[n] = b.String()
	}
	return out
}

func appOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// appAgo is how long before now t was, in its largest unit.
func appAgo(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 10*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	case d < 60*24*time.Hour:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	}
	return t.UTC().Format("2006-01-02")
}

// appDuration is a build's duration: tenths of a second under a minute.
func appDuration(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", max(d, 0).Seconds())
	}
	return d.Round(time.Second).String()
}

// appShowValue is a config value on one line as it is: quoted, with its
// control characters escaped, when it holds any (a newline, an escape
// sequence that would redraw the screen).
func appShowValue(v string) string {
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return strconv.Quote(v)
		}
	}
	return v
}
