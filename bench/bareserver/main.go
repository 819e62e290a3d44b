// Command bareserver is the floor that bench/cmd-roundtrip.sh holds
// dokku-sshd against: the least an SSH server on golang.org/x/crypto/ssh
// does to answer `ssh HOST version`. One ed25519 host key, one authorized
// public key, TCP_NODELAY and TCP_QUICKACK as dokku-sshd sets them, and an
// exec of "version" answered in process with the bytes given by -reply and
// exit status 0. Anything else on a session is refused; a session channel
// without a request stays open (the idle-session phase). No limits, no
// keepalives, no logging: it is a benchmark baseline, not a server.
//
//	bareserver -listen 127.0.0.1:PORT -host-key KEY -authorized KEY.pub -reply 'dokku-sshd version 0.1.0'
//
// It prints "listening ADDR" on stdout once it accepts connections. Only
// loopback addresses are accepted.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

func main() {
	var (
		listen     = flag.String("listen", "127.0.0.1:0", "address to listen on (loopback only)")
		hostKey    = flag.String("host-key", "", "host private key file (unencrypted, OpenSSH format)")
		authorized = flag.String("authorized", "", "the one public key allowed to log in (one authorized_keys line)")
		user       = flag.String("user", "dokku", "the only login user")
		reply      = flag.String("reply", "", "what an exec of \"version\" writes to stdout (a newline is added)")
		profile    = flag.String("cpu-profile", "", "write a Go CPU profile to this file until SIGTERM or SIGINT")
	)
	flag.Parse()
	if *profile != "" {
		if err := profileUntilSignal(*profile); err != nil {
			fmt.Fprintln(os.Stderr, "bareserver:", err)
			os.Exit(1)
		}
	}
	if err := run(*listen, *hostKey, *authorized, *user, *reply); err != nil {
		fmt.Fprintln(os.Stderr, "bareserver:", err)
		os.Exit(1)
	}
}

func run(listen, hostKeyFile, authorizedFile, user, reply string) error {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-listen %q: loopback addresses only", listen)
	}
	pem, err := os.ReadFile(hostKeyFile)
	if err != nil {
		return fmt.Errorf("host key: %w", err)
	}
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		return fmt.Errorf("host key %s: %w", hostKeyFile, err)
	}
	line, err := os.ReadFile(authorizedFile)
	if err != nil {
		return fmt.Errorf("authorized key: %w", err)
	}
	allowed, _, _, _, err := gossh.ParseAuthorizedKey(line)
	if err != nil {
		return fmt.Errorf("authorized key %s: %w", authorizedFile, err)
	}
	want := allowed.Marshal()
	cfg := &gossh.ServerConfig{
		PublicKeyCallback: func(meta gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
			if meta.User() == user && bytes.Equal(key.Marshal(), want) {
				return &gossh.Permissions{}, nil
			}
			return nil, errors.New("key not authorized")
		},
	}
	cfg.AddHostKey(signer)
	out := []byte(reply + "\n")

	l, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", listen, err)
	}
	fmt.Println("listening", l.Addr())
	for {
		nc, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		go serveConn(tune(nc), cfg, out)
	}
}

// quickAckConn re-arms TCP_QUICKACK after each read, as dokku-sshd does:
// Linux leaves quick-ACK mode on its own.
type quickAckConn struct {
	net.Conn
	raw syscall.RawConn
}

func (c *quickAckConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		quickAck(c.raw)
	}
	return n, err
}

func quickAck(raw syscall.RawConn) {
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	})
}

func tune(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	_ = tc.SetNoDelay(true)
	raw, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	quickAck(raw)
	return &quickAckConn{Conn: nc, raw: raw}
}

func serveConn(nc net.Conn, cfg *gossh.ServerConfig, out []byte) {
	defer nc.Close()
	sc, chans, reqs, err := gossh.NewServerConn(nc, cfg)
	if err != nil {
		return
	}
	defer sc.Close()
	go gossh.DiscardRequests(reqs)
	for nch := range chans {
		if nch.ChannelType() != "session" {
			_ = nch.Reject(gossh.UnknownChannelType, "session channels only")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			continue
		}
		go serveSession(ch, creqs, out)
	}
}

// serveSession answers the session's requests on the one goroutine x/crypto
// needs anyway to drain them: the reply is written in place.
func serveSession(ch gossh.Channel, reqs <-chan *gossh.Request, out []byte) {
	defer ch.Close()
	for req := range reqs {
		var cmd struct{ Command string }
		if req.Type != "exec" || gossh.Unmarshal(req.Payload, &cmd) != nil || cmd.Command != "version" {
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
			continue
		}
		if req.WantReply {
			_ = req.Reply(true, nil)
		}
		_, _ = ch.Write(out)
		_ = ch.CloseWrite()
		_, _ = ch.SendRequest("exit-status", false, gossh.Marshal(struct{ Status uint32 }{0}))
		return
	}
}

// profileUntilSignal starts a CPU profile and ends the process, profile
// written, on SIGTERM or SIGINT.
func profileUntilSignal(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("-cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return fmt.Errorf("-cpu-profile: %w", err)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		pprof.StopCPUProfile()
		_ = f.Close()
		os.Exit(0)
	}()
	return nil
}
