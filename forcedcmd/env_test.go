package forcedcmd

import (
	"net"
	"slices"
	"testing"
)

func TestEnviron(t *testing.T) {
	dokku := Login{Name: "dokku", UID: 1000, Home: "/home/dokku", Shell: "/bin/bash"}
	root := Login{Name: "root", UID: 0, Home: "/root", Shell: "/bin/bash"}
	v4 := session{
		original: "apps:list --quiet",
		remote:   &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 50123},
		local:    &net.TCPAddr{IP: net.ParseIP("::ffff:198.51.100.1"), Port: 22},
	}
	withTTY := v4
	withTTY.term, withTTY.tty, withTTY.tz = "xterm-256color", "/dev/pts/3", "Europe/Paris"
	v6 := session{
		remote: &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 40000},
		local:  &net.TCPAddr{IP: net.ParseIP("2001:db8::2"), Port: 2222},
	}
	base := func(l Login, path string) []string {
		return []string{"USER=" + l.Name, "LOGNAME=" + l.Name, "HOME=" + l.Home, "PATH=" + path,
			"MAIL=/var/mail/" + l.Name, "SHELL=" + l.Shell}
	}
	for _, tc := range []struct {
		name  string
		login Login
		s     session
		want  []string
	}{
		{"user, command, no terminal", dokku, v4, append(base(dokku, defaultPath),
			"SSH_CLIENT=192.0.2.7 50123 22", "SSH_CONNECTION=192.0.2.7 50123 198.51.100.1 22",
			"SSH_ORIGINAL_COMMAND=apps:list --quiet")},
		{"root, terminal, TZ", root, withTTY, append(base(root, superuserPath),
			"TZ=Europe/Paris", "TERM=xterm-256color",
			"SSH_CLIENT=192.0.2.7 50123 22", "SSH_CONNECTION=192.0.2.7 50123 198.51.100.1 22",
			"SSH_TTY=/dev/pts/3", "SSH_ORIGINAL_COMMAND=apps:list --quiet")},
		{"IPv6, no command", dokku, v6, append(base(dokku, defaultPath),
			"SSH_CLIENT=2001:db8::1 40000 2222", "SSH_CONNECTION=2001:db8::1 40000 2001:db8::2 2222")},
		{"no socket", dokku, session{}, append(base(dokku, defaultPath),
			"SSH_CLIENT=UNKNOWN 65535 65535", "SSH_CONNECTION=UNKNOWN 65535 UNKNOWN 65535")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := environ(tc.login, tc.s); !slices.Equal(got, tc.want) {
				t.Errorf("environ\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}
