package domains

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"dokku-sshd/store"
)

// VhostFile is the name of Dokku's domains file: RootDir/<app>/VHOST for an
// app, RootDir/VHOST for the global domains; one domain a line.
const VhostFile = "VHOST"

// NoVhost is the config var that disables an app's domains ("1"), as
// Dokku's domains:disable sets it.
const NoVhost = "NO_VHOST"

// path is app's VHOST file, or the global one for store.Global.
func path(st *store.Store, app string) string {
	if app == store.Global {
		return filepath.Join(st.Paths.RootDir, VhostFile)
	}
	return filepath.Join(st.AppDir(app), VhostFile)
}

// Read returns the domains in app's VHOST file (store.Global: the global
// ones) in file order; exists is false when there is no file.
func Read(st *store.Store, app string) (domains []string, exists bool, err error) {
	b, err := os.ReadFile(path(st, app))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read the domains of %s: %w", app, err)
	}
	return cleanLines(string(b)), true, nil
}

// Global returns the global domains.
func Global(st *store.Store) ([]string, error) {
	d, _, err := Read(st, store.Global)
	return d, err
}

// write replaces app's VHOST file with domains, one a line (an empty file
// for none).
func write(st *store.Store, app string, domains []string) error {
	data := ""
	if len(domains) > 0 {
		data = strings.Join(domains, "\n") + "\n"
	}
	if err := store.WriteFileAtomic(path(st, app), []byte(data), 0o644); err != nil {
		return fmt.Errorf("write the domains of %s: %w", app, err)
	}
	return nil
}

// remove deletes app's VHOST file; a missing one is fine.
func remove(st *store.Store, app string) error {
	if err := os.Remove(path(st, app)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the domains of %s: %w", app, err)
	}
	return nil
}

// update runs fn on app's domains under the app lock (store.Global: the
// global lock) and writes what it returns; keep false removes the file.
func update(st *store.Store, app string, fn func(cur []string) (next []string, keep bool, err error)) error {
	unlock, err := st.AppLock(app)
	if err != nil {
		return err
	}
	defer unlock()
	cur, _, err := Read(st, app)
	if err != nil {
		return err
	}
	next, keep, err := fn(cur)
	if err != nil {
		return err
	}
	if !keep {
		return remove(st, app)
	}
	return write(st, app, next)
}

// Enabled reports whether app's domains are enabled: its NO_VHOST config
// var is not "1".
func Enabled(st *store.Store, app string) (bool, error) {
	env, err := st.Env(app)
	if err != nil {
		return false, fmt.Errorf("read the config of %s: %w", app, err)
	}
	return env[NoVhost] != "1", nil
}

// setEnabled records the enabled state in NO_VHOST ("0" or "1"), as
// Dokku's config_set does, without a restart: the scheduler is told of
// the change instead (schedulers.DomainsUpdater). It must not be called
// under the app lock (the config store takes it).
func setEnabled(st *store.Store, app string, on bool) error {
	v := "1"
	if on {
		v = "0"
	}
	return st.SetEnv(app, map[string]string{NoVhost: v})
}

// List is what app serves: its domains when enabled, none otherwise (Dokku's
// domains-list trigger). Schedulers and proxies route exactly these.
func List(st *store.Store, app string) ([]string, error) {
	on, err := Enabled(st, app)
	if err != nil || !on {
		return nil, err
	}
	d, _, err := Read(st, app)
	return d, err
}
