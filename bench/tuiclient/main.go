// Command tuiclient opens dokku-sshd's dashboard (a terminal session with no
// command) over SSH for bench/tui.sh: it times the first frame, and it holds
// many dashboards open so that the server's memory per session can be read.
//
// Each session is one connection, authenticated with a public key (not
// timed), then one session channel with a pty-req (TERM, columns, rows) and a
// shell request: what `ssh -t dokku@host` sends.
//
// First-frame mode (-mode frame) opens -n sessions one after another. Each is
// timed from the session channel's open (NewSession), through pty-req and
// shell, to the read that brings the first frame: the alternate screen's
// switch (ESC [?1049h) followed by the visible text -frame-marker ("apps",
// the title of the apps screen, which the first frame has whether it says
// "Loading apps…" or has the list). It is also timed to the first read whose
// visible text has -loaded-marker (an app's name: the list loaded), when
// given, and to the shell request's reply and the first byte read
// (informative). Then the connection is closed (the client gone away; -end quit
// types q and waits for the session's end instead). It prints KEY=VALUE
// lines:
//
//	frame_n=200 frame_failed=0 frame_p50_ms=3.10 ... loaded_p50_ms=...
//
// Hold mode (-mode hold) opens -sessions sessions, -parallel at a time, waits
// for each one's first frame, prints
//
//	ready sessions=50 failed=0 seconds=1.23 frame_p50_ms=... frame_max_ms=...
//
// and keeps reading (and discarding) every session's output, so that no
// window fills and stalls the server, until stdin closes (or -hold passes).
// Then it ends every session as -end says and exits.
//
// Only loopback addresses are accepted.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// altScreen is what a Bubble Tea program writes first: the switch to the
// alternate screen. The first frame follows it.
const altScreen = "\x1b[?1049h"

type options struct {
	addr, user, keyFile string
	mode                string
	n, sessions         int
	parallel            int
	term                string
	cols, rows          int
	frameMarker         string
	loadedMarker        string
	end                 string
	timeout             time.Duration
	hold                time.Duration
	dump                string
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "", "server address, 127.0.0.1:PORT (loopback only)")
	flag.StringVar(&o.user, "user", "dokku", "login user")
	flag.StringVar(&o.keyFile, "key", "", "private key file (unencrypted)")
	flag.StringVar(&o.mode, "mode", "frame", "frame: time first frames, one session after another; hold: hold -sessions dashboards open")
	flag.IntVar(&o.n, "n", 200, "frame mode: sessions timed, one after another")
	flag.IntVar(&o.sessions, "sessions", 50, "hold mode: dashboards held open")
	flag.IntVar(&o.parallel, "parallel", 8, "hold mode: sessions being opened at once")
	flag.StringVar(&o.term, "term", "xterm-256color", "TERM sent in the pty-req")
	flag.IntVar(&o.cols, "cols", 80, "terminal columns")
	flag.IntVar(&o.rows, "rows", 24, "terminal rows")
	flag.StringVar(&o.frameMarker, "frame-marker", "apps", "visible text that, after the alternate screen's switch, marks the first frame")
	flag.StringVar(&o.loadedMarker, "loaded-marker", "", "visible text that marks the loaded list (an app's name); empty: not timed")
	flag.StringVar(&o.end, "end", "drop", "how a session ends: drop (close the connection) or quit (type q, wait for the session's end)")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Second, "time allowed for one connection's setup, and for each marker")
	flag.DurationVar(&o.hold, "hold", 15*time.Minute, "hold mode: exit after this long even if stdin stays open")
	flag.StringVar(&o.dump, "dump", "", "frame mode: write the first session's bytes, as read, to this file (Go-quoted, one read a line)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "tuiclient:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %s: only loopback addresses are allowed", o.addr)
	}
	if o.end != "drop" && o.end != "quit" {
		return fmt.Errorf("-end %q: drop or quit", o.end)
	}
	if o.frameMarker == "" {
		return errors.New("-frame-marker must not be empty")
	}
	cfg, err := clientConfig(o.user, o.keyFile, o.timeout)
	if err != nil {
		return err
	}
	switch o.mode {
	case "frame":
		return frames(o, cfg)
	case "hold":
		return holdOpen(o, cfg)
	}
	return fmt.Errorf("-mode %q: frame or hold", o.mode)
}

// frames times -n first frames, one session after another.
func frames(o options, cfg *gossh.ClientConfig) error {
	var frame, shell, firstByte, loaded []float64
	failed, loadMissed := 0, 0
	var first string
	for i := 0; i < o.n; i++ {
		d, err := openDash(o, cfg, i == 0 && o.dump != "")
		if err != nil {
			failed++
			if first == "" {
				first = err.Error()
			}
			if failed >= 10 && len(frame) == 0 {
				break
			}
			continue
		}
		frame = append(frame, ms(d.frame))
		firstByte = append(firstByte, ms(d.first))
		shell = append(shell, ms(d.shell))
		if o.loadedMarker != "" {
			if l, ok := d.waitLoaded(o.timeout); ok {
				loaded = append(loaded, ms(l))
			} else {
				loadMissed++
			}
		}
		if i == 0 && o.dump != "" {
			if err := os.WriteFile(o.dump, d.w.dump(), 0o644); err != nil {
				return err
			}
		}
		if err := d.finish(o); err != nil {
			failed++
			if first == "" {
				first = "end: " + err.Error()
			}
		}
	}
	if first != "" {
		fmt.Fprintf(os.Stderr, "tuiclient: %d failed, first: %s\n", failed, first)
	}
	fmt.Printf("frame_n=%d\nframe_failed=%d\n", len(frame), failed)
	printPct("frame", frame)
	printPct("shell", shell)
	printPct("firstbyte", firstByte)
	if o.loadedMarker != "" {
		fmt.Printf("loaded_n=%d\nloaded_missed=%d\n", len(loaded), loadMissed)
		printPct("loaded", loaded)
	}
	if len(frame) == 0 {
		return errors.New("no first frame seen")
	}
	return nil
}

// holdOpen opens -sessions dashboards and holds them until stdin closes.
func holdOpen(o options, cfg *gossh.ClientConfig) error {
	start := time.Now()
	var (
		mu     sync.Mutex
		open   []*dash
		frame  []float64
		nFail  atomic.Int32
		first  atomic.Value
		claims atomic.Int32
		wg     sync.WaitGroup
	)
	for w := 0; w < max(o.parallel, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for int(nFail.Load()) < 10 && int(claims.Add(1)) <= o.sessions {
				d, err := openDash(o, cfg, false)
				if err != nil {
					nFail.Add(1)
					first.CompareAndSwap(nil, err.Error())
					continue
				}
				mu.Lock()
				open = append(open, d)
				frame = append(frame, ms(d.frame))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	defer func() { // end them all at once, as many clients going away
		var ew sync.WaitGroup
		for _, d := range open {
			ew.Go(func() { _ = d.finish(o) })
		}
		ew.Wait()
	}()
	if e, ok := first.Load().(string); ok {
		fmt.Fprintf(os.Stderr, "tuiclient: %d sessions failed, first: %s\n", nFail.Load(), e)
	}
	slices.Sort(frame)
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "ready sessions=%d failed=%d seconds=%.2f frame_p50_ms=%.2f frame_max_ms=%.2f\n",
		len(open), nFail.Load(), time.Since(start).Seconds(), pct(frame, 50), pct(frame, 100))
	if err := out.Flush(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(o.hold):
		return errors.New("-hold passed")
	}
}

// dash is one open dashboard.
type dash struct {
	client *gossh.Client
	sess   *gossh.Session
	stdin  io.WriteCloser
	w      *watcher
	shell  time.Duration // to the shell request's reply
	first  time.Duration // to the first byte
	frame  time.Duration
}

// openDash dials and authenticates (not timed), then opens the session and
// times it to the first frame.
func openDash(o options, cfg *gossh.ClientConfig, keep bool) (*dash, error) {
	conn, err := net.DialTimeout("tcp", o.addr, o.timeout)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(o.timeout))
	c, chans, reqs, err := gossh.NewClientConn(conn, o.addr, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	client := gossh.NewClient(c, chans, reqs)
	d, err := startDash(o, client, keep)
	if err != nil {
		client.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return d, nil
}

func startDash(o options, client *gossh.Client, keep bool) (*dash, error) {
	start := time.Now()
	s, err := client.NewSession()
	if err != nil {
		return nil, fmt.Errorf("session channel: %w", err)
	}
	stdout, err := s.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := s.StdinPipe()
	if err != nil {
		return nil, err
	}
	w := newWatcher(start, o.frameMarker, o.loadedMarker, keep)
	go w.read(stdout)
	modes := gossh.TerminalModes{gossh.ECHO: 1, gossh.TTY_OP_ISPEED: 38400, gossh.TTY_OP_OSPEED: 38400}
	if err := s.RequestPty(o.term, o.rows, o.cols, modes); err != nil {
		return nil, fmt.Errorf("pty-req: %w", err)
	}
	if err := s.Shell(); err != nil {
		return nil, fmt.Errorf("shell: %w", err)
	}
	d := &dash{client: client, sess: s, stdin: stdin, w: w, shell: time.Since(start)}
	select {
	case <-w.frameSeen:
		d.first, d.frame = w.firstAt, w.frameAt
		return d, nil
	case <-w.eof:
		return nil, fmt.Errorf("output ended before the first frame (%d bytes: %q)", w.n.Load(), w.head())
	case <-time.After(o.timeout):
		return nil, fmt.Errorf("no first frame after %s (%d bytes: %q)", o.timeout, w.n.Load(), w.head())
	}
}

// waitLoaded waits for the loaded marker.
func (d *dash) waitLoaded(timeout time.Duration) (time.Duration, bool) {
	select {
	case <-d.w.loadedSeen:
		return d.w.loadedAt, true
	case <-time.After(timeout):
		return 0, false
	}
}

// finish ends the session: the connection closed, or q typed and the
// session's end awaited (then the connection closed).
func (d *dash) finish(o options) error {
	defer d.client.Close()
	if o.end == "drop" {
		return nil
	}
	if _, err := d.stdin.Write([]byte("q")); err != nil {
		return err
	}
	ended := make(chan error, 1)
	go func() { ended <- d.sess.Wait() }()
	select {
	case err := <-ended:
		var exit *gossh.ExitError
		if errors.As(err, &exit) {
			return fmt.Errorf("exit status %d", exit.ExitStatus())
		}
		return err
	case <-time.After(o.timeout):
		return errors.New("the session did not end after q")
	}
}

// watcher reads a session's output and stamps the reads that bring the
// markers. Once both are seen it discards what it reads, unless it keeps
// everything for -dump.
type watcher struct {
	start               time.Time
	frameMarker, loaded []byte
	keep                bool

	buf        []byte
	reads      [][]byte // kept for -dump
	n          atomic.Int64
	mu         sync.Mutex
	firstAt    time.Duration // the first read's; set before frameSeen is closed
	frameAt    time.Duration // set before frameSeen is closed
	loadedAt   time.Duration // set before loadedSeen is closed
	frameSeen  chan struct{}
	loadedSeen chan struct{}
	eof        chan struct{}
}

func newWatcher(start time.Time, frameMarker, loadedMarker string, keep bool) *watcher {
	return &watcher{
		start: start, frameMarker: []byte(frameMarker), loaded: []byte(loadedMarker), keep: keep,
		frameSeen: make(chan struct{}), loadedSeen: make(chan struct{}), eof: make(chan struct{}),
	}
}

const maxWatch = 1 << 20 // bytes looked at for the markers

func (w *watcher) read(r io.Reader) {
	defer close(w.eof)
	frame, loaded := false, len(w.loaded) == 0
	b := make([]byte, 32<<10)
	for {
		n, err := r.Read(b)
		if n > 0 {
			at := time.Since(w.start)
			w.mu.Lock()
			if w.n.Add(int64(n)) == int64(n) {
				w.firstAt = at
			}
			if w.keep {
				w.reads = append(w.reads, bytes.Clone(b[:n]))
			}
			if (!frame || !loaded) && len(w.buf) < maxWatch {
				w.buf = append(w.buf, b[:n]...)
				if i := bytes.Index(w.buf, []byte(altScreen)); i >= 0 {
					vis := visible(w.buf[i+len(altScreen):])
					if !frame && bytes.Contains(vis, w.frameMarker) {
						frame = true
						w.frameAt = at
						close(w.frameSeen)
					}
					if !loaded && bytes.Contains(vis, w.loaded) {
						loaded = true
						w.loadedAt = at
						close(w.loadedSeen)
					}
				}
				if frame && loaded {
					w.buf = nil
				}
			}
			w.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// head is the start of what was read, for error messages.
func (w *watcher) head() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.buf[:min(len(w.buf), 300)])
}

// dump is every read so far, Go-quoted, one a line, with its size.
func (w *watcher) dump() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out bytes.Buffer
	for _, r := range w.reads {
		fmt.Fprintf(&out, "%d %q\n", len(r), r)
	}
	return out.Bytes()
}

// visible is b without its escape sequences (CSI, OSC, DCS, APC, PM, SOS
// and two-byte escapes) and control characters: the text a terminal shows,
// in the order it was written.
func visible(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == 0x1b && i+1 < len(b):
			i++
			switch b[i] {
			case '[': // CSI: parameters and intermediates, then a final byte 0x40-0x7e
				for i+1 < len(b) && (b[i+1] < 0x40 || b[i+1] > 0x7e) {
					i++
				}
				i++
			case ']', 'P', '_', '^', 'X': // string until BEL or ST (ESC \)
				for i+1 < len(b) && b[i+1] != 0x07 && (b[i+1] != 0x1b || i+2 >= len(b) || b[i+2] != '\\') {
					i++
				}
				if i+1 < len(b) && b[i+1] == 0x1b {
					i++
				}
				i++
			}
		case c < 0x20 || c == 0x7f:
		default:
			out = append(out, c)
		}
	}
	return out
}

// clientConfig authenticates as user with the key in keyFile.
func clientConfig(user, keyFile string, timeout time.Duration) (*gossh.ClientConfig, error) {
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	return &gossh.ClientConfig{
		User:            user,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), // loopback benchmark only
		Timeout:         timeout,
	}, nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// pct is the nearest-rank percentile of sorted values.
func pct(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(len(sorted)-1, i))]
}

func printPct(name string, v []float64) {
	slices.Sort(v)
	for _, p := range []struct {
		k string
		p float64
	}{{"p50", 50}, {"p90", 90}, {"p99", 99}, {"max", 100}} {
		fmt.Printf("%s_%s_ms=%.2f\n", name, p.k, pct(v, p.p))
	}
	if len(v) > 0 {
		fmt.Printf("%s_min_ms=%.2f\n", name, v[0])
	}
}
