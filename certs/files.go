// Package certs keeps an app's imported TLS certificate where Dokku keeps
// it: the app's directory, tls/server.crt and tls/server.key.
package certs

import (
	"path/filepath"

	"dokku-sshd/store"
)

// Files returns the paths of app's certificate and key (which may not
// exist).
func Files(st *store.Store, app string) (crt, key string) {
	dir := filepath.Join(st.AppDir(app), "tls")
	return filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
}
