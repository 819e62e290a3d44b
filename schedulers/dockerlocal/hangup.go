package dockerlocal

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/client"
)

// hangup ends what an exec started once its client went away, as a
// terminal's hangup does: SIGHUP to the exec'd process and its
// descendants, SIGKILL to what is left after a grace period. The Engine
// API cannot signal an exec'd process, so this works only where the server
// sees the daemon's processes (same host and PID namespace, enough
// privilege); the PID the engine reports is signalled only when its cgroup
// names the container, so a remote daemon's PID never hits a local process.
func (s *Scheduler) hangup(execID, containerID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := s.Client.ExecInspect(ctx, execID, client.ExecInspectOptions{})
	if err != nil || !r.Running || r.PID <= 0 {
		return
	}
	if !inContainer(r.PID, containerID) {
		s.log().Info("enter: the exec'd process is not visible here; it keeps running", "container", short(containerID), "pid", r.PID)
		return
	}
	// The tree as it is now: once the exec'd process dies its children
	// are reparented, out of reach of a later walk.
	var procs []int
	for _, pid := range append([]int{r.PID}, descendants(r.PID)...) {
		if inContainer(pid, containerID) {
			procs = append(procs, pid)
		}
	}
	alive := func() []int {
		var out []int
		for _, pid := range procs {
			if inContainer(pid, containerID) {
				out = append(out, pid)
			}
		}
		return out
	}
	for _, pid := range procs {
		_ = syscall.Kill(pid, syscall.SIGHUP)
	}
	for i := 0; i < 50 && len(alive()) > 0; i++ {
		if !sleep(ctx, 100*time.Millisecond) {
			return
		}
	}
	for _, pid := range alive() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// inContainer reports whether pid is a process of the container: its
// cgroup path names the container's id (cgroupfs and systemd drivers both
// do).
func inContainer(pid int, containerID string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	return err == nil && containerID != "" && strings.Contains(string(b), containerID)
}

// descendants lists the processes below pid (children, theirs, ...).
func descendants(pid int) []int {
	if pid <= 0 {
		return nil
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	children := map[int][]int{}
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		children[ppid] = append(children[ppid], child)
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}
