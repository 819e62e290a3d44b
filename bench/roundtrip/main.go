// Command roundtrip measures one SSH server for bench/cmd-roundtrip.sh: the
// round trip of a command with the OpenSSH client, commands per second with
// concurrent clients, server CPU per command, and memory per idle session.
// Only ever point it at 127.0.0.1.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

func main() {
	var (
		port     = flag.Int("port", 0, "server port on 127.0.0.1")
		user     = flag.String("user", "dokku", "login user")
		key      = flag.String("key", "", "private key file")
		known    = flag.String("known-hosts", "", "known_hosts file for the OpenSSH client")
		command  = flag.String("command", "version", "command to run")
		pids     = flag.String("pids", "", "how to find the server's processes: a pid, or pgrep pattern with -pgrep")
		pgrep    = flag.Bool("pgrep", false, "treat -pids as a pgrep -f pattern (all matching processes)")
		seq      = flag.Int("seq", 200, "sequential round trips")
		total    = flag.Int("total", 400, "commands per concurrency level")
		conc     = flag.String("concurrency", "16,64", "concurrency levels")
		idle     = flag.String("idle", "100,1000", "idle session counts")
		label    = flag.String("label", "server", "name in the output")
		deadline = flag.Duration("deadline", 5*time.Minute, "stop every phase after this long")
	)
	flag.Parse()
	stop := time.Now().Add(*deadline)
	sshArgs := []string{"-o", "UserKnownHostsFile=" + *known, "-o", "StrictHostKeyChecking=accept-new", "-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes", "-o", "ControlMaster=no", "-o", "LogLevel=ERROR", "-i", *key, "-p", strconv.Itoa(*port),
		*user + "@127.0.0.1", *command}
	run := func() error {
		cmd := exec.Command("ssh", sshArgs...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%v: %s", err, out.String())
		}
		return nil
	}
	procs := func() []string {
		if !*pgrep {
			return []string{*pids}
		}
		out, _ := exec.Command("pgrep", "-f", *pids).Output()
		return strings.Fields(string(out))
	}
	if err := run(); err != nil { // warm up, accept the host key
		fmt.Fprintln(os.Stderr, "first command failed:", err)
		os.Exit(1)
	}

	// 1. Sequential round trips.
	var ms []float64
	for i := 0; i < *seq && time.Now().Before(stop); i++ {
		t := time.Now()
		if err := run(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ms = append(ms, float64(time.Since(t).Microseconds())/1000)
	}
	sort.Float64s(ms)
	fmt.Printf("%s roundtrip_ms median=%.1f p90=%.1f p99=%.1f n=%d\n", *label, pct(ms, 50), pct(ms, 90), pct(ms, 99), len(ms))

	// 2. Throughput and CPU per command.
	for _, c := range strings.Split(*conc, ",") {
		n, _ := strconv.Atoi(c)
		cpu0 := cpuTicks(procs())
		t0 := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		done, failed := 0, 0
		next := make(chan struct{}, *total)
		for i := 0; i < *total; i++ {
			next <- struct{}{}
		}
		close(next)
		for w := 0; w < n; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					if time.Now().After(stop) {
						return
					}
					err := run()
					mu.Lock()
					if err != nil {
						failed++
					} else {
						done++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		el := time.Since(t0)
		cpu := cpuTicks(procs()) - cpu0
		tick := 100.0 // USER_HZ
		fmt.Printf("%s concurrency=%d cmds_per_s=%.1f ok=%d failed=%d server_cpu_ms_per_cmd=%.3f\n",
			*label, n, float64(done)/el.Seconds(), done, failed, float64(cpu)/tick*1000/float64(max(done, 1)))
	}

	// 3. Idle sessions: each a connection with one open session channel and
	// no request, what an interactive client waiting for input costs.
	kb, err := os.ReadFile(*key)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	signer, err := gossh.ParsePrivateKey(kb)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cfg := &gossh.ClientConfig{User: *user, Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}
	base := memKiB(procs())
	var open []*gossh.Client
	for _, c := range strings.Split(*idle, ",") {
		n, _ := strconv.Atoi(c)
		for len(open) < n && time.Now().Before(stop) {
			cl, err := gossh.Dial("tcp", "127.0.0.1:"+strconv.Itoa(*port), cfg)
			if err != nil {
				fmt.Fprintf(os.Stderr, "idle connection %d: %v\n", len(open)+1, err)
				break
			}
			if _, err := cl.NewSession(); err != nil {
				fmt.Fprintf(os.Stderr, "idle session %d: %v\n", len(open)+1, err)
				cl.Close()
				break
			}
			open = append(open, cl)
		}
		time.Sleep(2 * time.Second)
		m := memKiB(procs())
		fmt.Printf("%s idle_sessions=%d reached=%d mem_kib=%d base_kib=%d kib_per_session=%.1f\n",
			*label, n, len(open), m, base, float64(m-base)/float64(max(len(open), 1)))
	}
	for _, c := range open {
		c.Close()
	}
}

func pct(s []float64, p int) float64 {
	if len(s) == 0 {
		return 0
	}
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

// descendants returns pid and every process below it.
func descendants(roots []string) []string {
	children := map[string][]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 {
			children[f[1]] = append(children[f[1]], e.Name())
		}
	}
	var out []string
	var walk func(string)
	walk = func(p string) {
		out = append(out, p)
		for _, c := range children[p] {
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return out
}

// cpuTicks is utime+stime+cutime+cstime of the roots: reaped children
// (sshd's per-connection processes, git) count through their parent.
func cpuTicks(roots []string) int64 {
	var t int64
	for _, p := range roots {
		b, err := os.ReadFile(filepath.Join("/proc", p, "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			v, _ := strconv.ParseInt(f[i], 10, 64)
			t += v
		}
	}
	return t
}

// memKiB sums the proportional set size of the roots and their descendants
// (PSS splits shared pages fairly between sshd's many processes).
func memKiB(roots []string) int64 {
	var t int64
	for _, p := range descendants(roots) {
		b, err := os.ReadFile(filepath.Join("/proc", p, "smaps_rollup"))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Pss:") {
				v, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
				t += v
			}
		}
	}
	return t
}
