// Package metrics owns the server's Prometheus side: one registry per
// Metrics value (never the process-wide default, so that tests can run many
// servers in one process), the collectors, and the HTTP listener for
// /metrics.
//
// The packages it measures do not import it. Each declares the small
// observer interface it calls (sshd.Observer, commands.Observer,
// gitrecv.PushObserver, deploy.Observer); *Metrics implements all of them
// and cmd/dokku-sshd hands it in, or nothing when metrics are off.
//
// Label values have bounded cardinality: they come from fixed sets the
// callers declare (command names the dispatcher knows, refusal reasons,
// results, builder and scheduler names), and each vector caps the number of
// distinct values it accepts besides, folding the rest into "other". No app
// name, user name, address or key fingerprint is ever a label.
package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

const namespace = "dokku_sshd"

// Other is the label value that stands for every value past a vector's cap,
// and for auth methods outside the known set.
const Other = "other"

// Caps on distinct label values per vector: far above what the callers
// produce, low enough that a bug cannot flood the time-series database.
const (
	maxReasons  = 32
	maxCommands = 512
	maxResults  = 32
)

// Histogram buckets, in seconds.
var (
	commandBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	pushBuckets    = []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}
	buildBuckets   = []float64{.1, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600}
)

// authMethods are the SSH authentication methods counted by name (RFC
// 4252, 4256, 4462); anything else a client names is counted as Other.
var authMethods = []string{"publickey", "password", "keyboard-interactive", "hostbased", "gssapi-with-mic", Other}

// codeLabels are exit codes 0..255 as label values, made once.
var codeLabels = func() (s [256]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

// ConnStats is the transport's load at one moment, read at each scrape.
type ConnStats struct {
	Open            int // connections open, from TCP accept
	Unauthenticated int // of those, not (yet) authenticated
	Sessions        int // sessions running
}

// Metrics is one server's instrumentation. The zero value is not usable;
// make one with New. Its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	refused   *prometheus.CounterVec
	evicted   *prometheus.CounterVec
	auth      map[string]*[2]prometheus.Counter // method -> [rejected, accepted]
	sessions  *prometheus.CounterVec
	commands  *prometheus.CounterVec
	cmdDur    *prometheus.HistogramVec
	pushBytes prometheus.Counter
	pushDur   *prometheus.HistogramVec
	buildDur  *prometheus.HistogramVec
	deployDur *prometheus.HistogramVec

	refusedBy  children[prometheus.Counter]
	evictedBy  children[prometheus.Counter]
	sessionsBy children[prometheus.Counter]
	commandBy  children[*command]
	pushBy     children[prometheus.Observer]
	buildBy    children[*children[prometheus.Observer]]
	deployBy   children[*children[prometheus.Observer]]

	conns atomic.Pointer[func() ConnStats]
}

// New makes a registry with every collector of the server, the Go runtime's
// and the process's.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "connections_refused_total",
		Help: "Connections closed at accept, before the SSH handshake, by reason.",
	}, []string{"reason"})
	m.evicted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "connections_evicted_total",
		Help: "Unauthenticated connections closed to make room for a new one, by the budget that was full.",
	}, []string{"reason"})
	auth := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "auth_attempts_total",
		Help: "Authentication attempts by method and result (accepted or rejected).",
	}, []string{"method", "result"})
	m.sessions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "sessions_total",
		Help: "Sessions started, by kind (command, git, tui).",
	}, []string{"kind"})
	m.commands = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "commands_total",
		Help: "Commands run over SSH, by command and exit code; commands this server does not know are \"unknown\".",
	}, []string{"command", "code"})
	m.cmdDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "command_duration_seconds",
		Help: "Time commands run over SSH took, by command.", Buckets: commandBuckets,
	}, []string{"command"})
	m.pushBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "push_received_bytes_total",
		Help: "Bytes received by git-receive-pack (commands and packs).",
	})
	m.pushDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "push_duration_seconds",
		Help: "Time git-receive-pack took, deploy included, by result.", Buckets: pushBuckets,
	}, []string{"result"})
	m.buildDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "build_duration_seconds",
		Help: "Time builds took, by builder and result.", Buckets: buildBuckets,
	}, []string{"builder", "result"})
	m.deployDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "deploy_duration_seconds",
		Help: "Time scheduler deploys took, by scheduler and result.", Buckets: buildBuckets,
	}, []string{"scheduler", "result"})
	m.reg.MustRegister(m.refused, m.evicted, auth, m.sessions, m.commands, m.cmdDur, m.pushBytes, m.pushDur,
		m.buildDur, m.deployDur, connCollector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	// Auth counters exist from the start (at 0), so that rates and ratios
	// work before the first failure.
	m.auth = make(map[string]*[2]prometheus.Counter, len(authMethods))
	for _, meth := range authMethods {
		m.auth[meth] = &[2]prometheus.Counter{auth.WithLabelValues(meth, "rejected"), auth.WithLabelValues(meth, "accepted")}
	}
	m.refusedBy.init(maxReasons, func(v string) prometheus.Counter { return m.refused.WithLabelValues(v) })
	m.evictedBy.init(maxReasons, func(v string) prometheus.Counter { return m.evicted.WithLabelValues(v) })
	m.sessionsBy.init(maxReasons, func(v string) prometheus.Counter { return m.sessions.WithLabelValues(v) })
	m.commandBy.init(maxCommands, func(v string) *command {
		return &command{name: v, vec: m.commands, dur: m.cmdDur.WithLabelValues(v)}
	})
	m.pushBy.init(maxResults, func(v string) prometheus.Observer { return m.pushDur.WithLabelValues(v) })
	m.buildBy.init(maxResults, byResult(m.buildDur))
	m.deployBy.init(maxResults, byResult(m.deployDur))
	return m
}

// Registry is the registry the endpoint serves.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ConnStats sets the function read at each scrape for the connection and
// session gauges (the SSH server's). Nil-safe, so that callers may pass a
// nil *Metrics when metrics are off.
func (m *Metrics) ConnStats(f func() ConnStats) {
	if m == nil || f == nil {
		return
	}
	m.conns.Store(&f)
}

// ConnRefused counts a connection refused before the handshake (sshd).
func (m *Metrics) ConnRefused(reason string) { m.refusedBy.get(reason).Inc() }

// ConnEvicted counts an unauthenticated connection closed to make room
// (sshd).
func (m *Metrics) ConnEvicted(reason string) { m.evictedBy.get(reason).Inc() }

// AuthAttempt counts one authentication attempt (sshd). Method names
// outside the standard ones count as Other.
func (m *Metrics) AuthAttempt(method string, accepted bool) {
	c, ok := m.auth[method]
	if !ok {
		c = m.auth[Other]
	}
	if accepted {
		c[1].Inc()
	} else {
		c[0].Inc()
	}
}

// SessionStarted counts a session by kind (sshd).
func (m *Metrics) SessionStarted(kind string) { m.sessionsBy.get(kind).Inc() }

// CommandDone counts a command and its duration (commands). It allocates
// nothing once the (command, code) pair has been seen.
func (m *Metrics) CommandDone(name string, code int, d time.Duration) {
	m.commandBy.get(name).done(code, d)
}

// PushDone counts a git-receive-pack (gitrecv).
func (m *Metrics) PushDone(bytes int64, d time.Duration, result string) {
	if bytes > 0 {
		m.pushBytes.Add(float64(bytes))
	}
	m.pushBy.get(result).Observe(d.Seconds())
}

// BuildDone counts a build (deploy); builder is a registered builder's name.
func (m *Metrics) BuildDone(builder, result string, d time.Duration) {
	m.buildBy.get(builder).get(result).Observe(d.Seconds())
}

// DeployDone counts a scheduler deploy (deploy); scheduler is a registered
// scheduler's name.
func (m *Metrics) DeployDone(scheduler, result string, d time.Duration) {
	m.deployBy.get(scheduler).get(result).Observe(d.Seconds())
}

// byResult makes, for a (name, result) histogram, the per-name caches of
// per-result children.
func byResult(vec *prometheus.HistogramVec) func(string) *children[prometheus.Observer] {
	return func(name string) *children[prometheus.Observer] {
		c := &children[prometheus.Observer]{}
		c.init(maxResults, func(result string) prometheus.Observer { return vec.WithLabelValues(name, result) })
		return c
	}
}

// command holds one command name's series: the duration histogram, made
// with the name's first use, and a counter per exit code, each made the
// first time that code is seen (so that the endpoint lists only series
// that happened).
type command struct {
	name  string
	vec   *prometheus.CounterVec
	dur   prometheus.Observer
	codes [256]atomic.Pointer[prometheus.Counter]
}

func (c *command) done(code int, d time.Duration) {
	if code < 0 || code > 255 {
		code = 255 // what the transport sends for such a code
	}
	c.dur.Observe(d.Seconds())
	p := c.codes[code].Load()
	if p == nil {
		ctr := c.vec.WithLabelValues(c.name, codeLabels[code])
		c.codes[code].CompareAndSwap(nil, &ctr) // a racing twin holds the same child
		p = c.codes[code].Load()
	}
	(*p).Inc()
}

// children caches the children of a vector by one label value: the hot
// path is a map read without lock or allocation; a new value copies the map
// (values are few and seen early). Past max distinct values, new ones share
// the child of Other.
type children[T any] struct {
	mu   sync.Mutex
	m    atomic.Pointer[map[string]T]
	max  int
	make func(string) T
}

func (c *children[T]) init(max int, make func(string) T) {
	c.max, c.make = max, make
	empty := map[string]T{}
	c.m.Store(&empty)
}

func (c *children[T]) get(v string) T {
	if x, ok := (*c.m.Load())[v]; ok {
		return x
	}
	return c.add(v)
}

func (c *children[T]) add(v string) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.m.Load()
	if x, ok := old[v]; ok {
		return x
	}
	if len(old) >= c.max {
		if x, ok := old[Other]; ok {
			return x
		}
		v = Other
	}
	next := make(map[string]T, len(old)+1)
	for k, x := range old {
		next[k] = x
	}
	x := c.make(v)
	next[v] = x
	c.m.Store(&next)
	return x
}

// connCollector reports the connection gauges from ConnStats' function,
// called once per scrape.
type connCollector struct{ m *Metrics }

var (
	connOpenDesc = prometheus.NewDesc(namespace+"_connections_open",
		"SSH connections open, from TCP accept (before authentication too).", nil, nil)
	connUnauthDesc = prometheus.NewDesc(namespace+"_connections_unauthenticated",
		"SSH connections open that have not (yet) authenticated.", nil, nil)
	sessionsOpenDesc = prometheus.NewDesc(namespace+"_sessions_open",
		"Sessions running.", nil, nil)
)

func (c connCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connOpenDesc
	ch <- connUnauthDesc
	ch <- sessionsOpenDesc
}

func (c connCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.m.conns.Load()
	if f == nil {
		return
	}
	st := (*f)()
	ch <- prometheus.MustNewConstMetric(connOpenDesc, prometheus.GaugeValue, float64(st.Open))
	ch <- prometheus.MustNewConstMetric(connUnauthDesc, prometheus.GaugeValue, float64(st.Unauthenticated))
	ch <- prometheus.MustNewConstMetric(sessionsOpenDesc, prometheus.GaugeValue, float64(st.Sessions))
}
