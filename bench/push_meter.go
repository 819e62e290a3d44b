//go:build ignore

// push_meter runs one command (a client-side `git push`) and measures the
// server side while it runs. bench/push.sh builds it with
// `go build -o DIR/push-meter bench/push_meter.go`.
//
//	push-meter -root PID [-interval 10ms] [-settle 5s] [-pss] [-out FILE] [-detail FILE] -- COMMAND ARGS...
//
// The server side is the process PID and all its descendants. Measured:
//
//   - wall_ms: wall time of COMMAND, from start to exit.
//   - cpu_ms: server CPU time (user+system) of the whole tree, exact up to
//     clock ticks: the change of utime+stime+cutime+cstime of PID between
//     the start and the moment the tree is idle again (no descendants left),
//     so every child the server forked and reaped (git index-pack, sshd
//     session processes, git-receive-pack...) is included, however short.
//   - self_cpu_ms: the part spent in PID itself (utime+stime).
//   - peak_rss_kb: the largest sum of VmRSS over all processes of the tree,
//     sampled every -interval (processes living shorter than that can be
//     missed); peak_pss_kb the same with Pss (shared pages split) if -pss.
//   - root_hwm_kb: VmHWM of PID itself (reset through clear_refs at start,
//     so it is the peak of this push, not of the server's lifetime).
//   - max_hwm_kb / max_hwm_cmd: the largest VmHWM seen of a single process.
//
// Everything is read from /proc, so it needs Linux and the right to read
// the server's /proc entries (same user or root).
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

const tickMS = 10 // USER_HZ is 100 on Linux: /proc times are in 10 ms ticks

type proc struct {
	pid       int
	cmd       string
	firstSeen time.Duration
	lastSeen  time.Duration
	cpuTicks  int64 // utime+stime at the last sample
	hwmKB     int64
	rssKB     int64
}

type meter struct {
	root     int
	pss      bool
	start    time.Time
	mu       sync.Mutex
	tree     map[int]*proc
	other    map[int]bool // pids known not to be descendants
	peakRSS  int64
	peakPSS  int64
	samples  int
	lastLive int // descendants not yet reaped (root excluded) at the last scan
}

func main() {
	root := flag.Int("root", 0, "pid of the server process (required)")
	interval := flag.Duration("interval", 10*time.Millisecond, "sampling interval")
	settle := flag.Duration("settle", 5*time.Second, "max wait for the server's children to exit after the command")
	pss := flag.Bool("pss", false, "also sample Pss from /proc/PID/smaps_rollup")
	outFile := flag.String("out", "", "result file (key=value lines; default stdout)")
	detailFile := flag.String("detail", "", "per-process breakdown file")
	flag.Parse()
	if *root <= 0 || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: push-meter -root PID [flags] -- COMMAND ARGS...")
		os.Exit(2)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", *root)); err != nil {
		fmt.Fprintf(os.Stderr, "push-meter: server pid %d: %v\n", *root, err)
		os.Exit(2)
	}
	m := &meter{root: *root, pss: *pss, tree: map[int]*proc{}, other: map[int]bool{}}
	cpu0, self0, err := m.begin()
	if err != nil {
		fmt.Fprintln(os.Stderr, "push-meter:", err)
		os.Exit(2)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go m.sampleEvery(*interval, stop, done)
	wall, exit := runCommand(flag.Args())
	settled := m.settle(*settle)
	close(stop)
	<-done
	m.scan()
	cpu1, self1, err := rootCPU(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "push-meter:", err)
		os.Exit(2)
	}
	rootHWM, _ := statusKB(*root)

	m.mu.Lock()
	defer m.mu.Unlock()
	r := result{exit: exit, wall: wall, cpu: cpu1 - cpu0, self: self1 - self0, rootHWM: rootHWM.hwm, settled: settled}
	if err := writeOut(*outFile, m.report(r)); err != nil {
		fmt.Fprintln(os.Stderr, "push-meter:", err)
		os.Exit(2)
	}
	if *detailFile != "" {
		if err := writeOut(*detailFile, m.detail()); err != nil {
			fmt.Fprintln(os.Stderr, "push-meter:", err)
		}
	}
	if exit != 0 {
		os.Exit(exit)
	}
}

// begin takes the first scan and resets the peak RSS (VmHWM) of the
// server and its current children, so that the figures are this
// command's, not the server's lifetime's. It returns the root's CPU
// ticks (see rootCPU).
func (m *meter) begin() (all, self int64, err error) {
	m.start = time.Now()
	m.scan()
	for pid := range m.tree {
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
	}
	m.mu.Lock()
	m.peakRSS, m.peakPSS = 0, 0
	m.mu.Unlock()
	return rootCPU(m.root)
}

// sampleEvery scans every interval until stop is closed, then closes done.
func (m *meter) sampleEvery(interval time.Duration, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			m.scan()
		}
	}
}

// runCommand runs argv with this process's standard streams: its wall
// time and exit status (127 when it could not run).
func runCommand(argv []string) (time.Duration, int) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	t0 := time.Now()
	runErr := cmd.Run()
	wall := time.Since(t0)
	exit := 0
	if runErr != nil {
		var ee *exec.ExitError
		if errors.As(runErr, &ee) {
			exit = ee.ExitCode()
		} else {
			fmt.Fprintln(os.Stderr, "push-meter:", runErr)
			exit = 127
		}
	}
	return wall, exit
}

// settle waits (at most limit) until the server has reaped everything it
// started for the command, so that cutime/cstime hold all of it; it
// returns how long that took.
func (m *meter) settle(limit time.Duration) time.Duration {
	settleStart := time.Now()
	for {
		m.scan()
		m.mu.Lock()
		live := m.lastLive
		m.mu.Unlock()
		if live == 0 || time.Since(settleStart) >= limit {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(settleStart)
}

// result is what the meter measured besides its samples.
type result struct {
	exit      int
	wall      time.Duration
	cpu, self int64 // ticks: the tree's and the root's own
	rootHWM   int64
	settled   time.Duration
}

// report is the result file: key=value lines. m.mu is held.
func (m *meter) report(r result) string {
	var maxHWM int64
	maxCmd := ""
	for _, p := range m.tree {
		if p.hwmKB > maxHWM {
			maxHWM, maxCmd = p.hwmKB, p.cmd
		}
	}
	if r.rootHWM > maxHWM {
		maxHWM, maxCmd = r.rootHWM, m.tree[m.root].cmd
	}
	var b strings.Builder
	fmt.Fprintf(&b, "exit=%d\n", r.exit)
	fmt.Fprintf(&b, "wall_ms=%.1f\n", float64(r.wall.Microseconds())/1000)
	fmt.Fprintf(&b, "cpu_ms=%d\n", r.cpu*tickMS)
	fmt.Fprintf(&b, "self_cpu_ms=%d\n", r.self*tickMS)
	fmt.Fprintf(&b, "child_cpu_ms=%d\n", (r.cpu-r.self)*tickMS)
	fmt.Fprintf(&b, "peak_rss_kb=%d\n", m.peakRSS)
	if m.pss {
		fmt.Fprintf(&b, "peak_pss_kb=%d\n", m.peakPSS)
	}
	fmt.Fprintf(&b, "root_hwm_kb=%d\n", r.rootHWM)
	fmt.Fprintf(&b, "max_hwm_kb=%d\n", maxHWM)
	fmt.Fprintf(&b, "max_hwm_cmd=%s\n", strings.ReplaceAll(maxCmd, " ", "_"))
	fmt.Fprintf(&b, "samples=%d\n", m.samples)
	fmt.Fprintf(&b, "procs=%d\n", len(m.tree))
	fmt.Fprintf(&b, "settle_ms=%d\n", r.settled.Milliseconds())
	return b.String()
}

// detail is the per-process breakdown, in the order the processes were
// first seen. m.mu is held.
func (m *meter) detail() string {
	ps := make([]*proc, 0, len(m.tree))
	for _, p := range m.tree {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].firstSeen < ps[j].firstSeen })
	var d strings.Builder
	fmt.Fprintf(&d, "%8s %9s %9s %8s %9s  %s\n", "pid", "first_ms", "last_ms", "cpu_ms", "hwm_kb", "command (cpu and hwm as last sampled: lower bounds)")
	for _, p := range ps {
		fmt.Fprintf(&d, "%8d %9d %9d %8d %9d  %s\n", p.pid, p.firstSeen.Milliseconds(), p.lastSeen.Milliseconds(), p.cpuTicks*tickMS, p.hwmKB, p.cmd)
	}
	return d.String()
}

func writeOut(path, s string) error {
	if path == "" {
		_, err := io.WriteString(os.Stdout, s)
		return err
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// scan finds the tree's processes and samples their memory.
func (m *meter) scan() {
	now := time.Since(m.start)
	d, err := os.Open("/proc")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()

	m.mu.Lock()
	defer m.mu.Unlock()
	alive := m.discover(names, now)
	m.sample(alive, now)
}

// discover adds the new descendants of the root among the processes of
// /proc (names) to the tree, and returns the pids alive. m.mu is held.
func (m *meter) discover(names []string, now time.Duration) map[int]bool {
	alive := make(map[int]bool, len(names))
	var unknown []int
	ppids := map[int]int{}
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		alive[pid] = true
		if m.tree[pid] == nil && !m.other[pid] {
			unknown = append(unknown, pid)
		}
	}
	// Forget exited processes' "other" marks (pids get reused). Exited tree
	// members stay, with their last sample.
	for pid := range m.other {
		if !alive[pid] {
			delete(m.other, pid)
		}
	}
	for _, pid := range unknown {
		if pid == m.root {
			ppids[pid] = -1
			continue
		}
		if st, err := readStat(pid); err == nil {
			ppids[pid] = st.ppid
		}
	}
	// Fixed point: a new process belongs to the tree when its parent does
	// (parent and child may both be new in this scan).
	added := true
	for added {
		added = false
		for pid, pp := range ppids {
			if pid == m.root || m.tree[pp] != nil {
				m.tree[pid] = &proc{pid: pid, cmd: cmdline(pid), firstSeen: now}
				delete(ppids, pid)
				added = true
			}
		}
	}
	for pid := range ppids {
		m.other[pid] = true
	}
	return alive
}

// sample reads the CPU and memory of the tree's live processes and
// updates the peaks. m.mu is held.
func (m *meter) sample(alive map[int]bool, now time.Duration) {
	var sumRSS, sumPSS int64
	live := 0
	for pid, p := range m.tree {
		if !alive[pid] {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue
		}
		if pid != m.root {
			// A zombie counts until reaped: its CPU time reaches the
			// root's cutime/cstime only then.
			live++
		}
		if st.state == "Z" {
			continue
		}
		s, err := statusKB(pid)
		if err != nil {
			continue
		}
		p.lastSeen = now
		if c := cmdline(pid); c != "" && !strings.HasPrefix(c, "[") {
			p.cmd = c // after exec, a fork shows its real command
		}
		p.cpuTicks = st.utime + st.stime
		p.rssKB = s.rss
		if s.hwm > p.hwmKB {
			p.hwmKB = s.hwm
		}
		sumRSS += s.rss
		if m.pss {
			sumPSS += pssKB(pid)
		}
	}
	if sumRSS > m.peakRSS {
		m.peakRSS = sumRSS
	}
	if sumPSS > m.peakPSS {
		m.peakPSS = sumPSS
	}
	m.samples++
	m.lastLive = live
}

type stat struct {
	state                        string
	ppid                         int
	utime, stime, cutime, cstime int64
}

func readStat(pid int) (stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, fmt.Errorf("bad stat for %d", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return stat{}, fmt.Errorf("short stat for %d", pid)
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k], 10, 64); return v }
	// f[0] is field 3 (state) of proc(5), so field N is f[N-3].
	return stat{state: f[0], ppid: int(n(1)), utime: n(11), stime: n(12), cutime: n(13), cstime: n(14)}, nil
}

// rootCPU returns the root's utime+stime+cutime+cstime and utime+stime.
func rootCPU(pid int) (all, self int64, err error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, 0, fmt.Errorf("server pid %d: %w", pid, err)
	}
	return st.utime + st.stime + st.cutime + st.cstime, st.utime + st.stime, nil
}

type mem struct{ rss, hwm int64 }

func statusKB(pid int) (mem, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return mem{}, err
	}
	defer f.Close()
	var m mem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			m.rss = kb(line)
		case strings.HasPrefix(line, "VmHWM:"):
			m.hwm = kb(line)
		}
	}
	return m, nil
}

func pssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "Pss:") {
			return kb(line)
		}
	}
	return 0
}

func kb(line string) int64 {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	v, _ := strconv.ParseInt(f[1], 10, 64)
	return v
}

func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		return "[" + strings.TrimSpace(string(c)) + "]"
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	if len(args) > 4 {
		args = args[:4]
	}
	s := strings.Join(args, " ")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
