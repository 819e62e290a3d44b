package forcedcmd

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"dokku-sshd/internal/testbuf"
	"dokku-sshd/internal/testenv"
)

// inheritable is what the test process itself passes to any child: its
// descriptors without close-on-exec (set up by whatever started the test),
// by number, with their targets.
func inheritable(t *testing.T) map[string]string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		testenv.SkipOrFail(t, "this test reads /proc/self/fd, which this machine lacks (a Linux /proc mount): %v", err)
	}
	fds := map[string]string{}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue
		}
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fds[e.Name()] = target
	}
	return fds
}

// childFDs runs `ls -lN /proc/self/fd` as a forced command (on a terminal
// when term) and returns the command's descriptors and their targets, less
// the one ls reads the directory with.
func childFDs(t *testing.T, r *Runner, term bool) map[string]string {
	t.Helper()
	var out testbuf.Buffer
	req := Request{Command: "exec ls -lN /proc/self/fd", Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out}
	if term {
		req.Stderr = nil
		req.Terminal = &Terminal{Term: "vt100", Width: 80, Height: 24}
	}
	exit, err := r.Run(context.Background(), req)
	if err != nil || exit != (Exit{}) {
		t.Fatalf("Run = %+v, %v; output %q", exit, err, out.String())
	}
	fds := map[string]string{}
	for l := range strings.Lines(out.String()) {
		f := strings.Fields(l)
		if n := len(f); n >= 3 && f[n-2] == "->" && !strings.HasPrefix(f[n-1], "/proc/") {
			fds[f[n-3]] = f[n-1]
		}
	}
	return fds
}

// A command gets its standard streams and nothing of the server's: not
// the terminal of another session opened at the same time (its master
// would keep that session's terminal from ever hanging up).
func TestRunChildFDs(t *testing.T) {
	needPTY(t)
	allowed := inheritable(t)
	r := testRunner(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 { // other sessions' terminals, opened and closed all along
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if ptmx, tty, err := openPTY(); err == nil {
					ptmx.Close()
					tty.Close()
				}
			}
		})
	}
	defer wg.Wait()
	defer close(stop)
	deadline := time.Now().Add(2 * time.Second)
	for n := 0; n < 4 || time.Now().Before(deadline); n++ {
		term := n%2 == 1
		fds := childFDs(t, r, term)
		for fd, target := range fds {
			std := fd == "0" || fd == "1" || fd == "2"
			switch {
			case std && term && !strings.HasPrefix(target, "/dev/pts/"),
				std && !term && !strings.HasPrefix(target, "pipe:"),
				!std && allowed[fd] != target:
				t.Fatalf("terminal %v: the command has fd %s -> %s; all: %v", term, fd, target, fds)
			}
		}
		if len(fds) < 3 || (term && (fds["0"] != fds["1"] || fds["1"] != fds["2"])) {
			t.Fatalf("terminal %v: standard streams %v", term, fds)
		}
	}
}
