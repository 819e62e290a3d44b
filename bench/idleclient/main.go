// Command idleclient holds idle SSH sessions open against one server for
// bench/cmd-roundtrip.sh, so the server's memory per idle session can be read.
//
// An idle session is one connection, authenticated with a public key, with one
// session channel open and no request sent on it: what an interactive client
// costs while it has not asked for anything yet. It works the same against
// dokku-sshd and OpenSSH sshd (no remote command is needed to keep it open).
//
//	idleclient -addr 127.0.0.1:2222 -user dokku -key KEY -levels 100,1000
//
// For each level it opens connections until that many are open, prints one
// line to stdout:
//
//	ready level=100 reached=100 failed=0 seconds=1.23
//
// and waits for a line on stdin before the next level. After the last level
// it waits for stdin to close (or -hold to pass), closes everything and exits.
// A level that cannot be reached (the server refuses, or -level-timeout
// passes) is reported with the number actually reached. Only loopback
// addresses are accepted.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

func main() {
	var (
		addr         = flag.String("addr", "", "server address, 127.0.0.1:PORT (loopback only)")
		user         = flag.String("user", "dokku", "login user")
		keyFile      = flag.String("key", "", "private key file (unencrypted)")
		levelsFlag   = flag.String("levels", "100,1000", "comma-separated session counts, ascending")
		parallel     = flag.Int("parallel", 8, "connections being set up at once (keep under sshd's MaxStartups)")
		dialTimeout  = flag.Duration("dial-timeout", 15*time.Second, "time allowed for one connection's handshake and authentication")
		levelTimeout = flag.Duration("level-timeout", 5*time.Minute, "time allowed to reach one level")
		maxFailures  = flag.Int("max-failures", 50, "give up on a level after this many failed connections")
		hold         = flag.Duration("hold", 15*time.Minute, "exit after this long even if stdin stays open")
	)
	flag.Parse()
	if err := run(*addr, *user, *keyFile, *levelsFlag, *parallel, *dialTimeout, *levelTimeout, *maxFailures, *hold); err != nil {
		fmt.Fprintln(os.Stderr, "idleclient:", err)
		os.Exit(1)
	}
}

func run(addr, user, keyFile, levelsFlag string, parallel int, dialTimeout, levelTimeout time.Duration, maxFailures int, hold time.Duration) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %s: only loopback addresses are allowed", addr)
	}
	levels, err := parseLevels(levelsFlag)
	if err != nil {
		return err
	}
	cfg, err := clientConfig(user, keyFile, dialTimeout)
	if err != nil {
		return err
	}
	p := &pool{addr: addr, cfg: cfg, dialTimeout: dialTimeout, parallel: parallel, maxFailures: maxFailures}
	defer p.close()
	quit := make(chan struct{})
	lines := make(chan string)
	go func() { // stdin: one line per "next level", EOF to finish
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(quit)
	}()
	deadline := time.After(hold)
	out := bufio.NewWriter(os.Stdout)

	for i, level := range levels {
		start := time.Now()
		reached, failed, firstErr := p.fill(level, start.Add(levelTimeout))
		if firstErr != nil {
			fmt.Fprintf(os.Stderr, "idleclient: level %d: %d failed connections, first: %s\n", level, failed, *firstErr)
		}
		fmt.Fprintf(out, "ready level=%d reached=%d failed=%d seconds=%.2f\n", level, reached, failed, time.Since(start).Seconds())
		if err := out.Flush(); err != nil {
			return err
		}
		if i == len(levels)-1 {
			break
		}
		// wait for the go-ahead for the next level
		if more, err := next(lines, quit, deadline); !more {
			return err
		}
	}
	for { // hold until stdin closes
		if more, err := next(lines, quit, deadline); !more {
			return err
		}
	}
}

// next waits for a line on stdin (true), for stdin's end (false), or for
// the -hold deadline (false and an error).
func next(lines <-chan string, quit <-chan struct{}, deadline <-chan time.Time) (bool, error) {
	select {
	case <-lines:
		return true, nil
	case <-quit:
		return false, nil
	case <-deadline:
		return false, errors.New("-hold passed")
	}
}

// parseLevels reads -levels: positive counts, ascending.
func parseLevels(levelsFlag string) ([]int, error) {
	var levels []int
	for _, f := range strings.Split(levelsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-levels: bad count %q", f)
		}
		if len(levels) > 0 && n < levels[len(levels)-1] {
			return nil, errors.New("-levels must be ascending")
		}
		levels = append(levels, n)
	}
	return levels, nil
}

// clientConfig authenticates as user with the key in keyFile.
func clientConfig(user, keyFile string, dialTimeout time.Duration) (*gossh.ClientConfig, error) {
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
		Timeout:         dialTimeout,
	}, nil
}

// pool is the idle sessions held open.
type pool struct {
	addr        string
	cfg         *gossh.ClientConfig
	dialTimeout time.Duration
	parallel    int
	maxFailures int

	mu   sync.Mutex
	open []*gossh.Client
	sess []*gossh.Session
}

// fill opens sessions, -parallel at a time, until level are open, stop
// passes or -max-failures connections failed. It returns the number open,
// the failures and the first failure's text (nil when none).
func (p *pool) fill(level int, stop time.Time) (reached int, failed int32, firstErr *string) {
	var nFailed atomic.Int32
	var first atomic.Value
	p.mu.Lock()
	need := level - len(p.open)
	p.mu.Unlock()
	var wg sync.WaitGroup
	var claimed atomic.Int32
	for w := 0; w < max(p.parallel, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) && int(nFailed.Load()) < p.maxFailures {
				if int(claimed.Add(1)) > need {
					return
				}
				c, s, err := dialIdle(p.addr, p.cfg, p.dialTimeout)
				if err != nil {
					claimed.Add(-1)
					nFailed.Add(1)
					first.CompareAndSwap(nil, err.Error())
					time.Sleep(50 * time.Millisecond)
					continue
				}
				p.mu.Lock()
				p.open = append(p.open, c)
				p.sess = append(p.sess, s)
				p.mu.Unlock()
			}
		}()
	}
	wg.Wait()
	p.mu.Lock()
	reached = len(p.open)
	p.mu.Unlock()
	if e, ok := first.Load().(string); ok {
		firstErr = &e
	}
	return reached, nFailed.Load(), firstErr
}

// close closes every session and connection.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.sess {
		_ = s.Close()
	}
	for _, c := range p.open {
		_ = c.Close()
	}
}

// dialIdle opens one authenticated connection with one session channel on
// which nothing is requested.
func dialIdle(addr string, cfg *gossh.ClientConfig, timeout time.Duration) (*gossh.Client, *gossh.Session, error) {
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	c, chans, reqs, err := gossh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	client := gossh.NewClient(c, chans, reqs)
	s, err := client.NewSession()
	if err != nil {
		client.Close()
		return nil, nil, fmt.Errorf("session channel: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	return client, s, nil
}
