package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"dokku-sshd/forcedcmd"
	"dokku-sshd/internal/testenv"
	"dokku-sshd/sshd"
)

// runMainEnv makes the test binary run main instead of the tests, for the
// tests of what the command prints and how it exits.
const runMainEnv = "DOKKU_SSHD_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// cleanEnv is the test's environment without the server's settings and
// git's variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOKKU_") && !strings.HasPrefix(kv, "GIT_") && !strings.HasPrefix(kv, "LISTEN_") {
			env = append(env, kv)
		}
	}
	return env
}

type result struct {
	stdout, stderr string
	code           int
}

func runCommand(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s: %v", cmd, err)
	}
	return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
}

func TestRunRefusesBadEnvironment(t *testing.T) {
	dataDir := t.TempDir()
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want result
	}{
		{"serve", []string{"DOKKU_SSHD_MAX_SESSIONS=ten"}, []string{"serve", "--listen", "127.0.0.1:0"},
			result{"", "dokku-sshd: environment variable DOKKU_SSHD_MAX_SESSIONS=\"ten\": not an integer\n", 2}},
		{"serve, two refused", []string{"DOKKU_SSHD_IDLE_TIMEOUT=5", "DOKKU_SSHD_LEGACY_ALGORITHMS=yes"}, []string{"serve", "--listen", "127.0.0.1:0"},
			result{"", "dokku-sshd: environment variable DOKKU_SSHD_IDLE_TIMEOUT=\"5\": not a duration (such as 30s, 10m or 1h30m)\n" +
				"dokku-sshd: environment variable DOKKU_SSHD_LEGACY_ALGORITHMS=\"yes\": not a boolean (true or false, 1 or 0)\n", 2}},
		{"local command", []string{"DOKKU_SSHD_MAX_PACK_SIZE=1G"}, []string{"--data-dir", dataDir, "version"},
			result{"", "dokku-sshd: environment variable DOKKU_SSHD_MAX_PACK_SIZE=\"1G\": not an integer\n", 2}},
		{"local command, environment good", []string{"DOKKU_SSHD_MAX_PACK_SIZE=1024"}, []string{"--data-dir", dataDir, "version"},
			result{"dokku-sshd version " + version + "\n", "", 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A server that started after all is stopped by the timeout.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], tc.args...)
			cmd.Env = append(append(cleanEnv(), runMainEnv+"=1"), tc.env...)
			if got := runCommand(t, cmd); got != tc.want {
				t.Errorf("dokku-sshd %q\n got %+v\nwant %+v", tc.args, got, tc.want)
			}
		})
	}
	t.Run("serve -h", func(t *testing.T) {
		// Help is shown although the environment would be refused.
		cmd := exec.Command(os.Args[0], "serve", "-h")
		cmd.Env = append(cleanEnv(), runMainEnv+"=1", "DOKKU_SSHD_MAX_SESSIONS=ten")
		got := runCommand(t, cmd)
		if got.code != 0 || !strings.Contains(got.stderr, "-max-sessions int") || strings.Contains(got.stderr, "not an integer") {
			t.Errorf("serve -h: %+v", got)
		}
	})
}

func TestNewLogger(t *testing.T) {
	for _, tc := range []struct {
		format, level, wantErr string
	}{
		{"text", "info", ""},
		{"json", "debug", ""},
		{"text", "WARN", ""},
		{"xml", "info", `--log-format must be text or json, not "xml"`},
		{"text", "loud", `--log-level: slog: level string "loud": unknown name`},
	} {
		_, err := newLogger(&config{LogFormat: tc.format, LogLevel: tc.level})
		if got := ""; err != nil {
			got = err.Error()
			if got != tc.wantErr {
				t.Errorf("format %s, level %s: error %q, want %q", tc.format, tc.level, got, tc.wantErr)
			}
		} else if tc.wantErr != "" {
			t.Errorf("format %s, level %s: no error, want %q", tc.format, tc.level, tc.wantErr)
		}
	}
}

// testServer is the wired server on 127.0.0.1, serving until the test ends.
type testServer struct {
	*server
	port int
	stop chan os.Signal
	done chan error // Serve's result
}

// wired is newServer's server for a fresh data directory and the settings
// args, with a listener on 127.0.0.1.
func wired(t *testing.T, args ...string) (*server, net.Listener) {
	t.Helper()
	c, err := parseSettings(t, nil, append([]string{"--data-dir", t.TempDir(), "--shutdown-grace", "10s"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newServer(&c, slog.New(slog.NewTextHandler(t.Output(), nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := sshd.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return srv, l
}

func startServer(t *testing.T, args ...string) *testServer {
	t.Helper()
	srv, l := wired(t, args...)
	ts := &testServer{server: srv, port: l.Addr().(*net.TCPAddr).Port, stop: make(chan os.Signal, 1), done: make(chan error, 1)}
	go func() { ts.done <- srv.Serve([]net.Listener{l}, ts.stop) }()
	t.Cleanup(func() {
		select {
		case ts.stop <- syscall.SIGTERM:
		default:
		}
		<-ts.done
	})
	return ts
}

// wait is Serve's result.
func (ts *testServer) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-ts.done:
		ts.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

// newKey makes an ed25519 key with ssh-keygen; it returns the private
// key's path and the public key.
func newKey(t *testing.T) (string, []byte) {
	t.Helper()
	priv := filepath.Join(t.TempDir(), "id")
	if out, err := exec.Command(testenv.Tool(t, "ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", priv).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	pub, err := os.ReadFile(priv + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// sshCommand is the OpenSSH client's command line for ts, without the
// destination.
func (ts *testServer) sshCommand(t *testing.T, key string) []string {
	return []string{testenv.Tool(t, "ssh"), "-F", "/dev/null",
		"-o", "UserKnownHostsFile=" + filepath.Join(t.TempDir(), "known_hosts"), "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "LogLevel=ERROR", "-o", "ConnectTimeout=15", "-p", strconv.Itoa(ts.port), "-i", key}
}

func (ts *testServer) ssh(t *testing.T, key string, words ...string) result {
	t.Helper()
	return ts.sshWith(t, key, nil, words...)
}

// sshWith is ssh with more options (opts) before the destination.
func (ts *testServer) sshWith(t *testing.T, key string, opts []string, words ...string) result {
	t.Helper()
	argv := append(append(ts.sshCommand(t, key), opts...), append([]string{"dokku@127.0.0.1", "--"}, words...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = cleanEnv()
	return runCommand(t, cmd)
}

// The server newServer wires answers the real OpenSSH client and git over
// it, and stops on a signal.
func TestServerServes(t *testing.T) {
	ts := startServer(t)
	key, pub := newKey(t)
	if _, err := ts.app.keys.Add("admin", pub); err != nil {
		t.Fatal(err)
	}
	if got, want := ts.ssh(t, key, "version"), (result{"dokku-sshd version " + version + "\n", "", 0}); got != want {
		t.Errorf("ssh version\n got %+v\nwant %+v", got, want)
	}
	if got := ts.ssh(t, key, "apps:create", "demo"); got.code != 0 {
		t.Fatalf("ssh apps:create demo: %+v", got)
	}
	if got, want := ts.ssh(t, key, "apps:list"), (result{"=====> My Apps\ndemo\n", "", 0}); got != want {
		t.Errorf("ssh apps:list\n got %+v\nwant %+v", got, want)
	}
	t.Run("git", func(t *testing.T) {
		// git's transport reaches gitrecv: an app without a push has no refs.
		cmd := exec.Command(testenv.Tool(t, "git"), "ls-remote", "ssh://dokku@127.0.0.1:"+strconv.Itoa(ts.port)+"/demo")
		cmd.Env = append(cleanEnv(), "GIT_SSH_COMMAND="+strings.Join(ts.sshCommand(t, key), " "))
		if got := runCommand(t, cmd); got != (result{}) {
			t.Errorf("git ls-remote: %+v, want no output and exit 0", got)
		}
	})
	t.Run("terminal", func(t *testing.T) {
		// With a PTY (ssh -tt), output lines end in CRLF.
		if got, want := ts.sshWith(t, key, []string{"-tt"}, "version"), (result{"dokku-sshd version " + version + "\r\n", "", 0}); got != want {
			t.Errorf("ssh -tt version\n got %+v\nwant %+v", got, want)
		}
	})
	if got := ts.ssh(t, filepath.Join(t.TempDir(), "missing"), "version"); got.code != 255 {
		t.Errorf("ssh without a key: %+v, want exit 255", got)
	}
	ts.stop <- syscall.SIGTERM
	if err := ts.wait(t); err != nil {
		t.Fatalf("Serve after SIGTERM: %v", err)
	}
	if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(ts.port)); err == nil {
		c.Close()
		t.Error("still accepting connections after Serve returned")
	}
}

// A listener closed under the server ends Serve without an error, as at
// shutdown.
func TestServerListenerClosed(t *testing.T) {
	srv, l := wired(t)
	done := make(chan error, 1)
	go func() { done <- srv.Serve([]net.Listener{l}, nil) }()
	_ = l.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestNewServerRefuses(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "ca.pub")
	// Host mode as the tests run: as root, refused for root; otherwise
	// refused for a login user that is not the one the server runs as.
	hostWant := "refusing to run as root"
	if os.Geteuid() != 0 {
		hostWant = "but clients log in as not-" + strconv.Itoa(os.Geteuid())
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"a missing CA keys file", []string{"--trusted-user-ca-keys", missing}, missing},
		{"host mode", []string{"--dokku-host", "--user", "not-" + strconv.Itoa(os.Geteuid())}, hostWant},
	} {
		c, err := parseSettings(t, nil, append([]string{"--data-dir", t.TempDir()}, tc.args...)...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newServer(&c, slog.New(slog.DiscardHandler), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("newServer with %s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// TestNewHostMode: host mode runs the keys' commands as the login user
// clients name, never as root.
func TestNewHostMode(t *testing.T) {
	const nobody = 65534 // an unprivileged user every Debian system has
	login, err := forcedcmd.LookupLogin(nobody)
	if err != nil {
		testenv.SkipOrFail(t, "uid %d: %v", nobody, err)
	}
	for _, tc := range []struct {
		name string
		euid int
		user string
		want string // in the error; "" for none
	}{
		{"root", 0, "root", "refusing to run as root; run the server as the Dokku user (--user root)"},
		{"root for dokku", 0, "dokku", "refusing to run as root"},
		{"another user than --user", nobody, login.Name + "-not", "the server runs as " + login.Name + ", but clients log in as " + login.Name + "-not (--user)"},
		{"the login user", nobody, login.Name, ""},
	} {
		h, err := newHostMode(slog.New(slog.DiscardHandler), tc.euid, tc.user)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want == "" && h.runner.Login != login:
			t.Errorf("%s: runs as %+v, want %+v", tc.name, h.runner.Login, login)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}
