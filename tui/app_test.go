package tui

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"dokku-sshd/deploy"
	"dokku-sshd/keys"
	"dokku-sshd/schedulers/null"
)

// appTestNow is the clock of the app views under test.
var appTestNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// statusScheduler is the null scheduler that also reports processes, as
// docker-local does, so that ps:report has status-<dyno> fields.
type statusScheduler struct{ null.Scheduler }

func (statusScheduler) ProcessStatuses(context.Context, string) (map[string]string, error) {
	return map[string]string{
		"web.1":    "running (CID: 0123abcd456)",
		"web.2":    "running (CID: 89efcdab012)",
		"web.10":   "running (CID: 5555aaaa777)",
		"worker.1": "exited (CID: fedc9876543)",
	}, nil
}

// appEnv is a real session env for id with app "myapp" deployed (web and
// worker, scaled), a secret set, and a failed build after the good one.
// Events are off: a test that wants them sets them.
func appEnv(t *testing.T, id keys.Identity, statuses bool) *env {
	t.Helper()
	e := realEnv(t, id, "myapp")
	e.b.srv.Events = nil
	realDeploy(t, e, "myapp", map[string]string{"Procfile": "web: run\nworker: run\n"})
	mustRun(t, e, "ps:scale", "myapp", "web=2", "worker=1")
	mustRun(t, e, "config:set", "--no-restart", "myapp", "SECRET=hunter2", "DATABASE_URL=postgres://u:pw@db.internal:5432/myapp_production?sslmode=require&pool=20")
	v, _ := testPipelines.Load(e.b.srv)
	p := v.(*deploy.Pipeline)
	// A rebuild through a scheduler the server does not have: a failed
	// build.
	mustRun(t, e, "scheduler:set", "myapp", "selected", "bogus")
	rev := strings.TrimSpace(mustRun(t, e, "ps:report", "myapp", "--deployed-rev"))
	err := p.Deploy(t.Context(), deploy.Request{App: "myapp", Kind: "rebuild",
		Source: deploy.GitSource{Repo: e.b.srv.Store.AppDir("myapp"), Rev: rev}, Out: io.Discard})
	if err == nil {
		t.Fatal("a deploy through a missing scheduler worked")
	}
	mustRun(t, e, "scheduler:set", "myapp", "selected")
	if statuses {
		p.Schedulers.Register(statusScheduler{})
	}
	return e
}

// appRun runs cmd as the program would and feeds what it returns back to
// s, until nothing is left; it returns the messages that s did not make
// (pushes, ...).
func appRun(t *testing.T, s Screen, cmd tea.Cmd) []tea.Msg {
	t.Helper()
	var out []tea.Msg
	for cmd != nil {
		msg := cmd()
		cmd = nil
		switch m := msg.(type) {
		case tea.BatchMsg:
			for _, c := range m {
				out = append(out, appRun(t, s, c)...)
			}
		case appLoadedMsg, appChangedMsg:
			_, cmd = s.Update(m)
		case nil:
		default:
			out = append(out, m)
		}
	}
	return out
}

func appKey(s string) tea.KeyPressMsg {
	switch s {
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	}
	return tea.KeyPressMsg{Code: rune(s[0]), Text: s}
}

// press sends key k to s and runs what it returns.
func press(t *testing.T, s Screen, k string) []tea.Msg {
	t.Helper()
	_, cmd := s.Update(appKey(k))
	return appRun(t, s, cmd)
}

var (
	appRevRe  = regexp.MustCompile(`\b[0-9a-f]{40}\b`)
	appUnixRe = regexp.MustCompile(`(at: +)1[0-9]{9}\b`)
	appTimeRe = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
)

// pinApp replaces what differs between runs in what s loaded (temporary
// paths, times, revisions, build ids) with fixed values of the same form.
func pinApp(e *env, s *appScreen) {
	s.now = func() time.Time { return appTestNow }
	s.reports = strings.ReplaceAll(s.reports, e.b.srv.Store.Paths.DataDir, "/var/lib/dokku")
	s.reports = appRevRe.ReplaceAllString(s.reports, "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed")
	s.reports = appUnixRe.ReplaceAllString(s.reports, "${1}1767323045")
	s.reports = appTimeRe.ReplaceAllString(s.reports, "2026-01-02T03:04:05Z")
	for i := range s.config {
		s.config[i].value = appRevRe.ReplaceAllString(s.config[i].value, "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed")
	}
	for i := range s.builds {
		r := &s.builds[i]
		r.ID = fmt.Sprintf("20260102T03%02d05Z-abc12%d", i, i)
		if r.Rev != "" {
			r.Rev = "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed"
		}
		r.Started = appTestNow.Add(-time.Duration(i+1) * 7 * time.Minute)
		r.Finished = r.Started.Add(1234 * time.Millisecond)
	}
}

// openApp opens the app view of myapp on tab, loaded.
func openApp(t *testing.T, e *env, tab string) *appScreen {
	t.Helper()
	s := newAppScreen(e, "myapp").(*appScreen)
	appRun(t, s, s.Init())
	if tab != "1" {
		press(t, s, tab)
	}
	return s
}

func TestAppViewGolden(t *testing.T) {
	admin := keys.Identity{Name: "admin", Admin: true}
	e := appEnv(t, admin, true)
	for _, tc := range []struct {
		name, tab string
		keys      []string
	}{
		{"reports", "1", nil},
		{"reports-scrolled", "1", []string{"j", "j", "j"}},
		{"config", "2", nil},
		{"config-revealed", "2", []string{"v"}},
		{"processes", "3", []string{"down"}},
		{"builds", "4", nil},
	} {
		for _, sz := range sizes {
			s := openApp(t, e, tc.tab)
			pinApp(e, s)
			for _, k := range tc.keys {
				press(t, s, k)
			}
			got := screenAt(e, sz.w, sz.h, placeholder{"apps"}, s)
			if n := len(strings.Split(got, "\n")); n != sz.h {
				t.Fatalf("%s: %d lines", tc.name, n)
			}
			golden(t, fmt.Sprintf("app-%s-%dx%d", tc.name, sz.w, sz.h), got)
			if tc.name == "config" && strings.Contains(got, "hunter2") {
				t.Errorf("%s: the masked frame shows the secret:\n%s", tc.name, got)
			}
			if tc.name == "config-revealed" && !strings.Contains(got, "hunter2") {
				t.Errorf("%s: the revealed frame does not show the secret:\n%s", tc.name, got)
			}
		}
	}
}

// The null scheduler reports no process: the tab says so.
func TestAppViewNoProcesses(t *testing.T) {
	e := appEnv(t, keys.Identity{Name: "dev"}, false)
	s := openApp(t, e, "3")
	for _, sz := range sizes {
		golden(t, fmt.Sprintf("app-noprocesses-%dx%d", sz.w, sz.h), screenAt(e, sz.w, sz.h, s))
	}
	if msgs := press(t, s, "e"); len(msgs) != 0 {
		t.Errorf("e with no process: %v", msgs)
	}
}

func TestAppViewLoading(t *testing.T) {
	e := appEnv(t, keys.Identity{Name: "dev"}, false)
	s := newAppScreen(e, "myapp").(*appScreen)
	cmd := s.Init()
	if got := screenAt(e, 80, 24, s); !strings.Contains(got, "Loading…") {
		t.Fatalf("before the answer:\n%s", got)
	}
	appRun(t, s, cmd)
	if got := screenAt(e, 80, 24, s); strings.Contains(got, "Loading…") || !strings.Contains(got, "myapp app information") {
		t.Fatalf("after the answer:\n%s", got)
	}
}

// Without a server (other screens' model tests) the view still draws,
// and offers no action.
func TestAppViewNoServer(t *testing.T) {
	e := testEnv(t, keys.Identity{Name: "dev"})
	s := newAppScreen(e, "myapp").(*appScreen)
	appRun(t, s, s.Init())
	got := screenAt(e, 80, 24, s)
	if !strings.Contains(got, "! no server to ask") || strings.Contains(got, "restart") {
		t.Fatalf("without a server:\n%s", got)
	}
}

// A failing command shows its own message.
func TestAppViewError(t *testing.T) {
	e := realEnv(t, keys.Identity{Name: "dev"})
	e.b.srv.Events = nil
	s := newAppScreen(e, "gone").(*appScreen)
	appRun(t, s, s.Init())
	press(t, s, "2")
	got := screenAt(e, 80, 24, s)
	if !strings.Contains(got, "! App gone does not exist") {
		t.Fatalf("config of a missing app:\n%s", got)
	}
	press(t, s, "1")
	if got := screenAt(e, 120, 40, s); !strings.Contains(got, "apps:report failed: App gone does not exist") {
		t.Fatalf("reports of a missing app:\n%s", got)
	}
}

func TestAppViewTabs(t *testing.T) {
	e := appEnv(t, keys.Identity{Name: "dev"}, true)
	s := openApp(t, e, "1")
	for _, tc := range []struct {
		key  string
		want appTab
	}{
		{"tab", appTabConfig}, {"tab", appTabProcesses}, {"right", appTabBuilds}, {"tab", appTabReports},
		{"shift+tab", appTabBuilds}, {"left", appTabProcesses}, {"2", appTabConfig}, {"4", appTabBuilds},
		{"1", appTabReports}, {"3", appTabProcesses},
	} {
		press(t, s, tc.key)
		if s.tab != tc.want {
			t.Fatalf("%s: tab %d, want %d", tc.key, s.tab, tc.want)
		}
		if !s.load[s.tab].loaded {
			t.Fatalf("%s: tab %d shown but not loaded", tc.key, s.tab)
		}
		if got := screenAt(e, 80, 24, s); !strings.Contains(got, "["+fmt.Sprint(int(tc.want)+1)+" "+appTabNames[tc.want]+"]") {
			t.Fatalf("%s: the tab bar does not mark %s:\n%s", tc.key, appTabNames[tc.want], got)
		}
	}
}

func TestAppViewReveal(t *testing.T) {
	e := appEnv(t, keys.Identity{Name: "dev"}, false)
	s := openApp(t, e, "2")
	for i, want := range []bool{true, false, true} {
		press(t, s, "v")
		got := screenAt(e, 120, 40, s)
		if s.reveal != want || strings.Contains(got, "hunter2") != want {
			t.Fatalf("v #%d: reveal %v, frame:\n%s", i+1, s.reveal, got)
		}
	}
	// v does nothing on another tab.
	press(t, s, "1")
	press(t, s, "v")
	if !s.reveal {
		t.Fatal("v on the reports tab toggled the config")
	}
}

func TestAppViewProcesses(t *testing.T) {
	e := appEnv(t, keys.Identity{Name: "dev"}, true)
	s := openApp(t, e, "3")
	var names []string
	for _, d := range s.procs.dynos {
		names = append(names, d.name+" "+d.state+" "+d.container)
	}
	if got := strings.Join(names, ", "); got != "web.1 running 0123abcd456, web.2 running 89efcdab012, web.10 running 5555aaaa777, worker.1 exited fedc9876543" {
		t.Fatalf("processes: %s", got)
	}
	if got := fmt.Sprint(s.procs.scale); got != "[{web 2} {worker 1}]" {
		t.Fatalf("scale: %s", got)
	}
	for _, tc := range []struct {
		key, dyno string
	}{{"down", "web.2"}, {"j", "web.10"}, {"j", "worker.1"}, {"j", "worker.1"}, {"k", "web.10"}, {"up", "web.2"}} {
		press(t, s, tc.key)
		if d, _ := s.dyno(); d.name != tc.dyno {
			t.Fatalf("%s: selected %s, want %s", tc.key, d.name, tc.dyno)
		}
	}
	// l follows the selected process type.
	msgs := press(t, s, "l")
	if len(msgs) != 1 {
		t.Fatalf("l: %v", msgs)
	}
	if p, ok := msgs[0].(pushMsg); !ok || p.s.Title() != newLogsScreen(e, "myapp", "web").Title() {
		t.Fatalf("l: %#v", msgs[0])
	}
	// A reload keeps the selection on the same process.
	press(t, s, "R")
	if d, _ := s.dyno(); d.name != "web.2" {
		t.Fatalf("after R: selected %s", d.name)
	}
}

func TestAppViewEnterBuild(t *testing.T) {
	e := appEnv(t, keys.Identity{Name: "dev"}, false)
	s := openApp(t, e, "4")
	// Newest first: the failed rebuild, two of ps:scale, the push.
	last := len(s.builds) - 1
	if len(s.builds) != 4 || s.builds[0].Status != "failed" || s.builds[0].Error == "" || s.builds[last].Kind != "git-hook" || s.builds[last].Status != "succeeded" {
		t.Fatalf("builds: %+v", s.builds)
	}
	if got := screenAt(e, 120, 40, s); !strings.Contains(got, "error: "+s.builds[0].Error) {
		t.Fatalf("the failed build's error is not shown:\n%s", got)
	}
	press(t, s, "G")
	msgs := press(t, s, "enter")
	if len(msgs) != 1 {
		t.Fatalf("enter: %v", msgs)
	}
	p, ok := msgs[0].(pushMsg)
	if !ok || p.s.Title() != newBuildScreen(e, "myapp", s.builds[last].ID).Title() {
		t.Fatalf("enter: %#v", msgs[0])
	}
	// enter does nothing on another tab.
	press(t, s, "1")
	if msgs := press(t, s, "enter"); len(msgs) != 0 {
		t.Fatalf("enter on reports: %v", msgs)
	}
}

// Every action's key is offered when the key may run its command, and an
// action opens its screen, which reloads the view when it closes.
func TestAppViewActions(t *testing.T) {
	e := appEnv(t, keys.Identity{Name: "dev"}, false)
	sent := make(chan tea.Msg, 1)
	e.send = func(m tea.Msg) { sent <- m }
	s := openApp(t, e, "1")
	line := screenAt(e, 200, 24, s)
	for i, a := range appActions {
		// No ps:* command nor apps:destroy is root-only: any key may run them.
		if !e.b.allowed(a.cmd) || !s.actions[i].Enabled() {
			t.Errorf("%s: not offered to a non-admin key", a.name)
		}
		if !strings.Contains(line, a.key.Help().Key+" "+a.name) {
			t.Errorf("%s: not on the key line:\n%s", a.name, line)
		}
	}
	// At 80x24 the key line cannot hold them all: ? lists every one.
	m := &root{e: e, stack: []Screen{s}, width: 80, height: 24, help: true}
	help := ansi.Strip(m.render())
	for _, a := range appActions {
		if !regexp.MustCompile(regexp.QuoteMeta(a.key.Help().Key) + ` +` + a.name).MatchString(help) {
			t.Errorf("%s: not in the help:\n%s", a.name, help)
		}
	}
	msgs := press(t, s, "r")
	if len(msgs) != 1 {
		t.Fatalf("r: %v", msgs)
	}
	p, ok := msgs[0].(pushMsg)
	if !ok || p.s.Title() != actionScreen(e, "myapp", "restart").Title() {
		t.Fatalf("r: %#v", msgs[0])
	}
	gen := s.load[appTabReports].gen
	p.s.(Closer).Close()
	select {
	case m := <-sent:
		appRun(t, s, func() tea.Msg { return m })
	case <-time.After(5 * time.Second):
		t.Fatal("closing the action screen does not reload the view")
	}
	if s.load[appTabReports].gen != gen+1 || !s.load[appTabReports].loaded {
		t.Fatalf("not reloaded: %+v", s.load[appTabReports])
	}
	// Another app's change is not this view's.
	_, cmd := s.Update(appChangedMsg{"other"})
	if cmd != nil {
		t.Fatal("another app's change reloads the view")
	}
}

// A key that may not run an action's command gets no key for it. No
// action's command is root-only, so the test maps destroy to one that is
// (ssh-keys:remove): the binding follows the dispatcher's real rule.
func TestAppViewActionNotAllowed(t *testing.T) {
	saved := appActions
	t.Cleanup(func() { appActions = saved })
	appActions = append([]appAction(nil), saved...)
	last := len(appActions) - 1
	appActions[last].cmd = "ssh-keys:remove"
	for _, tc := range []struct {
		id   keys.Identity
		want bool
	}{
		{keys.Identity{Name: "dev"}, false},
		{keys.Identity{Name: "admin", Admin: true}, true},
	} {
		e := appEnv(t, tc.id, false)
		s := openApp(t, e, "1")
		if s.actions[last].Enabled() != tc.want {
			t.Errorf("%s: destroy enabled %v", tc.id.Name, !tc.want)
		}
		if got := strings.Contains(screenAt(e, 200, 24, s), "D destroy"); got != tc.want {
			t.Errorf("%s: destroy on the key line %v", tc.id.Name, got)
		}
		msgs := press(t, s, "D")
		if (len(msgs) == 1) != tc.want {
			t.Errorf("%s: D gives %v", tc.id.Name, msgs)
		}
		// The other actions stay.
		if !s.actions[0].Enabled() {
			t.Errorf("%s: restart not offered", tc.id.Name)
		}
	}
}

// Scrolling stays within the text.
func TestAppViewScroll(t *testing.T) {
	e := appEnv(t, keys.Identity{Name: "dev"}, false)
	s := openApp(t, e, "1")
	screenAt(e, 80, 24, s)
	press(t, s, "G")
	end := s.off[appTabReports]
	if end == 0 || end != s.lines[appTabReports]-s.viewH[appTabReports] {
		t.Fatalf("G: offset %d of %d lines, %d shown", end, s.lines[appTabReports], s.viewH[appTabReports])
	}
	press(t, s, "j")
	if s.off[appTabReports] != end {
		t.Fatal("j scrolls past the end")
	}
	press(t, s, "k")
	press(t, s, "g")
	press(t, s, "k")
	if s.off[appTabReports] != 0 {
		t.Fatalf("g then k: offset %d", s.off[appTabReports])
	}
}

// Events publishing the app reload the view; the wait ends on Close.
func TestAppViewEvents(t *testing.T) {
	e := appEnv(t, keys.Identity{Name: "dev"}, false)
	ev := &Events{}
	e.b.srv.Events = ev
	s := newAppScreen(e, "myapp").(*appScreen)
	cmds := s.Init()().(tea.BatchMsg)
	if len(cmds) != 2 {
		t.Fatalf("Init: %d cmds", len(cmds))
	}
	appRun(t, s, cmds[0])
	waited := make(chan tea.Msg, 1)
	go func() { waited <- cmds[1]() }()
	ev.Publish("other")
	ev.Publish("myapp")
	var msg tea.Msg
	select {
	case msg = <-waited:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish does not wake the view")
	}
	if m, ok := msg.(appEventMsg); !ok || m.s != s {
		t.Fatalf("wait: %#v", msg)
	}
	gen := s.load[appTabReports].gen
	_, cmd := s.Update(msg)
	next := cmd().(tea.BatchMsg)
	appRun(t, s, next[0])
	if s.load[appTabReports].gen != gen+1 {
		t.Fatal("an event of the app does not reload it")
	}
	go func() { waited <- next[1]() }()
	s.Close()
	select {
	case msg = <-waited:
		if msg != nil {
			t.Fatalf("wait after Close: %#v", msg)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close does not end the wait")
	}
}

// Another app view's answers are not this one's.
func TestAppViewIgnoresOthers(t *testing.T) {
	e := appEnv(t, keys.Identity{Name: "dev"}, false)
	a := newAppScreen(e, "myapp").(*appScreen)
	b := newAppScreen(e, "myapp").(*appScreen)
	msg := a.Init()()
	b.Init()
	b.Update(msg)
	if b.load[appTabReports].loaded || b.reports != "" {
		t.Fatal("b took a's answer")
	}
	a.Update(msg)
	if !a.load[appTabReports].loaded {
		t.Fatal("a did not take its answer")
	}
}

func TestAppWrapField(t *testing.T) {
	for _, tc := range []struct {
		line string
		w    int
		want string
	}{
		{"       Short:  value", 40, "       Short:  value"},
		{"       App dir:   /var/lib/dokku/home/a-long-app-name", 40,
			"       App dir:   /var/lib/dokku/home/a-\n                  long-app-name"},
		// A label wider than half the line: wrapped at the edge.
		{"       A very very long label:  value", 20, "       A very very l\nong label:  value"},
		{"=====> myapp scheduler-docker-local information", 30, "=====> myapp scheduler-docker-\nlocal information"},
	} {
		if got := appWrapField(tc.line, tc.w); got != tc.want {
			t.Errorf("%q at %d:\n%s\nwant\n%s", tc.line, tc.w, got, tc.want)
		}
	}
}

func TestAppAgo(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{2 * time.Second, "just now"}, {42 * time.Second, "42s ago"}, {5 * time.Minute, "5m ago"},
		{3 * time.Hour, "3h ago"}, {72 * time.Hour, "3d ago"}, {90 * 24 * time.Hour, "2025-10-04"},
	} {
		if got := appAgo(appTestNow, appTestNow.Add(-tc.d)); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.d, got, tc.want)
		}
	}
}

// How an enter ended is shown on the app view until the next key.
func TestAppViewEnterStatus(t *testing.T) {
	e := realEnv(t, testAdmin, "myapp")
	s := newAppScreen(e, "myapp").(*appScreen)
	s.Update(enterDoneMsg{App: "other", Dyno: "web.1", Code: 1, Err: "elsewhere"})
	if strings.Contains(s.View(80, 22), "elsewhere") {
		t.Fatal("another app's enter shows here")
	}
	s.Update(enterDoneMsg{App: "myapp", Dyno: "web.1", Code: 1, Err: "The null scheduler does not support enter"})
	if got := s.View(80, 22); !strings.Contains(got, "enter myapp web.1: exit 1: The null scheduler does not support enter") {
		t.Fatalf("no status:\n%s", got)
	}
	s.Update(tea.KeyPressMsg{Code: 'j', Text: "j"})
	if strings.Contains(s.View(80, 22), "exit 1") {
		t.Fatal("the status stays after a key")
	}
}
