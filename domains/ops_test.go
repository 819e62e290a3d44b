package domains

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

func newStore(t *testing.T, apps ...string) *store.Store {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		if err := st.CreateApp(a, 1); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func fileOf(t *testing.T, st *store.Store, app string) (string, bool) {
	t.Helper()
	b, err := os.ReadFile(path(st, app))
	if os.IsNotExist(err) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b), true
}

// TestOps runs the operations in sequence on one app and checks the VHOST
// file, NO_VHOST and the report after each, where Dokku keeps them.
func TestOps(t *testing.T) {
	st := newStore(t, "app")
	steps := []struct {
		name     string
		op       func() error
		file     string // "" with exists false: no file
		exists   bool
		enabled  bool
		listWant []string
	}{
		{"nothing yet", func() error { return nil }, "", false, true, nil},
		{"add", func() error {
			added, err := Add(st, "app", []string{"a.com", "b.com", "a.com"})
			if want := []bool{true, true, false}; err == nil && !reflect.DeepEqual(added, want) {
				t.Errorf("added = %v, want %v", added, want)
			}
			return err
		}, "a.com\nb.com\n", true, true, []string{"a.com", "b.com"}},
		{"add again skips", func() error {
			added, err := Add(st, "app", []string{"b.com", "c.com"})
			if want := []bool{false, true}; err == nil && !reflect.DeepEqual(added, want) {
				t.Errorf("added = %v, want %v", added, want)
			}
			return err
		}, "a.com\nb.com\nc.com\n", true, true, []string{"a.com", "b.com", "c.com"}},
		{"invalid writes nothing", func() error {
			_, err := Add(st, "app", []string{"d.com", "bad_name"})
			if output.ExitCode(err) != 1 || err.Error() != "bad_name is invalid. exiting..." {
				t.Errorf("err = %v", err)
			}
			return nil
		}, "a.com\nb.com\nc.com\n", true, true, []string{"a.com", "b.com", "c.com"}},
		{"remove exact only", func() error { return Remove(st, "app", []string{"b.com", "a-com", "zzz"}) },
			"a.com\nc.com\n", true, true, []string{"a.com", "c.com"}},
		{"set", func() error { return Set(st, "app", []string{"x.com", "*.y.com"}) },
			"x.com\n*.y.com\n", true, true, []string{"x.com", "*.y.com"}},
		{"disable removes the file", func() error {
			already, err := Disable(st, "app")
			if already {
				t.Error("already disabled")
			}
			return err
		}, "", false, false, nil},
		{"disable again", func() error {
			already, err := Disable(st, "app")
			if !already {
				t.Error("not already disabled")
			}
			return err
		}, "", false, false, nil},
		{"add to disabled enables, keeps the domain", func() error {
			_, err := Add(st, "app", []string{"z.com"})
			return err
		}, "z.com\n", true, true, []string{"z.com"}},
		{"clear", func() error { return Clear(st, "app") }, "", false, true, nil},
		{"enable when enabled", func() error {
			already, err := Enable(st, "app")
			if !already {
				t.Error("not already enabled")
			}
			return err
		}, "", false, true, nil},
	}
	for _, s := range steps {
		if err := s.op(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		file, exists := fileOf(t, st, "app")
		if file != s.file || exists != s.exists {
			t.Errorf("%s: VHOST = %q (exists %v), want %q (exists %v)", s.name, file, exists, s.file, s.exists)
		}
		env, _ := st.Env("app")
		if on, _ := Enabled(st, "app"); on != s.enabled {
			t.Errorf("%s: enabled = %v (NO_VHOST=%q), want %v", s.name, on, env[NoVhost], s.enabled)
		}
		if got, _ := List(st, "app"); !reflect.DeepEqual(got, s.listWant) {
			t.Errorf("%s: List = %q, want %q", s.name, got, s.listWant)
		}
	}
}

func TestGlobalAndDefaults(t *testing.T) {
	st := newStore(t, "app", "other")
	if _, err := Add(st, store.Global, []string{"example.com", "10.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if f, _ := fileOf(t, st, store.Global); f != "example.com\n10.0.0.1\n" || filepath.Base(path(st, store.Global)) != "VHOST" {
		t.Fatalf("global VHOST = %q", f)
	}
	if created, err := SetupDefaults(st, "app"); err != nil || !created {
		t.Fatalf("SetupDefaults = %v, %v", created, err)
	}
	if got, _ := List(st, "app"); !reflect.DeepEqual(got, []string{"app.example.com"}) {
		t.Fatalf("defaults = %q", got)
	}
	// An app with a file keeps it.
	if err := Set(st, "other", []string{"mine.org"}); err != nil {
		t.Fatal(err)
	}
	if created, _ := SetupDefaults(st, "other"); created {
		t.Fatal("SetupDefaults overwrote an existing file")
	}
	rep, err := Report(st, "app")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"domains-app-enabled": "true", "domains-app-vhosts": "app.example.com",
		"domains-global-enabled": "true", "domains-global-vhosts": "example.com 10.0.0.1",
	}
	if !reflect.DeepEqual(rep, want) {
		t.Fatalf("Report = %v, want %v", rep, want)
	}
	// Disabled then enabled: the defaults again.
	if _, err := Disable(st, "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := Enable(st, "app"); err != nil {
		t.Fatal(err)
	}
	if got, _ := List(st, "app"); !reflect.DeepEqual(got, []string{"app.example.com"}) {
		t.Fatalf("after enable = %q", got)
	}
	// Reset with a global domain: the defaults; without: disabled.
	if d, err := Reset(st, "other"); err != nil || !d {
		t.Fatalf("Reset = %v, %v", d, err)
	}
	if got, _ := List(st, "other"); !reflect.DeepEqual(got, []string{"other.example.com"}) {
		t.Fatalf("after reset = %q", got)
	}
	if err := Clear(st, store.Global); err != nil {
		t.Fatal(err)
	}
	if f, ok := fileOf(t, st, store.Global); f != "" || !ok {
		t.Fatalf("cleared global VHOST = %q, %v; want an empty file", f, ok)
	}
	if d, err := Reset(st, "other"); err != nil || d {
		t.Fatalf("Reset without global = %v, %v", d, err)
	}
	if on, _ := Enabled(st, "other"); on {
		t.Fatal("reset without a global domain left the domains enabled")
	}
	rep, _ = Report(st, store.Global)
	if want := map[string]string{"domains-global-enabled": "false", "domains-global-vhosts": ""}; !reflect.DeepEqual(rep, want) {
		t.Fatalf("global Report = %v", rep)
	}
}

func TestCloneRenameSetup(t *testing.T) {
	st := newStore(t, "old")
	if err := Set(st, store.Global, []string{"example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := Set(st, "old", []string{"old.example.com", "shop.org"}); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"copy", "moved"} {
		if err := st.CopyAppState("old", to); err != nil {
			t.Fatal(err)
		}
	}
	if err := CloneSetup(st, "copy"); err != nil {
		t.Fatal(err)
	}
	if got, _ := List(st, "copy"); !reflect.DeepEqual(got, []string{"copy.example.com"}) {
		t.Fatalf("clone = %q", got)
	}
	if err := RenameSetup(st, "old", "moved"); err != nil {
		t.Fatal(err)
	}
	if got, _ := List(st, "moved"); !reflect.DeepEqual(got, []string{"moved.example.com", "shop.org"}) {
		t.Fatalf("rename = %q", got)
	}
}
