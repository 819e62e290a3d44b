package sshd

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
)

// ActivationListeners returns the sockets systemd passed (LISTEN_FDS,
// LISTEN_PID; the first at fd 3), or nil when the process was not socket
// activated. The variables are cleared so children do not inherit them.
func ActivationListeners() ([]net.Listener, error) {
	pid, err := strconv.Atoi(os.Getenv("LISTEN_PID"))
	if err != nil || pid != os.Getpid() {
		return nil, nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil, nil
	}
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	var out []net.Listener
	for fd := 3; fd < 3+n; fd++ {
		syscall.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), "LISTEN_FD_"+strconv.Itoa(fd))
		l, err := net.FileListener(f)
		f.Close() // FileListener dups the descriptor
		if err != nil {
			return nil, fmt.Errorf("socket activation fd %d: %w", fd, err)
		}
		out = append(out, l)
	}
	return out, nil
}
