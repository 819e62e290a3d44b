package tui

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"dokku-sshd/deploy"
)

const (
	// buildMaxLines bounds what a build screen keeps of a log: a slow
	// terminal or a huge build drops its oldest lines, never the server's
	// memory.
	buildMaxLines = 5000
	// buildMaxLine bounds one line (a progress bar that never ends one).
	buildMaxLine = 1024
)

// Messages of one build screen, tagged with it.
type (
	// buildRecordMsg carries the build's record as builds:list prints
	// it, or that command's own error.
	buildRecordMsg struct {
		s   *buildScreen
		rec *deploy.Record
		err string
	}
	// buildLinesMsg says that lines arrived (at most one is pending).
	buildLinesMsg struct{ s *buildScreen }
	// buildTickMsg redraws a running build's header (its duration) when
	// its log is quiet.
	buildTickMsg struct{ s *buildScreen }
	// buildDoneMsg says the follow ended: the build is over, or its log
	// cannot be read (err).
	buildDoneMsg struct {
		s   *buildScreen
		err string
	}
)

// buildKeys: the first six are matched; scroll, page and ends stand for
// them in the key line and the help, which must fit 80 columns.
type buildKeys struct{ up, down, pgUp, pgDown, top, bottom, scroll, page, ends key.Binding }

// buildScreen shows one build's output, as the pushing client saw it, and
// follows it while the build runs.
type buildScreen struct {
	e       *env
	app, id string
	now     func() time.Time
	keys    buildKeys

	note   string // instead of the log: why there is none
	rec    *deploy.Record
	recErr string

	buf       *lineBuf
	lines     []string // the buffer's lines as last taken
	following bool
	followErr string

	// Scrolling, in wrapped lines of the last drawn width: tail keeps the
	// newest line in view as lines arrive.
	top, logH, width int
	tail             bool
	wrapped          []string
	wrappedFor       struct{ n, w int }

	cancel    context.CancelFunc
	closeOnce sync.Once
}

// newBuildScreen shows one build's output, following it while it runs.
func newBuildScreen(e *env, app, id string) Screen {
	s := &buildScreen{
		e: e, app: app, id: id, now: time.Now, tail: true,
		keys: buildKeys{
			up:     key.NewBinding(key.WithKeys("up", "k")),
			down:   key.NewBinding(key.WithKeys("down", "j")),
			pgUp:   key.NewBinding(key.WithKeys("pgup", "b")),
			pgDown: key.NewBinding(key.WithKeys("pgdown", "space")),
			top:    key.NewBinding(key.WithKeys("g", "home")),
			bottom: key.NewBinding(key.WithKeys("G", "end")),
			scroll: key.NewBinding(key.WithKeys("up", "down", "k", "j"), key.WithHelp("↑↓/jk", "scroll")),
			page:   key.NewBinding(key.WithKeys("pgup", "pgdown", "b", "space"), key.WithHelp("pgup/pgdn", "page")),
			ends:   key.NewBinding(key.WithKeys("g", "G", "home", "end"), key.WithHelp("g/G", "top/end (follow)")),
		},
	}
	if e.b.srv == nil {
		s.note = "Builds are not recorded by this server"
	}
	return s
}

func (s *buildScreen) Title() string {
	id := s.id
	if i := strings.LastIndexByte(id, '-'); i >= 0 && i < len(id)-1 {
		id = id[i+1:]
	}
	return "build " + id
}

func (s *buildScreen) Keys() []key.Binding {
	k := s.keys
	return []key.Binding{k.scroll, k.page, k.ends}
}

func (s *buildScreen) Capturing() bool { return false }

// Init reads the build's record and starts following its log.
func (s *buildScreen) Init() tea.Cmd {
	if s.note != "" || s.cancel != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(s.e.ctx)
	s.cancel = cancel
	s.following = true
	send := s.e.send
	s.buf = newLineBuf(buildMaxLines, func() { send(buildLinesMsg{s}) })
	go func() {
		// The same command as over SSH: its checks, its messages.
		code := s.e.b.stream(ctx, s.buf, "builds:output", "--follow", s.app, s.id)
		s.buf.flush()
		if ctx.Err() != nil {
			return // closed: nobody is looking
		}
		msg := buildDoneMsg{s: s}
		if code != 0 {
			// What it said is in the output already.
			msg.err = fmt.Sprintf("builds:output failed (exit %d)", code)
		}
		send(msg)
	}()
	return tea.Batch(s.loadRecord(), s.tick())
}

func (s *buildScreen) tick() tea.Cmd {
	return tea.Tick(time.Second, func(time.Time) tea.Msg { return buildTickMsg{s} })
}

// Close stops following (and the header's tick). The root calls it from
// Update, so it may change the screen.
func (s *buildScreen) Close() {
	s.closeOnce.Do(func() {
		if s.cancel != nil {
			s.cancel()
		}
		s.following = false
	})
}

// loadRecord reads the build's record from builds:list.
func (s *buildScreen) loadRecord() tea.Cmd {
	ctx, b := s.e.ctx, s.e.b
	return func() tea.Msg {
		res := b.run(ctx, "builds:list", s.app, "--format", "json")
		var recs []deploy.Record
		if !decodeJSON(res, &recs) {
			return buildRecordMsg{s: s, err: errLine(res)}
		}
		for _, r := range recs {
			if r.ID == s.id {
				return buildRecordMsg{s: s, rec: &r}
			}
		}
		return buildRecordMsg{s: s, err: fmt.Sprintf("No build %s for %s", s.id, s.app)}
	}
}

func (s *buildScreen) Update(msg tea.Msg) (Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case buildRecordMsg:
		if msg.s == s {
			s.rec, s.recErr = msg.rec, msg.err
		}
	case buildTickMsg:
		if msg.s == s && s.following && s.e.ctx.Err() == nil {
			return s, s.tick()
		}
	case buildLinesMsg:
		if msg.s == s {
			s.setLines(s.buf.take())
		}
	case buildDoneMsg:
		if msg.s == s {
			s.following, s.followErr = false, msg.err
			s.setLines(s.buf.take())
			// The record now has the build's final status.
			return s, s.loadRecord()
		}
	case tea.KeyPressMsg:
		s.key(msg)
	}
	return s, nil
}

func (s *buildScreen) key(msg tea.KeyPressMsg) {
	page := max(s.logH-1, 1)
	switch {
	case key.Matches(msg, s.keys.up):
		s.scroll(-1)
	case key.Matches(msg, s.keys.down):
		s.scroll(1)
	case key.Matches(msg, s.keys.pgUp):
		s.scroll(-page)
	case key.Matches(msg, s.keys.pgDown):
		s.scroll(page)
	case key.Matches(msg, s.keys.top):
		s.top, s.tail = 0, false
	case key.Matches(msg, s.keys.bottom):
		s.tail = true
	}
}

// scroll moves the view n lines; reaching the bottom follows the tail
// again.
func (s *buildScreen) scroll(n int) {
	last := max(len(s.wrap(s.width))-s.logH, 0)
	if s.tail {
		s.top = last
	}
	s.top = min(max(s.top+n, 0), last)
	s.tail = s.top == last
}

// setLines takes new lines: the wrapped ones are made again (a full
// buffer keeps its count while its lines change, and a partial last
// line grows in place).
func (s *buildScreen) setLines(lines []string) {
	s.lines, s.wrapped = lines, nil
}

// wrap is the log's lines wrapped at w cells (cached: a frame is drawn
// far more often than lines arrive).
func (s *buildScreen) wrap(w int) []string {
	if w <= 0 {
		return nil
	}
	if s.wrappedFor.n == len(s.lines) && s.wrappedFor.w == w && s.wrapped != nil {
		return s.wrapped
	}
	out := make([]string, 0, len(s.lines))
	for _, l := range s.lines {
		if ansi.StringWidth(l) <= w {
			out = append(out, l)
			continue
		}
		out = append(out, strings.Split(ansi.Hardwrap(l, w, true), "\n")...)
	}
	s.wrapped, s.wrappedFor.n, s.wrappedFor.w = out, len(s.lines), w
	return out
}

func (s *buildScreen) View(w, h int) string {
	st := s.e.st
	if s.note != "" {
		return st.warn.Render(s.note)
	}
	header := s.header()
	lines := []string{truncate(header, w)}
	s.width, s.logH = w, max(h-2, 1)
	log := s.wrap(w)
	last := max(len(log)-s.logH, 0)
	if s.tail {
		s.top = last
	}
	s.top = min(s.top, last)
	end := min(s.top+s.logH, len(log))
	lines = append(lines, log[s.top:end]...)
	for len(lines) < h-1 {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n") + "\n" + s.footer(len(log), end)
}

// header is the build's app, kind, revision, status, start and duration.
func (s *buildScreen) header() string {
	st := s.e.st
	if s.rec == nil {
		if s.recErr != "" {
			return st.bad.Render(s.recErr)
		}
		return st.dim.Render(s.app + "  reading the build's record…")
	}
	r := s.rec
	parts := []string{st.heading.Render(r.App), r.Kind}
	if r.Rev != "" {
		parts = append(parts, r.Rev[:min(len(r.Rev), 7)])
	}
	status := r.Status
	if status == deploy.StatusRunning && !s.following {
		status = "ending…" // the log is complete, the record not yet rewritten
	}
	parts = append(parts, buildStatusStyle(st, r.Status).Render(status), r.Started.UTC().Format("Jan 2 15:04:05")+" UTC")
	if r.Finished.IsZero() {
		parts = append(parts, "for "+s.now().Sub(r.Started).Round(time.Second).String())
	} else {
		parts = append(parts, "took "+r.Finished.Sub(r.Started).Round(100*time.Millisecond).String())
	}
	return strings.Join(parts, "  ")
}

// footer says where the view is and whether it follows.
func (s *buildScreen) footer(total, end int) string {
	st := s.e.st
	var parts []string
	switch {
	case s.followErr != "":
		parts = append(parts, st.bad.Render(s.followErr))
	case s.following:
		parts = append(parts, st.warn.Render("following the build…"))
	case total == 0:
		parts = append(parts, st.dim.Render("no output"))
	default:
		parts = append(parts, st.dim.Render("end of the build's output"))
	}
	if total > 0 {
		where := fmt.Sprintf("lines %d-%d of %d", s.top+1, end, total)
		if !s.tail {
			where += "  G: follow the end"
		}
		parts = append(parts, st.dim.Render(where))
	}
	return strings.Join(parts, "  ")
}

func buildStatusStyle(st styles, status string) lipgloss.Style {
	switch status {
	case deploy.StatusSucceeded:
		return st.ok
	case deploy.StatusRunning:
		return st.warn
	case deploy.StatusFailed, deploy.StatusCanceled:
		return st.bad
	}
	return st.dim
}

// lineBuf is a bounded buffer of a log's lines, written by a follow and
// read by the screen: it keeps the newest max lines (a ring), counts what
// it dropped, and calls notify when lines arrive unless a notification is
// already pending (take clears it), so a fast log costs one message per
// frame, not one per line.
type lineBuf struct {
	mu      sync.Mutex
	ring    []string
	start   int // the oldest line's index in ring
	n       int
	dropped int
	partial []byte // the last line, not yet ended
	notify  func()
	pending atomic.Bool
}

func newLineBuf(max int, notify func()) *lineBuf {
	return &lineBuf{ring: make([]string, max), notify: notify}
}

func (b *lineBuf) Write(p []byte) (int, error) {
	n := len(p)
	b.mu.Lock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			b.partial = append(b.partial, p...)
			if len(b.partial) > 64<<10 {
				b.add(b.partial) // no end in sight: keep it as a line
				b.partial = b.partial[:0]
			}
			break
		}
		if len(b.partial) > 0 {
			b.add(append(b.partial, p[:i]...))
			b.partial = b.partial[:0]
		} else {
			b.add(p[:i])
		}
		p = p[i+1:]
	}
	b.mu.Unlock()
	if b.pending.CompareAndSwap(false, true) {
		b.notify()
	}
	return n, nil
}

// flush ends a last line that had no newline.
func (b *lineBuf) flush() {
	b.mu.Lock()
	if len(b.partial) > 0 {
		b.add(b.partial)
		b.partial = nil
	}
	b.mu.Unlock()
}

// add keeps one line, dropping the oldest when full.
func (b *lineBuf) add(line []byte) {
	l := capLine(plainLine(string(line)), buildMaxLine)
	if b.n < len(b.ring) {
		b.ring[(b.start+b.n)%len(b.ring)] = l
		b.n++
		return
	}
	b.ring[b.start] = l
	b.start = (b.start + 1) % len(b.ring)
	b.dropped++
}

// take returns the lines (a marker first when some were dropped) and
// allows the next notification.
func (b *lineBuf) take() []string {
	b.pending.Store(false)
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, b.n+2)
	if b.dropped > 0 {
		out = append(out, fmt.Sprintf("… %d earlier lines dropped", b.dropped))
	}
	for i := range b.n {
		out = append(out, b.ring[(b.start+i)%len(b.ring)])
	}
	if len(b.partial) > 0 {
		out = append(out, capLine(plainLine(string(b.partial)), buildMaxLine))
	}
	return out
}
