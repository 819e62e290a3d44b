package sshd

import (
	"bytes"
	"io"
	"net"
	"testing"
)

// countingConn is a net.Conn whose reads come from r, counted.
type countingConn struct {
	net.Conn // nil: only Read is used
	r        io.Reader
	reads    int
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
