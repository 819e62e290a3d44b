package metrics

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"dokku-sshd/internal/promtest"
)

func start(t *testing.T, m *Metrics) string {
	t.Helper()
	srv, err := m.Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return "http://" + srv.Addr().String() + Path
}

func TestScrape(t *testing.T) {
	m := New()
	m.ConnStats(func() ConnStats { return ConnStats{Open: 3, Unauthenticated: 2, Sessions: 1} })
	m.ConnRefused("max_connections")
	m.ConnRefused("max_connections")
	m.ConnRefused("shutting_down")
	m.ConnEvicted("max_unauthenticated")
	m.AuthAttempt("publickey", true)
	m.AuthAttempt("publickey", false)
	m.AuthAttempt("password", false)
	m.AuthAttempt("x-made-up-by-a-client", false)
	m.SessionStarted("command")
	m.SessionStarted("git")
	m.CommandDone("apps:list", 0, 3*time.Millisecond)
	m.CommandDone("apps:list", 0, time.Millisecond)
	m.CommandDone("unknown", 1, time.Millisecond)
	m.CommandDone("apps:list", 300, time.Millisecond)
	m.PushDone(1234, 2*time.Second, "accepted")
	m.PushDone(0, time.Second, "refused")
	m.BuildDone("null", "succeeded", time.Second)
	m.DeployDone("null", "succeeded", time.Second)
	m.DeployDone("docker-local", "failed", time.Second)

	fams := promtest.Scrape(t, start(t, m))
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"dokku_sshd_connections_open", nil, 3},
		{"dokku_sshd_connections_unauthenticated", nil, 2},
		{"dokku_sshd_sessions_open", nil, 1},
		{"dokku_sshd_connections_refused_total", []string{"reason", "max_connections"}, 2},
		{"dokku_sshd_connections_refused_total", []string{"reason", "shutting_down"}, 1},
		{"dokku_sshd_connections_evicted_total", []string{"reason", "max_unauthenticated"}, 1},
		{"dokku_sshd_auth_attempts_total", []string{"method", "publickey", "result", "accepted"}, 1},
		{"dokku_sshd_auth_attempts_total", []string{"method", "publickey", "result", "rejected"}, 1},
		{"dokku_sshd_auth_attempts_total", []string{"method", "password", "result", "rejected"}, 1},
		{"dokku_sshd_auth_attempts_total", []string{"method", "other", "result", "rejected"}, 1},
		{"dokku_sshd_auth_attempts_total", []string{"method", "hostbased", "result", "accepted"}, 0},
		{"dokku_sshd_sessions_total", []string{"kind", "command"}, 1},
		{"dokku_sshd_sessions_total", []string{"kind", "git"}, 1},
		{"dokku_sshd_commands_total", []string{"command", "apps:list", "code", "0"}, 2},
		{"dokku_sshd_commands_total", []string{"command", "apps:list", "code", "255"}, 1},
		{"dokku_sshd_commands_total", []string{"command", "unknown", "code", "1"}, 1},
		{"dokku_sshd_command_duration_seconds", []string{"command", "apps:list"}, 3},
		{"dokku_sshd_push_received_bytes_total", nil, 1234},
		{"dokku_sshd_push_duration_seconds", []string{"result", "accepted"}, 1},
		{"dokku_sshd_push_duration_seconds", []string{"result", "refused"}, 1},
		{"dokku_sshd_build_duration_seconds", []string{"builder", "null", "result", "succeeded"}, 1},
		{"dokku_sshd_deploy_duration_seconds", []string{"scheduler", "null", "result", "succeeded"}, 1},
		{"dokku_sshd_deploy_duration_seconds", []string{"scheduler", "docker-local", "result", "failed"}, 1},
	}
	for _, tt := range tests {
		got, ok := fams.Value(tt.name, tt.labels...)
		if !ok || got != tt.want {
			t.Errorf("%s%v = %v (present %v), want %v", tt.name, tt.labels, got, ok, tt.want)
		}
	}
	// Series that never happened are not listed (only auth's are made up
	// front).
	if _, ok := fams.Value("dokku_sshd_commands_total", "command", "unknown", "code", "0"); ok {
		t.Error("commands_total lists a (command, code) pair that never happened")
	}
	for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_resident_memory_bytes", "promhttp_metric_handler_requests_total"} {
		if fams[name] == nil {
			t.Errorf("no %s in the scrape", name)
		}
	}
}

// Each Metrics has its own registry: two in one process do not collide
// (the process-wide default registry would panic on the second Go
// collector).
func TestRegistryPerInstance(t *testing.T) {
	a, b := New(), New()
	a.SessionStarted("git")
	fa, fb := promtest.Scrape(t, start(t, a)), promtest.Scrape(t, start(t, b))
	if v, _ := fa.Value("dokku_sshd_sessions_total", "kind", "git"); v != 1 {
		t.Errorf("first registry: sessions_total{kind=git} = %v, want 1", v)
	}
	if _, ok := fb.Value("dokku_sshd_sessions_total", "kind", "git"); ok {
		t.Error("second registry shows the first one's session")
	}
	if fb["dokku_sshd_connections_open"] != nil {
		t.Error("connection gauges reported with no ConnStats function set")
	}
}

// A caller that produced unbounded values could not grow a vector past its
// cap: the rest folds into "other".
func TestLabelCap(t *testing.T) {
	m := New()
	for i := 0; i < maxCommands+100; i++ {
		m.CommandDone(fmt.Sprintf("cmd-%d", i), 0, time.Millisecond)
	}
	for i := 0; i < maxReasons+5; i++ {
		m.ConnRefused(fmt.Sprintf("reason-%d", i))
	}
	fams := promtest.Scrape(t, start(t, m))
	if n := len(fams["dokku_sshd_command_duration_seconds"].GetMetric()); n != maxCommands+1 {
		t.Errorf("command_duration_seconds has %d series, want %d (cap + other)", n, maxCommands+1)
	}
	if v, _ := fams.Value("dokku_sshd_commands_total", "command", Other, "code", "0"); v != 100 {
		t.Errorf("commands_total{command=other} = %v, want 100", v)
	}
	if n := len(fams["dokku_sshd_connections_refused_total"].GetMetric()); n != maxReasons+1 {
		t.Errorf("connections_refused_total has %d series, want %d", n, maxReasons+1)
	}
}

// Anything but GET /metrics is not found.
func TestEndpointPaths(t *testing.T) {
	url := strings.TrimSuffix(start(t, New()), Path)
	for _, p := range []string{"/", "/debug/pprof/", "/metrics/x"} {
		resp, err := http.Get(url + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", p, resp.Status)
		}
	}
}

// The command path's cost once a command has been seen: no allocation.
func TestCommandDoneAllocs(t *testing.T) {
	m := New()
	m.CommandDone("apps:list", 0, time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() { m.CommandDone("apps:list", 0, time.Millisecond) }); n != 0 {
		t.Errorf("CommandDone allocates %v times per call, want 0", n)
	}
	if n := testing.AllocsPerRun(1000, func() { m.AuthAttempt("publickey", true) }); n != 0 {
		t.Errorf("AuthAttempt allocates %v times per call, want 0", n)
	}
}

func BenchmarkCommandDone(b *testing.B) {
	m := New()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			m.CommandDone("apps:list", 0, time.Millisecond)
		}
	})
}
