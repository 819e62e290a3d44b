package tui

import (
	"testing"

	"dokku-sshd/commands"
	"dokku-sshd/keys"
	"dokku-sshd/store"
)

// realEnv is a session's env over a real dispatcher and store in a fresh
// data directory (the null scheduler: no Docker), for screens that read
// what commands print. apps are created with apps:create.
func realEnv(t *testing.T, id keys.Identity, apps ...string) *env {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	d := commands.New(commands.Config{Store: st, Keys: keys.Open(st.Paths.AuthorizedKeys, nil), Version: "1.2.3"})
	e := testEnv(t, id)
	e.b = &backend{srv: &Server{Commands: d, Store: st}, id: id}
	root := keys.Identity{Name: "root", Local: true, Admin: true}
	for _, app := range apps {
		if r := (&backend{srv: e.b.srv, id: root}).run(t.Context(), "apps:create", app); r.Code != 0 {
			t.Fatalf("apps:create %s: %d %s", app, r.Code, r.Stderr)
		}
	}
	return e
}

func TestRealEnv(t *testing.T) {
	e := realEnv(t, keys.Identity{Name: "admin", Admin: true}, "one", "two")
	r := e.b.run(t.Context(), "apps:list", "--format", "json")
	if r.Code != 0 || r.Stdout != "[\"one\",\"two\"]\n" {
		t.Fatalf("apps:list: %+v", r)
	}
	if !e.b.allowed("apps:list") {
		t.Fatal("an admin may not list apps")
	}
}
