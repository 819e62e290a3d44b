package dockerlocal_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dokku-sshd/internal/testbuf"
	"dokku-sshd/schedulers"
)

// logLine is `ESC[<colour>m<timestamp> app[<dyno>]:ESC[0m <message>`.
var logLine = regexp.MustCompile(`^\x1b\[(\d+)m(\S+) app\[([a-z]+\.\d+)\]:\x1b\[0m (.*)$`)

type parsedLog struct {
	colour map[string]string   // dyno -> colour
	lines  map[string][]string // dyno -> messages, in order
}

// stdoutLine reports whether msg is one the test apps write on stdout
// (the others write "stderr of <dyno>", and httpd -v logs on stderr).
func stdoutLine(dyno, msg string) bool {
	return strings.HasPrefix(msg, "booting ") || strings.HasPrefix(msg, dyno+" ")
}

// parseLogs checks every line of out against the prefixed format and
// groups the messages by dyno. Timestamps must grow within each of a
// container's two streams, not across them: the engine copies stdout and
// stderr with one goroutine each, which takes a line's timestamp before
// the log file's lock, so a stderr line can be stored (and streamed) before
// a stdout line stamped earlier.
func parseLogs(t *testing.T, out string) parsedLog {
	t.Helper()
	p := parsedLog{colour: map[string]string{}, lines: map[string][]string{}}
	if out == "" {
		return p
	}
	if !strings.HasSuffix(out, "\n") {
		t.Errorf("output does not end with a newline: %q", out[max(0, len(out)-80):])
	}
	last := map[string]time.Time{}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		m := logLine.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("line not in the logs format: %q", l[:min(len(l), 200)])
			continue
		}
		colour, ts, dyno, msg := m[1], m[2], m[3], m[4]
		if c, ok := p.colour[dyno]; ok && c != colour {
			t.Errorf("%s has colours %s and %s", dyno, c, colour)
		}
		p.colour[dyno] = colour
		at, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Errorf("timestamp %q: %v", ts, err)
		}
		stream := dyno + " stderr"
		if stdoutLine(dyno, msg) {
			stream = dyno + " stdout"
		}
		if at.Before(last[stream]) {
			t.Errorf("%s: timestamps out of order: %s after %s", stream, at, last[stream])
		}
		last[stream] = at
		p.lines[dyno] = append(p.lines[dyno], msg)
	}
	return p
}

// checkNumbered checks that the numbered lines of dyno ("<dyno> line <i>
// <long>") are whole and consecutive, and returns how many there are.
func checkNumbered(t *testing.T, dyno string, msgs []string, long string) int {
	t.Helper()
	n, prev := 0, 0
	for _, m := range msgs {
		rest, ok := strings.CutPrefix(m, dyno+" line ")
		if !ok {
			continue
		}
		num, body, _ := strings.Cut(rest, " ")
		i, err := strconv.Atoi(num)
		if err != nil || body != long {
			t.Errorf("%s: mangled line %q (%d bytes)", dyno, m[:min(len(m), 120)], len(m))
			continue
		}
		if prev != 0 && i != prev+1 {
			t.Errorf("%s: line %d after line %d", dyno, i, prev)
		}
		prev = i
		n++
	}
	return n
}

// markWriter cancels when every marker was seen in the lines written
// (each write holds whole lines, so a marker is never cut).
type markWriter struct {
	mu      sync.Mutex
	missing map[string]bool
	done    func()
}

func (m *markWriter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for s := range m.missing {
		if bytes.Contains(p, []byte(s)) {
			delete(m.missing, s)
		}
	}
	if len(m.missing) == 0 {
		m.done()
	}
	return len(p), nil
}

// waitForLines follows app's logs until each marker has been logged, for
// as long as that takes: a deploy returns when the containers pass their
// checks, which says nothing about how far their scripts have got on a
// loaded machine.
func waitForLines(t *testing.T, e *env, markers ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := &markWriter{missing: map[string]bool{}, done: cancel}
	for _, s := range markers {
		m.missing[s] = true
	}
	err := e.sched.Logs(ctx, e.app, schedulers.LogOptions{Follow: true, Num: -1, Quiet: true}, m)
	if !errors.Is(err, context.Canceled) {
		m.mu.Lock()
		defer m.mu.Unlock()
		t.Fatalf("logs ended (%v) before these lines: %v", err, m.missing)
	}
}

// failWriter fails every write after the first.
type failWriter struct{ n atomic.Int32 }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.n.Add(1) > 1 {
		return 0, errors.New("client gone")
	}
	return len(p), nil
}

func TestLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := newGitWork(t)
	app := e.app
	// Long lines from three containers at once: they must come out whole.
	long := strings.Repeat("x", 3000)
	out, err := e.deploy(g.commit(map[string]string{
		"Dockerfile": "FROM " + e.base + "\nCOPY index.html /www/index.html\nCOPY web.sh worker.sh long.txt /\nCMD [\"sh\", \"/web.sh\"]\n",
		"index.html": "logs\n",
		"long.txt":   long,
		"web.sh": "LONG=$(cat /long.txt)\necho \"booting $DYNO\"\necho \"stderr of $DYNO\" >&2\n" +
			"i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo \"$DYNO line $i $LONG\"; done\n" +
			"exec httpd -f -v -p $PORT -h /www\n",
		"worker.sh": "LONG=$(cat /long.txt)\n" +
			"i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo \"$DYNO line $i $LONG\"; done\n" +
			"while true; do echo \"$DYNO tick\"; sleep 1; done\n",
		"Procfile": "web: sh /web.sh\nworker: sh /worker.sh\n",
		"app.json": `{"formation":{"web":{"quantity":2},"worker":{"quantity":1}}}`,
	}))
	if err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	waitForLines(t, e, "web.1 line 200 ", "web.2 line 200 ", "worker.1 line 300 ")
	logs := func(t *testing.T, o schedulers.LogOptions) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var b testbuf.Buffer
		err := e.sched.Logs(ctx, app, o, &b)
		return b.String(), err
	}

	t.Run("all", func(t *testing.T) {
		out, err := logs(t, schedulers.LogOptions{Num: -1})
		if err != nil {
			t.Fatal(err)
		}
		p := parseLogs(t, out)
		// colours go round in the order of the state files
		for dyno, c := range map[string]string{"web.1": "36", "web.2": "33", "worker.1": "32"} {
			if p.colour[dyno] != c {
				t.Errorf("%s colour %q, want %s", dyno, p.colour[dyno], c)
			}
		}
		for _, dyno := range []string{"web.1", "web.2"} {
			msgs := strings.Join(p.lines[dyno], "\n") + "\n"
			for _, w := range []string{"booting " + dyno + "\n", "stderr of " + dyno + "\n"} {
				if !strings.Contains(msgs, w) {
					t.Errorf("%s lacks %q", dyno, w)
				}
			}
			if n := checkNumbered(t, dyno, p.lines[dyno], long); n != 200 {
				t.Errorf("%s: %d numbered lines, want 200", dyno, n)
			}
		}
		if n := checkNumbered(t, "worker.1", p.lines["worker.1"], long); n != 300 {
			t.Errorf("worker.1: %d numbered lines, want 300", n)
		}
		if len(p.lines) != 3 {
			t.Errorf("dynos %v", p.colour)
		}
	})

	t.Run("num", func(t *testing.T) {
		for _, n := range []int{0, 1, 100} {
			out, err := logs(t, schedulers.LogOptions{Num: n})
			if err != nil {
				t.Fatal(err)
			}
			p := parseLogs(t, out)
			for _, dyno := range []string{"web.1", "web.2", "worker.1"} {
				if got := len(p.lines[dyno]); got != n {
					t.Errorf("-n %d: %s has %d lines", n, dyno, got)
				}
			}
		}
	})

	t.Run("process type", func(t *testing.T) {
		for ps, want := range map[string][]string{"worker": {"worker.1"}, "web": {"web.1", "web.2"}, "web.2": {"web.2"}} {
			out, err := logs(t, schedulers.LogOptions{Num: 5, ProcessType: ps})
			if err != nil {
				t.Fatal(err)
			}
			p := parseLogs(t, out)
			if len(p.lines) != len(want) {
				t.Errorf("-p %s: dynos %v, want %v", ps, p.colour, want)
			}
			for i, dyno := range want {
				if len(p.lines[dyno]) != 5 {
					t.Errorf("-p %s: %s has %d lines", ps, dyno, len(p.lines[dyno]))
				}
				if c := p.colour[dyno]; c != []string{"36", "33"}[i] {
					t.Errorf("-p %s: %s colour %s", ps, dyno, c)
				}
			}
		}
		out, err := logs(t, schedulers.LogOptions{Num: 5, ProcessType: "nope"})
		if !errors.Is(err, schedulers.ErrNoProcess) || out != "" {
			t.Errorf("-p nope: %v, output %q", err, out)
		}
	})

	t.Run("quiet", func(t *testing.T) {
		out, err := logs(t, schedulers.LogOptions{Num: -1, Quiet: true, ProcessType: "web.1"})
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		// The engine copies a container's stdout and stderr separately, so
		// the stderr line may be logged after some stdout lines.
		if len(lines) < 202 || !strings.Contains(strings.Join(lines[:2], "\n"), "booting web.1") ||
			!slices.Contains(lines, "stderr of web.1") {
			t.Fatalf("quiet output starts %q and has %d lines", lines[:min(len(lines), 2)], len(lines))
		}
		if strings.Contains(out, "\x1b") || strings.Contains(out, "app[") {
			t.Errorf("quiet output has a prefix or colour:\n%s", out[:200])
		}
		if n := checkNumbered(t, "web.1", lines, long); n != 200 {
			t.Errorf("%d numbered lines", n)
		}
	})

	t.Run("missing container", func(t *testing.T) {
		state := filepath.Join(e.st.AppDir(app), "CONTAINER.web.9")
		if err := os.WriteFile(state, []byte(strings.Repeat("0", 64)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(state)
		out, err := logs(t, schedulers.LogOptions{Num: 1, ProcessType: "web"})
		if err == nil || !strings.Contains(err.Error(), "No such container: "+strings.Repeat("0", 64)) {
			t.Errorf("err = %v", err)
		}
		if p := parseLogs(t, out); len(p.lines["web.1"]) != 1 || len(p.lines["web.2"]) != 1 {
			t.Errorf("the other containers' logs: %q", out)
		}
	})

	t.Run("follow", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var b testbuf.Buffer
		done := make(chan error, 1)
		go func() { done <- e.sched.Logs(ctx, app, schedulers.LogOptions{Follow: true, Num: 0}, &b) }()
		_, ip, _ := e.slot("web.1")
		seen := func(s string) bool { return strings.Contains(b.String(), s) }
		deadline := time.Now().Add(time.Minute)
		for !(seen("app[web.1]:") && seen("app[worker.1]:\x1b[0m worker.1 tick")) && time.Now().Before(deadline) {
			// httpd -v logs each request: a new line while we follow
			_, _ = get("http://" + ip + ":5000/")
			time.Sleep(500 * time.Millisecond)
		}
		out := b.String()
		if !seen("app[web.1]:") || !seen("worker.1 tick") {
			t.Fatalf("new lines did not arrive while following:\n%q", out)
		}
		p := parseLogs(t, out)
		if len(p.lines["web.2"]) != 0 {
			t.Errorf("-n 0 showed old lines of web.2: %q", p.lines["web.2"])
		}
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Logs after cancel: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Logs did not return after its context was cancelled")
		}
		// Nothing writes any more: the worker ticks every second.
		after := b.String()
		time.Sleep(2500 * time.Millisecond)
		if b.String() != after {
			t.Errorf("output grew after Logs returned")
		}
	})

	t.Run("client gone", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// A failed write ends every stream, without the context ending.
		err := e.sched.Logs(ctx, app, schedulers.LogOptions{Follow: true, Num: 10}, &failWriter{})
		if err == nil || !strings.Contains(err.Error(), "client gone") || ctx.Err() != nil {
			t.Errorf("Logs with a failing writer: %v (ctx %v)", err, ctx.Err())
		}
	})

	t.Run("no containers", func(t *testing.T) {
		var b testbuf.Buffer
		if err := e.sched.Logs(context.Background(), "no-such-app", schedulers.LogOptions{Num: 10}, &b); err != nil || b.String() != "" {
			t.Errorf("no containers: %v %q", err, b.String())
		}
	})
}
