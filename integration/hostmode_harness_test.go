package integration

// The side-by-side harness of Dokku host mode: one Dokku-like layout (a
// root dir with .sshcommand naming a recorder `dokku` script, apps as bare
// repositories, sshcommand-format authorized_keys) served once by a private
// OpenSSH sshd (Debian's openssh-server, the incumbent) and once by
// dokku-sshd --dokku-host, both for one login user (hostAccount: a
// dedicated unprivileged user when the tests run as root, whose home and
// login shell the tests control). Every `dokku` call the forced command
// makes is recorded; a scenario runs under both servers and the two
// recordings must be equal (hostRecording, hostCompare).
//
// The recorder script (hostRecorderScript) records, per invocation, in a
// directory of its own under the current target (ROOT/rec-target names it):
//
//	argv     the arguments, one per line, bash %q-quoted
//	outer-argv  for a call from the forced command, the arguments it got
//	         from the login shell, before it ran itself again (below)
//	environ  the environment exactly as the process got it (NUL-separated);
//	         for a call from the forced command, as the forced command
//	         got it
//	cwd      the working directory
//	tty      which of stdin, stdout, stderr are terminals; "size ROWS COLS";
//	         the file types of the three (pipe, socket, terminal)
//	stdin    what it read on stdin (only when told to, see below)
//	events   what happened, in order: resizes, signals, Dokku triggers;
//	         made once the signal traps are set, so that a test can wait
//	         for it before it hangs the command up
//	exit     its exit status (written by an EXIT trap)
//
// Arguments of the form rec:ACTION=VALUE are actions, run in order (they
// are recorded in argv too): rec:print=TEXT and rec:eprint=TEXT print a
// line on stdout or stderr, rec:sleep=SECONDS sleeps (a trap records a
// SIGHUP, SIGTERM or SIGINT that ends the sleep, then exits 128+n),
// rec:stdin=1 reads stdin to EOF, rec:resize=1 waits (up to 20s) for the
// terminal size to change and records the new one, rec:kill=SIGNAL kills
// the recorder with SIGNAL (untrapped; the forced command's call too,
// so that the forced command dies by SIGNAL), rec:exit=N exits N. A file
// ROOT/rec-args/VERB adds its lines as actions to every call of VERB (so a
// test can make the `dokku git-hook` of a pre-receive hook fail).
//
// Like Dokku's own `dokku`, a call with SSH_ORIGINAL_COMMAND set (the
// forced command's) un-exports it and runs itself again, as a child, on its
// words, split on blanks without globbing, then exits with the child's
// status; so nothing it starts (git-shell, the repository's hooks, their
// `dokku git-hook`) sees SSH_ORIGINAL_COMMAND, and they see the child's
// shell level. The two calls make one recording. (Dokku splits non-git
// commands with xargs; the recorder splits every command as it splits
// git's.)
//
// Like Dokku's own `dokku`, the recorder serves git's transports (Dokku's
// plugins/git cmd-git-glob and cmd-git-upload-pack), simplified:
//   - the app name is the second word with single quotes and a leading /
//     removed;
//   - git-receive-pack: when ROOT/APP/refs is missing, a recorded
//     `dokku apps:create APP` (a recursive call of the recorder, which makes
//     ROOT/APP) unless ROOT/APP exists, then `git init --bare` and the
//     pre-receive hook Dokku writes, except that it calls the recorder by its
//     absolute path (Dokku's calls `dokku` from PATH); then
//     `git-shell -c "git-receive-pack 'ROOT/APP'"`;
//   - git-upload-pack: apps:create as above when ROOT/APP is missing, the
//     events "trigger git-pre-pull APP", `cat | git-upload-pack ROOT/APP`,
//     "trigger git-post-pull APP";
//   - any other git-*: `git-shell -c "$*"`.
//   - `dokku git-hook APP` records its stdin (the pre-receive ref lines).
//
// Values that must differ between the two servers are normalised before
// the comparison (hostNormaliseEnv): the ports in SSH_CONNECTION and
// SSH_CLIENT, and the pty number in SSH_TTY.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"dokku-sshd/internal/testbuf"
	"dokku-sshd/internal/testenv"
)

// opensshSSHD is Debian's OpenSSH server binary.
const opensshSSHD = "/usr/sbin/sshd"

// hostLayout is a Dokku-like host directory tree shared by both servers.
type hostLayout struct {
	Root     string // DOKKU_ROOT: .sshcommand, .ssh/authorized_keys, apps
	Recorder string // the recorder `dokku` script (.sshcommand names it)
	Keys     string // Root/.ssh/authorized_keys
	User     string // the login user both servers serve (hostAccount)
	Home     string // its home directory (the forced command's cwd)
	recRoot  string // recordings, one directory per target
	acct     hostAccount
}

// newHostLayout writes the layout: the recorder, .sshcommand and an empty
// authorized_keys.
func newHostLayout(t testing.TB) *hostLayout {
	t.Helper()
	requireTools(t, "bash", "git", "git-shell", "stty", "flock")
	acct := hostLogin(t)
	base := acct.dir(t)
	l := &hostLayout{
		Root:    filepath.Join(base, "home-dokku"),
		User:    acct.Name,
		Home:    acct.Home,
		recRoot: filepath.Join(base, "recordings"),
		acct:    acct,
	}
	l.Recorder = filepath.Join(l.Root, "dokku-recorder")
	l.Keys = filepath.Join(l.Root, ".ssh", "authorized_keys")
	for _, d := range []string{filepath.Join(l.Root, ".ssh"), filepath.Join(l.Root, "rec-args"), l.recRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	script := strings.ReplaceAll(hostRecorderScript, "@ROOT@", l.Root)
	if err := os.WriteFile(l.Recorder, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	l.write(t, filepath.Join(l.Root, ".sshcommand"), l.Recorder+"\n")
	l.write(t, l.Keys, "")
	acct.own(t, base)
	return l
}

// write writes a file of the layout, readable by every user and owned by
// the login user.
func (l *hostLayout) write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	l.acct.own(t, path)
}

// addKey appends key's line as `sshcommand acl-add` writes it.
func (l *hostLayout) addKey(t testing.TB, name string, key *keyPair) {
	t.Helper()
	line := `command="FINGERPRINT=` + key.Fingerprint + ` NAME=\"` + name + `\" ` +
		"`cat " + l.Root + "/.sshcommand` $SSH_ORIGINAL_COMMAND\"," +
		"no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding " + key.PubLine + "\n"
	l.appendKeyLine(t, line)
}

// appendKeyLine appends a raw authorized_keys line.
func (l *hostLayout) appendKeyLine(t testing.TB, line string) {
	t.Helper()
	f, err := os.OpenFile(l.Keys, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line); err != nil {
		t.Fatal(err)
	}
}

// recordInto points the recorder at a fresh recordings directory named
// name and returns it.
func (l *hostLayout) recordInto(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(l.recRoot, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l.acct.own(t, dir)
	l.write(t, filepath.Join(l.Root, "rec-target"), dir+"\n")
	return dir
}

// setVerbArgs makes every call of `dokku VERB` also run actions (rec:...);
// none removes them.
func (l *hostLayout) setVerbArgs(t testing.TB, verb string, actions ...string) {
	t.Helper()
	p := filepath.Join(l.Root, "rec-args", verb)
	if len(actions) == 0 {
		_ = os.Remove(p)
		return
	}
	l.write(t, p, strings.Join(actions, "\n")+"\n")
}

// hostTarget is one server serving the layout: its address and how an ssh
// client reaches it. It is a *server for the ssh helpers (sshWith, sshArgv).
type hostTarget struct {
	Name string // "openssh" or "dokku-sshd"
	*server
}

// startOpenSSHHost starts Debian's sshd on a free loopback port serving
// the layout's authorized_keys, as a Dokku host's sshd would. It skips the
// test when openssh-server is not installed (fails under CI=true). It logs
// in the layout's user (hostAccount), never root.
func startOpenSSHHost(t testing.TB, l *hostLayout) hostTarget {
	t.Helper()
	if _, err := os.Stat(opensshSSHD); err != nil {
		testenv.SkipOrFail(t, "this test needs OpenSSH's server at %s (Debian: apt-get install -y openssh-server)", opensshSSHD)
	}
	if os.Geteuid() == 0 {
		// sshd's privilege separation directory, made by the package's
		// init scripts on a real host.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("privilege separation directory: %v", err)
		}
	}
	dir := t.TempDir()
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	run(t, "", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey)
	var lastLog string
	for attempt := 0; attempt < 5; attempt++ {
		s, err := tryOpenSSH(t, l, dir, hostKey)
		if err == nil {
			return hostTarget{Name: "openssh", server: s}
		}
		lastLog = err.Error()
		if !strings.Contains(lastLog, "Address already in use") {
			break
		}
	}
	t.Fatalf("OpenSSH's sshd did not start: %s", lastLog)
	return hostTarget{}
}

// hostSSHDConfig is the private sshd's configuration: the layout's keys
// file, public keys only, no PAM, no AcceptEnv (none is the default).
const hostSSHDConfig = `ListenAddress 127.0.0.1:%d
HostKey %s
PidFile none
AuthorizedKeysFile %s
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
PrintLastLog no
UseDNS no
LogLevel VERBOSE
`

func tryOpenSSH(t testing.TB, l *hostLayout, dir, hostKey string) (*server, error) {
	port := freePort(t)
	cfg := writeFile(t, filepath.Join(dir, "sshd_config"), fmt.Sprintf(hostSSHDConfig, port, hostKey, l.Keys))
	s := &server{
		t:          t,
		DataDir:    dir,
		Port:       port,
		Addr:       fmt.Sprintf("127.0.0.1:%d", port),
		KnownHosts: filepath.Join(t.TempDir(), "known_hosts"),
		log:        &testbuf.Buffer{},
		exited:     make(chan struct{}),
	}
	// sshd re-executes itself: it must be started by its absolute path.
	s.cmd = exec.Command(opensshSSHD, "-D", "-e", "-f", cfg)
	s.cmd.Env = hostServerEnv()
	if err := s.startAndWait(t, "sshd"); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("sshd log (%s):\n%s", s.Addr, s.log.String())
		}
	})
	return s, nil
}

// hostTZ is the servers' time zone: sshd passes its own TZ on to sessions
// (the only variable of its environment it passes).
const hostTZ = "TZ=Europe/Paris"

// hostServerEnv is OpenSSH's environment: the tests' own, with hostTZ.
func hostServerEnv() []string {
	var env []string
	for _, kv := range cleanEnv() {
		if !strings.HasPrefix(kv, "TZ=") {
			env = append(env, kv)
		}
	}
	return append(env, hostTZ)
}

// startDokkuSSHDHost starts dokku-sshd in host mode on the layout, logging
// in the same user as OpenSSH does.
func startDokkuSSHDHost(t testing.TB, l *hostLayout, extra ...string) hostTarget {
	t.Helper()
	args := append([]string{"--dokku-host", "--root-dir", l.Root, "--authorized-keys", l.Keys, "--user", l.User}, extra...)
	return hostTarget{Name: "dokku-sshd", server: l.startServer(t, args...)}
}

// startServer starts dokku-sshd with the given serve flags as the layout's
// user, as a Dokku host runs it as dokku, with a data directory of its own.
func (l *hostLayout) startServer(t testing.TB, args ...string) *server {
	t.Helper()
	// Variables after the tests' own win in Go's exec.
	env := append([]string{hostTZ}, l.acct.env()...)
	return startServerCfg(t, serverConfig{Args: args, Env: env, DataDir: l.acct.dir(t), Credential: l.acct.Cred})
}

// hostSSH runs ssh against a host target as the layout's user.
func (h hostTarget) hostSSH(t testing.TB, l *hostLayout, key *keyPair, o sshOpts, words ...string) result {
	t.Helper()
	o.User = l.User
	return h.sshWith(t, key, o, words...)
}

// hostPair is one layout served by OpenSSH and by dokku-sshd --dokku-host.
type hostPair struct {
	l       *hostLayout
	key     *keyPair
	openssh hostTarget
	ours    hostTarget
}

func newHostPair(t *testing.T) *hostPair {
	t.Helper()
	l := newHostLayout(t)
	key := newKey(t, "ed25519", "alice")
	l.addKey(t, "alice", key)
	return &hostPair{l: l, key: key, openssh: startOpenSSHHost(t, l), ours: startDokkuSSHDHost(t, l)}
}

// both runs a scenario once per server, each with recordings of its own,
// and compares the recordings and what the client saw.
func (p *hostPair) both(t *testing.T, name string, run func(h hostTarget) result) {
	t.Helper()
	var recs [2][]hostInvocation
	var res [2]result
	for i, h := range []hostTarget{p.openssh, p.ours} {
		dir := p.l.recordInto(t, name+"-"+h.Name)
		res[i] = run(h)
		recs[i] = hostRecording(t, dir)
	}
	hostCompare(t, name, recs[0], recs[1])
	if testing.Verbose() {
		t.Logf("%s: %s\n%v", name, res[1], recs[1])
	}
	if res[0] != res[1] {
		t.Errorf("%s: the client saw\nunder OpenSSH: %s\nunder dokku-sshd: %s", name, res[0], res[1])
	}
}

// hostInvocation is one recorded `dokku` call.
type hostInvocation struct {
	Argv, OuterArgv, Env, Cwd, TTY, Stdin, Events, Exit string
}

func (inv hostInvocation) String() string {
	return fmt.Sprintf("argv:\n%souter argv:\n%senv:\n%scwd: %stty: %sstdin: %q\nevents:\n%sexit: %s",
		inv.Argv, inv.OuterArgv, inv.Env, inv.Cwd, inv.TTY, inv.Stdin, inv.Events, inv.Exit)
}

// exitRecorded reports whether the invocation recorded in d has written
// its exit status: the shell creates the file before it writes the line,
// so an empty file is not yet a record.
func exitRecorded(d string) bool {
	fi, err := os.Stat(filepath.Join(d, "exit"))
	return err == nil && fi.Size() > 0
}

// hostRecording reads the invocations recorded in dir, in call order, with
// the environment normalised (hostNormaliseEnv). It waits up to 10s for each
// one to have written its exit status (a disconnected command may still be
// handling its signal).
func hostRecording(t testing.TB, dir string) []hostInvocation {
	t.Helper()
	var out []hostInvocation
	for i := 1; ; i++ {
		d := filepath.Join(dir, strconv.Itoa(i))
		if _, err := os.Stat(d); err != nil {
			return out
		}
		waitFor(10*time.Second, func() bool { return exitRecorded(d) })
		read := func(name string) string { b, _ := os.ReadFile(filepath.Join(d, name)); return string(b) }
		out = append(out, hostInvocation{
			Argv: read("argv"), OuterArgv: read("outer-argv"), Env: hostNormaliseEnv(read("environ")), Cwd: read("cwd"), TTY: read("tty"),
			Stdin: read("stdin"), Events: read("events"), Exit: read("exit"),
		})
	}
}

var (
	ptsNumber  = regexp.MustCompile(`^/dev/pts/[0-9]+$`)
	portNumber = regexp.MustCompile(`^[0-9]+$`)
)

// hostNormaliseEnv sorts a NUL-separated environment into lines and
// replaces what must differ between two servers: ports in SSH_CONNECTION
// ("ip PORT ip PORT") and SSH_CLIENT ("ip PORT PORT"), and SSH_TTY's pty
// number.
func hostNormaliseEnv(environ string) string {
	var lines []string
	for _, kv := range strings.Split(environ, "\x00") {
		if kv == "" {
			continue
		}
		name, val, _ := strings.Cut(kv, "=")
		switch name {
		case "SSH_CONNECTION", "SSH_CLIENT":
			f := strings.Fields(val)
			for i := range f {
				if portNumber.MatchString(f[i]) {
					f[i] = "PORT"
				}
			}
			val = strings.Join(f, " ")
		case "SSH_TTY":
			if ptsNumber.MatchString(val) {
				val = "/dev/pts/N"
			}
		}
		lines = append(lines, fmt.Sprintf("%s=%q", name, val))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// hostCompare fails the test when two recordings differ, showing both.
func hostCompare(t testing.TB, what string, openssh, ours []hostInvocation) {
	t.Helper()
	render := func(r []hostInvocation) string {
		var b bytes.Buffer
		for i, inv := range r {
			fmt.Fprintf(&b, "=== invocation %d\n%s\n", i+1, inv)
		}
		return b.String()
	}
	want, got := render(openssh), render(ours)
	if len(openssh) == 0 {
		t.Errorf("%s: OpenSSH recorded no invocation", what)
	}
	if want != got {
		t.Errorf("%s: recordings differ (- OpenSSH, + dokku-sshd):\n%s", what, lineDiff(want, got))
	}
}

// hostRecorderScript is the recorder `dokku` (see the top of this file);
// @ROOT@ is the layout's root.
const hostRecorderScript = `#!/bin/bash
# A stand-in for Dokku's dokku: it records how it was called.
root='@ROOT@'
self="$root/dokku-recorder"
# As Dokku's dokku: a call from the forced command runs itself again, as
# a child, on SSH_ORIGINAL_COMMAND's words, no longer exported, so that
# nothing it starts (git-shell, the repository's hooks) sees it. What the
# forced command gave (environment, words) is kept for the recording.
if [ -n "$SSH_ORIGINAL_COMMAND" ]; then
  outer=$(mktemp -d "$root/.outer.XXXXXX")
  cat /proc/$$/environ >"$outer/environ"
  printf '%q\n' "$@" >"$outer/argv"
  export -n SSH_ORIGINAL_COMMAND
  set -f
  REC_OUTER=$outer "$0" $SSH_ORIGINAL_COMMAND
  exit $?
fi
target=$(cat "$root/rec-target")
exec 9>"$target/.lock"
flock 9
n=1
while [ -e "$target/$n" ]; do n=$((n + 1)); done
dir="$target/$n"
mkdir "$dir"
exec 9>&-
trap 'echo $? >"$dir/exit"' EXIT
printf '%q\n' "$@" >"$dir/argv"
outer_pid=''
if [ -n "$REC_OUTER" ]; then
  mv "$REC_OUTER/environ" "$dir/environ"
  mv "$REC_OUTER/argv" "$dir/outer-argv"
  rmdir "$REC_OUTER"
  unset REC_OUTER
  outer_pid=$PPID
else
  cat /proc/$$/environ >"$dir/environ"
fi
pwd >"$dir/cwd"
tty=''
[ -t 0 ] && tty+='stdin '
[ -t 1 ] && tty+='stdout '
[ -t 2 ] && tty+='stderr '
[ -t 0 ] && tty+="size $(stty size) modes $(stty -g) "
tty+="fds $(stat -L -c %F /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2 2>&1 | tr '\n' ,)"
echo "$tty" >"$dir/tty"
event() { echo "$*" >>"$dir/events"; }
for sig in HUP TERM INT; do
  trap "event signal $sig; trap - EXIT; echo signal $sig >\"\$dir/exit\"; exit \$((128 + \$(kill -l $sig)))" $sig
done
echo $$ >"$dir/pid"
: >>"$dir/events"
actions=()
[ -f "$root/rec-args/$1" ] && mapfile -t actions <"$root/rec-args/$1"
for a in "$@" "${actions[@]}"; do
  case "$a" in
  rec:print=*) echo "${a#rec:print=}" ;;
  rec:eprint=*) echo "${a#rec:eprint=}" >&2 ;;
  rec:sleep=*) sleep "${a#rec:sleep=}" & wait $! ;;
  rec:nohup) trap '' HUP ;;
  rec:stdin=*) cat >"$dir/stdin" ;;
  rec:resize=*)
    before=$(stty size)
    echo rec-ready
    for _ in $(seq 200); do [ "$(stty size)" != "$before" ] && break; sleep 0.1; done
    event "size $(stty size)" ;;
  rec:kill=*)
    trap - EXIT "${a#rec:kill=}"
    echo "killed ${a#rec:kill=}" >"$dir/exit"
    [ -n "$outer_pid" ] && kill -s "${a#rec:kill=}" "$outer_pid"
    kill -s "${a#rec:kill=}" $$ ;;
  rec:exit=*) exit "${a#rec:exit=}" ;;
  esac
done
app() { local a; a=$(echo "$1" | sed "s/'//g; s|^/||"); echo "$a"; }
case "$1" in
apps:create) mkdir -p "$root/$2" ;;
git-hook) cat >"$dir/stdin" ;;
git-receive-pack)
  APP=$(app "$2")
  if [ ! -d "$root/$APP/refs" ]; then
    [ -d "$root/$APP" ] || "$self" apps:create "$APP"
    git init -q --bare "$root/$APP"
    printf '#!/usr/bin/env bash\nset -e\nset -o pipefail\n\ncat | DOKKU_ROOT="%s" %s git-hook "%s"\n' "$root" "$self" "$APP" >"$root/$APP/hooks/pre-receive"
    chmod +x "$root/$APP/hooks/pre-receive"
  fi
  git-shell -c "$1 '$root/$APP'" ;;
git-upload-pack)
  APP=$(app "$2")
  [ -d "$root/$APP" ] || "$self" apps:create "$APP"
  event "trigger git-pre-pull $APP"
  cat | git-upload-pack "$root/$APP"
  event "trigger git-post-pull $APP" ;;
git-*) git-shell -c "$*" ;;
esac
`
