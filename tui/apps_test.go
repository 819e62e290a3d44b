package tui

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"dokku-sshd/deploy"
	"dokku-sshd/keys"
)

var (
	testAdmin = keys.Identity{Name: "admin", Admin: true}
	testDev   = keys.Identity{Name: "dev"}
	// testNow is the fixed clock of golden frames.
	testNow = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
)

// runCmd runs cmd, and every command of a batch it returns, each in its
// own goroutine (some wait for a long time: a tick, an event), and
// delivers their messages on the channel.
func runCmd(cmd tea.Cmd) <-chan tea.Msg {
	ch := make(chan tea.Msg, 64)
	var run func(tea.Cmd)
	run = func(c tea.Cmd) {
		if c == nil {
			return
		}
		go func() {
			msg := c()
			if b, ok := msg.(tea.BatchMsg); ok {
				for _, c := range b {
					run(c)
				}
				return
			}
			if msg != nil {
				ch <- msg
			}
		}()
	}
	run(cmd)
	return ch
}

// await returns the first message of type T from ch, skipping others.
func await[T tea.Msg](t *testing.T, ch <-chan tea.Msg) T {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case msg := <-ch:
			if m, ok := msg.(T); ok {
				return m
			}
		case <-timeout:
			var zero T
			t.Fatalf("no %T arrived", zero)
			return zero
		}
	}
}

// loadApps runs a full load of s as Init would, and takes its rows.
func loadApps(t *testing.T, s *appsScreen) {
	t.Helper()
	s.Update(await[appsLoadedMsg](t, runCmd(s.request(true, nil))))
	if s.err != "" {
		t.Fatalf("load: %s", s.err)
	}
}

func appsPress(keys ...string) []tea.KeyPressMsg {
	var out []tea.KeyPressMsg
	for _, k := range keys {
		switch k {
		case "enter":
			out = append(out, tea.KeyPressMsg{Code: tea.KeyEnter})
		case "esc":
			out = append(out, tea.KeyPressMsg{Code: tea.KeyEscape})
		case "up":
			out = append(out, tea.KeyPressMsg{Code: tea.KeyUp})
		case "down":
			out = append(out, tea.KeyPressMsg{Code: tea.KeyDown})
		default:
			for _, r := range k {
				out = append(out, tea.KeyPressMsg{Code: r, Text: string(r)})
			}
		}
	}
	return out
}

// typeKeys sends keys to s and returns the last command.
func typeKeys(s Screen, keys ...string) tea.Cmd {
	var cmd tea.Cmd
	for _, k := range appsPress(keys...) {
		_, cmd = s.Update(k)
	}
	return cmd
}

// gatedBuilder stands for the null builder and builds until its lines
// channel is closed, printing each line it is sent: a build that is
// running for as long as a test needs.
type gatedBuilder struct{ lines chan string }

func (gatedBuilder) Name() string                                           { return "null" }
func (gatedBuilder) Detect(context.Context, deploy.GitSource) (bool, error) { return false, nil }
func (g gatedBuilder) Build(ctx context.Context, b *deploy.Build) error {
	for {
		select {
		case l, ok := <-g.lines:
			if !ok {
				return nil
			}
			fmt.Fprintln(b.Out, l)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// buildGate holds a build open until end.
type buildGate struct {
	lines chan string
	once  sync.Once
}

// end lets the build finish.
func (g *buildGate) end() { g.once.Do(func() { close(g.lines) }) }

// startGatedBuild makes every later build of e block on the returned gate
// and starts ps:rebuild of app (deployed before), returning once
// builds:list says the build runs, with its record.
func startGatedBuild(t *testing.T, e *env, app string) (*buildGate, deploy.Record) {
	t.Helper()
	v, _ := testPipelines.Load(e.b.srv)
	g := &buildGate{lines: make(chan string)}
	v.(*deploy.Pipeline).Builders = []deploy.Builder{gatedBuilder{g.lines}}
	done := make(chan result, 1)
	go func() { done <- (&backend{srv: e.b.srv, id: testRoot}).run(context.Background(), "ps:rebuild", app) }()
	t.Cleanup(func() {
		g.end()
		<-done
	})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var recs []deploy.Record
		if err := json.Unmarshal([]byte(mustRun(t, e, "builds:list", app, "--format", "json")), &recs); err != nil {
			t.Fatal(err)
		}
		if len(recs) > 0 && recs[0].Status == deploy.StatusRunning {
			return g, recs[0]
		}
	}
	t.Fatal("the rebuild did not start")
	return nil, deploy.Record{}
}

// threeApps is a session over three apps: api deployed and scaled,
// billing never deployed (its scheduler is not on this server), worker
// deploying now until the gate is ended (at the latest when the test
// ends).
func threeApps(t *testing.T, id keys.Identity) (*env, *buildGate) {
	e := realEnv(t, id, "api", "billing-service-with-a-long-name", "worker")
	realDeploy(t, e, "api", map[string]string{"Procfile": "web: run\nworker: run\n"})
	mustRun(t, e, "ps:scale", "api", "web=2", "worker=1")
	mustRun(t, e, "scheduler:set", "billing-service-with-a-long-name", "selected", "docker-local")
	realDeploy(t, e, "worker", map[string]string{"Procfile": "worker: run\n"})
	gate, _ := startGatedBuild(t, e, "worker")
	return e, gate
}

// pinTimes puts the rows' deploy times at fixed distances from testNow.
func pinTimes(s *appsScreen) {
	s.now = func() time.Time { return testNow }
	for i := range s.rows {
		if !s.rows[i].last.IsZero() {
			s.rows[i].last = testNow.Add(-time.Duration(3*i+3) * time.Minute)
		}
	}
}

func TestAppsGolden(t *testing.T) {
	e, _ := threeApps(t, testAdmin)
	empty := realEnv(t, testAdmin)
	for _, tt := range []struct {
		name string
		e    *env
		keys []string
	}{
		{name: "loaded", e: e},
		{name: "selected", e: e, keys: []string{"j", "j"}},
		{name: "filtered", e: e, keys: []string{"/", "BILL"}},
		{name: "no-match", e: e, keys: []string{"/", "nosuch", "enter"}},
		{name: "empty", e: empty},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newAppsScreen(tt.e)
			loadApps(t, s)
			pinTimes(s)
			typeKeys(s, tt.keys...)
			for _, sz := range sizes {
				got := screenAt(tt.e, sz.w, sz.h, s)
				if n := len(strings.Split(got, "\n")); n != sz.h {
					t.Fatalf("%d lines", n)
				}
				golden(t, fmt.Sprintf("apps-%s-%dx%d", tt.name, sz.w, sz.h), got)
			}
		})
	}
}

// The rows say what the commands print: scheduler, state, processes, the
// newest build and whether it runs.
func TestAppsRows(t *testing.T) {
	e, _ := threeApps(t, testAdmin)
	s := newAppsScreen(e)
	loadApps(t, s)
	want := map[string]appRow{
		"api":                              {scheduler: "null", state: "running", procs: "web=2 worker=1", lastKind: "ps:scale", lastStatus: "succeeded"},
		"billing-service-with-a-long-name": {scheduler: "docker-local", state: "not deployed", procs: ""},
		"worker":                           {scheduler: "null", state: "running", procs: "", lastKind: "ps:rebuild", lastStatus: "running"},
	}
	if len(s.rows) != len(want) {
		t.Fatalf("%d rows", len(s.rows))
	}
	for _, r := range s.rows {
		w := want[r.name]
		if r.scheduler != w.scheduler || r.state != w.state || r.procs != w.procs || r.lastKind != w.lastKind || r.lastStatus != w.lastStatus {
			t.Errorf("%s: %+v, want %+v", r.name, r, w)
		}
		if (r.buildID != "") != (w.lastKind != "") {
			t.Errorf("%s: build %q", r.name, r.buildID)
		}
	}
	if !s.rows[2].deploying() || s.rows[0].deploying() {
		t.Error("deploying is not the running build's")
	}
}

func TestAppState(t *testing.T) {
	for _, tt := range []struct {
		ps   map[string]string
		want string
	}{
		{map[string]string{"deployed": "false", "running": "false", "processes": "0"}, "not deployed"},
		{map[string]string{"deployed": "true", "running": "true", "processes": "2"}, "running"},
		{map[string]string{"deployed": "true", "running": "false", "processes": "0"}, "stopped"},
		{map[string]string{"deployed": "true", "running": "mixed", "processes": "2"}, "mixed"},
		{map[string]string{"deployed": "true", "running": "false", "processes": "-1"}, "-"},
		{map[string]string{}, "-"},
	} {
		if got := appState(tt.ps); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.ps, got, tt.want)
		}
	}
}

// A command that fails leaves "-" in its column, and the row stays.
func TestAppsFailingCommands(t *testing.T) {
	e := realEnv(t, testAdmin, "app")
	e.b.srv.Builds = nil
	// builds:list reads the pipeline's record, not the server's: drop it
	// there, as a server without deploys does.
	v, _ := testPipelines.Load(e.b.srv)
	v.(*deploy.Pipeline).Builds = nil
	s := newAppsScreen(e)
	loadApps(t, s)
	r := s.rows[0]
	if r.name != "app" || r.state != "running" || !r.noBuilds || s.lastDeploy(r, false) != "-" {
		t.Fatalf("row %+v, last deploy %q", r, s.lastDeploy(r, false))
	}
	typeKeys(s, "d")
	if !strings.Contains(s.status, "cannot be listed") {
		t.Fatalf("d without builds: %q", s.status)
	}
}

func TestAppsKeys(t *testing.T) {
	e, _ := threeApps(t, testAdmin)
	for _, tt := range []struct {
		name      string
		keys      []string
		visible   []string
		sel       string
		capturing bool
		push      func(Screen) bool // the screen the last key opens; nil: none
	}{
		{name: "first", visible: []string{"api", "billing-service-with-a-long-name", "worker"}, sel: "api"},
		{name: "down", keys: []string{"j", "down"}, sel: "worker", visible: []string{"api", "billing-service-with-a-long-name", "worker"}},
		{name: "down at the end", keys: []string{"j", "j", "j", "j"}, sel: "worker", visible: []string{"api", "billing-service-with-a-long-name", "worker"}},
		{name: "up", keys: []string{"j", "j", "k"}, sel: "billing-service-with-a-long-name", visible: []string{"api", "billing-service-with-a-long-name", "worker"}},
		{name: "filter typing", keys: []string{"/", "OR"}, sel: "worker", visible: []string{"worker"}, capturing: true},
		{name: "filter kept", keys: []string{"/", "i", "enter"}, sel: "api", visible: []string{"api", "billing-service-with-a-long-name"}},
		{name: "filter cleared", keys: []string{"/", "work", "esc"}, sel: "worker", visible: []string{"api", "billing-service-with-a-long-name", "worker"}},
		{name: "filter q and j are text", keys: []string{"/", "qj"}, visible: nil, capturing: true},
		{name: "open", keys: []string{"j", "enter"}, sel: "billing-service-with-a-long-name",
			visible: []string{"api", "billing-service-with-a-long-name", "worker"},
			push:    func(s Screen) bool { return strings.Contains(s.Title(), "billing-service-with-a-long-name") }},
		{name: "open filtered", keys: []string{"/", "wor", "enter", "enter"}, sel: "worker", visible: []string{"worker"},
			push: func(s Screen) bool { return strings.Contains(s.Title(), "worker") }},
		{name: "deploy log", keys: []string{"j", "j", "d"}, sel: "worker", visible: []string{"api", "billing-service-with-a-long-name", "worker"},
			push: func(s Screen) bool {
				b, ok := s.(*buildScreen)
				return ok && b.app == "worker" && b.id != ""
			}},
		{name: "ssh keys", keys: []string{"K"}, sel: "api", visible: []string{"api", "billing-service-with-a-long-name", "worker"},
			push: func(s Screen) bool { return s.Title() != "" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newAppsScreen(e)
			loadApps(t, s)
			cmd := typeKeys(s, tt.keys...)
			var names []string
			for _, r := range s.visible() {
				names = append(names, r.name)
			}
			if !slices.Equal(names, tt.visible) {
				t.Errorf("visible %v, want %v", names, tt.visible)
			}
			if r, _ := s.selected(); r.name != tt.sel {
				t.Errorf("selected %q, want %q", r.name, tt.sel)
			}
			if s.Capturing() != tt.capturing {
				t.Errorf("capturing %v", s.Capturing())
			}
			if tt.push == nil {
				if cmd != nil {
					if _, ok := cmd().(pushMsg); ok {
						t.Error("a screen was opened")
					}
				}
				return
			}
			if cmd == nil {
				t.Fatal("no command")
			}
			p, ok := cmd().(pushMsg)
			if !ok || !tt.push(p.s) {
				t.Fatalf("opened %#v", p.s)
			}
		})
	}
}

// The build d opens is the running one, and an app never built says so.
func TestAppsDeployLog(t *testing.T) {
	e, _ := threeApps(t, testAdmin)
	s := newAppsScreen(e)
	loadApps(t, s)
	running := s.rows[2].buildID
	var recs []deploy.Record
	if err := json.Unmarshal([]byte(mustRun(t, e, "builds:list", "worker", "--format", "json")), &recs); err != nil {
		t.Fatal(err)
	}
	if running != recs[0].ID || recs[0].Status != deploy.StatusRunning {
		t.Fatalf("d opens %s, the running build is %+v", running, recs[0])
	}
	if cmd := typeKeys(s, "j", "d"); cmd != nil {
		t.Fatal("d on an app never built opens a screen")
	}
	if s.status != "No builds recorded for billing-service-with-a-long-name" {
		t.Fatalf("status %q", s.status)
	}
	if got := screenAt(e, 80, 24, s); !strings.Contains(got, "No builds recorded for billing") {
		t.Fatalf("the note is not shown:\n%s", got)
	}
}

// K (the keys view) is an admin's only: disabled, absent from the key
// line, and inert for another key.
func TestAppsKeysViewAdminOnly(t *testing.T) {
	for _, tt := range []struct {
		id   keys.Identity
		open bool
	}{{testAdmin, true}, {testDev, false}} {
		t.Run(tt.id.Name, func(t *testing.T) {
			e := realEnv(t, tt.id, "app")
			s := newAppsScreen(e)
			loadApps(t, s)
			if s.keys.keys.Enabled() != tt.open {
				t.Errorf("K enabled: %v", s.keys.keys.Enabled())
			}
			if strings.Contains(screenAt(e, 120, 40, s), "ssh keys") != tt.open {
				t.Errorf("K in the key line: %v", !tt.open)
			}
			cmd := typeKeys(s, "K")
			if (cmd != nil) != tt.open {
				t.Fatalf("K: command %v", cmd != nil)
			}
			if tt.open {
				if _, ok := cmd().(pushMsg); !ok {
					t.Fatal("K does not open the keys view")
				}
			}
		})
	}
}

// The first frame does not wait for the commands; R reloads.
func TestAppsLoading(t *testing.T) {
	e := realEnv(t, testAdmin, "app")
	s := newAppsScreen(e)
	defer s.Close()
	ch := runCmd(s.Init())
	if got := screenAt(e, 80, 24, s); !strings.Contains(got, "Loading apps…") {
		t.Fatalf("first frame:\n%s", got)
	}
	s.Update(await[appsLoadedMsg](t, ch))
	if len(s.rows) != 1 || s.rows[0].name != "app" {
		t.Fatalf("rows %+v", s.rows)
	}
	mustRun(t, e, "apps:create", "second")
	cmd := typeKeys(s, "R")
	if cmd == nil || !s.loading {
		t.Fatal("R does not reload")
	}
	// Asked again while loading: queued, then loaded.
	if typeKeys(s, "R") != nil {
		t.Fatal("a second load runs beside the first")
	}
	_, next := s.Update(await[appsLoadedMsg](t, runCmd(cmd)))
	if len(s.rows) != 2 || next == nil {
		t.Fatalf("rows %d, queued load %v", len(s.rows), next != nil)
	}
	// Another screen's load is not this one's.
	other := newAppsScreen(e)
	s.Update(appsLoadedMsg{s: other})
	if len(s.rows) != 2 {
		t.Fatal("another screen's rows were taken")
	}
}

// An app's event wakes the screen's wait, and only that app's row is read
// again; Close ends the wait.
func TestAppsEvents(t *testing.T) {
	e := realEnv(t, testAdmin, "one", "two")
	s := newAppsScreen(e)
	ch := runCmd(s.Init())
	s.Update(await[appsLoadedMsg](t, ch))
	if s.rows[0].lastKind != "" || s.rows[1].lastKind != "" {
		t.Fatal("builds before any deploy")
	}
	// Both deploy; only two is announced.
	realDeploy(t, e, "one", map[string]string{"Procfile": "web: run\n"})
	realDeploy(t, e, "two", map[string]string{"Procfile": "web: run\n"})
	e.b.srv.Events.Publish("two")
	ev := await[appsEventMsg](t, ch)
	if !slices.Equal(ev.apps, []string{"two"}) {
		t.Fatalf("event for %v", ev.apps)
	}
	_, cmd := s.Update(ev)
	ch = runCmd(cmd)
	s.Update(await[appsLoadedMsg](t, ch))
	if s.rows[1].lastKind != "git-hook" {
		t.Errorf("two was not read again: %+v", s.rows[1])
	}
	if s.rows[0].lastKind != "" {
		t.Errorf("one was read again: %+v", s.rows[0])
	}
	// The wait is armed again: the next event arrives too.
	e.b.srv.Events.Publish("one")
	if ev := await[appsEventMsg](t, ch); !slices.Equal(ev.apps, []string{"one"}) {
		t.Fatalf("second event for %v", ev.apps)
	}

	// Closed, the wait ends without a message and the tick stops.
	wait := s.wait()
	ended := make(chan tea.Msg, 1)
	go func() { ended <- wait() }()
	s.Close()
	select {
	case msg := <-ended:
		if msg != nil {
			t.Fatalf("the closed wait returned %#v", msg)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close does not end the wait")
	}
	if _, cmd := s.Update(appsTickMsg{s}); cmd != nil {
		t.Fatal("a closed screen reloads on its tick")
	}
	e.b.srv.Events.Publish("one") // no subscriber left: must not block
}

// The session's end also ends the wait.
func TestAppsWaitEndsWithSession(t *testing.T) {
	e := realEnv(t, testAdmin)
	ctx, cancel := context.WithCancel(t.Context())
	e.ctx = ctx
	s := newAppsScreen(e)
	defer s.Close()
	s.Init()
	wait := s.wait()
	ended := make(chan tea.Msg, 1)
	go func() { ended <- wait() }()
	cancel()
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the session's end does not end the wait")
	}
}

func TestRelativeTime(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"}, {42 * time.Second, "42s"}, {3*time.Minute + 59*time.Second, "3m"},
		{5 * time.Hour, "5h"}, {47 * time.Hour, "47h"}, {72 * time.Hour, "3d"},
	} {
		if got := relativeTime(testNow, testNow.Add(-tt.d)); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.d, got, tt.want)
		}
	}
}

// While the filter has the keys, q and Esc reach it through the root
// instead of quitting or going back.
func TestAppsFilterThroughRoot(t *testing.T) {
	e := realEnv(t, testAdmin, "app")
	s := newAppsScreen(e)
	loadApps(t, s)
	m := &root{e: e, stack: []Screen{s}, width: 80, height: 24}
	for _, k := range appsPress("/", "q") {
		if _, cmd := m.Update(k); cmd != nil {
			if _, quit := cmd().(tea.QuitMsg); quit {
				t.Fatal("q in the filter quits")
			}
		}
	}
	if s.filter.Value() != "q" {
		t.Fatalf("filter %q", s.filter.Value())
	}
	m.Update(appsPress("esc")[0])
	if s.Capturing() || s.filter.Value() != "" || len(m.stack) != 1 {
		t.Fatalf("esc: capturing %v, filter %q", s.Capturing(), s.filter.Value())
	}
	if got := screenAt(e, 80, 24, s); !strings.Contains(got, "> app ") {
		t.Fatalf("the list is gone:\n%s", got)
	}
}

// An action that ran on an app (here, the app is gone) reloads the list
// at once, not at the next tick.
func TestAppsReloadOnAppChanged(t *testing.T) {
	e := realEnv(t, testAdmin, "one", "two")
	s := newAppsScreen(e)
	loadApps(t, s)
	mustRun(t, e, "apps:destroy", "--force", "two")
	_, cmd := s.Update(appChangedMsg{app: "two"})
	s.Update(await[appsLoadedMsg](t, runCmd(cmd)))
	if got := s.View(80, 20); strings.Contains(got, "two") {
		t.Fatalf("a destroyed app stays in the list:\n%s", got)
	}
}
