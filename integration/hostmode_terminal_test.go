package integration

import (
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
