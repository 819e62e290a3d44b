// Package httpload sends GET requests one after the other to a loopback
// address and counts what came back: failures by reason, the bodies of the
// answers and the latencies of the good ones. The proxy benchmark and the
// redeploy-under-load test share it, so both measure the same loop.
package httpload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Options bound and check the loop. The loop stops at Max requests, after
// MaxDuration, or when its context ends, whichever comes first; Max and
// MaxDuration must be set so that it always stops by itself.
type Options struct {
	URL  string // http://127.0.0.1:PORT/... (loopback only)
	Host string // Host header ("" for the URL's)
	// A 200 answer is good when its body, trimmed of surrounding white
	// space, is one of Want or starts with WantPrefix; any body is good
	// when both are empty.
	Want        []string
	WantPrefix  string
	Max         int
	MaxDuration time.Duration
	Timeout     time.Duration // per request; 10 s when 0
	// OnRequest, if set, is called after each counted request with the
	// count so far (from the loop's goroutine), e.g. to wait for progress.
	OnRequest func(requests int)
}

// Failure reasons, the keys of Result.Failed besides "status N".
const (
	ReasonClosed  = "connection closed" // closed or reset without an answer
	ReasonRefused = "connection refused"
	ReasonTimeout = "timeout"
	ReasonError   = "error" // any other transport error
	ReasonBody    = "unexpected body"
)

// Stop reasons (Result.Stopped).
const (
	StoppedMax      = "max requests"
	StoppedDuration = "max duration"
	StoppedContext  = "context done"
)

// maxBodies bounds Result.Bodies so that a server answering something
// new each time cannot grow it without end.
const maxBodies = 64

// Result is what one loop saw.
type Result struct {
	Requests int            // counted requests: good and failed
	Failed   map[string]int // reason -> count
	// Bodies counts the trimmed bodies of 200 answers, good or not (at
	// most maxBodies distinct ones, the first 200 bytes of each).
	Bodies    map[string]int
	Latencies []time.Duration // of the good answers, sorted
	Stopped   string          // why the loop ended
}

// FailedCount is the number of failed requests.
func (r Result) FailedCount() int {
	n := 0
	for _, c := range r.Failed {
		n += c
	}
	return n
}

// Percentile is the latency below which a fraction p (0..1) of the good
// answers fell (nearest rank); 0 when there were none.
func (r Result) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(r.Latencies)))) - 1
	return r.Latencies[min(max(i, 0), len(r.Latencies)-1)]
}

// WriteTable writes a Markdown table of requests, failed and latency
// percentiles, then one "failed: REASON: N" line per reason.
func (r Result) WriteTable(w io.Writer) error {
	pct := func(p float64) string {
		if len(r.Latencies) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f ms", float64(r.Percentile(p).Microseconds())/1000)
	}
	var b strings.Builder
	b.WriteString("| requests | failed | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %d | %d | %s | %s | %s | %s |\n", r.Requests, r.FailedCount(), pct(0.5), pct(0.9), pct(0.99), pct(1))
	for _, k := range slices.Sorted(maps.Keys(r.Failed)) {
		fmt.Fprintf(&b, "failed: %s: %d\n", k, r.Failed[k])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// CheckLoopback returns an error unless raw is an http URL whose host is a
// loopback IP address: the load never leaves the machine.
func CheckLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("httpload: %w", err)
	}
	if ip := net.ParseIP(u.Hostname()); u.Scheme != "http" || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("httpload: %q is not http://<loopback IP>:PORT/ (loopback only)", raw)
	}
	return nil
}

// Run sends the requests and returns what it saw. An error means the
// options were refused and nothing was sent.
func Run(ctx context.Context, o Options) (Result, error) {
	if err := CheckLoopback(o.URL); err != nil {
		return Result{}, err
	}
	if o.Max <= 0 || o.MaxDuration <= 0 {
		return Result{}, errors.New("httpload: Max and MaxDuration must be positive")
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeoutCause(ctx, o.MaxDuration, errDuration)
	defer cancel()
	// A new connection each time, as a browser arriving after a reload
	// would open: a kept-alive one would hide how nginx hands over.
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	defer c.CloseIdleConnections()
	r := Result{Failed: map[string]int{}, Bodies: map[string]int{}}
	for r.Requests < o.Max {
		if ctx.Err() != nil {
			break
		}
		reason, lat, ok := r.one(ctx, c, o)
		if !ok {
			break // the context ended during the request: not counted
		}
		r.Requests++
		if reason != "" {
			r.Failed[reason]++
		} else {
			r.Latencies = append(r.Latencies, lat)
		}
		if o.OnRequest != nil {
			o.OnRequest(r.Requests)
		}
	}
	switch {
	case r.Requests >= o.Max:
		r.Stopped = StoppedMax
	case errors.Is(context.Cause(ctx), errDuration):
		r.Stopped = StoppedDuration
	default:
		r.Stopped = StoppedContext
	}
	slices.Sort(r.Latencies)
	return r, nil
}

var errDuration = errors.New("httpload: max duration reached")

// one sends one request: the failure reason ("" when good) and the
// latency; ok is false when the loop's context ended meanwhile.
func (r *Result) one(ctx context.Context, c *http.Client, o Options) (reason string, lat time.Duration, ok bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.URL, nil)
	if err != nil {
		return ReasonError, 0, true
	}
	if o.Host != "" {
		req.Host = o.Host
	}
	t0 := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", 0, false
		}
		return classify(err), 0, true
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	lat = time.Since(t0)
	if err != nil {
		if ctx.Err() != nil {
			return "", 0, false
		}
		return classify(err), 0, true
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("status %d", resp.StatusCode), 0, true
	}
	got := strings.TrimSpace(string(body))
	r.countBody(got)
	if !bodyOK(got, o) {
		return ReasonBody, 0, true
	}
	return "", lat, true
}

func (r *Result) countBody(b string) {
	if len(b) > 200 {
		b = b[:200]
	}
	if _, seen := r.Bodies[b]; seen || len(r.Bodies) < maxBodies {
		r.Bodies[b]++
	}
}

func bodyOK(got string, o Options) bool {
	if len(o.Want) == 0 && o.WantPrefix == "" {
		return true
	}
	return slices.Contains(o.Want, got) || (o.WantPrefix != "" && strings.HasPrefix(got, o.WantPrefix))
}

// classify names a transport error by what a client would have seen.
func classify(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ReasonClosed
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonRefused
	case errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout
	}
	return ReasonError
}
