package sshd

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// countingConn is a net.Conn whose reads come from r and whose writes go
// to w, counted.
type countingConn struct {
	net.Conn // nil: only Read and Write are used
	r        io.Reader
	reads    int
	w        bytes.Buffer
	writes   int
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes++
	return c.w.Write(p)
}

func (c *countingConn) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

// x/crypto reads the client's version line a byte at a time; each of those
// reads must not become a read (and a setsockopt) on the socket.
func TestConnReadAheadServesByteReadsFromOneSocketRead(t *testing.T) {
	version := "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6\r\n"
	rest := bytes.Repeat([]byte{0xAB}, 3000) // a KEXINIT and more, same flight
	under := &countingConn{r: bytes.NewReader(append([]byte(version), rest...))}
	c := &conn{Conn: under}

	var got []byte
	b := make([]byte, 1)
	for len(got) < len(version) {
		n, err := c.Read(b)
		if err != nil {
			t.Fatalf("byte read %d: %v", len(got), err)
		}
		got = append(got, b[:n]...)
	}
	if string(got) != version {
		t.Fatalf("version line read as %q", got)
	}
	if under.reads != 1 {
		t.Errorf("%d socket reads for a %d-byte version line, want 1", under.reads, len(version))
	}
	// x/crypto's 4 KiB buffered reads: first what was read ahead, then the
	// socket again, every byte once and in order.
	big := make([]byte, 4096)
	var after []byte
	for {
		n, err := c.Read(big)
		after = append(after, big[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(after, rest) {
		t.Fatalf("read %d bytes after the version line, want the %d sent", len(after), len(rest))
	}
	if c.ahead != nil {
		t.Errorf("read-ahead buffer kept after it drained (%d bytes)", len(c.ahead))
	}
}

// What is written while writes are held leaves in one write; writes before
// and after are not held back.
func TestConnHoldSendsHeldWritesInOneWrite(t *testing.T) {
	under := &countingConn{}
	c := &conn{Conn: under}
	write := func(s string) {
		t.Helper()
		if n, err := c.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("write %q: %d, %v", s, n, err)
		}
	}
	write("before;")
	release := c.hold(time.Hour)
	write("exec-reply;")
	write("data;")
	write("eof;")
	write("exit-status;")
	if under.writes != 1 {
		t.Errorf("%d writes reached the socket while held, want only the one before", under.writes)
	}
	write("close;")
	release()
	if under.writes != 2 {
		t.Errorf("%d socket writes, want 2 (one before the hold, one for it)", under.writes)
	}
	write("after")
	if under.writes != 3 {
		t.Errorf("a write after the release was held back")
	}
	if got := under.w.String(); got != "before;exec-reply;data;eof;exit-status;close;after" {
		t.Errorf("bytes sent: %q", got)
	}
}

// A hold ends by itself after its limit: a command still running has its
// output sent as it comes.
func TestConnHoldEndsAtLimit(t *testing.T) {
	under := &countingConn{}
	c := &conn{Conn: under}
	release := c.hold(time.Millisecond)
	defer release()
	if _, err := c.Write([]byte("prompt: ")); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		return under.writes == 1
	}) {
		t.Fatal("held write not sent after the hold's limit")
	}
	if _, err := c.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if under.writes != 2 || under.w.String() != "prompt: more" {
		t.Errorf("after the limit: %d writes, %q", under.writes, under.w.String())
	}
}
