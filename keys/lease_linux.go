package keys

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// waitUnheld takes a write lease on f and returns once it holds it, which
// the kernel grants only while no other descriptor anywhere (in any
// process, this one included) has the file open. For a file whose name is
// gone, that means no one can write to it any more. It retries while the
// file is open elsewhere, for up to timeout, and fails at once where leases
// are not available (a filesystem without them, leases disabled, not the
// file's owner and no CAP_LEASE). release gives the lease back.
func waitUnheld(f *os.File, timeout time.Duration) (release func(), err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	setLease := func(typ int) (err error) {
		cerr := rc.Control(func(fd uintptr) {
			_, err = unix.FcntlInt(fd, unix.F_SETLEASE, typ)
		})
		if cerr != nil {
			return cerr
		}
		return err
	}
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for {
		err := setLease(unix.F_WRLCK)
		if err == nil {
			return func() { _ = setLease(unix.F_UNLCK) }, nil
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EBUSY) {
			return nil, fmt.Errorf("write lease not available: %w", err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("file still open elsewhere after %v: %w", timeout, err)
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
}
