package sshd

// SendNewest delivers v on c, replacing an older value nobody has read yet:
// the sender never waits for a slow reader, and the reader gets the newest
// value (a terminal's size, where only the last one matters). c must have a
// buffer (of one, usually); on an unbuffered channel it would spin until a
// reader came.
func SendNewest[T any](c chan T, v T) {
	for {
		select {
		case c <- v:
			return
		default:
		}
		select { // drop the older value nobody read
		case <-c:
		default:
		}
	}
}
