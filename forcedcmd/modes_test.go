package forcedcmd

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// encodeModes writes opcode/value pairs as a pty-req carries them.
func encodeModes(pairs ...uint32) string {
	var b []byte
	for i := 0; i+1 < len(pairs); i += 2 {
		b = append(b, byte(pairs[i]))
		b = binary.BigEndian.AppendUint32(b, pairs[i+1])
	}
	return string(b)
}

func TestSetModes(t *testing.T) {
	base := unix.Termios{Iflag: unix.ICRNL, Oflag: unix.OPOST | unix.ONLCR, Lflag: unix.ECHO | unix.ICANON,
		Cflag: unix.B38400 | unix.CS8 | unix.CREAD}
	base.Cc[unix.VINTR] = 3
	for _, tc := range []struct {
		name  string
		modes string
		want  func(t *unix.Termios)
	}{
		{"no modes", "", func(*unix.Termios) {}},
		{"flags set and cleared", encodeModes(42, 1, 53, 0, 36, 0, 72, 1, 92, 1, 0, 0),
			func(t *unix.Termios) { t.Iflag = unix.IUTF8; t.Lflag = unix.ICANON; t.Cflag |= unix.PARENB }},
		{"special characters, 255 disables", encodeModes(1, 255, 3, 0x7f),
			func(t *unix.Termios) { t.Cc[unix.VINTR] = 0; t.Cc[unix.VERASE] = 0x7f }},
		{"speeds, an unknown one is 9600", encodeModes(129, 19200, 128, 12345),
			func(t *unix.Termios) { t.Cflag = unix.B9600 | unix.CS8 | unix.CREAD }},
		{"opcodes Linux has not are skipped", encodeModes(11, 25, 16, 1, 100, 1, 53, 0),
			func(t *unix.Termios) { t.Lflag = unix.ICANON }},
		{"an opcode from 160 on ends the list", encodeModes(53, 0, 160, 1, 51, 0),
			func(t *unix.Termios) { t.Lflag = unix.ICANON }},
		{"a truncated pair is ignored", encodeModes(53, 0) + "\x33\x00",
			func(t *unix.Termios) { t.Lflag = unix.ICANON }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, want := base, base
			setModes(&got, tc.modes)
			tc.want(&want)
			if got != want {
				t.Errorf("termios\n got %+v\nwant %+v", got, want)
			}
		})
	}
}
