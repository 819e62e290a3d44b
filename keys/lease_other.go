//go:build !linux

package keys

import (
	"errors"
	"os"
	"time"
)

// waitUnheld: file leases are Linux only; see lease_linux.go.
func waitUnheld(*os.File, time.Duration) (func(), error) {
	return nil, errors.New("write leases are not available on this system")
}
