package httpload

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// answer is what the test server does for one request.
type answer int

const (
	ok      answer = iota // 200 with the body of the step
	bad                   // 502
	closed                // the connection closed without an answer
	wrong                 // 200 with a body nobody wants
	blocked               // cancels the loop's context, then waits for the client to go
)

// script is a test server answering the n-th request (from 0) with
// steps[n % len(steps)]; bodies are "load v<step index>".
type script struct {
	steps  []answer
	n      atomic.Int64
	cancel context.CancelFunc
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(s.n.Add(1) - 1)
	switch s.steps[n%len(s.steps)] {
	case ok:
		w.Write([]byte("load v" + string(rune('0'+n%len(s.steps))) + "\n"))
	case bad:
		http.Error(w, "bad gateway", http.StatusBadGateway)
	case closed:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	case wrong:
		w.Write([]byte("default server"))
	case blocked:
		s.cancel()
		<-r.Context().Done()
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name        string
		steps       []answer
		want        []string
		prefix      string
		max         int
		maxDuration time.Duration
		cancelAt    int // cancel the context after this many requests (0: never)
		// wanted
		requests int
		failed   map[string]int
		bodies   map[string]int
		stopped  string
	}{
		{
			name: "all good, stops at max", steps: []answer{ok}, prefix: "load v", max: 5,
			requests: 5, failed: map[string]int{}, bodies: map[string]int{"load v0": 5}, stopped: StoppedMax,
		},
		{
			name: "failures by reason", steps: []answer{ok, bad, closed, wrong, ok, bad}, prefix: "load v", max: 12,
			requests: 12,
			failed:   map[string]int{"status 502": 4, ReasonClosed: 2, ReasonBody: 2},
			bodies:   map[string]int{"load v0": 2, "load v4": 2, "default server": 2},
			stopped:  StoppedMax,
		},
		{
			name: "one of several bodies", steps: []answer{ok, ok, ok}, want: []string{"load v0", "load v2"}, max: 3,
			requests: 3, failed: map[string]int{ReasonBody: 1},
			bodies: map[string]int{"load v0": 1, "load v1": 1, "load v2": 1}, stopped: StoppedMax,
		},
		{
			name: "any body without a check", steps: []answer{wrong}, max: 2,
			requests: 2, failed: map[string]int{}, bodies: map[string]int{"default server": 2}, stopped: StoppedMax,
		},
		{
			name: "stops when the context is cancelled", steps: []answer{ok}, prefix: "load", max: 1000, cancelAt: 4,
			requests: 4, failed: map[string]int{}, bodies: map[string]int{"load v0": 4}, stopped: StoppedContext,
		},
		{
			// The request cut short by the cancel is neither good nor failed.
			name: "a request in flight at the cancel is not counted", steps: []answer{ok, ok, blocked}, prefix: "load", max: 1000,
			requests: 2, failed: map[string]int{}, bodies: map[string]int{"load v0": 1, "load v1": 1}, stopped: StoppedContext,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s := &script{steps: tc.steps, cancel: cancel}
			srv := httptest.NewServer(s)
			defer srv.Close()
			var calls int
			o := Options{URL: srv.URL + "/", Host: "app.test", Want: tc.want, WantPrefix: tc.prefix,
				Max: tc.max, MaxDuration: time.Minute, Timeout: 30 * time.Second,
				OnRequest: func(n int) {
					calls++
					if n != calls {
						t.Errorf("OnRequest(%d) at call %d", n, calls)
					}
					if n == tc.cancelAt {
						cancel()
					}
				}}
			r, err := Run(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests != tc.requests || r.Stopped != tc.stopped {
				t.Errorf("requests %d stopped %q, want %d %q", r.Requests, r.Stopped, tc.requests, tc.stopped)
			}
			if !maps.Equal(r.Failed, tc.failed) {
				t.Errorf("failed %v, want %v", r.Failed, tc.failed)
			}
			if !maps.Equal(r.Bodies, tc.bodies) {
				t.Errorf("bodies %v, want %v", r.Bodies, tc.bodies)
			}
			if good := r.Requests - r.FailedCount(); len(r.Latencies) != good {
				t.Errorf("%d latencies for %d good answers", len(r.Latencies), good)
			}
			if calls != r.Requests {
				t.Errorf("OnRequest called %d times for %d requests", calls, r.Requests)
			}
		})
	}
}

// TestRunMaxDuration: with no request limit to speak of the loop stops by
// itself after MaxDuration, without counting the request it cut short.
func TestRunMaxDuration(t *testing.T) {
	srv := httptest.NewServer(&script{steps: []answer{ok}})
	defer srv.Close()
	r, err := Run(t.Context(), Options{URL: srv.URL, Max: 1 << 30, MaxDuration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Stopped != StoppedDuration || r.FailedCount() != 0 {
		t.Errorf("stopped %q with failures %v, want %q and none", r.Stopped, r.Failed, StoppedDuration)
	}
}

func TestRunRefuses(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"another host", Options{URL: "http://192.0.2.1:80/", Max: 1, MaxDuration: time.Second}, "loopback only"},
		{"a name", Options{URL: "http://localhost:80/", Max: 1, MaxDuration: time.Second}, "loopback only"},
		{"https", Options{URL: "https://127.0.0.1:443/", Max: 1, MaxDuration: time.Second}, "loopback only"},
		{"no max", Options{URL: "http://127.0.0.1:1/", MaxDuration: time.Second}, "must be positive"},
		{"no max duration", Options{URL: "http://127.0.0.1:1/", Max: 1}, "must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Run(t.Context(), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestRunRefused: nothing listens, each request fails as refused.
func TestRunRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	r, err := Run(t.Context(), Options{URL: url, Max: 3, MaxDuration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]int{ReasonRefused: 3}; !maps.Equal(r.Failed, want) {
		t.Errorf("failed %v, want %v", r.Failed, want)
	}
}

func TestPercentileAndTable(t *testing.T) {
	r := Result{Requests: 103, Failed: map[string]int{"status 502": 2, ReasonClosed: 1}}
	for i := 1; i <= 100; i++ {
		r.Latencies = append(r.Latencies, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{0, time.Millisecond}, {0.5, 50 * time.Millisecond}, {0.9, 90 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}} {
		if got := r.Percentile(tc.p); got != tc.want {
			t.Errorf("Percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	var b strings.Builder
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := "| requests | failed | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|\n" +
		"| 103 | 3 | 50.00 ms | 90.00 ms | 99.00 ms | 100.00 ms |\n" +
		"failed: connection closed: 1\nfailed: status 502: 2\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	var empty strings.Builder
	_ = Result{}.WriteTable(&empty)
	if !strings.Contains(empty.String(), "| 0 | 0 | - | - | - | - |") {
		t.Errorf("empty table:\n%s", empty.String())
	}
}
