package certs

import (
	"errors"
	"io/fs"
	"os"

	"dokku-sshd/store"
)

// Exists reports whether app has an imported certificate: both files
// present, as Dokku's certs-exists checks.
func Exists(st *store.Store, app string) (bool, error) {
	crt, key := Files(st, app)
	for _, p := range []string{crt, key} {
		_, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}
