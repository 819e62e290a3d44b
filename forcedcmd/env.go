package forcedcmd

import (
	"net"
	"strconv"
)

// The PATH sshd sets, as Debian builds OpenSSH (--with-default-path and
// its superuser path); ~/.ssh/environment and PAM are not read.
const (
	defaultPath   = "/usr/local/bin:/usr/bin:/bin:/usr/games"
	superuserPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	mailDir       = "/var/mail"
)

// session is what the environment says about one session.
type session struct {
	original string // SSH_ORIGINAL_COMMAND; "" for none (a shell request)
	remote   net.Addr
	local    net.Addr
	term     string // TERM, with a terminal only
	tty      string // SSH_TTY: the terminal's device, with a terminal only
	tz       string // the server's own TZ, passed on as sshd passes its own
}

// environ is the whole environment of the command, as OpenSSH's sshd
// builds it without PAM, AcceptEnv, SetEnv or PermitUserEnvironment (its
// do_setup_env): the login's USER, LOGNAME, HOME, PATH, MAIL and SHELL,
// TZ when the server has one, TERM and SSH_TTY with a terminal,
// SSH_CLIENT, SSH_CONNECTION and SSH_ORIGINAL_COMMAND. Nothing of the
// server's own environment or the client's env requests gets through.
func environ(l Login, s session) []string {
	path := defaultPath
	if l.UID == 0 {
		path = superuserPath
	}
	env := []string{
		"USER=" + l.Name,
		"LOGNAME=" + l.Name,
		"HOME=" + l.Home,
		"PATH=" + path,
		"MAIL=" + mailDir + "/" + l.Name,
		"SHELL=" + l.Shell,
	}
	if s.tz != "" {
		env = append(env, "TZ="+s.tz)
	}
	if s.term != "" {
		env = append(env, "TERM="+s.term)
	}
	rip, rport := hostPort(s.remote)
	lip, lport := hostPort(s.local)
	env = append(env,
		"SSH_CLIENT="+rip+" "+rport+" "+lport,
		"SSH_CONNECTION="+rip+" "+rport+" "+lip+" "+lport)
	if s.tty != "" {
		env = append(env, "SSH_TTY="+s.tty)
	}
	if s.original != "" {
		env = append(env, "SSH_ORIGINAL_COMMAND="+s.original)
	}
	return env
}

// hostPort is an address as sshd prints it: the IP without brackets, and
// the port. An address that is not TCP (a test's pipe) gives "UNKNOWN" and
// "65535", sshd's words for a connection that is not a socket.
func hostPort(a net.Addr) (ip, port string) {
	t, ok := a.(*net.TCPAddr)
	if !ok || t == nil {
		return "UNKNOWN", "65535"
	}
	ip = t.IP.String()
	if v4 := t.IP.To4(); v4 != nil {
		ip = v4.String() // ::ffff:a.b.c.d, as sshd unmaps it
	}
	return ip, strconv.Itoa(t.Port)
}
