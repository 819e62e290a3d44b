package integration

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"dokku-sshd/internal/testbuf"
)

// Commands without a terminal: arguments reach Dokku as bash splits
// $SSH_ORIGINAL_COMMAND (quotes kept, $ not expanded, globs expanded in
// the home directory), with the same environment, streams and exit status.
func TestHostCommands(t *testing.T) {
	t.Parallel()
	p := newHostPair(t)
	for _, tc := range []struct {
		name  string
		stdin string
		words []string
	}{
		{"plain", "", []string{"apps:list"}},
		{"output", "", []string{"logs", "app", "rec:print=out line", "rec:eprint=err line", "rec:print=more"}},
		{"quotes", "", []string{"config:set", "app", `'A=b c'`, `"D=e f"`, `G=it\'s`}},
		{"dollar", "", []string{"config:set", "app", "X=$HOME", "'$(id)'", "${PATH}", "`id`"}},
		{"globs", "", []string{"run", "app", "/etc/host*", "*.no-such-file-here", "[a]"}},
		{"newlines", "", []string{"config:set", "app", "A=one\ntwo", "'B=three\nfour'"}},
		{"global flags", "", []string{"--quiet", "--app", "app", "ps:report"}},
		{"help", "", []string{"help"}},
		{"version", "", []string{"version"}},
		{"exit 0", "", []string{"apps:exists", "app", "rec:exit=0"}},
		{"exit 1", "", []string{"apps:exists", "app", "rec:eprint=!     App app does not exist", "rec:exit=1"}},
		{"exit 20", "", []string{"apps:exists", "app", "rec:exit=20"}},
		{"stdin", "first line\nsecond line\nno newline", []string{"config:import", "app", "rec:stdin=1"}},
		{"empty stdin", "", []string{"config:import", "app", "rec:stdin=1"}},
		{"killed by a signal", "", []string{"run", "app", "rec:print=before", "rec:kill=TERM"}},
		{"ssh-keys lookalike", "", []string{"ssh-keysx:list"}},
		{"ssh-keys command the server does not implement", "", []string{"ssh-keys:foo", "rec:print=from-dokku"}},
	} {
		p.both(t, tc.name, func(h hostTarget) result {
			return h.hostSSH(t, p.l, p.key, sshOpts{Stdin: tc.stdin}, tc.words...)
		})
	}
	// Actions given by the layout (rec-args) rather than the arguments.
	p.l.setVerbArgs(t, "ps:stop", "rec:eprint=stopping", "rec:exit=20")
	p.both(t, "actions by verb", func(h hostTarget) result {
		return h.hostSSH(t, p.l, p.key, sshOpts{}, "ps:stop", "app")
	})
	p.l.setVerbArgs(t, "ps:stop")
	// No command: a shell request, without SSH_ORIGINAL_COMMAND (Dokku
	// prints its help).
	p.both(t, "no command", func(h hostTarget) result {
		return h.hostSSH(t, p.l, p.key, sshOpts{Extra: []string{"-T"}})
	})
}

// With ssh -t the command gets a terminal of its own: TERM, SSH_TTY, its
// size, and a window change that reaches it; the exit status comes back.
func TestHostTerminal(t *testing.T) {
	t.Parallel()
	requireTools(t, "tmux")
	p := newHostPair(t)
	p.both(t, "terminal resize", func(h hostTarget) result {
		argv := append([]string{"ssh", "-t"}, h.sshArgv(p.key, sshOpts{User: p.l.User}, "enter", "app", "web",
			"rec:resize=1", "rec:print=resized", "rec:exit=7")...)
		tm := newTmux(t, argv)
		tm.waitPane("recorder ready", regexp.MustCompile(`(?m)^rec-ready\s*$`))
		if r := tm.run("resize-window", "-t", "it", "-x", "120", "-y", "40"); r.Code != 0 {
			t.Fatalf("tmux resize-window: %s", r)
		}
		tm.waitPane("exit", regexp.MustCompile(`EXIT=\d+`))
		pane := tm.pane()
		tm.run("kill-server")
		code, _ := strconv.Atoi(regexp.MustCompile(`EXIT=(\d+)`).FindStringSubmatch(pane)[1])
		return result{Stdout: fmt.Sprintf("printed resized: %v", strings.Contains(pane, "resized")), Code: code}
	})
}

// A client that goes away during a command with a terminal: the command
// is hung up (SIGHUP), under OpenSSH by the kernel when sshd closes the
// terminal, under dokku-sshd by a signal to its process group.
func TestHostDisconnectTerminal(t *testing.T) {
	t.Parallel()
	requireTools(t, "tmux")
	p := newHostPair(t)
	p.both(t, "disconnect", func(h hostTarget) result {
		argv := append([]string{"ssh", "-t"}, h.sshArgv(p.key, sshOpts{User: p.l.User}, "logs", "app", "-t",
			"rec:print=started", "rec:sleep=60", "rec:print=not reached")...)
		tm := newTmux(t, argv)
		tm.waitPane("command started", regexp.MustCompile(`(?m)^started\s*$`))
		tm.run("kill-server") // ssh gets SIGHUP and drops the connection
		return result{}
	})
}

// Without a terminal the two differ on purpose: OpenSSH leaves the command
// running when the client goes away (it ends at its next write, with
// SIGPIPE), dokku-sshd hangs it up as it would a terminal's, so that a
// client's disconnect ends the work it started.
func TestHostDisconnectPipes(t *testing.T) {
	t.Parallel()
	p := newHostPair(t)
	for _, tc := range []struct {
		h    hostTarget
		want string // events
		exit string
		// sleep is the command's: short where it ends by itself, long
		// where only the hangup may end it (a loaded CI machine once took
		// longer than 3 s to get there, and the sleep ended first).
		sleep string
	}{
		{p.openssh, "", "0\n", "3"},
		{p.ours, "signal HUP\n", "signal HUP\n", "300"},
	} {
		dir := p.l.recordInto(t, "disconnect-pipes-"+tc.h.Name)
		argv := tc.h.sshArgv(p.key, sshOpts{User: p.l.User}, "logs", "app", "-t", "rec:sleep="+tc.sleep)
		cmd := exec.Command("ssh", argv...)
		cmd.Env = cleanEnv()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if !waitFor(cmdTimeout, func() bool { _, err := os.Stat(filepath.Join(dir, "1", "events")); return err == nil }) {
			t.Fatalf("%s: the command never started", tc.h.Name)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		// The command ends by itself (OpenSSH) or hung up (dokku-sshd).
		if !waitFor(cmdTimeout, func() bool { return exitRecorded(filepath.Join(dir, "1")) }) {
			t.Fatalf("%s: the command had not ended %v after its client went away", tc.h.Name, cmdTimeout)
		}
		rec := hostRecording(t, dir)
		if len(rec) != 1 || rec[0].Events != tc.want || rec[0].Exit != tc.exit {
			t.Errorf("%s: after the client went away: %v; want events %q, exit %q", tc.h.Name, rec, tc.want, tc.exit)
		}
	}
}

// The ssh-keys commands the server implements stay in it, with its
// admin-key policy: their output is native mode's, and Dokku is not called.
// (Any other ssh-keys:* goes to Dokku, see TestHostCommands.)
func TestHostSSHKeysInServer(t *testing.T) {
	t.Parallel()
	l := newHostLayout(t)
	admin, other := newKey(t, "ed25519", "admin"), newKey(t, "ed25519", "other")
	l.addKey(t, "admin", admin)
	l.addKey(t, "other", other)
	common := []string{"--root-dir", l.Root, "--authorized-keys", l.Keys, "--user", l.User, "--admin-keys", "admin"}
	host := l.startServer(t, append([]string{"--dokku-host"}, common...)...)
	native := l.startServer(t, common...)
	dir := l.recordInto(t, "ssh-keys")
	for _, words := range [][]string{
		{"ssh-keys"},
		{"ssh-keys:help"},
		{"ssh-keys:list"},
		{"--quiet", "ssh-keys:list", "--format", "json"},
		{"ssh-keys:add", "new", "x"}, // not an admin
	} {
		want := native.sshWith(t, other, sshOpts{User: l.User}, words...)
		got := host.sshWith(t, other, sshOpts{User: l.User}, words...)
		if got != want {
			t.Errorf("%s: host mode\n%s\nnative mode\n%s", strings.Join(words, " "), got, want)
		}
	}
	if rec := hostRecording(t, dir); len(rec) != 0 {
		t.Errorf("Dokku was called for ssh-keys: %v", rec)
	}
}

// A key whose line has no command= option would get a shell from OpenSSH;
// host mode refuses it.
func TestHostKeyWithoutCommand(t *testing.T) {
	t.Parallel()
	l := newHostLayout(t)
	plain := newKey(t, "ed25519", "plain")
	l.appendKeyLine(t, plain.PubLine+"\n")
	h := startDokkuSSHDHost(t, l)
	dir := l.recordInto(t, "plain")
	r := h.hostSSH(t, l, plain, sshOpts{}, "apps:list")
	expect(t, "a key without a forced command", r, 1, "",
		warn(`Dokku host mode runs only the command="..." of a key's authorized_keys line (sshcommand's); this key has none`))
	if rec := hostRecording(t, dir); len(rec) != 0 {
		t.Errorf("Dokku was called: %v", rec)
	}
}

// A client's signal request: sshd refuses it for a forced-command session
// and the command runs on; so does host mode.
func TestHostSignalRefused(t *testing.T) {
	t.Parallel()
	p := newHostPair(t)
	pem, err := os.ReadFile(p.key.Priv)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.ParsePrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	p.both(t, "signal request", func(h hostTarget) result {
		c, err := gossh.Dial("tcp", h.Addr, &gossh.ClientConfig{User: p.l.User, Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
			HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 15 * time.Second}) // a throwaway server on loopback
		if err != nil {
			t.Fatalf("%s: dial: %v", h.Name, err)
		}
		defer c.Close()
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		var out testbuf.Buffer
		s.Stdout = &out
		if err := s.Start("run app rec:print=started rec:sleep=1 rec:print=done"); err != nil {
			t.Fatal(err)
		}
		waitFor(cmdTimeout, func() bool { return strings.Contains(out.String(), "started") })
		refused := s.Signal(gossh.SIGTERM) // no reply asked: the command's end tells
		code := 0
		var xe *gossh.ExitError
		if err := s.Wait(); errors.As(err, &xe) {
			code = xe.ExitStatus()
		} else if err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		return result{Stdout: fmt.Sprintf("%s(signal request error: %v)", out.String(), refused), Code: code}
	})
}

// At shutdown, a forced command that ignores its hangup is killed within
// the runner's grace, before the server exits: a server that exits first
// leaves it running for good, in a session of its own.
func TestHostShutdownKillsCommand(t *testing.T) {
	t.Parallel()
	l := newHostLayout(t)
	key := newKey(t, "ed25519", "alice")
	l.addKey(t, "alice", key)
	ours := startDokkuSSHDHost(t, l)
	dir := l.recordInto(t, "shutdown")
	cmd := exec.Command("ssh", ours.sshArgv(key, sshOpts{User: l.User}, "logs", "app", "rec:nohup", "rec:sleep=120")...)
	cmd.Env = cleanEnv()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pidFile := filepath.Join(dir, "1", "pid")
	if !waitFor(cmdTimeout, func() bool { _, err := os.Stat(filepath.Join(dir, "1", "events")); return err == nil }) {
		t.Fatal("the command never started")
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %q: %v", b, err)
	}
	ours.Stop()
	// Gone, or a zombie nobody reaped yet.
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 0 && f[0] != "Z" {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("the forced command %d still runs after the server exited: %s", pid, stat)
		}
	}
}
