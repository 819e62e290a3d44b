package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"dokku-sshd/deploy"
)

const (
	// appsRefresh is the periodic reload, for what no event reports; the
	// issue allows no polling faster than every 10 s.
	appsRefresh = 10 * time.Second
	// appsSettle gathers a burst of events (a deploy's containers
	// starting) into one reload.
	appsSettle = 250 * time.Millisecond
	// appsLoaders is how many apps load at once: each is four commands,
	// some asking the scheduler.
	appsLoaders = 4
)

// appRow is one app as the list shows it. Each field comes from one
// command's output; "-" means that command failed (no builds recorded,
// a scheduler out of reach) and the rest of the row still shows.
type appRow struct {
	name      string
	scheduler string // scheduler:report computed-selected
	state     string // ps:report: running, stopped, mixed, not deployed
	procs     string // ps:scale: "web=2 worker=1"; "" when none is scaled
	// The newest build (builds:list): its start, kind and status, and the
	// build `d` opens (the running one, else the newest).
	last       time.Time
	lastKind   string
	lastStatus string
	buildID    string
	noBuilds   bool // builds:list failed
}

func (r appRow) deploying() bool { return r.lastStatus == deploy.StatusRunning }

// Messages of one apps screen, tagged with it: every message reaches
// every screen on the stack.
type (
	// appsLoadedMsg carries every app's row, in apps:list order, or
	// apps:list's own error.
	appsLoadedMsg struct {
		s    *appsScreen
		rows []appRow
		err  string
	}
	// appsEventMsg says which apps changed.
	appsEventMsg struct {
		s    *appsScreen
		apps []string
	}
	appsTickMsg struct{ s *appsScreen }
)

// appsKeys are the apps screen's bindings; keys (the keys view) is
// enabled for admin keys only.
type appsKeys struct {
	up, down, pgUp, pgDown, open, filter, build, keys, reload key.Binding
	// move stands for up and down in the key line and the help, which
	// must fit 80 columns with the global keys.
	move key.Binding
}

// appsScreen is the first screen: every app, one row each, updated live.
type appsScreen struct {
	e    *env
	now  func() time.Time // a fixed clock in tests
	keys appsKeys

	rows   []appRow
	loaded bool
	err    string
	// One load runs at a time; what is asked meanwhile is queued and
	// loaded when it ends, which also debounces bursts of events.
	loading  bool
	queueAll bool
	queued   map[string]bool

	sel    string // the selected app's name, kept across reloads and filters
	offset int    // first row shown
	filter textinput.Model
	status string // a one-line note (an app with no build for d)

	sub       *Subscription
	done      chan struct{}
	closeOnce sync.Once
}

func newAppsScreen(e *env) *appsScreen {
	ti := textinput.New()
	ti.Prompt = "/"
	ti.Placeholder = "filter by name"
	// The default binding reads the server's clipboard; the client's
	// bracketed paste still arrives.
	ti.KeyMap.Paste.SetEnabled(false)
	ti.SetWidth(30)
	s := &appsScreen{
		e:      e,
		now:    time.Now,
		filter: ti,
		done:   make(chan struct{}),
		keys: appsKeys{
			up:     key.NewBinding(key.WithKeys("up", "k")),
			down:   key.NewBinding(key.WithKeys("down", "j")),
			pgUp:   key.NewBinding(key.WithKeys("pgup")),
			pgDown: key.NewBinding(key.WithKeys("pgdown")),
			move:   key.NewBinding(key.WithKeys("up", "down", "k", "j", "pgup", "pgdown"), key.WithHelp("↑↓", "move")),
			open:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
			filter: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
			build:  key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "build")),
			keys:   key.NewBinding(key.WithKeys("K"), key.WithHelp("K", "ssh keys")),
			reload: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "reload")),
		},
	}
	s.keys.keys.SetEnabled(e.admin)
	return s
}

func (s *appsScreen) Title() string { return "apps" }

func (s *appsScreen) Keys() []key.Binding {
	k := s.keys
	return []key.Binding{k.move, k.open, k.filter, k.build, k.keys, k.reload}
}

func (s *appsScreen) Capturing() bool { return s.filter.Focused() }

// Init loads every app, subscribes to the apps' changes and starts the
// periodic reload. The first frame does not wait: it says "Loading apps…".
func (s *appsScreen) Init() tea.Cmd {
	if srv := s.e.b.srv; srv != nil && srv.Events != nil && s.sub == nil && !s.isClosed() {
		s.sub = srv.Events.Subscribe()
	}
	return tea.Batch(s.request(true, nil), s.wait(), s.tick())
}

// Close ends the subscription and the Cmd waiting on it.
func (s *appsScreen) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		if s.sub != nil {
			s.sub.Close()
		}
	})
}

func (s *appsScreen) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *appsScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case appsLoadedMsg:
		if msg.s != s {
			return s, nil
		}
		return s, s.loadedRows(msg)
	case appsEventMsg:
		if msg.s != s {
			return s, nil
		}
		return s, tea.Batch(s.request(false, msg.apps), s.wait())
	case appChangedMsg:
		// An action ran on the app (a destroy, a scale): its row now.
		return s, s.request(false, []string{msg.app})
	case appsTickMsg:
		if msg.s != s || s.isClosed() {
			return s, nil
		}
		return s, tea.Batch(s.request(true, nil), s.tick())
	case tea.KeyPressMsg:
		return s, s.key(msg)
	}
	if s.filter.Focused() {
		// The field's own messages (cursor blink, paste).
		var cmd tea.Cmd
		s.filter, cmd = s.filter.Update(msg)
		return s, cmd
	}
	return s, nil
}

// key handles a key press: the filter field's while it has focus.
func (s *appsScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	if s.filter.Focused() {
		switch msg.String() {
		case "enter":
			s.filter.Blur()
			return nil
		case "esc":
			s.filter.Blur()
			s.filter.SetValue("")
			return nil
		case "up", "down":
			// Moving while typing keeps the field.
			s.move(map[string]int{"up": -1, "down": 1}[msg.String()])
			return nil
		}
		var cmd tea.Cmd
		s.filter, cmd = s.filter.Update(msg)
		s.keepSelection()
		return cmd
	}
	s.status = ""
	switch {
	case key.Matches(msg, s.keys.up):
		s.move(-1)
	case key.Matches(msg, s.keys.down):
		s.move(1)
	case key.Matches(msg, s.keys.pgUp):
		s.move(-10)
	case key.Matches(msg, s.keys.pgDown):
		s.move(10)
	case key.Matches(msg, s.keys.filter):
		return s.filter.Focus()
	case key.Matches(msg, s.keys.reload):
		return s.request(true, nil)
	case key.Matches(msg, s.keys.keys):
		return s.e.push(newKeysScreen(s.e))
	case key.Matches(msg, s.keys.open):
		if r, ok := s.selected(); ok {
			return s.e.push(newAppScreen(s.e, r.name))
		}
	case key.Matches(msg, s.keys.build):
		r, ok := s.selected()
		switch {
		case !ok:
		case r.buildID != "":
			return s.e.push(newBuildScreen(s.e, r.name, r.buildID))
		case r.noBuilds:
			s.status = "The builds of " + r.name + " cannot be listed"
		default:
			s.status = "No builds recorded for " + r.name
		}
	}
	return nil
}

// visible is the rows the filter matches (substring, any case).
func (s *appsScreen) visible() []appRow {
	f := strings.ToLower(strings.TrimSpace(s.filter.Value()))
	if f == "" {
		return s.rows
	}
	var out []appRow
	for _, r := range s.rows {
		if strings.Contains(strings.ToLower(r.name), f) {
			out = append(out, r)
		}
	}
	return out
}

// rowIndex is the selected row's place in rows, or 0.
func rowIndex(rows []appRow, name string) int {
	for i, r := range rows {
		if r.name == name {
			return i
		}
	}
	return 0
}

func (s *appsScreen) selected() (appRow, bool) {
	rows := s.visible()
	if len(rows) == 0 {
		return appRow{}, false
	}
	return rows[rowIndex(rows, s.sel)], true
}

// keepSelection selects the first row when the selected one is gone.
func (s *appsScreen) keepSelection() {
	rows := s.visible()
	if len(rows) > 0 {
		s.sel = rows[rowIndex(rows, s.sel)].name
	}
}

func (s *appsScreen) move(n int) {
	rows := s.visible()
	if len(rows) == 0 {
		return
	}
	i := min(max(rowIndex(rows, s.sel)+n, 0), len(rows)-1)
	s.sel = rows[i].name
}

// request asks for a reload of every app (all) or of apps: now, or when
// the running load ends.
func (s *appsScreen) request(all bool, apps []string) tea.Cmd {
	if s.isClosed() || s.e.b.srv == nil {
		return nil
	}
	if s.loading {
		s.queueAll = s.queueAll || all
		for _, a := range apps {
			if s.queued == nil {
				s.queued = map[string]bool{}
			}
			s.queued[a] = true
		}
		return nil
	}
	var keep map[string]appRow
	if !all && s.loaded {
		changed := map[string]bool{}
		for _, a := range apps {
			changed[a] = true
		}
		keep = map[string]appRow{}
		for _, r := range s.rows {
			if !changed[r.name] {
				keep[r.name] = r
			}
		}
	}
	s.loading = true
	return s.load(keep)
}

// loadedRows takes a load's rows and starts what was queued meanwhile.
func (s *appsScreen) loadedRows(msg appsLoadedMsg) tea.Cmd {
	s.loading = false
	s.loaded = true
	s.err = msg.err
	if msg.err == "" {
		s.rows = msg.rows
		s.keepSelection()
	}
	all, queued := s.queueAll, s.queued
	s.queueAll, s.queued = false, nil
	if !all && len(queued) == 0 {
		return nil
	}
	apps := make([]string, 0, len(queued))
	for a := range queued {
		apps = append(apps, a)
	}
	return s.request(all, apps)
}

// load lists the apps and loads each row but those in keep, which
// stay as they are (apps no event reported changed).
func (s *appsScreen) load(keep map[string]appRow) tea.Cmd {
	ctx, b := s.e.ctx, s.e.b
	return func() tea.Msg {
		res := b.run(ctx, "apps:list", "--format", "json")
		var names []string
		if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &names) != nil {
			return appsLoadedMsg{s: s, err: errLine(res)}
		}
		rows := make([]appRow, len(names))
		sem := make(chan struct{}, appsLoaders)
		var wg sync.WaitGroup
		for i, name := range names {
			if r, ok := keep[name]; ok {
				rows[i] = r
				continue
			}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				rows[i] = loadApp(ctx, b, name)
			})
		}
		wg.Wait()
		return appsLoadedMsg{s: s, rows: rows}
	}
}

// wait waits for the next change of the apps, then for the rest of its
// burst; it ends with the session or the screen.
func (s *appsScreen) wait() tea.Cmd {
	if s.sub == nil || s.isClosed() {
		return nil
	}
	sub, ctx, done := s.sub, s.e.ctx, s.done
	return func() tea.Msg {
		select {
		case <-sub.C():
		case <-ctx.Done():
			return nil
		case <-done:
			return nil
		}
		select {
		case <-time.After(appsSettle):
		case <-ctx.Done():
			return nil
		case <-done:
			return nil
		}
		return appsEventMsg{s: s, apps: sub.Take()}
	}
}

func (s *appsScreen) tick() tea.Cmd {
	return tea.Tick(appsRefresh, func(time.Time) tea.Msg { return appsTickMsg{s} })
}

// appRowTimeout bounds the commands of one row: a scheduler that does not
// answer (a cluster out of reach) leaves "-" in its cells, not the whole
// list loading.
var appRowTimeout = 15 * time.Second

// loadApp reads one app's row from its commands' JSON.
func loadApp(ctx context.Context, b *backend, app string) appRow {
	ctx, cancel := context.WithTimeout(ctx, appRowTimeout)
	defer cancel()
	r := appRow{name: app, scheduler: "-", state: "-", procs: "-"}
	var sched map[string]string
	if decodeJSON(b.run(ctx, "scheduler:report", app, "--format", "json"), &sched) && sched["computed-selected"] != "" {
		r.scheduler = sched["computed-selected"]
	}
	var ps map[string]string
	if decodeJSON(b.run(ctx, "ps:report", app, "--format", "json"), &ps) {
		r.state = appState(ps)
	}
	var scale []struct {
		Type     string `json:"process_type"`
		Quantity int    `json:"quantity"`
	}
	if decodeJSON(b.run(ctx, "ps:scale", app, "--format", "json"), &scale) {
		counts := make([]string, len(scale))
		for i, p := range scale {
			counts[i] = fmt.Sprintf("%s=%d", p.Type, p.Quantity)
		}
		r.procs = strings.Join(counts, " ")
	}
	var builds []deploy.Record
	if !decodeJSON(b.run(ctx, "builds:list", app, "--format", "json"), &builds) {
		r.noBuilds = true
	} else if len(builds) > 0 {
		r.last, r.lastKind, r.lastStatus, r.buildID = builds[0].Started, builds[0].Kind, builds[0].Status, builds[0].ID
		for _, b := range builds {
			if b.Status == deploy.StatusRunning {
				r.buildID = b.ID
				break
			}
		}
	}
	return r
}

// decodeJSON decodes a command's JSON output into v, reporting whether the
// command succeeded and printed it.
func decodeJSON(res result, v any) bool {
	return res.Code == 0 && json.Unmarshal([]byte(res.Stdout), v) == nil
}

// appState is ps:report's state in a word.
func appState(ps map[string]string) string {
	switch {
	case ps["deployed"] == "false":
		return "not deployed"
	case ps["processes"] == "-1":
		// The scheduler could not tell (ps:report said why on stderr).
		return "-"
	}
	switch ps["running"] {
	case "true":
		return "running"
	case "false":
		return "stopped"
	case "mixed":
		return "mixed"
	}
	return "-"
}

// plural is "1 app", "2 apps".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// relativeTime is how long ago t was, in its largest unit ("3m").
func relativeTime(now, t time.Time) string {
	d := max(now.Sub(t), 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// appsColumns are the widths of name, scheduler, state and processes;
// the last deploy takes the rest of the line.
type appsColumns struct {
	name, sched, state, procs, gap int
	wide                           bool // full times
}

// columnsFor lays the columns out for width w: the name column grows to
// the longest name while the last deploy keeps room for "deploying 3m
// git-hook" (names are what users tell apps apart by).
func columnsFor(w, longest int) appsColumns {
	c := appsColumns{name: 13, sched: 12, state: 12, procs: 14, gap: 1}
	if w >= 110 {
		c = appsColumns{name: 22, sched: 12, state: 12, procs: 20, gap: 2, wide: true}
	}
	lastDeploy := 24
	if c.wide {
		lastDeploy = 46 // with the date
	}
	room := w - 2 - c.sched - c.state - c.procs - 4*c.gap - lastDeploy
	c.name = max(c.name, min(longest, room))
	return c
}

func (s *appsScreen) View(w, h int) string {
	st := s.e.st
	switch {
	case !s.loaded:
		return st.dim.Render("Loading apps…")
	case s.err != "" && len(s.rows) == 0:
		return st.bad.Render(s.err)
	case len(s.rows) == 0:
		return "No apps yet. Create one with\n\n  ssh dokku@host apps:create NAME\n\nand deploy it with git push."
	}
	longest := 0
	for _, r := range s.rows {
		longest = max(longest, ansi.StringWidth(r.name))
	}
	c := columnsFor(w, longest)
	gap := strings.Repeat(" ", c.gap)
	cell := func(v string, n int) string { return padRight(truncate(v, n), n) }
	var lines []string
	lines = append(lines, st.heading.Render("  "+cell("NAME", c.name)+gap+cell("SCHEDULER", c.sched)+gap+
		cell("STATE", c.state)+gap+cell("PROCESSES", c.procs)+gap+"LAST DEPLOY"))

	rows := s.visible()
	listH := max(h-2, 1) // the heading and the footer
	cur := rowIndex(rows, s.sel)
	s.offset = min(max(s.offset, cur-listH+1), cur)
	s.offset = max(min(s.offset, len(rows)-listH), 0)
	for i := s.offset; i < len(rows) && i < s.offset+listH; i++ {
		r := rows[i]
		last := s.lastDeploy(r, c.wide)
		state := r.state
		if i == cur {
			// Reverse video and a marker, so the selection reads without
			// colour; plain text inside, for one even band.
			line := "> " + cell(r.name, c.name) + gap + cell(r.scheduler, c.sched) + gap + cell(state, c.state) + gap +
				cell(r.procs, c.procs) + gap + last
			lines = append(lines, st.selected.Render(padRight(truncate(line, w), w)))
			continue
		}
		lines = append(lines, "  "+cell(r.name, c.name)+gap+st.dim.Render(cell(r.scheduler, c.sched))+gap+
			s.stateStyle(state).Render(cell(state, c.state))+gap+cell(r.procs, c.procs)+gap+s.lastDeployStyled(r, last))
	}
	if len(rows) == 0 {
		lines = append(lines, st.dim.Render(fmt.Sprintf("  No app matches %q", s.filter.Value())))
	}
	for len(lines) < h-1 {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n") + "\n" + s.footer(len(rows))
}

// footer is the filter field, or a note, or how many apps there are.
func (s *appsScreen) footer(shown int) string {
	st := s.e.st
	count := plural(len(s.rows), "app")
	if shown != len(s.rows) {
		count = fmt.Sprintf("%d of %s", shown, count)
	}
	var parts []string
	if s.filter.Focused() || s.filter.Value() != "" {
		parts = append(parts, s.filter.View())
	}
	parts = append(parts, st.dim.Render(count))
	if s.err != "" {
		parts = append(parts, st.bad.Render(s.err)) // a reload failed: the rows are the last ones read
	}
	if s.status != "" {
		parts = append(parts, st.warn.Render(s.status))
	}
	return strings.Join(parts, "  ")
}

// lastDeploy is the newest build: "deploying" while it runs (or how it
// failed) first, so that no width cuts it, then how long ago it started
// and its kind, and at full width when.
func (s *appsScreen) lastDeploy(r appRow, wide bool) string {
	if r.noBuilds {
		return "-"
	}
	if r.last.IsZero() {
		return "never"
	}
	t := relativeTime(s.now(), r.last)
	if wide {
		t += " ago"
	}
	t += " " + r.lastKind
	if wide {
		t += ", " + r.last.UTC().Format("Jan 2 15:04") + " UTC"
	}
	if m := buildMarker(r.lastStatus); m != "" {
		t = m + " " + t
	}
	return t
}

// buildMarker is the word the list shows for a build's status, "" for a
// build that succeeded.
func buildMarker(status string) string {
	switch status {
	case deploy.StatusRunning:
		return "deploying"
	case deploy.StatusFailed, deploy.StatusCanceled:
		return status
	}
	return ""
}

// lastDeployStyled colours the marker at the start of last.
func (s *appsScreen) lastDeployStyled(r appRow, last string) string {
	m := buildMarker(r.lastStatus)
	if m == "" {
		return last
	}
	style := s.e.st.bad
	if r.lastStatus == deploy.StatusRunning {
		style = s.e.st.warn
	}
	return style.Render(m) + strings.TrimPrefix(last, m)
}

func (s *appsScreen) stateStyle(state string) lipgloss.Style {
	switch state {
	case "running":
		return s.e.st.ok
	case "stopped":
		return s.e.st.bad
	case "mixed":
		return s.e.st.warn
	}
	return s.e.st.dim
}
