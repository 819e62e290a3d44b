package integration

// End-to-end test of the Prometheus endpoint (--metrics-listen): real ssh
// and git against the server, then a real scrape over HTTP parsed with
// Prometheus' text parser.

import (
	"bufio"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"dokku-sshd/internal/promtest"
)

// metricsURL waits for the server's "metrics listening" log line and
// returns the endpoint's URL (the server picked the port: 127.0.0.1:0).
func metricsURL(t *testing.T, s *server) string {
	t.Helper()
	re := regexp.MustCompile(`msg="metrics listening" addr=(\S+) path=(\S+)`)
	var m []string
	if !waitFor(10*time.Second, func() bool { m = re.FindStringSubmatch(s.Log()); return m != nil }) {
		t.Fatalf("the server never logged its metrics address; log:\n%s", s.Log())
	}
	return "http://" + m[1] + m[2]
}

// samples is one scrape; get is a sample's value, 0 when absent (a counter
// that never moved).
type samples = promtest.Samples

func scrapeMetrics(t *testing.T, url string) samples { return promtest.Scrape(t, url) }

func get(s samples, name string, labels ...string) float64 {
	v, _ := s.Value(name, labels...)
	return v
}

// waitConns waits until the server reports exactly open connections (a
// client that exited may be closed by the server a moment later).
func waitConns(t *testing.T, url string, open float64) samples {
	t.Helper()
	var last samples
	if !waitFor(20*time.Second, func() bool {
		last = scrapeMetrics(t, url)
		return get(last, "dokku_sshd_connections_open") == open
	}) {
		t.Fatalf("dokku_sshd_connections_open stayed at %v, want %v", get(last, "dokku_sshd_connections_open"), open)
	}
	return last
}

func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	// One connection per address, so that a second one is refused, and one
	// unauthenticated connection in all; every step below waits for the
	// previous client's connection to close.
	s, c := pushSetup(t, pushServerOpts{Args: []string{"--metrics-listen", "127.0.0.1:0", "--max-connections-per-ip", "1", "--max-unauthenticated", "1"}})
	url := metricsURL(t, s)
	before := waitConns(t, url, 0)

	// A command that succeeds, a login that fails, an unknown command.
	s.mustSSH(t, c.key, "apps:list")
	waitConns(t, url, 0)
	stranger := newKey(t, "ed25519", "stranger")
	if r := s.ssh(t, stranger, "apps:list"); r.Code != 255 {
		t.Fatalf("ssh with an unknown key: %s; want exit 255 (refused)", r)
	}
	waitConns(t, url, 0)
	if r := s.ssh(t, c.key, "no-such-command", "metrics-app"); r.Code != 1 {
		t.Fatalf("ssh no-such-command: %s; want exit 1", r)
	}
	waitConns(t, url, 0)

	// Pushes with the null builder and scheduler.
	const app = "metrics-app"
	dir := c.newRepo(t)
	c.mustPush(t, dir, c.url(app), "main")
	waitConns(t, url, 0)
	// The same again: nothing to send.
	c.mustPush(t, dir, c.url(app), "main")
	waitConns(t, url, 0)
	// A deploy that fails after the build: the push is declined.
	const broken = "metrics-broken"
	s.mustLocal(t, "apps:create", broken)
	s.mustLocal(t, "scheduler:set", broken, "selected", "no-such-scheduler")
	if r := c.git(t, dir, "push", c.url(broken), "main"); r.Code == 0 {
		t.Fatalf("push to an app with a missing scheduler succeeded: %s", r)
	}
	waitConns(t, url, 0)
	// An app name that cannot be created: refused before the protocol.
	if r := c.git(t, dir, "push", c.url("Not_An_App"), "main"); r.Code == 0 {
		t.Fatalf("push to an invalid app name succeeded: %s", r)
	}
	waitConns(t, url, 0)

	// A connection held before the handshake is open and unauthenticated;
	// a second one from the same address is refused at accept.
	held, err := net.Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := bufio.NewReader(held).ReadString('\n'); err != nil {
		t.Fatalf("banner on the held connection: %v", err)
	}
	during := scrapeMetrics(t, url)
	if v := get(during, "dokku_sshd_connections_open"); v != 1 {
		t.Errorf("connections_open with one connection in the handshake = %v, want 1", v)
	}
	if v := get(during, "dokku_sshd_connections_unauthenticated"); v != 1 {
		t.Errorf("connections_unauthenticated with one connection in the handshake = %v, want 1", v)
	}
	// Refused with a reset, which may already fail the dial.
	if refused, err := net.Dial("tcp", s.Addr); err == nil {
		if n, err := refused.Read(make([]byte, 64)); err == nil {
			t.Errorf("a connection over --max-connections-per-ip was answered (%d bytes)", n)
		}
		refused.Close()
	}
	// With the unauthenticated budget (1) full, a connection from another
	// address gets in and the held one is closed to make room.
	other, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).Dial("tcp", s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := bufio.NewReader(other).ReadString('\n'); err != nil {
		t.Fatalf("banner on the connection from 127.0.0.2: %v", err)
	}
	if _, err := io.ReadAll(held); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("the held connection was not closed to make room: %v", err)
	}
	after := scrapeMetrics(t, url)
	other.Close()

	delta := func(name string, labels ...string) float64 {
		return get(after, name, labels...) - get(before, name, labels...)
	}
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"dokku_sshd_auth_attempts_total", []string{"method", "publickey", "result", "accepted"}, 6},
		{"dokku_sshd_auth_attempts_total", []string{"method", "publickey", "result", "rejected"}, 1},
		{"dokku_sshd_auth_attempts_total", []string{"method", "password", "result", "rejected"}, 0},
		{"dokku_sshd_sessions_total", []string{"kind", "command"}, 2},
		{"dokku_sshd_sessions_total", []string{"kind", "git"}, 4},
		{"dokku_sshd_commands_total", []string{"command", "apps:list", "code", "0"}, 1},
		{"dokku_sshd_commands_total", []string{"command", "unknown", "code", "1"}, 1},
		{"dokku_sshd_command_duration_seconds", []string{"command", "apps:list"}, 1},
		{"dokku_sshd_command_duration_seconds", []string{"command", "unknown"}, 1},
		{"dokku_sshd_push_duration_seconds", []string{"result", "accepted"}, 1},
		{"dokku_sshd_push_duration_seconds", []string{"result", "up_to_date"}, 1},
		{"dokku_sshd_push_duration_seconds", []string{"result", "declined"}, 1},
		{"dokku_sshd_push_duration_seconds", []string{"result", "refused"}, 1},
		{"dokku_sshd_push_duration_seconds", []string{"result", "failed"}, 0},
		{"dokku_sshd_build_duration_seconds", []string{"builder", "null", "result", "succeeded"}, 2},
		{"dokku_sshd_deploy_duration_seconds", []string{"scheduler", "null", "result", "succeeded"}, 1},
		{"dokku_sshd_connections_refused_total", []string{"reason", "max_connections_per_ip"}, 1},
		{"dokku_sshd_connections_evicted_total", []string{"reason", "max_unauthenticated"}, 1},
	}
	for _, tt := range tests {
		if got := delta(tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s%v moved by %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	// The push's pack and commands: at least the pack header and one
	// commit, tree and blob.
	if got := delta("dokku_sshd_push_received_bytes_total"); got < 100 {
		t.Errorf("push_received_bytes_total moved by %v, want the push's size (over 100 bytes)", got)
	}
	if get(after, "dokku_sshd_sessions_open") != 0 {
		t.Errorf("sessions_open = %v after every session ended", get(after, "dokku_sshd_sessions_open"))
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_open_fds"} {
		if after[name] == nil {
			t.Errorf("no %s in the scrape (Go runtime and process collectors)", name)
		}
	}

	// Bounded labels: nothing the clients chose or are (app names, key
	// names, fingerprints, addresses) is a label value.
	for name, f := range after {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				v := l.GetValue()
				for _, bad := range []string{app, broken, "Not_An_App", "no-such", "pusher", "stranger", "SHA256:", "127.0.0.1"} {
					if strings.Contains(v, bad) {
						t.Errorf("%s has label %s=%q, which carries %q", name, l.GetName(), v, bad)
					}
				}
			}
		}
	}
}

// Off by default: without --metrics-listen nothing listens and nothing is
// logged about metrics.
func TestMetricsOffByDefault(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	key := newKey(t, "ed25519", "admin")
	s.addKey(t, "admin", key)
	s.mustSSH(t, key, "apps:list")
	if strings.Contains(s.Log(), "metrics") {
		t.Errorf("the server mentions metrics without --metrics-listen; log:\n%s", s.Log())
	}
}
