package sshd

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// TestMain runs the child half of TestActivationListeners when the test
// binary is started as that child, and the tests otherwise.
func TestMain(m *testing.M) {
	if os.Getenv("SSHD_TEST_ACTIVATION_CHILD") == "1" {
		os.Exit(activationChild())
	}
	os.Exit(m.Run())
}

// activationChild runs in a process started with a listener at fd 3, as
// systemd would start the server: it takes the listener, answers one
// connection and reports problems on stderr with exit status 1.
func activationChild() int {
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid())) // systemd sets it after fork
	ls, err := ActivationListeners()
	if err != nil || len(ls) != 1 {
		fmt.Fprintf(os.Stderr, "ActivationListeners = %v, %v\n", ls, err)
		return 1
	}
	if os.Getenv("LISTEN_FDS") != "" || os.Getenv("LISTEN_PID") != "" {
		fmt.Fprintln(os.Stderr, "LISTEN_* left in the environment")
		return 1
	}
	c, err := ls[0].Accept()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	c.Write([]byte("activated\n"))
	c.Close()
	return 0
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
	cmd := exec.Command(os.Args[0], "-test.run=^$")
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
