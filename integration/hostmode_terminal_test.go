package integration

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// Keys typed before the command runs (ssh -tt with its input already
// there) reach the command's terminal as they would under OpenSSH: the
// terminal echoes them once, reads CR as the end of a line and ^D at a
// line start as the end of input; the server neither echoes nor edits
// them on the way.
func TestHostTerminalEarlyKeys(t *testing.T) {
	t.Parallel()
	p := newHostPair(t)
	for _, tc := range []struct {
		name, keys string
	}{
		{"a line and ^D", "a\r\x04"},
		{"an edited line and ^D", "ab\x7fc\r\x04"},
	} {
		p.both(t, tc.name, func(h hostTarget) result {
			return h.hostSSH(t, p.l, p.key, sshOpts{Stdin: tc.keys, Extra: []string{"-tt"}, Timeout: 30 * time.Second},
				"config:import", "app", "rec:stdin=1")
		})
	}
}

// A key whose line forbids a terminal (no-pty, or restrict without a later
// pty) gets none: ssh, run on a terminal without a command (so that a
// refused terminal is not fatal to it, as it is with -t), says so and the
// forced command runs without one.
func TestHostTerminalKeyOptions(t *testing.T) {
	t.Parallel()
	requireTools(t, "tmux")
	p := newHostPair(t)
	for _, tc := range []struct{ name, options string }{
		{"no-pty", "no-pty,no-agent-forwarding,no-user-rc,no-X11-forwarding,no-port-forwarding"},
		{"restrict", "restrict"},
		{"restrict,pty", "restrict,pty"},
	} {
		key := newKey(t, "ed25519", tc.name)
		p.l.appendKeyLine(t, `command="FINGERPRINT=`+key.Fingerprint+` NAME=\"`+tc.name+`\" `+
			"`cat "+p.l.Root+"/.sshcommand` $SSH_ORIGINAL_COMMAND\","+tc.options+" "+key.PubLine+"\n")
		p.both(t, tc.name, func(h hostTarget) result {
			tm := newTmux(t, append([]string{"ssh"}, h.sshArgv(key, sshOpts{User: p.l.User})...))
			tm.waitPane("exit", regexp.MustCompile(`EXIT=\d+`))
			pane := strings.TrimRight(tm.pane(), "\n")
			tm.run("kill-server")
			return result{Stdout: pane}
		})
	}
}
