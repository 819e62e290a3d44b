package integration

import (
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"dokku-sshd/internal/testbuf"
)

// dockerLogLine is one line of `logs` for a single web container.
var dockerLogLine = regexp.MustCompile(`^\x1b\[36m\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z app\[web\.1\]:\x1b\[0m (.*)$`)

// logMessages checks that every line of out is a prefixed web.1 line and
// returns the messages.
func logMessages(t *testing.T, out string) []string {
	t.Helper()
	var msgs []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		m := dockerLogLine.FindStringSubmatch(strings.TrimSuffix(l, "\r"))
		if m == nil {
			t.Errorf("not a logs line: %q", l)
			continue
		}
		msgs = append(msgs, m[1])
	}
	return msgs
}

// logsSessionEnded is the server's debug line for a finished `logs`
// session (not logs:help): a session ends once its command has returned.
var logsSessionEnded = regexp.MustCompile(`(?m)msg="session ended".* verb=logs( |$)`)

// sessionsEnded counts the logs sessions the server has logged as ended.
func sessionsEnded(s *server) int {
	return len(logsSessionEnded.FindAllString(s.Log(), -1))
}

// TestDockerLogs runs `logs` over SSH against an app deployed to the real
// Docker Engine: the prefixed format, -n, -q, -p, the errors, and -t
// until the client goes away (killed, or ^C on a terminal), after which
// the server must have nothing of the command left running.
func TestDockerLogs(t *testing.T) {
	t.Parallel()
	a := newDockerApp(t, "lg")
	a.deployHTTP(t, "logs\n")
	app, key := a.name, a.key
	// Again on the same data, with debug logging (session ends are logged)
	// and a shutdown grace far longer than the server's stop timeout: a
	// session left running would keep the server from exiting.
	a.s.Stop()
	s := startPushServer(t, pushServerOpts{DataDir: a.s.DataDir, Args: []string{"--log-level", "debug", "--shutdown-grace", "5m"}})
	a.s = s
	_, ip, _ := a.slot("web.1")
	if ip == "" {
		t.Fatal("no IP.web.1 after the deploy")
	}

	t.Run("prefixed", func(t *testing.T) {
		r := s.ssh(t, key, "logs", app)
		if r.Code != 0 || r.Stderr != "" {
			t.Fatalf("logs: %s", r)
		}
		msgs := logMessages(t, r.Stdout)
		if !strings.Contains(strings.Join(msgs, "\n")+"\n", "starting httpd on 5000\n") {
			t.Errorf("no start line in %q", msgs)
		}
		// the same through --app and with -p web
		for _, words := range [][]string{{"--app", app, "logs"}, {"logs", "-p", "web", app}, {"logs", app, "--ps=web.1"}} {
			if r2 := s.ssh(t, key, words...); r2.Code != 0 || len(logMessages(t, r2.Stdout)) < len(msgs) {
				t.Errorf("%v: %s", words, r2)
			}
		}
	})

	t.Run("num", func(t *testing.T) {
		for _, words := range [][]string{{"logs", app, "-n", "1"}, {"logs", "--num=1", app}} {
			r := s.ssh(t, key, words...)
			if r.Code != 0 || len(logMessages(t, r.Stdout)) != 1 {
				t.Errorf("%v: %s", words, r)
			}
		}
		expect(t, "-n 0", s.ssh(t, key, "logs", "-n", "0", app), 0, "", "")
	})

	t.Run("quiet", func(t *testing.T) {
		for _, words := range [][]string{{"logs", "-q", app}, {"logs", app, "--quiet"}} {
			r := s.ssh(t, key, words...)
			if r.Code != 0 || !strings.HasPrefix(r.Stdout, "starting httpd on 5000\n") || strings.Contains(r.Stdout, "\x1b") {
				t.Errorf("%v: %s", words, r)
			}
		}
	})

	t.Run("errors", func(t *testing.T) {
		other := app + "-new"
		s.mustLocal(t, "apps:create", other)
		expect(t, "not deployed", s.ssh(t, key, "logs", other), 1, "", warn("App "+other+" has not been deployed"))
		expect(t, "unknown app", s.ssh(t, key, "logs", "-t", "nope-"+app), 20, "", warn("App nope-"+app+" does not exist"))
		expect(t, "no app", s.ssh(t, key, "logs"), 1, "", warn("Please specify an app to run the command on"))
		expect(t, "unknown process", s.ssh(t, key, "logs", "-p", "worker", app), 1, "", warn("No worker containers found for "+app))
		// pflag's usage and error, as Dokku's logs prints them
		usage := "Usage of logs:\n" +
			"  -h, --help        print help for the command\n" +
			"  -n, --num int     the number of lines to display (default 100)\n" +
			"  -p, --ps string   only display logs from the given process\n" +
			"  -q, --quiet       display raw logs without colors, time and names\n" +
			"  -t, --tail        continually stream logs\n"
		expect(t, "bad num", s.ssh(t, key, "logs", "-n", "ten", app), 2, "",
			usage+`invalid argument "ten" for "-n, --num" flag: strconv.ParseInt: parsing "ten": invalid syntax`+"\n")
		expect(t, "unknown flag", s.ssh(t, key, "logs", "--follow", app), 2, "", usage+"unknown flag: --follow\n")
		s.mustLocal(t, "scheduler:set", other, "selected", "null")
		expect(t, "null scheduler", s.ssh(t, key, "logs", other), 1, "", warn("App "+other+" runs on the null scheduler, which keeps no logs"))
	})

	t.Run("help", func(t *testing.T) {
		h := s.ssh(t, key, "logs:help")
		if h.Code != 0 || !strings.Contains(h.Stdout, "    logs [-h|--help] [-t|--tail] [-n|--num num] [-q|--quiet] [-p|--ps process] <app>  Display recent log output\n") {
			t.Fatalf("logs:help: %s", h)
		}
		expect(t, "logs -h", s.ssh(t, key, "logs", "-h"), 0, h.Stdout, "")
		expect(t, "logs app --help", s.ssh(t, key, "logs", app, "--help"), 0, h.Stdout, "")
	})

	// follow starts `logs -t` over ssh, makes httpd log requests until one
	// arrives, and returns the running client and its output.
	follow := func(t *testing.T, o sshOpts) (*exec.Cmd, *testbuf.Buffer, io.WriteCloser) {
		t.Helper()
		cmd := exec.Command("ssh", s.sshArgv(key, o, "logs", "-t", "-n", "0", app)...)
		cmd.Env = cleanEnv()
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out := &testbuf.Buffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		// With -n 0 only new lines come: request until one is shown.
		if !waitFor(time.Minute, func() bool {
			_, _ = httpGet("http://" + ip + ":5000/")
			return strings.Contains(out.String(), "response:200")
		}) {
			t.Fatalf("no request line arrived while following:\n%q", out.String())
		}
		line, _, _ := strings.Cut(out.String(), "\n")
		logMessages(t, line)
		return cmd, out, stdin
	}

	t.Run("follow until killed", func(t *testing.T) {
		s.syncLog(t) // no line of an earlier session still on its way
		before := sessionsEnded(s)
		cmd, out, _ := follow(t, sshOpts{})
		if sessionsEnded(s) != before {
			t.Fatalf("the logs session ended while following:\n%s", out.String())
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if !waitFor(time.Minute, func() bool { return sessionsEnded(s) > before }) {
			t.Fatalf("the server did not end the logs session after the client was killed; log:\n%s", s.Log())
		}
	})

	t.Run("follow until ^C", func(t *testing.T) {
		s.syncLog(t) // no line of an earlier session still on its way
		before := sessionsEnded(s)
		cmd, out, stdin := follow(t, sshOpts{Extra: []string{"-tt"}})
		if _, err := io.WriteString(stdin, "\x03"); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			t.Logf("ssh after ^C: %v", err)
		case <-time.After(time.Minute):
			t.Fatalf("logs -t did not end after ^C:\n%q", out.String())
		}
		if !strings.Contains(out.String(), "^C") {
			t.Errorf("no ^C echo:\n%q", out.String())
		}
		if !waitFor(time.Minute, func() bool { return sessionsEnded(s) > before }) {
			t.Errorf("no session end logged after ^C; log:\n%s", s.Log())
		}
	})

	// Nothing of the logs commands is left: the server stops at once
	// (s.Stop fails the test when it waits out its stop timeout).
	s.Stop()
	if strings.Contains(s.Log(), "shutdown grace over") {
		t.Errorf("sessions were still running at shutdown; log:\n%s", s.Log())
	}
}
