package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// procCPU returns utime+stime (and cutime+cstime when children) of pid in
// milliseconds, from /proc/PID/stat (clock ticks of 10 ms).
func procCPU(pid int, children bool) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime is field 14, so f[11].
	if len(f) < 15 {
		return 0, errors.New("short /proc stat")
	}
	n := 2
	if children {
		n = 4
	}
	var ticks int64
	for k := 0; k < n; k++ {
		v, _ := strconv.ParseInt(f[11+k], 10, 64)
		ticks += v
	}
	return float64(ticks) * 10, nil
}

func selfCPU() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec)*1e3 + float64(t.Usec)/1e3 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// dockerdPID finds the Docker daemon's process (comm "dockerd"); 0 when
// it is not visible (another PID namespace, DOCKER_HOST remote).
func dockerdPID() int {
	if b, err := os.ReadFile("/var/run/docker.pid"); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			if c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); strings.TrimSpace(string(c)) == "dockerd" {
				return p
			}
		}
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", p)); strings.TrimSpace(string(c)) == "dockerd" {
			return p
		}
	}
	return 0
}

func dockerdCPU(pid int) float64 {
	if pid == 0 {
		return math.NaN()
	}
	v, err := procCPU(pid, false)
	if err != nil {
		return math.NaN()
	}
	return v
}

// cpuSample is the CPU time (ms) of the server's tree, of the server
// itself (children excluded) and of dockerd at one moment.
type cpuSample struct{ tree, self, dockerd float64 }

func sampleCPU(pid, dpid int) (cpuSample, error) {
	tree, err := procCPU(pid, true)
	if err != nil {
		return cpuSample{}, fmt.Errorf("server process: %w", err)
	}
	self, _ := procCPU(pid, false)
	return cpuSample{tree: tree, self: self, dockerd: dockerdCPU(dpid)}, nil
}
