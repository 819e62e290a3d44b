package proxy

import (
	"bytes"
	"os"
	"strconv"
	"strings"
)

// workers returns the pids of the live worker processes of nginx's
// master, read from /proc: a reload is done once the workers of the old
// config stopped accepting (they are gone, or say they are shutting down).
func workers(master int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid(pid) == master && accepting(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// ppid reads the parent pid from /proc/<pid>/stat (0 when unreadable).
func ppid(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 || f[0] == "Z" {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// accepting reports whether worker pid still takes new connections: an
// nginx worker told to quit retitles itself "... is shutting down".
func accepting(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	return !bytes.Contains(b, []byte("shutting down"))
}
