module dokku-sshd

go 1.26.0

require (
	charm.land/ssh v0.4.3
	github.com/go-git/go-git/v5 v5.19.3
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
)

require (
	github.com/anmitsu/go-shlex v0.0.0-20200514113438-38f4b401e2be // indirect
	github.com/charmbracelet/x/conpty v0.2.0 // indirect
	github.com/charmbracelet/x/termios v0.1.1 // indirect
	github.com/creack/pty v1.1.24 // indirect
	github.com/pires/go-proxyproto v0.12.0 // indirect
	github.com/pjbgf/sha1cd v0.7.0 // indirect
)
