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
	var levels []int
	for _, f := range strings.Split(levelsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-levels: bad count %q", f)
		}
		if len(levels) > 0 && n < levels[len(levels)-1] {
			return errors.New("-levels must be ascending")
		}
		levels = append(levels, n)
	}
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		return fmt.Errorf("%s: %w", keyFile, err)
	}
	cfg := &gossh.ClientConfig{
		User:            user,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), // loopback benchmark only
		Timeout:         dialTimeout,
	}

	var (
		mu    sync.Mutex
		open  []*gossh.Client
		sess  []*gossh.Session
		quit  = make(chan struct{})
		lines = make(chan string)
	)
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range sess {
			_ = s.Close()
		}
		for _, c := range open {
			_ = c.Close()
		}
	}()
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
		stop := start.Add(levelTimeout)
		var failed atomic.Int32
		var firstErr atomic.Value
		need := level - len(open)
		var wg sync.WaitGroup
		var claimed atomic.Int32
		for w := 0; w < max(parallel, 1); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for time.Now().Before(stop) && int(failed.Load()) < maxFailures {
					if int(claimed.Add(1)) > need {
						return
					}
					c, s, err := dialIdle(addr, cfg, dialTimeout)
					if err != nil {
						claimed.Add(-1)
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						time.Sleep(50 * time.Millisecond)
						continue
					}
					mu.Lock()
					open = append(open, c)
					sess = append(sess, s)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		mu.Lock()
		reached := len(open)
		mu.Unlock()
		if e, ok := firstErr.Load().(string); ok {
			fmt.Fprintf(os.Stderr, "idleclient: level %d: %d failed connections, first: %s\n", level, failed.Load(), e)
		}
		fmt.Fprintf(out, "ready level=%d reached=%d failed=%d seconds=%.2f\n", level, reached, failed.Load(), time.Since(start).Seconds())
		if err := out.Flush(); err != nil {
			return err
		}
		if i == len(levels)-1 {
			break
		}
		select { // wait for the go-ahead for the next level
		case <-lines:
		case <-quit:
			return nil
		case <-deadline:
			return errors.New("-hold passed")
		}
	}
	for { // hold until stdin closes
		select {
		case <-lines:
		case <-quit:
			return nil
		case <-deadline:
			return errors.New("-hold passed")
		}
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
