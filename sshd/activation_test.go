package sshd

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// The child half of TestActivationListeners: runs in a process started
// with a listener at fd 3, as systemd would.
func TestActivationChild(t *testing.T) {
	if os.Getenv("SSHD_TEST_ACTIVATION_CHILD") != "1" {
		t.Skip("only as a child of TestActivationListeners")
	}
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid())) // systemd sets it after fork
	ls, err := ActivationListeners()
	if err != nil || len(ls) != 1 {
		t.Fatalf("ActivationListeners = %v, %v", ls, err)
	}
	if os.Getenv("LISTEN_FDS") != "" || os.Getenv("LISTEN_PID") != "" {
		t.Error("LISTEN_* left in the environment")
	}
	c, err := ls[0].Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("activated\n"))
	c.Close()
}

func TestActivationListeners(t *testing.T) {
	os.Unsetenv("LISTEN_PID")
	if ls, err := ActivationListeners(); ls != nil || err != nil {
		t.Fatalf("without LISTEN_PID: %v %v", ls, err)
	}
	t.Setenv("LISTEN_PID", "1")
	t.Setenv("LISTEN_FDS", "1")
	if ls, err := ActivationListeners(); ls != nil || err != nil {
		t.Fatalf("LISTEN_PID of another process: %v %v", ls, err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestActivationChild$", "-test.v")
	cmd.Env = append(os.Environ(), "SSHD_TEST_ACTIVATION_CHILD=1", "LISTEN_FDS=1")
	cmd.ExtraFiles = []*os.File{f}
	out := make(chan []byte, 1)
	go func() {
		b, _ := cmd.CombinedOutput()
		out <- b
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := make([]byte, 64)
	n, _ := c.Read(b)
	child := <-out
	if string(b[:n]) != "activated\n" || cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("child said %q, exit %d:\n%s", b[:n], cmd.ProcessState.ExitCode(), child)
	}
}
