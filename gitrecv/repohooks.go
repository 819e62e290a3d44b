package gitrecv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"dokku-sshd/internal/gitexec"
)

// RepoHooks makes a push behave as C git's receive-pack under git-shell
// (Dokku host mode): the repository's own hooks run (pre-receive, update,
// post-receive, post-update) with C git's environment, and its receive.*
// settings are honoured. A Receiver with RepoHooks set ignores Hook.
type RepoHooks struct {
	once     sync.Once
	execPath string // git's exec path (`git --exec-path`), asked once
}

type hookSessionKey struct{}

// hookSession is what a push's hooks get of the session.
type hookSession struct {
	env  []string
	stop context.Context
}

// WithHookSession returns ctx carrying what the session's hooks get: the
// environment they start from, what OpenSSH gives a forced command (HOME,
// USER, LOGNAME, SHELL, PATH, SSH_*), and stop, whose end stops them (their
// process groups get SIGTERM, then SIGKILL after hookKillGrace). Not the
// session's cancellation: a client that goes away is no reason to stop a
// hook, as C git does not. Without it no hook runs: a push fails closed
// rather than give a hook the server's own environment.
func WithHookSession(ctx context.Context, env []string, stop context.Context) context.Context {
	return context.WithValue(ctx, hookSessionKey{}, hookSession{env: env, stop: stop})
}

var errNoHookSession = errors.New("no environment for the repository's hooks")

func hookSessionFrom(ctx context.Context) (hookSession, error) {
	if hs, ok := ctx.Value(hookSessionKey{}).(hookSession); ok && hs.env != nil && hs.stop != nil {
		return hs, nil
	}
	return hookSession{}, errNoHookSession
}

// hookKillGrace is how long a stopped hook's process group has between
// SIGTERM and SIGKILL.
const hookKillGrace = 10 * time.Second

// repoConfig is what receive-pack reads of the repository's configuration.
type repoConfig struct {
	denyDeletes, denyNonFastForwards, fsckObjects bool
	advertisePushOptions, advertiseAtomic         bool
	ignoredHookAdvice, autoGC                     bool
	unpackLimit                                   int
	keepAlive                                     time.Duration
	// denyDeleteCurrent is receive.denyDeleteCurrent: "" unset, else
	// ignore, warn or refuse.
	denyDeleteCurrent string
}

// readRepoConfig reads the settings with the defaults and precedence of C
// git 2.39, the reference the tests compare with: receive.* before
// transfer.*, except the unpack limit, where transfer.unpackLimit wins
// (git 2.42 turned that one round).
func readRepoConfig(ctx context.Context, repo string) (repoConfig, error) {
	c := repoConfig{advertiseAtomic: true, ignoredHookAdvice: true, autoGC: true, unpackLimit: 100, keepAlive: 5 * time.Second}
	out, err := gitexec.Output(ctx, repo, nil, nil, "config", "-z", "--get-regexp",
		`^(receive\.(denydeletes|denynonfastforwards|fsckobjects|advertisepushoptions|advertiseatomic|unpacklimit|denydeletecurrent|autogc|keepalive)|transfer\.(fsckobjects|unpacklimit)|advice\.ignoredhook)$`)
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == 1 {
		return c, nil // none set
	}
	if err != nil {
		return c, fmt.Errorf("read the repository's receive settings: %w", err)
	}
	vals := map[string]string{}
	for _, kv := range strings.Split(string(out), "\x00") {
		k, v, _ := strings.Cut(kv, "\n")
		if k != "" {
			vals[strings.ToLower(k)] = v // the last one wins, as in git
		}
	}
	pick := func(keys ...string) (string, bool) {
		for _, k := range keys {
			if v, ok := vals[k]; ok {
				return v, true
			}
		}
		return "", false
	}
	flag := func(def bool, keys ...string) bool {
		if v, ok := pick(keys...); ok {
			return configBool(v)
		}
		return def
	}
	c.denyDeletes = flag(false, "receive.denydeletes")
	c.denyNonFastForwards = flag(false, "receive.denynonfastforwards")
	c.fsckObjects = flag(false, "receive.fsckobjects", "transfer.fsckobjects")
	c.advertisePushOptions = flag(false, "receive.advertisepushoptions")
	c.advertiseAtomic = flag(true, "receive.advertiseatomic")
	c.ignoredHookAdvice = flag(true, "advice.ignoredhook")
	c.autoGC = flag(true, "receive.autogc")
	if v, ok := pick("receive.denydeletecurrent"); ok {
		c.denyDeleteCurrent = denyAction(v)
	}
	if v, ok := pick("receive.keepalive"); ok {
		var sec int
		if _, err := fmt.Sscan(v, &sec); err != nil {
			return c, fmt.Errorf("bad receive.keepAlive %q: %w", v, err)
		}
		c.keepAlive = time.Duration(sec) * time.Second
	}
	if v, ok := pick("transfer.unpacklimit", "receive.unpacklimit"); ok {
		if _, err := fmt.Sscan(v, &c.unpackLimit); err != nil {
			return c, fmt.Errorf("bad unpack limit %q: %w", v, err)
		}
	}
	return c, nil
}

// configBool is git's boolean: a key without value is true.
func configBool(v string) bool {
	switch strings.ToLower(v) {
	case "", "true", "yes", "on", "1":
		return true
	}
	return false
}

// denyAction reads a receive.deny* setting as C git does; "updateInstead"
// refuses a deletion like "refuse".
func denyAction(v string) string {
	switch l := strings.ToLower(v); l {
	case "ignore", "warn", "refuse":
		return l
	case "updateinstead":
		return "refuse"
	}
	if configBool(v) {
		return "refuse"
	}
	return "ignore"
}

// capabilities is what receive-pack advertises for this repository.
func (c repoConfig) capabilities() string {
	caps := "report-status delete-refs side-band-64k quiet"
	if c.advertiseAtomic {
		caps += " atomic"
	}
	if c.advertisePushOptions {
		caps += " push-options"
	}
	return caps + " ofs-delta object-format=sha1"
}

func (h *RepoHooks) gitExecPath(ctx context.Context) string {
	h.once.Do(func() {
		// Not the session's cancellation: the answer serves every push.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if out, err := gitexec.Output(ctx, "", nil, nil, "--exec-path"); err == nil {
			h.execPath = strings.TrimSpace(string(out))
		}
	})
	return h.execPath
}

// hookRun is one run of a hook.
type hookRun struct {
	name  string
	args  []string
	stdin string
	// extra is added to the environment last; a bare name unsets it.
	extra []string
}

// env is the environment of a hook in repo: the session's, with what git
// adds on the way (git-shell, git and receive-pack each put the exec path
// in front of PATH, and GIT_EXEC_PATH), GIT_DIR "." as receive-pack runs in
// a bare repository, and the run's own variables.
func (h *RepoHooks) env(ctx context.Context, base, extra []string) []string {
	exe := h.gitExecPath(ctx)
	env := make([]string, 0, len(base)+len(extra)+3)
	for _, kv := range base {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == "PATH" && exe != "":
			kv = "PATH=" + strings.Repeat(exe+":", 3) + v
		case k == "GIT_EXEC_PATH", k == "GIT_DIR":
			continue
		}
		env = append(env, kv)
	}
	if exe != "" {
		env = append(env, "GIT_EXEC_PATH="+exe)
	}
	env = append(env, "GIT_DIR=.")
	for _, kv := range extra {
		name, _, set := strings.Cut(kv, "=")
		env = withoutVar(env, name)
		if set {
			env = append(env, kv)
		}
	}
	return env
}

func withoutVar(env []string, name string) []string {
	out := env[:0]
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k != name {
			out = append(out, kv)
		}
	}
	return out
}

// pushHooks is the hooks of one push.
type pushHooks struct {
	*RepoHooks
	repo   string
	cfg    repoConfig
	errw   io.Writer // the session's stderr, where git's hints go
	out    io.Writer // the client's terminal: side-band 2 or stderr
	hinted map[string]bool
	head   string // the ref HEAD names
	// keepalive, when set, tells the client the push is alive while a
	// hook is silent (side-band only).
	keepalive func()
}

// find returns the hook's path when it exists and is executable, as git's
// find_hook: one that exists but is not executable is skipped with git's
// hint on the session's stderr, once a push.
func (h *pushHooks) find(name string) string {
	p := filepath.Join(h.repo, "hooks", name)
	st, err := os.Stat(p)
	if err != nil || st.IsDir() {
		return ""
	}
	if st.Mode()&0o111 == 0 {
		if h.cfg.ignoredHookAdvice && !h.hinted[name] {
			if h.hinted == nil {
				h.hinted = map[string]bool{}
			}
			h.hinted[name] = true
			fmt.Fprintf(h.errw, "hint: The 'hooks/%s' hook was ignored because it's not set as executable.\n"+
				"hint: You can disable this warning with `git config advice.ignoredHook false`.\n", name)
		}
		return ""
	}
	return p
}

// run runs one hook in repo, in a process group of its own, with its
// stdout and stderr on out, live, and returns its failure. A client that
// goes away is not a reason to stop a hook (C git does not either): its
// output pipe closes, and the hook sees that on its next write. The
// session's stop (WithHookSession) stops the whole group.
func (h *pushHooks) run(ctx context.Context, path string, r hookRun) error {
	hs, err := hookSessionFrom(ctx)
	if err != nil {
		return fmt.Errorf("hook %s: %w", r.name, err)
	}
	var out io.Writer = h.out
	if h.keepalive != nil && h.cfg.keepAlive > 0 {
		ka := newKeepalive(h.out, h.cfg.keepAlive, h.keepalive)
		defer ka.stop()
		out = ka
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("hook %s: %w", r.name, err)
	}
	env := h.env(ctx, hs.env, r.extra)
	start := func(argv ...string) (*exec.Cmd, error) {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir, cmd.Env = h.repo, env
		if r.stdin != "" {
			cmd.Stdin = strings.NewReader(r.stdin)
		}
		cmd.Stdout, cmd.Stderr = pw, pw
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		return cmd, cmd.Start()
	}
	cmd, err := start(append([]string{path}, r.args...)...)
	if errors.Is(err, syscall.ENOEXEC) {
		// A script without #!: git runs it with the shell.
		cmd, err = start(append([]string{"/bin/sh", path}, r.args...)...)
	}
	pw.Close()
	if err != nil {
		pr.Close()
		return fmt.Errorf("hook %s: %w", r.name, err)
	}
	// Until the output is closed: what the hook left running holds it.
	defer stopGroupOn(hs.stop, cmd.Process.Pid)()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, _ = io.Copy(out, pr)
		pr.Close() // a gone client: the hook's next write fails
	}()
	// The server stopping, and the hook's group killed, gives up on the
	// output after hookKillGrace.
	giveUp := make(chan struct{})
	defer context.AfterFunc(hs.stop, func() {
		time.Sleep(hookKillGrace)
		close(giveUp)
	})()
	err = cmd.Wait()
	select {
	case <-copied:
	case <-giveUp:
		// Something the hook started in a session of its own (out of the
		// group's reach) still holds the output: stop reading it, or a
		// shutdown would wait for it forever.
		pr.Close()
		<-copied
	}
	if err != nil {
		return fmt.Errorf("hook %s: %w", r.name, err)
	}
	return nil
}

// stopGroupOn stops process group pgid when stop ends: SIGTERM, then
// SIGKILL after hookKillGrace unless the returned func was called first
// (the group is done with).
func stopGroupOn(stop context.Context, pgid int) func() {
	done := make(chan struct{})
	unregister := context.AfterFunc(stop, func() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(hookKillGrace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	})
	return func() {
		unregister()
		close(done)
	}
}

// feed is the pre-receive and post-receive input: "old new ref" lines.
func feed(cmds []Command) string {
	var b bytes.Buffer
	for _, c := range cmds {
		fmt.Fprintf(&b, "%s %s %s\n", c.Old, c.New, c.Ref)
	}
	return b.String()
}

// pushOptionEnv is what pre-receive and post-receive get of the push
// options; receive-pack always passes the count, 0 when the client sent
// none or did not negotiate them.
func pushOptionEnv(req *Request) []string {
	env := make([]string, 0, len(req.PushOptions)+1)
	for i, o := range req.PushOptions {
		env = append(env, fmt.Sprintf("GIT_PUSH_OPTION_%d=%s", i, o))
	}
	return append(env, fmt.Sprintf("GIT_PUSH_OPTION_COUNT=%d", len(req.PushOptions)))
}

// keepalive passes a hook's output through and, after each keepAlive of
// silence, calls send, as receive-pack sends an empty side-band packet
// that clients and proxies see as traffic and git shows nothing of.
type keepalive struct {
	mu   sync.Mutex
	w    io.Writer
	last time.Time
	done chan struct{}
	wg   sync.WaitGroup
}

func newKeepalive(w io.Writer, every time.Duration, send func()) *keepalive {
	k := &keepalive{w: w, last: time.Now(), done: make(chan struct{})}
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		t := time.NewTicker(every / 5)
		defer t.Stop()
		for {
			select {
			case <-k.done:
				return
			case now := <-t.C:
				k.mu.Lock()
				if now.Sub(k.last) >= every {
					send()
					k.last = now
				}
				k.mu.Unlock()
			}
		}
	}()
	return k
}

func (k *keepalive) Write(p []byte) (int, error) {
	k.mu.Lock()
	k.last = time.Now()
	k.mu.Unlock()
	return k.w.Write(p)
}

func (k *keepalive) stop() {
	close(k.done)
	k.wg.Wait()
}
