package sshd

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

func TestCRLFWriter(t *testing.T) {
	for _, c := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"plain", []string{"abc"}, "abc"},
		{"lf", []string{"a\nb\n"}, "a\r\nb\r\n"},
		{"crlf kept", []string{"a\r\nb"}, "a\r\nb"},
		{"cr lf split across writes", []string{"a\r", "\nb"}, "a\r\nb"},
		{"lf first", []string{"a", "\n"}, "a\r\n"},
		{"blank lines", []string{"\n\n"}, "\r\n\r\n"},
		{"long", []string{strings.Repeat("x\n", 40000)}, strings.Repeat("x\r\n", 40000)},
	} {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			w := &crlfWriter{w: &b}
			for _, s := range c.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if b.String() != c.want {
				t.Fatalf("got %q, want %q", b.String(), c.want)
			}
		})
	}
}

func TestTTYInput(t *testing.T) {
	for _, c := range []struct {
		name, in, read, echo string
		interrupted          bool
	}{
		{"line", "hello\r", "hello\n", "hello\n", false},
		{"lf too", "a\nb\n", "a\nb\n", "a\nb\n", false},
		{"backspace", "ab\x7fc\r", "ac\n", "ab\b \bc\n", false},
		{"backspace on empty line", "\x7f\x08x\r", "x\n", "x\n", false},
		{"backspace removes a whole character", "hé\x7f\r", "h\n", "hé\b \b\n", false},
		{"^U", "abc\x15x\r", "x\n", "abc\b \b\b \b\b \bx\n", false},
		{"^W", "foo bar\x17baz\r", "foo baz\n", "foo bar\b \b\b \b\b \bbaz\n", false},
		{"^D ends input", "ab\r\x04ignored\r", "ab\n", "ab\n", false},
		{"^D mid-line pushes the line", "ab\x04cd\r", "abcd\n", "abcd\n", false},
		{"partial line at EOF", "tail", "tail", "tail", false},
		{"^C", "ab\x03cd\r", "", "ab^C\n", true},
		{"^C after ^D", "\x04x\x03", "", "^C\n", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var echo bytes.Buffer
			interrupted := false
			in := newTTYInput(&echo, func() { interrupted = true })
			in.pump(strings.NewReader(c.in))
			got, err := io.ReadAll(in)
			if err != nil || string(got) != c.read {
				t.Errorf("read %q (%v), want %q", got, err, c.read)
			}
			if echo.String() != c.echo {
				t.Errorf("echo %q, want %q", echo.String(), c.echo)
			}
			if interrupted != c.interrupted {
				t.Errorf("interrupted = %v", interrupted)
			}
		})
	}
}

// The pump stops reading when the handler does not read, and stop
// releases it.
func TestTTYInputBounded(t *testing.T) {
	in := newTTYInput(io.Discard, func() {})
	r, w := io.Pipe()
	done := make(chan struct{})
	go func() { in.pump(r); close(done) }()
	line := []byte(strings.Repeat("x", 1023) + "\r")
	go func() {
		for {
			if _, err := w.Write(line); err != nil {
				return
			}
		}
	}()
	pending := func() int {
		in.mu.Lock()
		defer in.mu.Unlock()
		return len(in.ready)
	}
	if !waitFor(10*time.Second, func() bool { return pending() >= ttyMaxPending }) {
		t.Fatalf("only %d bytes buffered", pending())
	}
	// The pump waits for the handler now (and the writer for the pump).
	time.Sleep(50 * time.Millisecond)
	if n := pending(); n > ttyMaxPending+len(line) {
		t.Fatalf("%d bytes buffered, more than the bound", n)
	}
	// Reading makes room; stop releases the pump.
	b := make([]byte, 4096)
	if n, err := in.Read(b); n != 4096 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	in.stop()
	w.CloseWithError(io.ErrClosedPipe)
	<-done
}

// Reading Raw turns the line discipline off: the line being edited and
// everything after it arrive untouched.
func TestTTYInputRaw(t *testing.T) {
	var echo bytes.Buffer
	interrupted := false
	in := newTTYInput(&echo, func() { interrupted = true })
	r, w := io.Pipe()
	done := make(chan struct{})
	go func() { in.pump(r); close(done) }()
	io.WriteString(w, "ab")
	waitFor(5*time.Second, func() bool { in.mu.Lock(); defer in.mu.Unlock(); return len(in.line) == 2 })
	raw := rawTTY{in: in, w: io.Discard}
	first := make([]byte, 2)
	io.ReadFull(raw, first)
	go func() { io.WriteString(w, "\x03\r\x7f"); w.Close() }()
	rest, err := io.ReadAll(raw)
	<-done
	if got := string(first) + string(rest); got != "ab\x03\r\x7f" || err != nil || interrupted {
		t.Fatalf("raw read %q %v, interrupted %v", got, err, interrupted)
	}
	if echo.String() != "ab" {
		t.Fatalf("echo %q", echo.String())
	}
}

func TestPTYEcho(t *testing.T) {
	mode := func(op byte, v uint32) string {
		return string([]byte{op, byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
	}
	for _, c := range []struct {
		name, modes string
		want        bool
	}{
		{"none", "", true},
		{"echo on", mode(53, 1) + "\x00", true},
		{"echo off", mode(1, 3) + mode(53, 0) + "\x00", false},
		{"echo after END ignored", "\x00" + mode(53, 0), true},
		{"truncated", mode(53, 0)[:3], true},
	} {
		if got := ptyEcho(c.modes); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
	}
}
