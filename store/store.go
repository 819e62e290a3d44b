// Package store keeps dokku-sshd's state on disk in Dokku's own layout, so the
// server can run against an existing Dokku host (/home/dokku, /var/lib/dokku)
// or a fresh data directory of its own.
package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Global is the pseudo app name Dokku uses for global properties.
const Global = "--global"

// Paths names every place the server reads or writes. Each part can be
// overridden on its own; Derive fills the rest from a data directory.
type Paths struct {
	DataDir        string // the server's own state: host keys, builds
	RootDir        string // DOKKU_ROOT: one directory (bare repo) per app
	LibDir         string // DOKKU_LIB_ROOT: config/<plugin>/<app>/<key>, data/<plugin>/<app>
	AuthorizedKeys string // sshcommand-format authorized_keys
}

// Derive fills empty fields from DataDir: RootDir=DataDir/home,
// LibDir=DataDir/lib, AuthorizedKeys=RootDir/.ssh/authorized_keys.
func (p Paths) Derive() Paths {
	if p.RootDir == "" {
		p.RootDir = filepath.Join(p.DataDir, "home")
	}
	if p.LibDir == "" {
		p.LibDir = filepath.Join(p.DataDir, "lib")
	}
	if p.AuthorizedKeys == "" {
		p.AuthorizedKeys = filepath.Join(p.RootDir, ".ssh", "authorized_keys")
	}
	return p
}

// HostKeyDir is where the server keeps its SSH host keys.
func (p Paths) HostKeyDir() string { return filepath.Join(p.DataDir, "host-keys") }

// Netrc is the netrc file of git:auth: RootDir/.netrc, which is
// ~dokku/.netrc on a Dokku host. git reads it (through curl) for the
// remotes of git:sync, run with NetrcHome as its HOME.
func (p Paths) Netrc() string { return filepath.Join(p.NetrcHome(), ".netrc") }

// NetrcHome is the HOME of the git runs that reach remotes (git:sync), so
// that curl finds Netrc there.
func (p Paths) NetrcHome() string { return p.RootDir }

// Store is the on-disk state. It is safe for concurrent use: every write is
// an atomic replace, and per-app work is serialised with Lock.
type Store struct {
	Paths Paths
}

// New returns a Store over p (after Derive) and makes sure its top
// directories exist.
func New(p Paths) (*Store, error) {
	p = p.Derive()
	for _, d := range []string{p.DataDir, p.RootDir, p.LibDir, filepath.Join(p.LibDir, "config"), filepath.Join(p.LibDir, "data")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("store: create %s: %w", d, err)
		}
	}
	return &Store{Paths: p}, nil
}

// propertyPath is LibDir/config/<plugin>/<app|--global>/<key>.
func (s *Store) propertyPath(plugin, app, key string) string {
	return filepath.Join(s.Paths.LibDir, "config", plugin, app, key)
}

// Property returns a property's value, "" when it is not set.
func (s *Store) Property(plugin, app, key string) (string, error) {
	v, _, err := s.LookupProperty(plugin, app, key)
	return v, err
}

// LookupProperty returns a property's value and whether it is set at all
// (a property may be set to the empty string).
func (s *Store) LookupProperty(plugin, app, key string) (string, bool, error) {
	b, err := os.ReadFile(s.propertyPath(plugin, app, key))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("store: read property %s/%s/%s: %w", plugin, app, key, err)
	}
	return strings.TrimRight(string(b), "\n"), true, nil
}

// ComputedProperty is Dokku's computed value of a property: app's own
// value, else the global one, else def. An empty value counts as unset, as
// in Dokku's plugins. app may be Global (or "") for the global value alone.
//
// Errors: only "not set" falls through to the next level. Any other read
// error is returned (with "") and never taken for the default, so that an
// unreadable setting cannot silently change what a deploy does; a caller
// with nothing to fail (a background retirement) logs it instead.
func (s *Store) ComputedProperty(plugin, app, key, def string) (string, error) {
	v, set, err := s.computed(plugin, app, key, false)
	if err != nil || set {
		return v, err
	}
	return def, nil
}

// LookupComputedProperty is ComputedProperty for a property whose empty
// value means something (git's rev-env-var: set to empty, no revision is
// recorded): app's value if set at all, even to "", else the global one;
// set is false when neither level sets it, for the caller's default.
// Errors follow ComputedProperty's rule.
func (s *Store) LookupComputedProperty(plugin, app, key string) (value string, set bool, err error) {
	return s.computed(plugin, app, key, true)
}

// computed walks app, then --global, and stops at the first level that
// sets the property (set to "" counts only with keepEmpty). A read error
// stops the walk: it is never taken for "not set".
func (s *Store) computed(plugin, app, key string, keepEmpty bool) (string, bool, error) {
	levels := []string{Global}
	if app != "" && app != Global {
		levels = []string{app, Global}
	}
	for _, level := range levels {
		v, set, err := s.LookupProperty(plugin, level, key)
		if err != nil {
			return "", false, err
		}
		if set && (keepEmpty || v != "") {
			return v, true, nil
		}
	}
	return "", false, nil
}

// SetProperty writes a property atomically.
func (s *Store) SetProperty(plugin, app, key, value string) error {
	p := s.propertyPath(plugin, app, key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("store: set property %s/%s/%s: %w", plugin, app, key, err)
	}
	if err := WriteFileAtomic(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("store: set property %s/%s/%s: %w", plugin, app, key, err)
	}
	return nil
}

// DeleteProperty removes a property; removing an unset one is not an error.
func (s *Store) DeleteProperty(plugin, app, key string) error {
	err := os.Remove(s.propertyPath(plugin, app, key))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: delete property %s/%s/%s: %w", plugin, app, key, err)
	}
	return nil
}

// plugins lists the plugin directories under config/ (for copying an app's
// properties on rename and clone).
func (s *Store) plugins() ([]string, error) {
	ents, err := os.ReadDir(filepath.Join(s.Paths.LibDir, "config"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("store: list plugins: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// AppDir is the app's directory under RootDir (its bare git repository).
func (s *Store) AppDir(app string) string { return filepath.Join(s.Paths.RootDir, app) }

// AppDataDir is LibDir/data/<plugin>/<app>.
func (s *Store) AppDataDir(plugin, app string) string {
	return filepath.Join(s.Paths.LibDir, "data", plugin, app)
}

// AppNameRules is Dokku's message for an invalid app name.
const AppNameRules = "App name must begin with lowercase alphanumeric character, and may only contain lowercase alphanumerics, dots, and hyphens"

var (
	newAppName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)
	oldAppName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
)

// reservedNames are files and directories that live in a Dokku root dir and
// so can never be apps.
var reservedNames = map[string]bool{
	"dokkurc": true, "tls": true, "VHOST": true, "HOSTNAME": true, "ENV": true,
}

// MaxAppNameLength is the longest name a new app may have. Dokku sets no
// limit, but the name becomes part of Kubernetes object names and label
// values (the k3s scheduler's Deployment and Service `<app>-<proctype>`,
// the label app.kubernetes.io/instance=<app>-<proctype>), which DNS-1123
// limits to 63 characters: 48 leaves 15 for "-" and a process type
// ("-web", "-worker", "-release", "-scheduler" all fit). It also keeps
// every file named after an app far below the filesystem's 255.
const MaxAppNameLength = 48

// maxExistingAppName is the longest name looked up as an existing app (an
// app created by Dokku itself may be longer than MaxAppNameLength). Longer
// names cannot be a directory of the root dir: no path is built from them.
const maxExistingAppName = 255

// AppNameTooLong is the naming-rules message for a new name that matches
// the rules but is longer than MaxAppNameLength.
var AppNameTooLong = fmt.Sprintf("%s, and be at most %d characters long", AppNameRules, MaxAppNameLength)

// ValidNewAppName reports whether name may be used for a new app (Dokku's
// current rule: ^[a-z0-9][a-z0-9.-]*$, and at most MaxAppNameLength).
func ValidNewAppName(name string) bool { return NewAppNameProblem(name) == "" }

// NewAppNameProblem is the one check of a name for a new app (apps:create,
// rename, clone, a push that creates the app): "" when name is valid, else
// the message to show, AppNameRules or AppNameTooLong.
func NewAppNameProblem(name string) string {
	switch {
	case !newAppName.MatchString(name) || reservedNames[name] || name == "." || name == "..":
		return AppNameRules
	case len(name) > MaxAppNameLength:
		return AppNameTooLong
	}
	return ""
}

// ValidAppName reports whether name is acceptable for an existing app (old
// names may also contain underscores).
func ValidAppName(name string) bool {
	return oldAppName.MatchString(name) && !reservedNames[name]
}

// AppExists reports whether app is an existing app.
func (s *Store) AppExists(app string) bool {
	if !ValidAppName(app) || len(app) > maxExistingAppName {
		return false
	}
	fi, err := os.Stat(s.AppDir(app))
	return err == nil && fi.IsDir()
}

// Apps lists the apps in lexicographic order: every directory in RootDir
// whose name does not start with a dot or an upper-case letter.
func (s *Store) Apps() ([]string, error) {
	ents, err := os.ReadDir(s.Paths.RootDir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("store: list apps: %w", err)
	}
	var apps []string
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() || n == "" || n[0] == '.' || (n[0] >= 'A' && n[0] <= 'Z') || !ValidAppName(n) {
			continue
		}
		apps = append(apps, n)
	}
	sort.Strings(apps)
	return apps, nil
}

// ErrAppExists is returned by CreateApp for a taken name.
var ErrAppExists = errors.New("app already exists")

// CreateApp creates the app directory (an empty bare git repository is made
// by the git layer) and records created-at.
func (s *Store) CreateApp(app string, createdAt int64) error {
	if msg := NewAppNameProblem(app); msg != "" {
		return fmt.Errorf("store: create app: %s", msg)
	}
	dir := s.AppDir(app)
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ErrAppExists
		}
		return fmt.Errorf("store: create app %s: %w", app, err)
	}
	if err := s.SetProperty("apps", app, "created-at", fmt.Sprint(createdAt)); err != nil {
		_ = os.RemoveAll(dir)
		return err
	}
	return nil
}

// DestroyApp removes the app directory, its properties and its data.
func (s *Store) DestroyApp(app string) error {
	if !ValidAppName(app) {
		return fmt.Errorf("store: destroy app: invalid name %q", app)
	}
	plugins, err := s.plugins()
	if err != nil {
		return err
	}
	for _, pl := range plugins {
		if err := os.RemoveAll(filepath.Join(s.Paths.LibDir, "config", pl, app)); err != nil {
			return fmt.Errorf("store: destroy app %s: %w", app, err)
		}
	}
	dataPlugins, _ := os.ReadDir(filepath.Join(s.Paths.LibDir, "data"))
	for _, e := range dataPlugins {
		if err := os.RemoveAll(filepath.Join(s.Paths.LibDir, "data", e.Name(), app)); err != nil {
			return fmt.Errorf("store: destroy app %s: %w", app, err)
		}
	}
	if err := s.DeleteEnv(app); err != nil {
		return fmt.Errorf("store: destroy app %s: %w", app, err)
	}
	if err := os.RemoveAll(s.AppDir(app)); err != nil {
		return fmt.Errorf("store: destroy app %s: %w", app, err)
	}
	return nil
}

// CopyAppState copies the app directory, every plugin's properties and data
// of from to to (used by clone and rename). to must not exist yet.
func (s *Store) CopyAppState(from, to string) error {
	if msg := NewAppNameProblem(to); msg != "" {
		return fmt.Errorf("store: copy app %s: %s", from, msg)
	}
	if err := os.Mkdir(s.AppDir(to), 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return ErrAppExists
		}
		return fmt.Errorf("store: copy app %s to %s: %w", from, to, err)
	}
	if err := copyTree(s.AppDir(from), s.AppDir(to)); err != nil {
		return fmt.Errorf("store: copy app %s to %s: %w", from, to, err)
	}
	if err := s.CopyEnv(from, to); err != nil {
		return fmt.Errorf("store: copy app %s to %s: %w", from, to, err)
	}
	for _, base := range []string{"config", "data"} {
		ents, _ := os.ReadDir(filepath.Join(s.Paths.LibDir, base))
		for _, e := range ents {
			src := filepath.Join(s.Paths.LibDir, base, e.Name(), from)
			if _, err := os.Stat(src); err != nil {
				continue
			}
			if err := copyTree(src, filepath.Join(s.Paths.LibDir, base, e.Name(), to)); err != nil {
				return fmt.Errorf("store: copy app %s to %s: %w", from, to, err)
			}
		}
	}
	return nil
}

// copyTree copies a directory tree (regular files, directories, symlinks).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if strings.HasPrefix(d.Name(), ".deploy.lock") {
			return nil // locks belong to the source app's deploys, never copied
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			return os.Chmod(target, info.Mode().Perm())
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, b, info.Mode().Perm())
		}
		return nil // sockets, devices: not state worth copying
	})
}
