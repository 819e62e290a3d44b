// Command flood measures a server under a pre-authentication flood, for
// bench/flood.sh: it holds idle TCP connections open from many loopback
// source addresses (they never send a byte, as a flood of half-open SSH
// logins does), and meanwhile runs a legitimate command with the real
// OpenSSH client from another address, and samples the server's memory.
//
//	flood -addr 127.0.0.1:2222 -pid PID -conns 2000 -sources 32 -legit 50 -- ssh ARGS...
//
// The flood: -conns connections spread round robin over -sources addresses
// 127.0.0.N (N from -first-source). A connection the server closes is opened
// again at once (-redial), so the server faces -conns idle connections for the
// whole run, as it would from an attacker who keeps reconnecting. Once the
// flood is up (or -ramp passed), the ssh command after "--" runs -legit times,
// one after another, their starts spread evenly over -duration; each must exit
// 0 and print -expect. The server's VmRSS is read every 50 ms from the start of
// the flood to the end of the last command.
//
// It prints KEY=VALUE lines (see bench/README.md) and exits when the last
// command is done, or when -max-duration passes, whichever comes first.
// Only loopback addresses are accepted.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type options struct {
	addr        string
	pid         int
	conns       int
	sources     int
	firstSource string
	dialers     int
	redial      bool
	ramp        time.Duration
	legit       int
	duration    time.Duration
	expect      string
	cmdTimeout  time.Duration
	maxDuration time.Duration
	command     []string
}

func main() {
	var o options
	flag.StringVar(&o.addr, "addr", "", "server address, 127.0.0.1:PORT (loopback only)")
	flag.IntVar(&o.pid, "pid", 0, "server process id, for its memory (0: not measured)")
	flag.IntVar(&o.conns, "conns", 2000, "idle connections of the flood")
	flag.IntVar(&o.sources, "sources", 32, "source addresses of the flood")
	flag.StringVar(&o.firstSource, "first-source", "127.0.0.10", "first source address (loopback); the next ones follow")
	flag.IntVar(&o.dialers, "dialers", 64, "connections being opened at once")
	flag.BoolVar(&o.redial, "redial", true, "open a connection again when the server closes it")
	flag.DurationVar(&o.ramp, "ramp", 15*time.Second, "longest wait for the flood to be up before the commands start")
	flag.IntVar(&o.legit, "legit", 50, "legitimate commands, one after another")
	flag.DurationVar(&o.duration, "duration", 40*time.Second, "the commands start evenly spread over this long (from when the flood is up), so they meet every phase of it")
	flag.StringVar(&o.expect, "expect", "", "text each command's output must contain")
	flag.DurationVar(&o.cmdTimeout, "cmd-timeout", 20*time.Second, "time allowed for one command")
	flag.DurationVar(&o.maxDuration, "max-duration", 5*time.Minute, "stop everything after this long")
	flag.Parse()
	o.command = flag.Args()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	host, _, err := net.SplitHostPort(o.addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %s: only loopback addresses are allowed", o.addr)
	}
	sources, err := sourceAddrs(o.firstSource, o.sources)
	if err != nil {
		return err
	}
	if len(o.command) == 0 {
		return errors.New("no command after --")
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.maxDuration)
	defer cancel()

	var st stats
	cpu0, _ := cpuTicks(o.pid)
	var self0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self0)
	mem := &memSampler{pid: o.pid}
	memDone := make(chan struct{})
	memCtx, stopMem := context.WithCancel(ctx)
	go func() { mem.run(memCtx, 50*time.Millisecond); close(memDone) }()

	f := &flood{addr: o.addr, redial: o.redial, sem: make(chan struct{}, max(o.dialers, 1))}
	floodCtx, stopFlood := context.WithCancel(ctx)
	start := time.Now()
	f.up(ctx, floodCtx, o, sources, &st)
	st.times, st.failures, st.cmdSecs = legitCommands(ctx, o)
	st.heldAtEnd = f.held.Load()
	cpu1, _ := cpuTicks(o.pid)
	var self1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self1)
	stopMem()
	<-memDone
	stopFlood()
	f.wg.Wait()
	st.floodSecs = time.Since(start).Seconds()
	st.serverCPU = float64(cpu1-cpu0) / clockTicks
	st.floodCPU = rusageSecs(self1) - rusageSecs(self0)
	st.stopped = ctx.Err() != nil

	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	st.print(w, o, len(sources), f, mem)
	return nil
}

// stats are a run's figures besides the flood's counters and the memory
// samples.
type stats struct {
	rampSecs, cmdSecs, floodSecs          float64
	heldAtStart, heldAtEnd, openedAtStart int64
	times                                 []float64 // ms, successful commands
	failures                              []string
	serverCPU, floodCPU                   float64 // seconds
	stopped                               bool    // -max-duration passed
}

// up opens the flood's -conns connections and waits until each was
// opened once (held, or already dropped by the server and being opened
// again), or -ramp passed.
func (f *flood) up(ctx, floodCtx context.Context, o options, sources []net.IP, st *stats) {
	start := time.Now()
	for i := range o.conns {
		f.wg.Add(1)
		go f.hold(floodCtx, sources[i%len(sources)])
	}
	for time.Since(start) < o.ramp && int(f.firstDone.Load()) < o.conns && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	st.rampSecs = time.Since(start).Seconds()
	st.heldAtStart = f.held.Load()
	st.openedAtStart = f.opened.Load()
}

// legitCommands runs the command -legit times, their starts spread over
// -duration: the times (ms) of those that succeeded, why the others
// failed, and how long it all took (s).
func legitCommands(ctx context.Context, o options) (times []float64, failures []string, secs float64) {
	cmdStart := time.Now()
	for i := 0; i < o.legit && ctx.Err() == nil; i++ {
		at := cmdStart.Add(o.duration * time.Duration(i) / time.Duration(o.legit))
		select {
		case <-time.After(time.Until(at)):
		case <-ctx.Done():
		}
		ms, err := runCommand(ctx, o.command, o.expect, o.cmdTimeout)
		if err != nil {
			failures = append(failures, err.Error())
			continue
		}
		times = append(times, ms)
	}
	return times, failures, time.Since(cmdStart).Seconds()
}

// print writes the KEY=VALUE lines.
func (st *stats) print(w io.Writer, o options, nSources int, f *flood, mem *memSampler) {
	kv := func(k string, v any) { fmt.Fprintf(w, "%s=%v\n", k, v) }
	kv("flood_conns", o.conns)
	kv("flood_sources", nSources)
	kv("flood_ramp_s", fmt.Sprintf("%.2f", st.rampSecs))
	kv("flood_held_at_start", st.heldAtStart)
	kv("flood_held_at_end", st.heldAtEnd)
	kv("flood_opened_before_commands", st.openedAtStart)
	kv("flood_opened", f.opened.Load())
	kv("flood_closed_by_server", f.dropped.Load())
	kv("flood_dial_errors", f.dialErrs.Load())
	if e, ok := f.firstErr.Load().(string); ok {
		kv("flood_first_dial_error", strconv.Quote(e))
	}
	kv("flood_seconds", fmt.Sprintf("%.2f", st.floodSecs))
	kv("flood_reopen_per_s", fmt.Sprintf("%.0f", float64(f.opened.Load()-int64(o.conns))/st.floodSecs))
	kv("legit_total", o.legit)
	kv("legit_ok", len(st.times))
	kv("legit_seconds", fmt.Sprintf("%.2f", st.cmdSecs))
	if times := st.times; len(times) > 0 {
		slices.Sort(times)
		kv("legit_median_ms", fmt.Sprintf("%.1f", median(times)))
		kv("legit_p90_ms", fmt.Sprintf("%.1f", nearestRank(times, 90)))
		kv("legit_max_ms", fmt.Sprintf("%.1f", times[len(times)-1]))
	}
	for i, e := range st.failures {
		if i == 5 {
			kv("legit_failures_not_shown", len(st.failures)-5)
			break
		}
		kv("legit_failure", strconv.Quote(e))
	}
	if o.pid > 0 {
		kv("server_rss_start_kib", mem.first)
		kv("server_rss_max_kib", mem.peak)
		kv("server_rss_samples", mem.n)
		kv("server_cpu_s", fmt.Sprintf("%.2f", st.serverCPU))
	}
	kv("flood_cpu_s", fmt.Sprintf("%.2f", st.floodCPU))
	if st.stopped {
		kv("stopped", "max-duration passed")
	}
}

// sourceAddrs is n consecutive loopback addresses from first.
func sourceAddrs(first string, n int) ([]net.IP, error) {
	ip := net.ParseIP(first).To4()
	if ip == nil || !ip.IsLoopback() || n < 1 {
		return nil, fmt.Errorf("-first-source %q / -sources %d: want an IPv4 loopback address and at least one source", first, n)
	}
	base := uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
	var out []net.IP
	for i := range n {
		v := base + uint32(i)
		a := net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		if !a.IsLoopback() {
			return nil, fmt.Errorf("source %s is not a loopback address", a)
		}
		out = append(out, a)
	}
	return out, nil
}

// flood holds idle connections.
type flood struct {
	addr      string
	redial    bool
	sem       chan struct{} // dials in progress
	wg        sync.WaitGroup
	held      atomic.Int64 // open now
	opened    atomic.Int64 // ever
	dropped   atomic.Int64 // closed by the server
	dialErrs  atomic.Int64
	firstErr  atomic.Value // string
	firstDone atomic.Int64 // slots whose first dial is done
}

// hold keeps one connection from src open (or being opened) until ctx ends.
func (f *flood) hold(ctx context.Context, src net.IP) {
	defer f.wg.Done()
	first := true
	for ctx.Err() == nil {
		select {
		case f.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}, Timeout: 5 * time.Second}
		c, err := d.DialContext(ctx, "tcp", f.addr)
		<-f.sem
		if first {
			first = false
			f.firstDone.Add(1)
		}
		if errors.Is(err, syscall.ECONNRESET) {
			// Refused by the server before the dial returned: like a
			// drop, open again at once.
			f.opened.Add(1)
			f.dropped.Add(1)
			continue
		}
		if err != nil {
			if ctx.Err() == nil {
				f.dialErrs.Add(1)
				f.firstErr.CompareAndSwap(nil, err.Error())
			}
			select { // a full backlog or no free port: back off a little
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
			continue
		}
		f.opened.Add(1)
		f.held.Add(1)
		closed := make(chan struct{})
		go func() { // read (and discard the banner) until the server closes
			buf := make([]byte, 256)
			for {
				if _, err := c.Read(buf); err != nil {
					close(closed)
					return
				}
			}
		}()
		select {
		case <-closed:
			f.dropped.Add(1)
			f.held.Add(-1)
			_ = c.Close()
			if !f.redial {
				<-ctx.Done()
				return
			}
		case <-ctx.Done():
			_ = c.Close()
			<-closed
			f.held.Add(-1)
			return
		}
	}
}

// runCommand runs the command once: wall time in ms, or why it failed.
func runCommand(ctx context.Context, argv []string, expect string, timeout time.Duration) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	ms := float64(time.Since(start).Microseconds()) / 1000
	switch {
	case err != nil:
		return ms, fmt.Errorf("%v after %.0f ms: %s", err, ms, strings.TrimSpace(errb.String()))
	case !strings.Contains(out.String(), expect):
		return ms, fmt.Errorf("output %q lacks %q", out.String(), expect)
	}
	return ms, nil
}

// memSampler keeps the first and the highest VmRSS of a process.
type memSampler struct {
	pid         int
	first, peak int64 // KiB
	n           int
}

func (m *memSampler) run(ctx context.Context, every time.Duration) {
	if m.pid <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if kib, ok := vmRSS(m.pid); ok {
			if m.n == 0 {
				m.first = kib
			}
			m.peak = max(m.peak, kib)
			m.n++
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func vmRSS(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTicks = 100

// cpuTicks is the user+system CPU time of a process so far.
func cpuTicks(pid int) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the command name (which may hold spaces): state is the
	// first, utime the 12th, stime the 13th.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	return u + s, err1 == nil && err2 == nil
}

// rusageSecs is the user+system CPU time in r.
func rusageSecs(r syscall.Rusage) float64 {
	return float64(r.Utime.Sec+r.Stime.Sec) + float64(r.Utime.Usec+r.Stime.Usec)/1e6
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// nearestRank is the p-th percentile by the nearest-rank method.
func nearestRank(sorted []float64, p int) float64 {
	i := (p*len(sorted) + 99) / 100
	return sorted[max(i, 1)-1]
}
