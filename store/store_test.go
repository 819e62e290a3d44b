package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func newStore(t *testing.T) *Store {
	t.Helper()
	s, err := New(Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDerive(t *testing.T) {
	p := Paths{DataDir: "/d"}.Derive()
	want := Paths{DataDir: "/d", RootDir: "/d/home", LibDir: "/d/lib", AuthorizedKeys: "/d/home/.ssh/authorized_keys"}
	if p != want {
		t.Fatalf("Derive = %+v, want %+v", p, want)
	}
	p = Paths{DataDir: "/d", RootDir: "/home/dokku", LibDir: "/var/lib/dokku"}.Derive()
	if p.AuthorizedKeys != "/home/dokku/.ssh/authorized_keys" {
		t.Fatalf("authorized_keys follows the root dir: %+v", p)
	}
}

func TestProperties(t *testing.T) {
	s := newStore(t)
	if v, ok, err := s.LookupProperty("git", "app", "deploy-branch"); v != "" || ok || err != nil {
		t.Fatalf("unset property = %q %v %v", v, ok, err)
	}
	if err := s.SetProperty("git", "app", "deploy-branch", "main"); err != nil {
		t.Fatal(err)
	}
	// Dokku's layout: config/<plugin>/<app>/<key>, value without newline.
	b, err := os.ReadFile(filepath.Join(s.Paths.LibDir, "config", "git", "app", "deploy-branch"))
	if err != nil || string(b) != "main" {
		t.Fatalf("property file = %q, %v", b, err)
	}
	if err := s.SetProperty("git", "app", "rev-env-var", ""); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := s.LookupProperty("git", "app", "rev-env-var"); v != "" || !ok {
		t.Fatalf("empty property must be set: %q %v", v, ok)
	}
	if err := s.DeleteProperty("git", "app", "deploy-branch"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProperty("git", "app", "deploy-branch"); err != nil {
		t.Fatalf("deleting an unset property: %v", err)
	}
}

// TestComputedProperty: app, then global, then the default; an empty value
// falls through like an unset one for ComputedProperty and stops the walk
// for LookupComputedProperty; a read error is returned by both, never taken
// for the default.
func TestComputedProperty(t *testing.T) {
	tests := []struct {
		name        string
		app, global *string // nil: not set
		unreadable  string  // "app" or "global": that level cannot be read
		query       string  // the app asked for
		want        string  // ComputedProperty with the default "def"
		lookup      string  // LookupComputedProperty's value
		set         bool    // LookupComputedProperty's set
		wantErr     bool
	}{
		{name: "nothing set", query: "app", want: "def"},
		{name: "app wins", app: ptr("a"), global: ptr("g"), query: "app", want: "a", lookup: "a", set: true},
		{name: "global when the app has none", global: ptr("g"), query: "app", want: "g", lookup: "g", set: true},
		{name: "empty app value", app: ptr(""), global: ptr("g"), query: "app", want: "g", lookup: "", set: true},
		{name: "empty global value", global: ptr(""), query: "app", want: "def", lookup: "", set: true},
		{name: "empty at both levels", app: ptr(""), global: ptr(""), query: "app", want: "def", lookup: "", set: true},
		{name: "global asked", app: ptr("a"), global: ptr("g"), query: Global, want: "g", lookup: "g", set: true},
		{name: "no app asked", app: ptr("a"), query: "", want: "def"},
		{name: "unreadable app value", global: ptr("g"), unreadable: "app", query: "app", wantErr: true},
		{name: "unreadable global value", unreadable: "global", query: "app", wantErr: true},
		{name: "an app value hides an unreadable global", app: ptr("a"), unreadable: "global", query: "app", want: "a", lookup: "a", set: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			for who, v := range map[string]*string{"app": tt.app, Global: tt.global} {
				if v != nil {
					if err := s.SetProperty("ps", who, "key", *v); err != nil {
						t.Fatal(err)
					}
				}
			}
			if who := map[string]string{"app": "app", "global": Global}[tt.unreadable]; who != "" {
				// A directory where the value should be: reading it fails
				// with something else than "not set".
				if err := os.MkdirAll(s.propertyPath("ps", who, "key"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.ComputedProperty("ps", tt.query, "key", "def")
			lookup, set, lookupErr := s.LookupComputedProperty("ps", tt.query, "key")
			if tt.wantErr {
				if err == nil || got != "" {
					t.Fatalf("ComputedProperty = %q, %v; want an error", got, err)
				}
				if lookupErr == nil || lookup != "" || set {
					t.Fatalf("LookupComputedProperty = %q, %v, %v; want an error", lookup, set, lookupErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ComputedProperty = %q, %v; want %q", got, err, tt.want)
			}
			if lookupErr != nil || lookup != tt.lookup || set != tt.set {
				t.Fatalf("LookupComputedProperty = %q, %v, %v; want %q, %v", lookup, set, lookupErr, tt.lookup, tt.set)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestApps(t *testing.T) {
	s := newStore(t)
	for _, a := range []string{"b", "a", "c.d"} {
		if err := s.CreateApp(a, 42); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateApp("a", 1); !errors.Is(err, ErrAppExists) {
		t.Fatalf("second create: %v", err)
	}
	// Not apps: dot directories, upper-case names, files.
	os.Mkdir(filepath.Join(s.Paths.RootDir, ".ssh"), 0o700)
	os.Mkdir(filepath.Join(s.Paths.RootDir, "VHOST"), 0o700)
	os.WriteFile(filepath.Join(s.Paths.RootDir, "dokkurc"), nil, 0o644)
	apps, err := s.Apps()
	if err != nil || !reflect.DeepEqual(apps, []string{"a", "b", "c.d"}) {
		t.Fatalf("Apps = %v, %v", apps, err)
	}
	if v, _ := s.Property("apps", "a", "created-at"); v != "42" {
		t.Fatalf("created-at = %q", v)
	}
	s.SetProperty("scheduler", "a", "selected", "null")
	if err := s.CopyAppState("a", "z"); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Property("scheduler", "z", "selected"); v != "null" {
		t.Fatalf("copied property = %q", v)
	}
	if err := s.DestroyApp("a"); err != nil {
		t.Fatal(err)
	}
	if s.AppExists("a") {
		t.Fatal("destroyed app still exists")
	}
	if v, ok, _ := s.LookupProperty("scheduler", "a", "selected"); ok {
		t.Fatalf("destroyed app's property survived: %q", v)
	}
}

func TestAppNames(t *testing.T) {
	for name, want := range map[string][2]bool{ // new, existing
		"app": {true, true}, "a.b-c": {true, true}, "0x": {true, true}, "old_name": {false, true},
		"": {false, false}, "-a": {false, false}, "App": {false, false}, "a/b": {false, false},
		"..": {false, false}, "a b": {false, false}, "dokkurc": {false, false},
		strings.Repeat("a", 48): {true, true}, strings.Repeat("a", 49): {false, true},
		strings.Repeat("a", 300): {false, true},
	} {
		if ValidNewAppName(name) != want[0] || ValidAppName(name) != want[1] {
			t.Errorf("%q: new=%v existing=%v, want %v", name, ValidNewAppName(name), ValidAppName(name), want)
		}
	}
}

func TestDeployLock(t *testing.T) {
	s := newStore(t)
	s.CreateApp("app", 1)
	l, err := s.TryDeployLock("app", "build-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.TryDeployLock("app", "build-2"); !errors.Is(err, ErrDeployLocked) {
		t.Fatalf("second lock: %v", err)
	}
	if !s.DeployRunning("app") || !s.Locked("app") || s.DeployLockHolder("app") != "build-1" {
		t.Fatal("running deploy not seen")
	}
	l.Release()
	if s.DeployRunning("app") || s.Locked("app") {
		t.Fatal("released lock still seen")
	}
	// apps:lock blocks deploys until apps:unlock.
	if err := s.SetManualLock("app", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TryDeployLock("app", "build-3"); !errors.Is(err, ErrDeployLocked) {
		t.Fatalf("lock under apps:lock: %v", err)
	}
	// Upkeep (the start-up sweep) takes the lock under apps:lock, never
	// while a deploy holds it.
	r, err := s.TryRepoLock("app", "sweep")
	if err != nil {
		t.Fatalf("repo lock under apps:lock: %v", err)
	}
	if _, err := s.TryDeployLock("app", "build-3"); !errors.Is(err, ErrDeployLocked) {
		t.Fatalf("deploy lock during upkeep: %v", err)
	}
	r.Release()
	s.SetManualLock("app", false)
	l, err = s.TryDeployLock("app", "build-4")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.TryRepoLock("app", "sweep"); !errors.Is(err, ErrDeployLocked) {
		t.Fatalf("repo lock during a deploy: %v", err)
	}
	l.Release()
}

func TestWriteFileAtomic(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := WriteFileAtomic(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(b) != "two" || fi.Mode().Perm() != 0o600 {
		t.Fatalf("content %q mode %v", b, fi.Mode())
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Fatalf("temp files left behind: %v", ents)
	}
}

// A name too long for the filesystem never reaches it: the store refuses
// it without an error that shows a path, and no app of that name exists.
func TestAppNameLength(t *testing.T) {
	s := newStore(t)
	long := strings.Repeat("a", 300)
	for name, want := range map[string]string{
		strings.Repeat("a", 48): "", strings.Repeat("a", 49): AppNameTooLong, long: AppNameTooLong,
		"Bad": AppNameRules, strings.Repeat("B", 60): AppNameRules,
	} {
		if got := NewAppNameProblem(name); got != want {
			t.Errorf("NewAppNameProblem(%d chars %.3q...) = %q, want %q", len(name), name, got, want)
		}
	}
	for what, err := range map[string]error{
		"CreateApp":    s.CreateApp(long, 1),
		"CopyAppState": s.CopyAppState("src", long),
		"AppLock":      func() error { _, err := s.AppLock(long); return err }(),
	} {
		if err == nil || strings.Contains(err.Error(), s.Paths.DataDir) {
			t.Errorf("%s of a 300-character name: %v, want an error without a path", what, err)
		}
	}
	if s.AppExists(long) {
		t.Error("a 300-character app exists")
	}
	if unlock, err := s.AppLock(Global); err != nil {
		t.Errorf("AppLock(Global): %v", err)
	} else {
		unlock()
	}
}
