package tui

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

// Bounds of one log follow: what a session keeps of an app's logs stays
// below them however fast the app writes and however slow the client
// reads.
const (
	logMaxLines = 10000
	logMaxBytes = 4 << 20
	// logMaxLine is what is kept of one line; the rest is cut.
	logMaxLine = 2048
	// logRedrawDelay gathers the lines of a burst into one redraw.
	logRedrawDelay = 30 * time.Millisecond
)

// logBuffer is one follow's lines: the command writes into it from its own
// goroutine and the screen reads it when it draws. Writing never waits for
// the screen: lines go into a bounded ring (the oldest go first) and the
// program is told at most once until it has looked.
type logBuffer struct {
	mu    sync.Mutex
	lines []string // ring of logMaxLines
	start int      // index in lines of the oldest line kept
	n     int      // lines kept
	total int      // lines ever added: the absolute index of the next one
	bytes int      // bytes kept

	rest []byte // the line being written
	cut  bool   // rest reached logMaxLine: the line's remainder is dropped

	errLine string // the last error the command printed (" !     ...")
	ended   bool
	endAt   int // absolute index of the "stream ended" line

	pending atomic.Bool // a redraw was asked for and not yet seen
	notify  func()      // asks the program for a redraw
}

func newLogBuffer(notify func(*logBuffer)) *logBuffer {
	b := &logBuffer{lines: make([]string, logMaxLines)}
	b.notify = func() { notify(b) }
	return b
}

// Write splits p into lines. It never blocks on the screen and never
// fails: a failed write would stop the app's log stream.
func (b *logBuffer) Write(p []byte) (int, error) {
	n := len(p)
	b.mu.Lock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if !b.cut {
			if room := logMaxLine - len(b.rest); len(chunk) > room {
				b.rest, b.cut = append(b.rest, chunk[:room]...), true
			} else {
				b.rest = append(b.rest, chunk...)
			}
		}
		if i < 0 {
			break
		}
		b.flushLine()
		p = p[i+1:]
	}
	b.mu.Unlock()
	b.signal()
	return n, nil
}

// flushLine adds the line being written. b.mu is held.
func (b *logBuffer) flushLine() {
	line := plainLine(string(b.rest))
	if b.cut {
		line += "…"
	}
	b.rest, b.cut = b.rest[:0], false
	if msg, ok := strings.CutPrefix(line, " !"); ok {
		b.errLine = strings.TrimSpace(msg)
	}
	b.push(line)
}

// push adds a line, dropping the oldest ones past the bounds. b.mu is
// held.
func (b *logBuffer) push(s string) {
	if b.n == len(b.lines) {
		b.dropOldest()
	}
	b.lines[(b.start+b.n)%len(b.lines)] = s
	b.n++
	b.total++
	b.bytes += len(s)
	for b.bytes > logMaxBytes && b.n > 1 {
		b.dropOldest()
	}
}

func (b *logBuffer) dropOldest() {
	b.bytes -= len(b.lines[b.start])
	b.lines[b.start] = ""
	b.start = (b.start + 1) % len(b.lines)
	b.n--
}

// first is the absolute index of the oldest line kept; it is also how many
// lines were dropped.
func (b *logBuffer) first() int { return b.total - b.n }

// lo is the first index the screen shows: the "lines dropped" marker
// stands just before the oldest line once some were dropped.
func (b *logBuffer) lo() int { return max(b.first()-1, 0) }

// line is the line at absolute index i (lo <= i < total), the marker for
// first-1. b.mu is held.
func (b *logBuffer) line(i int) string {
	f := b.first()
	if i < f {
		return fmt.Sprintf("… %d lines dropped", f)
	}
	return b.lines[(b.start+i-f)%len(b.lines)]
}

// finish records the command's end as a last line, with the error it
// printed, so that a follow that fails says why.
func (b *logBuffer) finish(code int) {
	b.mu.Lock()
	if len(b.rest) > 0 || b.cut {
		b.flushLine()
	}
	end := fmt.Sprintf("— stream ended (exit %d)", code)
	if b.errLine != "" {
		end += ": " + b.errLine
	}
	b.ended, b.endAt = true, b.total
	b.push(end)
	b.mu.Unlock()
	b.signal()
}

// signal asks for a redraw unless one is pending; the program's answer
// (a logsTickMsg) clears the flag. The message is sent from a timer's own
// goroutine: the program may be busy (another command, an enter) and the
// writer must not wait for it.
func (b *logBuffer) signal() {
	if b.pending.CompareAndSwap(false, true) {
		time.AfterFunc(logRedrawDelay, b.notify)
	}
}

// logsTickMsg tells the screen following b that lines arrived.
type logsTickMsg struct{ b *logBuffer }

// logsTypesMsg is the app's process types, from ps:scale.
type logsTypesMsg struct {
	s     *logsScreen
	types []string
	err   string
}

// Keys of the logs screen.
var (
	logsKeyProc   = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "process"))
	logsKeyPause  = key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "pause"))
	logsKeyUp     = key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑↓", "scroll"))
	logsKeyDown   = key.NewBinding(key.WithKeys("down", "j"))
	logsKeyPgUp   = key.NewBinding(key.WithKeys("pgup", "b"))
	logsKeyPgDown = key.NewBinding(key.WithKeys("pgdown", "f"))
	logsKeyTop    = key.NewBinding(key.WithKeys("home", "g"))
	logsKeyFollow = key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "follow"))
	logsKeySearch = key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "search"))
	logsKeyNext   = key.NewBinding(key.WithKeys("n"), key.WithHelp("n/N", "match"))
	logsKeyPrev   = key.NewBinding(key.WithKeys("N"))
	logsKeyClear  = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear"))
	logsKeyBack   = key.NewBinding(key.WithKeys("q"))
	logsKeyHelp   = key.NewBinding(key.WithKeys("?"))
	logsKeyFind   = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "find"))
	logsKeyCancel = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))
)

// logsScreen follows an app's logs (`logs APP -t [-p PROCESS]`).
type logsScreen struct {
	e    *env
	app  string
	proc string // "" for every process
	// start runs the follow, writing to w until ctx ends; the logs command
	// by default (tests put a source of their own).
	start func(ctx context.Context, w io.Writer, args []string) int

	buf    *logBuffer
	cancel context.CancelFunc

	types    []string // from ps:scale; nil until known
	typesErr string

	// follow keeps the newest line at the bottom; otherwise the view is
	// held with bottom (an absolute line index, exclusive) as its last
	// line and new lines only counted.
	follow bool
	bottom int
	// The log area's size at the last draw, for paging.
	pageW, pageH int

	search textinput.Model
	typing bool
	// keys is the `?` list, drawn here while a search has the keys (the
	// root's own needs them).
	keys   bool
	query  string
	match  int // absolute index of the current match; -1 none
	found  string
	status string
}

// newLogsScreen follows app's logs, of one process type or dyno when
// process is not "".
func newLogsScreen(e *env, app, process string) Screen {
	ti := textinput.New()
	ti.Prompt = "/"
	ti.Placeholder = "search"
	// ctrl+v would read the server's clipboard; a client's paste arrives
	// as a PasteMsg.
	ti.KeyMap.Paste.SetEnabled(false)
	// An empty buffer until Init starts the follow, so that the screen
	// draws before.
	s := &logsScreen{e: e, app: app, proc: process, buf: newLogBuffer(func(*logBuffer) {}), search: ti,
		follow: true, match: -1, pageW: 80, pageH: 20}
	s.start = func(ctx context.Context, w io.Writer, args []string) int { return e.b.stream(ctx, w, args...) }
	return s
}

func (s *logsScreen) Init() tea.Cmd {
	s.restart()
	e, app := s.e, s.app
	return func() tea.Msg {
		r := e.b.run(e.ctx, "ps:scale", app, "--format", "json")
		if r.Code != 0 {
			msg := enterMessage(r.Stderr)
			if msg == "" {
				msg = fmt.Sprintf("ps:scale failed (exit %d)", r.Code)
			}
			return logsTypesMsg{s: s, err: msg}
		}
		var scale []struct {
			ProcessType string `json:"process_type"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &scale); err != nil {
			return logsTypesMsg{s: s, err: "ps:scale printed no process types"}
		}
		types := []string{}
		for _, p := range scale {
			types = append(types, p.ProcessType)
		}
		return logsTypesMsg{s: s, types: types}
	}
}

// restart (re)starts the follow with the current process filter, in a
// context of its own that Close and the next restart cancel.
func (s *logsScreen) restart() {
	if s.cancel != nil {
		s.cancel()
	}
	ctx, cancel := context.WithCancel(s.e.ctx)
	send := s.e.send
	b := newLogBuffer(func(b *logBuffer) { send(logsTickMsg{b}) })
	s.buf, s.cancel = b, cancel
	s.follow, s.match, s.found = true, -1, ""
	args := []string{"logs", s.app, "-t"}
	if s.proc != "" {
		args = append(args, "-p", s.proc)
	}
	start := s.start
	go func() {
		code := 1
		defer func() {
			if r := recover(); r != nil {
				b.mu.Lock()
				b.errLine = "internal error"
				b.mu.Unlock()
			}
			b.finish(code)
		}()
		code = start(ctx, b, args)
	}()
}

// Close ends the follow (the docker logs stream) when the screen leaves.
func (s *logsScreen) Close() {
	if s.cancel != nil {
		s.cancel()
	}
}

func (s *logsScreen) Title() string {
	if s.proc == "" {
		return "logs"
	}
	return "logs " + s.proc
}

func (s *logsScreen) Capturing() bool { return s.typing || s.query != "" }

func (s *logsScreen) Keys() []key.Binding {
	if s.typing {
		return []key.Binding{logsKeyFind, logsKeyCancel}
	}
	if s.query != "" {
		return []key.Binding{logsKeyNext, logsKeyClear, logsKeyPause, logsKeyUp, logsKeySearch}
	}
	return []key.Binding{logsKeyPause, logsKeyUp, logsKeyFollow, logsKeyProc, logsKeySearch}
}

func (s *logsScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case logsTickMsg:
		// Cleared before the draw that follows this update reads the
		// buffer: a line added after it asks again.
		if msg.b == s.buf {
			msg.b.pending.Store(false)
		}
		return s, nil
	case logsTypesMsg:
		if msg.s == s {
			s.types, s.typesErr = msg.types, msg.err
		}
		return s, nil
	case tea.KeyPressMsg:
		return s, s.key(msg)
	}
	if s.typing { // paste, cursor blink
		var cmd tea.Cmd
		s.search, cmd = s.search.Update(msg)
		return s, cmd
	}
	return s, nil
}

func (s *logsScreen) key(msg tea.KeyPressMsg) tea.Cmd {
	s.status = ""
	if s.keys {
		s.keys = false
		return nil
	}
	if s.typing {
		switch {
		case key.Matches(msg, logsKeyFind):
			s.typing = false
			s.search.Blur()
			s.query = s.search.Value()
			if s.query != "" {
				s.find(-1, true)
			}
			return nil
		case key.Matches(msg, logsKeyCancel):
			s.typing = false
			s.search.Blur()
			s.clearSearch()
			return nil
		}
		var cmd tea.Cmd
		s.search, cmd = s.search.Update(msg)
		return cmd
	}
	switch {
	// q, ? and esc reach the screen while a search is shown (Capturing):
	// esc clears it, q still goes back, ? still lists the keys.
	case key.Matches(msg, logsKeyClear):
		s.clearSearch()
	case key.Matches(msg, logsKeyBack):
		return s.e.pop()
	case key.Matches(msg, logsKeyHelp):
		s.keys = true
	case key.Matches(msg, logsKeyPause):
		if s.follow {
			s.hold()
		} else {
			s.follow = true
		}
	case key.Matches(msg, logsKeyUp):
		s.scroll(-1)
	case key.Matches(msg, logsKeyDown):
		s.scroll(1)
	case key.Matches(msg, logsKeyPgUp):
		s.scroll(-max(s.pageH-1, 1))
	case key.Matches(msg, logsKeyPgDown):
		s.scroll(max(s.pageH-1, 1))
	case key.Matches(msg, logsKeyTop):
		s.hold()
		s.scroll(-s.bottom)
	case key.Matches(msg, logsKeyFollow):
		s.follow = true
	case key.Matches(msg, logsKeyProc):
		s.nextProcess()
	case key.Matches(msg, logsKeySearch):
		s.typing = true
		s.search.SetValue("")
		return s.search.Focus()
	case key.Matches(msg, logsKeyNext) && s.query != "":
		s.find(1, false)
	case key.Matches(msg, logsKeyPrev) && s.query != "":
		s.find(-1, false)
	}
	return nil
}

func (s *logsScreen) clearSearch() { s.query, s.match, s.found = "", -1, "" }

// hold stops following, keeping the view where it is.
func (s *logsScreen) hold() {
	if s.follow {
		s.buf.mu.Lock()
		s.bottom = s.buf.total
		s.buf.mu.Unlock()
		s.follow = false
	}
}

// scroll moves the view by n lines (up when negative); moving up stops
// following.
func (s *logsScreen) scroll(n int) {
	if s.follow && n > 0 {
		return
	}
	s.hold()
	b := s.buf
	b.mu.Lock()
	defer b.mu.Unlock()
	s.bottom = min(max(s.bottom+n, s.minBottom()), b.total)
}

// minBottom is the lowest bottom that still fills the view from the
// oldest line. s.buf.mu is held.
func (s *logsScreen) minBottom() int {
	b := s.buf
	rows, i := 0, b.lo()
	for ; i < b.total; i++ {
		r := len(wrapLogLine(b.line(i), s.pageW))
		if rows+r > s.pageH && rows > 0 {
			break
		}
		rows += r
	}
	return i
}

// nextProcess restarts the follow with the next process filter: all, then
// each type ps:scale lists.
func (s *logsScreen) nextProcess() {
	if s.types == nil && s.typesErr == "" {
		s.status = "process types: loading…"
		return
	}
	opts := append([]string{""}, s.types...)
	if !slices.Contains(opts, s.proc) { // a dyno (web.1) asked for
		opts = slices.Insert(opts, 1, s.proc)
	}
	next := opts[(slices.Index(opts, s.proc)+1)%len(opts)]
	if next == s.proc {
		s.status = "no other process type"
		if s.typesErr != "" {
			s.status = s.typesErr
		}
		return
	}
	s.proc = next
	s.restart()
}

// find moves to the next match in direction dir (1: newer, -1: older)
// from the current match or, with fromView, from the view's bottom (the
// first line looked at is from+dir: with dir -1, the bottom line itself).
// It wraps around.
func (s *logsScreen) find(dir int, fromView bool) {
	b := s.buf
	b.mu.Lock()
	defer b.mu.Unlock()
	lo, total := b.lo(), b.total
	if total == lo {
		s.match, s.found = -1, "no match"
		return
	}
	from := s.match
	if fromView || from < lo || from >= total {
		from = total
		if !s.follow {
			from = min(s.bottom, total)
		}
	}
	n := total - lo
	at := -1
	for k := 1; k <= n; k++ {
		i := lo + ((from-lo+dir*k)%n+n)%n
		if logLineMatches(b.line(i), s.query) {
			at = i
			break
		}
	}
	if at < 0 {
		s.match, s.found = -1, "no match"
		return
	}
	count, ord := 0, 0
	for i := lo; i < total; i++ {
		if logLineMatches(b.line(i), s.query) {
			count++
			if i == at {
				ord = count
			}
		}
	}
	s.match, s.found = at, fmt.Sprintf("%d/%d", ord, count)
	// Hold the view with the match about the middle.
	s.follow = false
	s.bottom = min(max(at+1+s.pageH/2, s.minBottom()), total)
}

// logLineMatches reports whether line holds q: without regard to case
// unless q has a capital (smart case).
func logLineMatches(line, q string) bool {
	if q == strings.ToLower(q) {
		line = strings.ToLower(line)
	}
	return strings.Contains(line, q)
}

// wrapLogLine cuts a (plain) line into rows of w cells.
func wrapLogLine(line string, w int) []string {
	if line == "" || ansi.StringWidth(line) <= w {
		return []string{line}
	}
	return strings.Split(ansi.Hardwrap(line, max(w, 1), true), "\n")
}

func (s *logsScreen) View(w, h int) string {
	if s.keys {
		// The root's list, as drawn over this screen (never the first:
		// q goes back).
		return (&root{e: s.e, stack: []Screen{s, s}}).helpView(w, h)
	}
	logH := h - 1
	if s.typing {
		logH--
	}
	s.pageW, s.pageH = w, max(logH, 1)
	b := s.buf
	b.mu.Lock()
	lo, total := b.lo(), b.total
	bottom := total
	if !s.follow {
		// Clamped for this size only: a resize back finds the view as it
		// was.
		bottom = min(max(s.bottom, s.minBottom()), total)
	}
	// From the bottom line up, until the area is full.
	var blocks [][]string
	rows := 0
	for i := bottom - 1; i >= lo && rows < logH; i-- {
		r := s.styleRows(i, wrapLogLine(b.line(i), w), b)
		blocks = append(blocks, r)
		rows += len(r)
	}
	header := s.header(b, bottom)
	b.mu.Unlock()

	var out []string
	for i := len(blocks) - 1; i >= 0; i-- {
		out = append(out, blocks[i]...)
	}
	if len(out) > logH { // the top line only partly fits
		out = out[len(out)-logH:]
	}
	for len(out) < logH {
		out = append(out, "")
	}
	lines := append([]string{truncate(header, w)}, out...)
	if s.typing {
		s.search.SetWidth(max(w-2, 1))
		lines = append(lines, s.search.View())
	}
	return strings.Join(lines, "\n")
}

// header is the line above the logs: the filter, following or paused,
// dropped lines, the search. b.mu is held.
func (s *logsScreen) header(b *logBuffer, bottom int) string {
	st := s.e.st
	proc := s.proc
	if proc == "" {
		proc = "all"
	}
	parts := []string{"process: " + st.heading.Render(proc)}
	switch {
	case !s.follow:
		parts = append(parts, st.warn.Render(fmt.Sprintf("PAUSED (%d new)", b.total-bottom)))
	case b.ended:
		parts = append(parts, st.bad.Render("ENDED"))
	default:
		parts = append(parts, st.ok.Render("following"))
	}
	if f := b.first(); f > 0 {
		parts = append(parts, st.warn.Render(fmt.Sprintf("… %d lines dropped", f)))
	}
	if s.query != "" {
		found := s.found
		if found == "" {
			found = "n/N to find"
		}
		parts = append(parts, fmt.Sprintf("search %q: %s", s.query, found))
	}
	if s.status != "" {
		parts = append(parts, st.dim.Render(s.status))
	}
	return strings.Join(parts, " · ")
}

// styleRows styles the rows of line i: the dropped marker and the end
// line stand out, search matches are in reverse video (underlined too on
// the current match). b.mu is held.
func (s *logsScreen) styleRows(i int, rows []string, b *logBuffer) []string {
	st := s.e.st
	switch {
	case i < b.first():
		for k, r := range rows {
			rows[k] = st.warn.Render(r)
		}
		return rows
	case b.ended && i == b.endAt:
		for k, r := range rows {
			rows[k] = st.bad.Render(r)
		}
		return rows
	}
	if s.query == "" {
		return rows
	}
	hl := st.selected
	if i == s.match {
		hl = hl.Underline(true)
	}
	for k, r := range rows {
		rows[k] = highlight(r, s.query, hl.Render)
	}
	return rows
}

// highlight renders each occurrence of q in the plain row with mark.
func highlight(row, q string, mark func(...string) string) string {
	hay := row
	if q == strings.ToLower(q) {
		hay = strings.ToLower(row)
		if len(hay) != len(row) { // a case change moved the bytes
			hay = row
		}
	}
	var sb strings.Builder
	for {
		i := strings.Index(hay, q)
		if i < 0 || q == "" {
			sb.WriteString(row)
			return sb.String()
		}
		sb.WriteString(row[:i])
		sb.WriteString(mark(row[i : i+len(q)]))
		row, hay = row[i+len(q):], hay[i+len(q):]
	}
}
