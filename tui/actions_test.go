package tui

import (
	"fmt"
	"strings"
	"testing"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"dokku-sshd/keys"
)

var actAdmin = keys.Identity{Name: "admin", Admin: true}

// actPress is the key press a user makes: a named key or one character.
func actPress(k string) tea.KeyPressMsg {
	named := map[string]rune{"enter": tea.KeyEnter, "esc": tea.KeyEscape, "tab": tea.KeyTab,
		"backspace": tea.KeyBackspace, "up": tea.KeyUp, "down": tea.KeyDown, "delete": tea.KeyDelete}
	if c, ok := named[k]; ok {
		return tea.KeyPressMsg{Code: c}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// actExec runs cmd (and the commands of a batch) synchronously and
// returns the messages they produce. Spinner ticks are dropped: fed back
// they would tick forever.
func actExec(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	switch msg := cmd().(type) {
	case nil, spinner.TickMsg:
		return nil
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, actExec(c)...)
		}
		return out
	default:
		return []tea.Msg{msg}
	}
}

// actDrive passes msg to the root as the program would, then runs every
// command that follows to the end (commands run synchronously here).
func actDrive(t *testing.T, m *root, msg tea.Msg) {
	t.Helper()
	queue := []tea.Msg{msg}
	for i := 0; len(queue) > 0; i++ {
		if i > 100 {
			t.Fatal("commands do not settle")
		}
		_, cmd := m.Update(queue[0])
		queue = append(queue[1:], actExec(cmd)...)
	}
}

// actType presses each character of text.
func actType(t *testing.T, m *root, text string) {
	t.Helper()
	for _, r := range text {
		actDrive(t, m, actPress(string(r)))
	}
}

// actionRoot is a root with the apps and app screens under the action.
func actionRoot(t *testing.T, e *env, app, name string) (*root, Screen) {
	t.Helper()
	s := actionScreen(e, app, name)
	if s == nil {
		t.Fatalf("no %s action for %s", name, e.id.Name)
	}
	m := &root{e: e, stack: []Screen{placeholder{"apps"}, placeholder{app}, s}, width: 80, height: 24}
	for _, msg := range actExec(s.Init()) {
		actDrive(t, m, msg)
	}
	return m, s
}

// actFrame is the root's frame without styles.
func actFrame(m *root) string { return ansi.Strip(m.render()) }

// actGoldens writes or checks the frame of m at every size.
func actGoldens(t *testing.T, m *root, name string) {
	t.Helper()
	for _, sz := range sizes {
		m.width, m.height = sz.w, sz.h
		golden(t, fmt.Sprintf("%s-%dx%d", name, sz.w, sz.h), actFrame(m))
	}
	m.width, m.height = 80, 24
}

// actDeployedEnv is an admin's env with myapp deployed (web and worker).
func actDeployedEnv(t *testing.T) *env {
	t.Helper()
	e := realEnv(t, actAdmin, "myapp")
	realDeploy(t, e, "myapp", map[string]string{"Procfile": "web: run\nworker: run\n"})
	return e
}

// actBuildKinds is the kinds of myapp's builds, newest first.
func actBuildKinds(t *testing.T, e *env) string {
	t.Helper()
	out := mustRun(t, e, "builds:list", "myapp", "--format", "json")
	var kinds []string
	for _, part := range strings.Split(out, `"kind":"`)[1:] {
		kinds = append(kinds, part[:strings.IndexByte(part, '"')])
	}
	return strings.Join(kinds, " ")
}

func TestActionConfirm(t *testing.T) {
	tests := []struct {
		name, action string
		keys         []string
		ran          bool   // the command ran
		kinds        string // myapp's builds afterwards
		depth        int    // screens left on the stack
		want         string // in the frame
	}{
		{"y restarts", "restart", []string{"y"}, true, "ps:restart git-hook", 3, "done (exit 0)"},
		{"enter restarts", "restart", []string{"enter"}, true, "ps:restart git-hook", 3, "Application deployed"},
		{"n cancels", "restart", []string{"n"}, false, "git-hook", 2, ""},
		{"esc cancels", "restart", []string{"esc"}, false, "git-hook", 2, ""},
		{"other keys wait", "restart", []string{"x", "r"}, false, "git-hook", 3, "Restart myapp? y/enter to run"},
		{"rebuild", "rebuild", []string{"y"}, true, "ps:rebuild git-hook", 3, "done (exit 0)"},
		{"stop", "stop", []string{"y"}, true, "git-hook", 3, "Stopping myapp"},
		{"start a running app", "start", []string{"y"}, true, "git-hook", 3, "App myapp already running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := actDeployedEnv(t)
			m, _ := actionRoot(t, e, "myapp", tt.action)
			for _, k := range tt.keys {
				actDrive(t, m, actPress(k))
			}
			if got := actBuildKinds(t, e); got != tt.kinds {
				t.Errorf("builds: %q, want %q", got, tt.kinds)
			}
			if len(m.stack) != tt.depth {
				t.Fatalf("stack: %d screens, want %d", len(m.stack), tt.depth)
			}
			if f := actFrame(m); !strings.Contains(f, tt.want) {
				t.Errorf("frame lacks %q:\n%s", tt.want, f)
			}
			if s, ok := m.top().(*actionModel); ok && (s.phase == actionDone) != tt.ran {
				t.Errorf("ran: %v, want %v", s.phase == actionDone, tt.ran)
			}
		})
	}
}

func TestActionRestartGolden(t *testing.T) {
	e := actDeployedEnv(t)
	m, _ := actionRoot(t, e, "myapp", "restart")
	actGoldens(t, m, "action-confirm-restart")
	actDrive(t, m, actPress("y"))
	actGoldens(t, m, "action-restart-done")
	if got := mustRun(t, e, "ps:report", "myapp", "--running"); got != "true\n" {
		t.Errorf("running after restart: %q", got)
	}
	// Any key goes back to the app view.
	actDrive(t, m, actPress("x"))
	if len(m.stack) != 2 {
		t.Fatalf("after done, a key leaves %d screens", len(m.stack))
	}
}

func TestActionRunningHoldsTheScreen(t *testing.T) {
	e := actDeployedEnv(t)
	var sent []tea.Msg
	e.send = func(msg tea.Msg) { sent = append(sent, msg) }
	m, s := actionRoot(t, e, "myapp", "restart")
	_, cmd := m.Update(actPress("y")) // started, not yet run
	if !s.Capturing() {
		t.Fatal("a running action does not capture the keys")
	}
	for _, k := range []string{"q", "esc"} {
		m.Update(actPress(k))
		if len(m.stack) != 3 {
			t.Fatalf("%s abandons a running action", k)
		}
	}
	if f := actFrame(m); !strings.Contains(f, "running — wait for it to finish") || !strings.Contains(f, "running…") {
		t.Fatalf("running frame:\n%s", f)
	}
	msgs := actExec(cmd)
	// Five lines of output, one redraw notification: the program had not
	// taken it yet.
	if len(sent) != 1 || sent[0] != (actionOutMsg{s.(*actionModel)}) {
		t.Fatalf("notifications: %#v", sent)
	}
	actDrive(t, m, sent[0])
	if s.(*actionModel).out.pending {
		t.Fatal("a notification taken leaves the next one blocked")
	}
	for _, msg := range msgs {
		actDrive(t, m, msg)
	}
	if f := actFrame(m); !strings.Contains(f, "done (exit 0)") {
		t.Fatalf("after the run:\n%s", f)
	}
	actDrive(t, m, actPress("q"))
	if len(m.stack) != 2 {
		t.Fatalf("q after the run leaves %d screens", len(m.stack))
	}
}

func TestActionFailed(t *testing.T) {
	e := realEnv(t, actAdmin, "myapp")
	m, _ := actionRoot(t, e, "gone", "restart")
	actDrive(t, m, actPress("y"))
	f := actFrame(m)
	if !strings.Contains(f, "failed (exit 20)") || !strings.Contains(f, "App gone does not exist") {
		t.Fatalf("frame:\n%s", f)
	}
}

// actScaleJSON is myapp's ps:scale --format json.
func actScaleJSON(t *testing.T, e *env) string {
	t.Helper()
	return strings.TrimSpace(mustRun(t, e, "ps:scale", "myapp", "--format", "json"))
}

func TestActionScale(t *testing.T) {
	tests := []struct {
		name    string
		keys    []string
		paste   string
		want    string // in the frame
		scale   string // ps:scale --format json afterwards
		running bool
	}{
		{"web to 2", []string{"backspace", "2", "enter"}, "", "done (exit 0)",
			`[{"process_type":"web","quantity":2},{"process_type":"worker","quantity":0}]`, true},
		{"worker to 1", []string{"tab", "backspace", "1", "enter"}, "", "$ dokku ps:scale myapp worker=1",
			`[{"process_type":"web","quantity":1},{"process_type":"worker","quantity":1}]`, true},
		{"both, up wraps", []string{"backspace", "3", "up", "backspace", "2", "enter"}, "", "$ dokku ps:scale myapp web=3 worker=2",
			`[{"process_type":"web","quantity":3},{"process_type":"worker","quantity":2}]`, true},
		{"nothing changed", []string{"enter"}, "", "Nothing changed",
			`[{"process_type":"web","quantity":1},{"process_type":"worker","quantity":0}]`, false},
		{"letters are not typed", []string{"x", "-", "enter"}, "", "Nothing changed",
			`[{"process_type":"web","quantity":1},{"process_type":"worker","quantity":0}]`, false},
		{"empty", []string{"backspace", "enter"}, "", `web: "" is not a non-negative integer`,
			`[{"process_type":"web","quantity":1},{"process_type":"worker","quantity":0}]`, false},
		{"pasted non-number", []string{"backspace"}, "-2", `web: "-2" is not a non-negative integer`,
			`[{"process_type":"web","quantity":1},{"process_type":"worker","quantity":0}]`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := actDeployedEnv(t)
			// The null scheduler does not record the Procfile's types at
			// deploy, as docker-local does: set them as it would.
			mustRun(t, e, "ps:scale", "myapp", "--skip-deploy", "web=1", "worker=0")
			m, s := actionRoot(t, e, "myapp", "scale")
			if !s.Capturing() {
				t.Fatal("the scale form does not capture keys")
			}
			for _, k := range tt.keys {
				actDrive(t, m, actPress(k))
			}
			if tt.paste != "" {
				actDrive(t, m, tea.PasteMsg{Content: tt.paste})
				actDrive(t, m, actPress("enter"))
			}
			if f := actFrame(m); !strings.Contains(f, tt.want) {
				t.Errorf("frame lacks %q:\n%s", tt.want, f)
			}
			if got := actScaleJSON(t, e); got != tt.scale {
				t.Errorf("scale: %s, want %s", got, tt.scale)
			}
			if ran := s.(*actionModel).phase == actionDone; ran != tt.running {
				t.Errorf("ran: %v, want %v", ran, tt.running)
			}
		})
	}
}

func TestActionScaleGolden(t *testing.T) {
	e := actDeployedEnv(t)
	mustRun(t, e, "ps:scale", "myapp", "--skip-deploy", "web=1", "worker=0")
	m, _ := actionRoot(t, e, "myapp", "scale")
	actDrive(t, m, actPress("tab"))
	actDrive(t, m, actPress("backspace"))
	actDrive(t, m, actPress("2"))
	actGoldens(t, m, "action-scale-form")
	actDrive(t, m, actPress("esc"))
	if len(m.stack) != 2 || actScaleJSON(t, e) != `[{"process_type":"web","quantity":1},{"process_type":"worker","quantity":0}]` {
		t.Fatalf("esc: %d screens, scale %s", len(m.stack), actScaleJSON(t, e))
	}
}

func TestActionScaleNoTypes(t *testing.T) {
	e := realEnv(t, actAdmin, "myapp")
	m, _ := actionRoot(t, e, "myapp", "scale")
	actDrive(t, m, actPress("enter"))
	if f := actFrame(m); !strings.Contains(f, "lists no process type yet") {
		t.Fatalf("frame:\n%s", f)
	}
	m2, _ := actionRoot(t, e, "gone", "scale")
	if f := actFrame(m2); !strings.Contains(f, "App gone does not exist") || strings.Contains(f, " !  ") {
		t.Fatalf("frame:\n%s", f)
	}
}

func TestActionDestroy(t *testing.T) {
	tests := []struct {
		name   string
		typed  string
		paste  string
		exists bool
		depth  int
		want   string
	}{
		{"wrong name", "myap", "", true, 3, "Confirmation did not match"},
		{"another app's name", "other", "", true, 3, "Confirmation did not match"},
		{"empty", "", "", true, 3, "Confirmation did not match"},
		{"right name", "myapp", "", false, 3, "Destroying myapp"},
		{"pasted name", "", "myapp", false, 3, "done (exit 0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := realEnv(t, actAdmin, "myapp", "other")
			m, s := actionRoot(t, e, "myapp", "destroy")
			if !s.Capturing() {
				t.Fatal("the name field does not capture keys")
			}
			actType(t, m, tt.typed)
			if tt.paste != "" {
				actDrive(t, m, tea.PasteMsg{Content: tt.paste})
			}
			actDrive(t, m, actPress("enter"))
			r := (&backend{srv: e.b.srv, id: testRoot}).run(t.Context(), "apps:exists", "myapp")
			if (r.Code == 0) != tt.exists {
				t.Fatalf("exists: %v, want %v", r.Code == 0, tt.exists)
			}
			if len(m.stack) != tt.depth {
				t.Fatalf("stack: %d", len(m.stack))
			}
			if f := actFrame(m); !strings.Contains(f, tt.want) {
				t.Fatalf("frame lacks %q:\n%s", tt.want, f)
			}
			// After a destroy, the app view underneath is gone too.
			actDrive(t, m, actPress("x"))
			want := 3
			if !tt.exists {
				want = 1
			}
			if len(m.stack) != want {
				t.Fatalf("after a key: %d screens, want %d", len(m.stack), want)
			}
		})
	}
}

func TestActionDestroyGolden(t *testing.T) {
	e := realEnv(t, actAdmin, "myapp")
	m, _ := actionRoot(t, e, "myapp", "destroy")
	actGoldens(t, m, "action-destroy-prompt")
	actType(t, m, "myqpp")
	actDrive(t, m, actPress("enter"))
	actGoldens(t, m, "action-destroy-mismatch")
	actDrive(t, m, actPress("esc"))
	if len(m.stack) != 2 {
		t.Fatalf("esc leaves %d screens", len(m.stack))
	}
	mustRun(t, e, "apps:exists", "myapp")
}

func TestActionAllowed(t *testing.T) {
	dev := keys.Identity{Name: "dev"}
	e := realEnv(t, dev, "myapp")
	// No action's command is root-only today: a plain key gets every one.
	for name := range actionCommands {
		if actionScreen(e, "myapp", name) == nil {
			t.Errorf("%s: nil for a plain key", name)
		}
	}
	if actionScreen(e, "myapp", "frobnicate") != nil {
		t.Error("an unknown action has a screen")
	}
	// The gate is the dispatcher's: an action of a root-only command is
	// nil for a plain key, and there for an admin.
	actionCommands["addkey"] = "ssh-keys:add"
	t.Cleanup(func() { delete(actionCommands, "addkey") })
	if actionScreen(e, "myapp", "addkey") != nil {
		t.Error("a plain key gets an action of a root-only command")
	}
	if actionScreen(realEnv(t, actAdmin), "myapp", "addkey") == nil {
		t.Error("an admin key does not get an action of a root-only command")
	}
}

func TestActionOutputBounded(t *testing.T) {
	notes := 0
	o := &actionOutput{notify: func() { notes++ }}
	for i := range actionMaxLines + 500 {
		fmt.Fprintf(o, "line %d\r\n", i)
	}
	fmt.Fprint(o, "\x1b[1mhalf\rpartial")
	if notes != 1 {
		t.Errorf("%d notifications pending, want 1", notes)
	}
	o.seen()
	fmt.Fprint(o, "!")
	if notes != 2 {
		t.Errorf("no notification after seen")
	}
	for _, flushed := range []bool{false, true} {
		if flushed {
			o.flush()
		}
		lines, dropped := o.tail(3)
		if got := strings.Join(lines, "|"); got != "line 1499|partial!" || dropped != actionMaxLines+500-1 {
			t.Errorf("flushed %v: tail %q, dropped %d", flushed, got, dropped)
		}
	}
	if len(o.lines) != actionMaxLines {
		t.Errorf("kept %d lines", len(o.lines))
	}
	long := &actionOutput{notify: func() {}}
	long.Write([]byte(strings.Repeat("x", 3*actionMaxLineLen)))
	if len(long.partial) > actionMaxLineLen || len(long.lines) != 1 {
		t.Errorf("a line with no end: %d kept, %d partial", len(long.lines), len(long.partial))
	}
}

func TestActionWrapTail(t *testing.T) {
	tests := []struct {
		name string
		out  string
		w, n int
		want string
	}{
		{"fits", "a\nb\n", 10, 5, "a|b"},
		{"wraps", "abcdefghij klm\n", 10, 5, "abcdefghij|klm"},
		{"tail with a note", "1\n2\n3\n4\n5\n", 10, 3, "… 3 earlier lines|4|5"},
		{"a wrapped line goes whole", "1\n2\nabcdefghijkl\n", 10, 3, "… 2 earlier lines|abcdefghij|kl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &actionOutput{notify: func() {}}
			fmt.Fprint(o, tt.out)
			if got := strings.Join(actionWrapTail(o, tt.w, tt.n), "|"); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// The command streams from its own goroutine while the program draws, as
// in a session (run with -race).
func TestActionStreamsWhileDrawing(t *testing.T) {
	e := actDeployedEnv(t)
	notes := make(chan tea.Msg, 1)
	e.send = func(msg tea.Msg) { notes <- msg }
	m, _ := actionRoot(t, e, "myapp", "rebuild")
	_, cmd := m.Update(actPress("y"))
	done := make(chan []tea.Msg)
	go func() { done <- actExec(cmd) }()
	for {
		select {
		case msg := <-notes:
			actDrive(t, m, msg)
			actFrame(m)
		case msgs := <-done:
			for _, msg := range msgs {
				actDrive(t, m, msg)
			}
			if f := actFrame(m); !strings.Contains(f, "done (exit 0)") || !strings.Contains(f, "Application deployed") {
				t.Fatalf("frame:\n%s", f)
			}
			return
		}
	}
}
