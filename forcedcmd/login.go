// Package forcedcmd runs an authorized_keys forced command the way
// OpenSSH's sshd runs it: through the login shell of the user the server
// runs as (`SHELL -c COMMAND`), in that user's home, with the environment
// sshd gives a session, on a terminal of its own when the client asked for
// one, and with the command's exit status or signal coming back. On a
// Dokku host the command is sshcommand's, which runs Dokku's own `dokku`.
package forcedcmd

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// Login is the passwd entry of the user commands run as.
type Login struct {
	Name  string
	UID   int
	Home  string
	Shell string // "/bin/sh" when the entry names none, as sshd takes it
}

// passwdFile is the user database sshd reads on a Dokku host (the dokku
// user is a local one).
const passwdFile = "/etc/passwd"

// LookupLogin reads uid's entry from /etc/passwd.
func LookupLogin(uid int) (Login, error) {
	f, err := os.Open(passwdFile)
	if err != nil {
		return Login{}, fmt.Errorf("user database: %w", err)
	}
	defer f.Close()
	return parsePasswd(f, uid)
}

// parsePasswd finds uid's entry in passwd(5) lines
// (name:password:uid:gid:gecos:home:shell); the first one wins.
func parsePasswd(r io.Reader, uid int) (Login, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 7 {
			continue
		}
		if id, err := strconv.Atoi(f[2]); err != nil || id != uid {
			continue
		}
		l := Login{Name: f[0], UID: uid, Home: f[5], Shell: f[6]}
		if l.Shell == "" {
			l.Shell = "/bin/sh"
		}
		return l, nil
	}
	if err := sc.Err(); err != nil {
		return Login{}, fmt.Errorf("user database: %w", err)
	}
	return Login{}, fmt.Errorf("user database: no entry for uid %d in %s", uid, passwdFile)
}
