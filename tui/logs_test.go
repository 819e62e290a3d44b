package tui

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"dokku-sshd/keys"
)

var logsAdmin = keys.Identity{Name: "admin", Admin: true}

// fakeLogs stands for the logs command: each start records its arguments
// and context, hands its writer to the test and follows until its context
// ends (or the test ends it with a status).
type fakeLogs struct {
	mu     sync.Mutex
	args   [][]string
	ctxs   []context.Context
	ws     []io.Writer
	exit   chan int
	closed chan struct{} // a start returned
}

func newFakeLogs() *fakeLogs {
	return &fakeLogs{exit: make(chan int, 1), closed: make(chan struct{}, 16)}
}

func (f *fakeLogs) start(ctx context.Context, w io.Writer, args []string) int {
	f.mu.Lock()
	f.args, f.ctxs, f.ws = append(f.args, args), append(f.ctxs, ctx), append(f.ws, w)
	f.mu.Unlock()
	defer func() { f.closed <- struct{}{} }()
	select {
	case <-ctx.Done():
		return 0
	case code := <-f.exit:
		return code
	}
}

// started waits for the n-th start (from 1) and returns its writer.
func (f *fakeLogs) started(t *testing.T, n int) io.Writer {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		if len(f.ws) >= n {
			w := f.ws[n-1]
			f.mu.Unlock()
			return w
		}
		f.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the follow was not started %d times", n)
	return nil
}

func (f *fakeLogs) starts() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.args)
}

func (f *fakeLogs) ctx(i int) context.Context {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ctxs[i]
}

func (f *fakeLogs) lastArgs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.args[len(f.args)-1]
}

// newTestLogs is a logs screen of app over e with a fake follow, started.
func newTestLogs(t *testing.T, e *env, app, proc string) (*logsScreen, *fakeLogs) {
	t.Helper()
	s := newLogsScreen(e, app, proc).(*logsScreen)
	f := newFakeLogs()
	s.start = f.start
	s.restart()
	t.Cleanup(s.Close)
	return s, f
}

// waitEnded waits for the follow's end line.
func waitEnded(t *testing.T, b *logBuffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b.mu.Lock()
		ended := b.ended
		b.mu.Unlock()
		if ended {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the follow did not end")
}

// logLine is a line as the docker-local scheduler prints it.
func logLine(i int, dyno, msg string) string {
	return fmt.Sprintf("\x1b[36m2026-05-01T10:00:%02d.000000000Z app[%s]:\x1b[0m %s\n", i%60, dyno, msg)
}

func logsPress(s Screen, keys ...string) {
	for _, k := range keys {
		var m tea.KeyPressMsg
		switch k {
		case "space":
			m = tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
		case "enter":
			m = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			m = tea.KeyPressMsg{Code: tea.KeyEscape}
		case "up":
			m = tea.KeyPressMsg{Code: tea.KeyUp}
		case "down":
			m = tea.KeyPressMsg{Code: tea.KeyDown}
		case "pgup":
			m = tea.KeyPressMsg{Code: tea.KeyPgUp}
		default:
			r := []rune(k)[0]
			m = tea.KeyPressMsg{Code: r, Text: k}
		}
		s.Update(m)
	}
}

// body is the screen's body at w x h, without styles.
func body(s Screen, w, h int) string { return ansi.Strip(s.View(w, h)) }

func TestLogsLinesInOrder(t *testing.T) {
	e := realEnv(t, logsAdmin, "myapp")
	s, f := newTestLogs(t, e, "myapp", "")
	w := f.started(t, 1)
	if got, want := f.lastArgs(), []string{"logs", "myapp", "-t"}; !slices.Equal(got, want) {
		t.Fatalf("args %q, want %q", got, want)
	}
	// Writes cut anywhere, colours and a CR as the scheduler and apps
	// print them.
	var all strings.Builder
	for i := range 12 {
		all.WriteString(logLine(i, "web.1", fmt.Sprintf("GET /items/%d 200 %dms", i, i*3)))
	}
	all.WriteString(logLine(12, "worker.1", "job done\r"))
	all.WriteString(logLine(13, "worker.1", "a long line: "+strings.Repeat("lorem ipsum ", 14)+"end"))
	data := all.String()
	for len(data) > 0 {
		n := min(37, len(data))
		w.Write([]byte(data[:n]))
		data = data[n:]
	}
	w.Write([]byte("\tpartial"))
	s.buf.mu.Lock()
	got := slices.Collect(func(yield func(string) bool) {
		for i := s.buf.lo(); i < s.buf.total; i++ {
			if !yield(s.buf.line(i)) {
				return
			}
		}
	})
	s.buf.mu.Unlock()
	if len(got) != 14 || got[0] != "2026-05-01T10:00:00.000000000Z app[web.1]: GET /items/0 200 0ms" ||
		got[12] != "2026-05-01T10:00:12.000000000Z app[worker.1]: job done" {
		t.Fatalf("lines: %q", got)
	}
	for i := range 12 {
		if !strings.Contains(got[i], fmt.Sprintf("/items/%d ", i)) {
			t.Fatalf("line %d out of order: %q", i, got[i])
		}
	}
	for _, sz := range sizes {
		golden(t, fmt.Sprintf("logs-following-%dx%d", sz.w, sz.h), screenAt(e, sz.w, sz.h, placeholder{"myapp"}, s))
	}
	// The partial line comes with the end.
	f.exit <- 0
	waitEnded(t, s.buf)
	if v := body(s, 80, 22); !strings.Contains(v, "        partial\n— stream ended (exit 0)") {
		t.Fatalf("end:\n%s", v)
	}
}

// blockingSend is a program that never takes a message.
func blockingSend(t *testing.T) func(tea.Msg) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	return func(tea.Msg) { <-stop }
}

func TestLogsSlowTerminalNeverBlocks(t *testing.T) {
	e := realEnv(t, logsAdmin, "myapp")
	e.send = blockingSend(t)
	s := newLogsScreen(e, "myapp", "").(*logsScreen)
	const lines = 200000
	done := make(chan int)
	s.start = func(ctx context.Context, w io.Writer, args []string) int {
		for i := range lines {
			if _, err := w.Write([]byte(logLine(i, "web.1", fmt.Sprintf("request %d", i)))); err != nil {
				return 2
			}
		}
		done <- 0
		return 0
	}
	s.restart()
	t.Cleanup(s.Close)
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the stream blocked on a program that does not read")
	}
	waitEnded(t, s.buf)
	s.buf.mu.Lock()
	n, first, bytes := s.buf.n, s.buf.first(), s.buf.bytes
	s.buf.mu.Unlock()
	if n != logMaxLines || first != lines+1-logMaxLines || bytes > logMaxBytes {
		t.Fatalf("kept %d lines (%d bytes) from %d", n, bytes, first)
	}
	if v := body(s, 80, 22); !strings.Contains(strings.Split(v, "\n")[0], fmt.Sprintf("… %d lines dropped", first)) ||
		!strings.Contains(v, "request 199999\n— stream ended (exit 0)") {
		t.Fatalf("following view:\n%s", v)
	}
	// The oldest kept lines, under the marker.
	logsPress(s, "g")
	for _, sz := range sizes {
		golden(t, fmt.Sprintf("logs-dropped-%dx%d", sz.w, sz.h), screenAt(e, sz.w, sz.h, placeholder{"myapp"}, s))
	}
	if v := body(s, 80, 22); !strings.Contains(v, "\n… 190001 lines dropped\n2026-05-01T10:00:41.000000000Z app[web.1]: request 190001\n") {
		t.Fatalf("top:\n%s", v)
	}
}

func TestLogsRedrawIsAskedOnce(t *testing.T) {
	e := realEnv(t, logsAdmin, "myapp")
	ticks := make(chan tea.Msg, 100)
	e.send = func(m tea.Msg) { ticks <- m }
	s, f := newTestLogs(t, e, "myapp", "")
	w := f.started(t, 1)
	for i := range 50 {
		w.Write([]byte(logLine(i, "web.1", "x")))
	}
	m := <-ticks
	select {
	case m2 := <-ticks:
		t.Fatalf("a second redraw before the first was seen: %v", m2)
	case <-time.After(5 * logRedrawDelay):
	}
	s.Update(m)
	w.Write([]byte(logLine(51, "web.1", "y")))
	select {
	case <-ticks:
	case <-time.After(10 * time.Second):
		t.Fatal("no redraw for a line after the first was seen")
	}
}

func TestLogsPauseAndScroll(t *testing.T) {
	e := realEnv(t, logsAdmin, "myapp")
	s, f := newTestLogs(t, e, "myapp", "")
	w := f.started(t, 1)
	write := func(from, to int) {
		for i := from; i < to; i++ {
			w.Write([]byte(logLine(i, "web.1", fmt.Sprintf("line %d", i))))
		}
	}
	write(0, 40)
	const W, H = 80, 22
	before := body(s, W, H)
	logsPress(s, "space")
	write(40, 45)
	paused := body(s, W, H)
	if !strings.Contains(paused, "PAUSED (5 new)") {
		t.Fatalf("paused:\n%s", paused)
	}
	// The lines are those shown before the pause.
	if strings.SplitN(paused, "\n", 2)[1] != strings.SplitN(before, "\n", 2)[1] {
		t.Fatalf("the view moved while paused:\n%s\n---\n%s", before, paused)
	}
	for _, sz := range sizes {
		golden(t, fmt.Sprintf("logs-paused-%dx%d", sz.w, sz.h), screenAt(e, sz.w, sz.h, placeholder{"myapp"}, s))
	}
	logsPress(s, "space")
	if v := body(s, W, H); !strings.Contains(v, "following") || !strings.HasSuffix(strings.TrimRight(v, " \n"), "line 44") {
		t.Fatalf("resumed:\n%s", v)
	}

	// Scrolling up holds the view; G follows again.
	logsPress(s, "up", "up")
	write(45, 47)
	v := body(s, W, H)
	if !strings.Contains(v, "PAUSED (4 new)") || !strings.HasSuffix(strings.TrimRight(v, " \n"), "line 42") {
		t.Fatalf("scrolled up:\n%s", v)
	}
	logsPress(s, "down")
	if v := body(s, W, H); !strings.Contains(v, "PAUSED (3 new)") {
		t.Fatalf("scrolled down:\n%s", v)
	}
	logsPress(s, "pgup", "pgup", "pgup")
	if v := body(s, W, H); !strings.Contains(strings.Split(v, "\n")[1], "line 0") {
		t.Fatalf("at the top:\n%s", v)
	}
	logsPress(s, "G")
	if v := body(s, W, H); !strings.Contains(v, "following") || !strings.HasSuffix(strings.TrimRight(v, " \n"), "line 46") {
		t.Fatalf("G:\n%s", v)
	}
}

func TestLogsSearch(t *testing.T) {
	e := realEnv(t, logsAdmin, "myapp")
	s, f := newTestLogs(t, e, "myapp", "")
	w := f.started(t, 1)
	for i := range 60 {
		msg := fmt.Sprintf("GET /items/%d 200", i)
		if i%10 == 3 {
			msg = fmt.Sprintf("ERROR item %d failed", i)
		}
		w.Write([]byte(logLine(i, "web.1", msg)))
	}
	const W, H = 80, 22
	logsPress(s, "/")
	if !s.Capturing() {
		t.Fatal("not capturing while typing a search")
	}
	logsPress(s, "e", "r", "r", "o", "r")
	for _, sz := range sizes {
		golden(t, fmt.Sprintf("logs-search-typing-%dx%d", sz.w, sz.h), screenAt(e, sz.w, sz.h, placeholder{"myapp"}, s))
	}
	logsPress(s, "enter")
	if s.typing || s.query != "error" {
		t.Fatalf("after enter: typing %v, query %q", s.typing, s.query)
	}
	// Found from the bottom up: the newest match first.
	steps := []struct {
		key, line, found string
	}{
		{"", "ERROR item 53 failed", "6/6"},
		{"N", "ERROR item 43 failed", "5/6"},
		{"N", "ERROR item 33 failed", "4/6"},
		{"n", "ERROR item 43 failed", "5/6"},
		{"n", "ERROR item 53 failed", "6/6"},
		{"n", "ERROR item 3 failed", "1/6"}, // wraps around
	}
	for _, st := range steps {
		if st.key != "" {
			logsPress(s, st.key)
		}
		s.buf.mu.Lock()
		line := s.buf.line(s.match)
		s.buf.mu.Unlock()
		if !strings.HasSuffix(line, st.line) || s.found != st.found || s.follow {
			t.Fatalf("%q: match %q (%s), follow %v", st.key, line, s.found, s.follow)
		}
		if v := body(s, W, H); !strings.Contains(v, st.line) || !strings.Contains(v, "search \"error\": "+st.found) {
			t.Fatalf("%q: the match is not in view:\n%s", st.key, v)
		}
	}
	// Matches are in reverse video, case aside.
	if v := s.View(W, H); !strings.Contains(v, "\x1b[7mERROR\x1b[m") && !strings.Contains(v, "\x1b[7mERROR") {
		t.Fatalf("no highlight:\n%q", v)
	}
	logsPress(s, "N", "N")
	for _, sz := range sizes {
		golden(t, fmt.Sprintf("logs-search-%dx%d", sz.w, sz.h), screenAt(e, sz.w, sz.h, placeholder{"myapp"}, s))
	}
	// esc clears the search and leaves the screen in place.
	if !s.Capturing() {
		t.Fatal("esc would leave the screen instead of clearing the search")
	}
	// ? still lists the keys; any key closes the list.
	logsPress(s, "?")
	if v := body(s, W, H); !strings.Contains(v, "n/N") || !strings.Contains(v, "ctrl+c") {
		t.Fatalf("? with a search:\n%s", v)
	}
	logsPress(s, "x")
	if v := body(s, W, H); !strings.Contains(v, "ERROR item 33") || s.query != "error" {
		t.Fatalf("after the keys:\n%s", v)
	}
	logsPress(s, "esc")
	if s.query != "" || s.Capturing() || strings.Contains(s.View(W, H), "\x1b[7m") {
		t.Fatalf("esc did not clear the search: %q", s.query)
	}
	// A search with no match says so.
	logsPress(s, "/", "z", "z", "z", "enter")
	if s.found != "no match" || !strings.Contains(body(s, W, H), `search "zzz": no match`) {
		t.Fatalf("no match: %q", s.found)
	}
	// esc while typing drops the search.
	logsPress(s, "/", "x", "esc")
	if s.typing || s.query != "" {
		t.Fatalf("esc while typing: typing %v, query %q", s.typing, s.query)
	}
}

func TestLogsProcessFilter(t *testing.T) {
	e := realEnv(t, logsAdmin, "myapp")
	realDeploy(t, e, "myapp", map[string]string{"Procfile": "web: run\nworker: run\n"})
	mustRun(t, e, "ps:scale", "--skip-deploy", "myapp", "web=2", "worker=1")
	s := newLogsScreen(e, "myapp", "").(*logsScreen)
	f := newFakeLogs()
	s.start = f.start
	t.Cleanup(s.Close)
	cmd := s.Init()
	f.started(t, 1)
	logsPress(s, "p")
	if f.starts() != 1 || s.status != "process types: loading…" {
		t.Fatalf("p before the types are known: %d starts, status %q", f.starts(), s.status)
	}
	s.Update(cmd())
	if !slices.Equal(s.types, []string{"web", "worker"}) {
		t.Fatalf("types %q (%s)", s.types, s.typesErr)
	}
	steps := []struct {
		title string
		args  []string
	}{
		{"logs web", []string{"logs", "myapp", "-t", "-p", "web"}},
		{"logs worker", []string{"logs", "myapp", "-t", "-p", "worker"}},
		{"logs", []string{"logs", "myapp", "-t"}},
	}
	for i, st := range steps {
		prev := f.ctx(f.starts() - 1)
		logsPress(s, "p")
		f.started(t, i+2)
		if got := f.lastArgs(); !slices.Equal(got, st.args) || s.Title() != st.title {
			t.Fatalf("p #%d: args %q, title %q", i+1, got, s.Title())
		}
		if prev.Err() == nil {
			t.Fatalf("p #%d: the previous follow goes on", i+1)
		}
	}
	// A dyno asked for is one of the choices.
	d := newLogsScreen(e, "myapp", "web.1").(*logsScreen)
	df := newFakeLogs()
	d.start = df.start
	t.Cleanup(d.Close)
	d.Update(d.Init()())
	df.started(t, 1)
	if got := df.lastArgs(); !slices.Equal(got, []string{"logs", "myapp", "-t", "-p", "web.1"}) {
		t.Fatalf("dyno: %q", got)
	}
	logsPress(d, "p")
	df.started(t, 2)
	if got := df.lastArgs(); !slices.Equal(got, []string{"logs", "myapp", "-t", "-p", "web"}) || d.Title() != "logs web" {
		t.Fatalf("after a dyno: %q", got)
	}
}

func TestLogsCloseEndsTheFollow(t *testing.T) {
	e := realEnv(t, logsAdmin, "myapp")
	s, f := newTestLogs(t, e, "myapp", "web")
	f.started(t, 1)
	m := &root{e: e, stack: []Screen{placeholder{"myapp"}, s}, width: 80, height: 24}
	// With a search shown, q still goes back.
	s.query = "x"
	_, cmd := m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"})
	if cmd == nil {
		t.Fatal("q does nothing")
	}
	m.Update(cmd())
	if len(m.stack) != 1 {
		t.Fatalf("q: %d screens", len(m.stack))
	}
	select {
	case <-f.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("leaving the screen does not end the follow")
	}
	if f.ctx(0).Err() == nil {
		t.Fatal("the follow's context goes on")
	}
}

// The real logs command on the null scheduler fails: the screen says why.
func TestLogsRealCommandEnded(t *testing.T) {
	e := realEnv(t, logsAdmin, "myapp")
	realDeploy(t, e, "myapp", map[string]string{"Procfile": "web: run\n"})
	s := newLogsScreen(e, "myapp", "").(*logsScreen)
	t.Cleanup(s.Close)
	s.Update(s.Init()())
	waitEnded(t, s.buf)
	v := body(s, 200, 22)
	if !strings.Contains(v, "— stream ended (exit 1): App myapp runs on the null scheduler, which keeps no logs") {
		t.Fatalf("ended:\n%s", v)
	}
	for _, sz := range sizes {
		golden(t, fmt.Sprintf("logs-ended-%dx%d", sz.w, sz.h), screenAt(e, sz.w, sz.h, placeholder{"myapp"}, s))
	}
}

func TestCleanLogLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain", "plain"},
		{"\x1b[31mred\x1b[0m text", "red text"},
		{"a\tb", "a       b"},
		{"12345678\tx", "12345678        x"},
		{"progress 10%\rprogress 100%", "progress 100%"},
		{"crlf\r", "crlf"},
		{"\x1b]0;title\x07after", "after"},
		{"\x1b[2J\x1b[Hclear", "clear"},
		{"bell\x07 bs\x08", "bell bs"},
		{"bad \xff utf8", "bad  utf8"},
		{"héllo 世界", "héllo 世界"},
	} {
		if got := plainLine(c.in); got != c.want {
			t.Errorf("plainLine(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestLogBufferCutsLongLines(t *testing.T) {
	b := newLogBuffer(func(*logBuffer) {})
	b.Write([]byte(strings.Repeat("x", 3*logMaxLine)))
	b.Write([]byte(strings.Repeat("y", logMaxLine) + "\nnext\n"))
	if b.n != 2 || b.line(0) != strings.Repeat("x", logMaxLine)+"…" || b.line(1) != "next" {
		t.Fatalf("%d lines: %.20q… %q", b.n, b.line(0), b.line(1))
	}
	// Past the byte bound the oldest lines go even below the line count.
	long := strings.Repeat("z", logMaxLine-1) + "\n"
	for range logMaxBytes/logMaxLine + 10 {
		b.Write([]byte(long))
	}
	if b.bytes > logMaxBytes || b.n >= logMaxLines || b.first() == 0 {
		t.Fatalf("%d lines, %d bytes, first %d", b.n, b.bytes, b.first())
	}
}

func TestLogsDrawsBeforeInit(t *testing.T) {
	s := newLogsScreen(testEnv(t, logsAdmin), "myapp", "web")
	if v := body(s, 80, 22); !strings.HasPrefix(v, "process: web · following") || s.Title() != "logs web" {
		t.Fatalf("%q: %s", s.Title(), v)
	}
}

func TestLogsFitsEverySize(t *testing.T) {
	e := realEnv(t, logsAdmin, "myapp")
	s, f := newTestLogs(t, e, "a-rather-long-application-name", "worker")
	w := f.started(t, 1)
	for i := range 30 {
		w.Write([]byte(logLine(i, "worker.1", strings.Repeat("wide 世界 ", i))))
	}
	logsPress(s, "/", "w")
	for _, sz := range []struct{ w, h int }{{20, 5}, {33, 7}, {80, 24}, {200, 60}} {
		lines := strings.Split(s.View(sz.w, sz.h-2), "\n")
		if len(lines) > sz.h-2 {
			t.Fatalf("%dx%d: %d lines", sz.w, sz.h, len(lines))
		}
		for _, l := range lines {
			if ansi.StringWidth(l) > sz.w {
				t.Fatalf("%dx%d: line of %d cells: %q", sz.w, sz.h, ansi.StringWidth(l), l)
			}
		}
	}
}
