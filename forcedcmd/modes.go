package forcedcmd

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// The terminal modes of a pty-req (RFC 4254 section 8, RFC 8160's IUTF8)
// that Linux has, by opcode, as sshd's ttymodes table maps them.
var (
	modeChars = map[byte]int{1: unix.VINTR, 2: unix.VQUIT, 3: unix.VERASE, 4: unix.VKILL, 5: unix.VEOF,
		6: unix.VEOL, 7: unix.VEOL2, 8: unix.VSTART, 9: unix.VSTOP, 10: unix.VSUSP, 12: unix.VREPRINT,
		13: unix.VWERASE, 14: unix.VLNEXT, 18: unix.VDISCARD}
	modeIflags = map[byte]uint32{30: unix.IGNPAR, 31: unix.PARMRK, 32: unix.INPCK, 33: unix.ISTRIP,
		34: unix.INLCR, 35: unix.IGNCR, 36: unix.ICRNL, 37: unix.IUCLC, 38: unix.IXON, 39: unix.IXANY,
		40: unix.IXOFF, 41: unix.IMAXBEL, 42: unix.IUTF8}
	modeLflags = map[byte]uint32{50: unix.ISIG, 51: unix.ICANON, 52: unix.XCASE, 53: unix.ECHO, 54: unix.ECHOE,
		55: unix.ECHOK, 56: unix.ECHONL, 57: unix.NOFLSH, 58: unix.TOSTOP, 59: unix.IEXTEN, 60: unix.ECHOCTL,
		61: unix.ECHOKE, 62: unix.PENDIN}
	modeOflags = map[byte]uint32{70: unix.OPOST, 71: unix.OLCUC, 72: unix.ONLCR, 73: unix.OCRNL,
		74: unix.ONOCR, 75: unix.ONLRET}
	modeCflags = map[byte]uint32{90: unix.CS7, 91: unix.CS8, 92: unix.PARENB, 93: unix.PARODD}
	// bauds are the speeds sshd knows; any other becomes 9600, as there.
	bauds = map[uint32]uint32{0: unix.B0, 50: unix.B50, 75: unix.B75, 110: unix.B110, 134: unix.B134,
		150: unix.B150, 200: unix.B200, 300: unix.B300, 600: unix.B600, 1200: unix.B1200, 1800: unix.B1800,
		2400: unix.B2400, 4800: unix.B4800, 9600: unix.B9600, 19200: unix.B19200, 38400: unix.B38400,
		57600: unix.B57600, 115200: unix.B115200, 230400: unix.B230400}
)

const (
	ttyOpEnd    = 0
	ttyOpISpeed = 128
	ttyOpOSpeed = 129
)

// applyModes sets the client's terminal modes on the terminal, over its
// defaults, as sshd does after a pty-req: opcodes in order, each with a
// 32-bit argument; one Linux has not is skipped; an opcode from 160 on (no
// known argument size) or TTY_OP_END ends the list. No modes: nothing is
// changed.
func applyModes(tty *os.File, modes string) error {
	if modes == "" {
		return nil
	}
	rc, err := tty.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	err = rc.Control(func(fd uintptr) {
		var t *unix.Termios
		if t, ioErr = unix.IoctlGetTermios(int(fd), unix.TCGETS); ioErr != nil {
			return
		}
		setModes(t, modes)
		ioErr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
	})
	if err != nil {
		return err
	}
	return ioErr
}

// setModes applies encoded modes to t.
func setModes(t *unix.Termios, modes string) {
	b := []byte(modes)
	for len(b) >= 5 {
		op := b[0]
		if op == ttyOpEnd || op >= 160 {
			return
		}
		v := binary.BigEndian.Uint32(b[1:5])
		b = b[5:]
		if c, ok := modeChars[op]; ok {
			if v == 255 {
				v = 0 // _POSIX_VDISABLE
			}
			t.Cc[c] = uint8(v)
			continue
		}
		if op == ttyOpISpeed || op == ttyOpOSpeed {
			speed, ok := bauds[v]
			if !ok {
				speed = unix.B9600
			}
			if v != 0 || op == ttyOpOSpeed {
				t.Cflag = t.Cflag&^(unix.CBAUD|unix.CBAUDEX) | speed
			}
			continue
		}
		for _, f := range []struct {
			flags map[byte]uint32
			field *uint32
		}{{modeIflags, &t.Iflag}, {modeLflags, &t.Lflag}, {modeOflags, &t.Oflag}, {modeCflags, &t.Cflag}} {
			if bit, ok := f.flags[op]; ok {
				if v != 0 {
					*f.field |= bit
				} else {
					*f.field &^= bit
				}
			}
		}
	}
}
