package tui

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"dokku-sshd/commands"
	"dokku-sshd/deploy"
	"dokku-sshd/keys"
)

// sendTo makes e.send deliver into a channel the test reads.
func sendTo(e *env) <-chan tea.Msg {
	ch := make(chan tea.Msg, 64)
	e.send = func(m tea.Msg) { ch <- m }
	return ch
}

// builds returns app's build records, newest first.
func builds(t *testing.T, e *env, app string) []deploy.Record {
	t.Helper()
	var recs []deploy.Record
	if err := json.Unmarshal([]byte(mustRun(t, e, "builds:list", app, "--format", "json")), &recs); err != nil {
		t.Fatal(err)
	}
	return recs
}

// openBuild opens the build screen of app's build id and runs its Init:
// the record is read; the follow runs and sends to the returned channel.
func openBuild(t *testing.T, e *env, app, id string) (*buildScreen, <-chan tea.Msg) {
	t.Helper()
	sent := sendTo(e)
	s := newBuildScreen(e, app, id).(*buildScreen)
	t.Cleanup(s.Close)
	s.Update(await[buildRecordMsg](t, runCmd(s.Init())))
	return s, sent
}

// followToEnd feeds the follow's messages to s until it ends, then reads
// the final record.
func followToEnd(t *testing.T, s *buildScreen, sent <-chan tea.Msg) {
	t.Helper()
	for {
		select {
		case msg := <-sent:
			_, cmd := s.Update(msg)
			if _, ok := msg.(buildDoneMsg); ok {
				s.Update(await[buildRecordMsg](t, runCmd(cmd)))
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the follow did not end")
		}
	}
}

func TestBuildGolden(t *testing.T) {
	e := realEnv(t, testAdmin, "api")
	realDeploy(t, e, "api", map[string]string{"Procfile": "web: run\n"})
	rec := builds(t, e, "api")[0]
	s, sent := openBuild(t, e, "api", rec.ID)
	followToEnd(t, s, sent)
	if s.rec == nil || s.rec.Status != deploy.StatusSucceeded || s.following {
		t.Fatalf("record %+v, following %v", s.rec, s.following)
	}
	// Pinned: the start, the duration, the id and the revision.
	s.rec.Started = time.Date(2026, 3, 4, 11, 58, 0, 0, time.UTC)
	s.rec.Finished = s.rec.Started.Add(1500 * time.Millisecond)
	for _, sz := range sizes {
		got := screenAt(e, sz.w, sz.h, newAppsScreen(e), s)
		got = strings.ReplaceAll(got, rec.ID[len(rec.ID)-6:], "abcdef")
		got = strings.ReplaceAll(got, rec.Rev[:7], "1234567")
		golden(t, fmt.Sprintf("build-finished-%dx%d", sz.w, sz.h), got)
	}
}

// The screen follows a running build: lines written while it runs appear,
// and once the build ends the final status shows.
func TestBuildFollow(t *testing.T) {
	e := realEnv(t, testAdmin, "api")
	realDeploy(t, e, "api", map[string]string{"Procfile": "web: run\n"})
	gate, rec := startGatedBuild(t, e, "api")
	s, sent := openBuild(t, e, "api", rec.ID)
	if s.rec == nil || s.rec.Status != deploy.StatusRunning || !s.following {
		t.Fatalf("record %+v", s.rec)
	}
	for i := range 3 {
		line := fmt.Sprintf("step %d of the build", i)
		gate.lines <- line
		for !strings.Contains(screenAt(e, 80, 24, s), line) {
			select {
			case msg := <-sent:
				if _, ok := msg.(buildLinesMsg); !ok {
					t.Fatalf("while running: %#v", msg)
				}
				s.Update(msg)
			case <-time.After(10 * time.Second):
				t.Fatalf("%q did not arrive", line)
			}
		}
	}
	frame := screenAt(e, 80, 24, s)
	for _, want := range []string{"running", "following the build", "step 0 of the build"} {
		if !strings.Contains(frame, want) {
			t.Errorf("running frame lacks %q:\n%s", want, frame)
		}
	}
	if _, cmd := s.Update(buildTickMsg{s}); cmd == nil {
		t.Error("the header of a running build is not redrawn")
	}
	gate.end()
	followToEnd(t, s, sent)
	if _, cmd := s.Update(buildTickMsg{s}); cmd != nil {
		t.Error("the header of a finished build is redrawn")
	}
	frame = screenAt(e, 80, 24, s)
	for _, want := range []string{"succeeded", "end of the build's output", "step 2 of the build", "Application deployed"} {
		if !strings.Contains(frame, want) {
			t.Errorf("finished frame lacks %q:\n%s", want, frame)
		}
	}
}

// Close stops the follow of a running build: no message comes after.
func TestBuildClose(t *testing.T) {
	e := realEnv(t, testAdmin, "api")
	realDeploy(t, e, "api", nil)
	_, rec := startGatedBuild(t, e, "api")
	s, sent := openBuild(t, e, "api", rec.ID)
	s.Close()
	if _, cmd := s.Update(buildTickMsg{s}); cmd != nil {
		t.Error("a closed screen keeps ticking")
	}
	time.Sleep(300 * time.Millisecond)
	for len(sent) > 0 {
		if msg := <-sent; msg != (buildLinesMsg{s}) {
			t.Fatalf("after Close: %#v", msg)
		}
	}
	select {
	case msg := <-sent:
		t.Fatalf("after Close: %#v", msg)
	case <-time.After(500 * time.Millisecond):
	}
}

// A build screen with nothing to follow says why, at once.
func TestBuildNotes(t *testing.T) {
	// A dispatcher with no deploy pipeline: builds:output says so.
	noBuilds := realEnv(t, testAdmin, "api")
	st := noBuilds.b.srv.Store
	noBuilds.b.srv.Commands = commands.New(commands.Config{Store: st, Keys: keys.Open(st.Paths.AuthorizedKeys, nil)})
	noBuilds.b.srv.Builds = nil
	for _, tt := range []struct {
		name string
		e    *env
		id   string
		want string
	}{
		{"no builds recorded", noBuilds, "x", "Builds are not recorded by this server"},
		{"no such build", realEnv(t, testAdmin, "api"), "20260101T000000Z-abcdef", "No build 20260101T000000Z-abcdef for api"},
		{"no such app", realEnv(t, testAdmin), "20260101T000000Z-abcdef", "App api does not exist"},
		{"no server", testEnv(t, testAdmin), "x", "Builds are not recorded by this server"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newBuildScreen(tt.e, "api", tt.id).(*buildScreen)
			defer s.Close()
			sent := sendTo(tt.e)
			if cmd := s.Init(); cmd != nil {
				s.Update(await[buildRecordMsg](t, runCmd(cmd)))
				followToEnd(t, s, sent)
			}
			frame := screenAt(tt.e, 80, 24, s)
			if !strings.Contains(frame, tt.want) {
				t.Fatalf("frame lacks %q:\n%s", tt.want, frame)
			}
		})
	}
}

// Scrolling: g, G, up, pages; at the bottom the view follows new lines.
func TestBuildScroll(t *testing.T) {
	e := testEnv(t, testAdmin)
	s := &buildScreen{e: e, tail: true, keys: newBuildScreen(e, "a", "b").(*buildScreen).keys, now: time.Now}
	s.buf = newLineBuf(100, func() {})
	for i := range 50 {
		fmt.Fprintf(s.buf, "line %02d\n", i)
	}
	s.lines = s.buf.take()
	first := func() string {
		s.View(80, 12)
		return s.wrap(80)[s.top]
	}
	for _, tt := range []struct {
		keys  []string
		first string
		tail  bool
	}{
		{nil, "line 40", true},
		{[]string{"k"}, "line 39", false},
		{[]string{"g"}, "line 00", false},
		{[]string{"j", "down"}, "line 02", false},
		{[]string{" "}, "line 11", false},
		{[]string{"b"}, "line 02", false},
		{[]string{"G"}, "line 40", true},
		{[]string{"k", "j"}, "line 40", true},
	} {
		typeKeys(s, tt.keys...)
		if got := first(); got != tt.first || s.tail != tt.tail {
			t.Errorf("%v: first %q tail %v, want %q %v", tt.keys, got, s.tail, tt.first, tt.tail)
		}
	}
	// At the bottom, new lines keep the view at the bottom; scrolled up,
	// the view stays.
	fmt.Fprintln(s.buf, "line 50")
	s.lines = s.buf.take()
	if got := first(); got != "line 41" {
		t.Errorf("tail: first %q", got)
	}
	typeKeys(s, "g")
	fmt.Fprintln(s.buf, "line 51")
	s.lines = s.buf.take()
	if got := first(); got != "line 00" {
		t.Errorf("scrolled: first %q", got)
	}
}

// The buffer keeps the newest lines with a marker for the dropped ones,
// and notifies once until taken.
func TestLineBuf(t *testing.T) {
	notified := 0
	b := newLineBuf(3, func() { notified++ })
	for i := range 5 {
		fmt.Fprintf(b, "l%d\n", i)
	}
	fmt.Fprint(b, "partial")
	if notified != 1 {
		t.Fatalf("%d notifications before a take", notified)
	}
	got := b.take()
	want := []string{"… 2 earlier lines dropped", "l2", "l3", "l4", "partial"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("lines %q, want %q", got, want)
	}
	fmt.Fprint(b, " line\nnext\n")
	if notified != 2 {
		t.Fatalf("%d notifications after a take", notified)
	}
	if got := strings.Join(b.take(), "|"); got != "… 4 earlier lines dropped|l4|partial line|next" {
		t.Fatalf("lines %q", got)
	}
	// A line that never ends is kept in pieces, not without bound.
	b = newLineBuf(10, func() {})
	fmt.Fprint(b, strings.Repeat("x", 100<<10))
	if len(b.partial) > 64<<10 || b.n != 1 || len(b.ring[0]) != buildMaxLine {
		t.Fatalf("partial %d, lines %d", len(b.partial), b.n)
	}
}

func TestCleanLine(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain", "plain"},
		{"\x1b[1;32m-----> ok\x1b[0m", "-----> ok"},
		{"\x1b[2J\x1b[H\x1b]0;title\x07home", "home"},
		{"10%\r50%\r100%\r", "100%"},
		{"a\tb", "a       b"},
		{"bell\x07 nul\x00 del\x7f", "bell nul del"},
		{"bad \xff utf8", "bad  utf8"},
		{strings.Repeat("é", 1000), strings.Repeat("é", buildMaxLine/2)},
	} {
		if got := capLine(plainLine(tt.in), buildMaxLine); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A line wider than the screen wraps instead of leaving the frame.
func TestBuildWrap(t *testing.T) {
	e := testEnv(t, testAdmin)
	s := &buildScreen{e: e, tail: true, now: time.Now}
	s.lines = []string{strings.Repeat("a", 100), "short"}
	got := s.View(80, 10)
	lines := strings.Split(got, "\n")
	if len(lines) != 10 || lines[1] != strings.Repeat("a", 80) || lines[2] != strings.Repeat("a", 20) || lines[3] != "short" {
		t.Fatalf("wrapped:\n%s", got)
	}
}

// New lines show even when their count does not change: a full buffer
// drops one for each it adds, and a partial last line grows in place.
func TestBuildRedrawsSameCount(t *testing.T) {
	e := testEnv(t, testAdmin)
	s := &buildScreen{e: e, tail: true, now: time.Now}
	s.buf = newLineBuf(2, func() {})
	fmt.Fprint(s.buf, "one\ntwo\nabc")
	s.Update(buildLinesMsg{s: s})
	before := s.View(80, 8)
	fmt.Fprint(s.buf, "def")
	s.Update(buildLinesMsg{s: s})
	if got := s.View(80, 8); got == before || !strings.Contains(got, "abcdef") {
		t.Fatalf("a growing last line was not redrawn:\n%s", got)
	}
	fmt.Fprint(s.buf, "\nthree\nfour\n")
	s.Update(buildLinesMsg{s: s})
	if got := s.View(80, 8); !strings.Contains(got, "four") {
		t.Fatalf("lines of a full buffer were not redrawn:\n%s", got)
	}
}
