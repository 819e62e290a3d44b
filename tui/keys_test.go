package tui

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/crypto/ssh"

	"dokku-sshd/keys"
)

// testPubKey is an authorized_keys line for a fixed ed25519 key (seed
// byte b), so that fingerprints in golden files stay the same.
func testPubKey(t *testing.T, b byte, comment string) string {
	t.Helper()
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = b
	}
	pub, err := ssh.NewPublicKey(ed25519.NewKeyFromSeed(seed).Public())
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub))) + " " + comment
}

// addKey adds a key as root, as `ssh-keys:add NAME < key` would.
func addKey(t *testing.T, e *env, name, pub string) {
	t.Helper()
	r := (&backend{srv: e.b.srv, id: testRoot}).runStdin(t.Context(), pub+"\n", "ssh-keys:add", name)
	if r.Code != 0 {
		t.Fatalf("ssh-keys:add %s: %s", name, r.Stderr)
	}
}

// keysRoot is a root with the keys view over the apps screen, its list
// loaded.
func keysRoot(t *testing.T, e *env) (*root, *keysScreen) {
	t.Helper()
	s := newKeysScreen(e)
	m := &root{e: e, stack: []Screen{placeholder{"apps"}, s}, width: 80, height: 24}
	for _, msg := range execCmd(s.Init()) {
		drive(t, m, msg)
	}
	return m, s.(*keysScreen)
}

// keyNames is the names ssh-keys:list prints, in order.
func keyNames(t *testing.T, e *env) string {
	t.Helper()
	r := e.b.run(t.Context(), "ssh-keys:list", "--format", "json")
	var names []string
	for _, part := range strings.Split(r.Stdout, `"name": "`)[1:] {
		names = append(names, part[:strings.IndexByte(part, '"')])
	}
	return strings.Join(names, " ")
}

func TestKeysGolden(t *testing.T) {
	e := realEnv(t, testAdmin)
	m, _ := keysRoot(t, e)
	if f := frame(m); !strings.Contains(f, "No keys yet") {
		t.Fatalf("empty store:\n%s", f)
	}
	addKey(t, e, "admin", testPubKey(t, 1, "admin@laptop"))
	addKey(t, e, "deploy-bot", testPubKey(t, 2, "ci"))
	m, _ = keysRoot(t, e)
	goldens(t, m, "keys-list")
	drive(t, m, press("down"))
	drive(t, m, press("x"))
	goldens(t, m, "keys-remove")
	drive(t, m, press("n"))
	drive(t, m, press("a"))
	typeText(t, m, "laptop")
	drive(t, m, press("enter"))
	goldens(t, m, "keys-add")
}

func TestKeysNotAdmin(t *testing.T) {
	e := realEnv(t, keys.Identity{Name: "dev"})
	addKey(t, e, "admin", testPubKey(t, 1, "admin@laptop"))
	m, s := keysRoot(t, e)
	if s.Init() != nil {
		t.Error("a plain key's keys view runs a command")
	}
	for _, k := range []string{"a", "x", "y"} {
		drive(t, m, press(k))
	}
	if keyNames(t, e) != "admin" {
		t.Fatalf("keys: %q", keyNames(t, e))
	}
	goldens(t, m, "keys-not-admin")
	if len(s.Keys()) != 0 {
		t.Error("a plain key's keys view offers keys")
	}
}

func TestKeysAdd(t *testing.T) {
	good := testPubKey(t, 3, "new@host")
	tests := []struct {
		name   string
		keyIn  string // typed name
		paste  string // pasted key
		names  string // ssh-keys:list afterwards
		want   string // in the frame
		errors bool
	}{
		{"pasted key", "laptop", good + "\n", "admin laptop", "Added laptop SHA256:", false},
		{"invalid key", "laptop", "ssh-ed25519 not-a-key", "admin", "", true},
		{"no name", "", good, "admin", "A name is required", true},
		{"duplicate name", "admin", good, "admin", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := realEnv(t, testAdmin)
			addKey(t, e, "admin", testPubKey(t, 1, "admin@laptop"))
			m, s := keysRoot(t, e)
			drive(t, m, press("a"))
			if !s.Capturing() {
				t.Fatal("the name field does not capture keys")
			}
			typeText(t, m, tt.keyIn)
			drive(t, m, press("enter"))
			drive(t, m, tea.PasteMsg{Content: tt.paste})
			drive(t, m, press("enter"))
			if got := keyNames(t, e); got != tt.names {
				t.Errorf("keys: %q, want %q", got, tt.names)
			}
			if s.mode != keysList || s.noteBad != tt.errors || s.note == "" {
				t.Errorf("mode %d, note %q (bad %v)", s.mode, s.note, s.noteBad)
			}
			f := frame(m)
			if !strings.Contains(f, tt.want) || strings.Contains(f, " !  ") {
				t.Errorf("frame lacks %q:\n%s", tt.want, f)
			}
			// The list is read again: it shows what ssh-keys:list says.
			if n := len(strings.Fields(tt.names)); len(s.list) != n {
				t.Errorf("list: %d keys, want %d", len(s.list), n)
			}
		})
	}
}

// The error is the command's own, whatever it is.
func TestKeysAddInvalidSaysWhy(t *testing.T) {
	e := realEnv(t, testAdmin)
	want := actionErrText((&backend{srv: e.b.srv, id: testRoot}).runStdin(t.Context(), "ssh-ed25519 not-a-key\n", "ssh-keys:add", "x"))
	m, s := keysRoot(t, e)
	drive(t, m, press("a"))
	typeText(t, m, "laptop")
	drive(t, m, press("enter"))
	drive(t, m, tea.PasteMsg{Content: "ssh-ed25519 not-a-key"})
	drive(t, m, press("enter"))
	if s.note != want || !s.noteBad || want == "" {
		t.Fatalf("note %q, want %q", s.note, want)
	}
	if f := frame(m); !strings.Contains(f, strings.Split(want, "\n")[0]) {
		t.Fatalf("frame:\n%s", f)
	}
}

func TestKeysRemove(t *testing.T) {
	tests := []struct {
		name  string
		keys  []string
		names string
		depth int
	}{
		{"x then y", []string{"x", "y"}, "two", 2},
		{"delete then enter", []string{"delete", "enter"}, "two", 2},
		{"second one", []string{"down", "x", "y"}, "one", 2},
		{"n cancels", []string{"x", "n"}, "one two", 2},
		{"esc cancels, not leaves", []string{"x", "esc"}, "one two", 2},
		{"esc then leaves", []string{"x", "esc", "esc"}, "one two", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := realEnv(t, testAdmin)
			addKey(t, e, "one", testPubKey(t, 1, "a"))
			addKey(t, e, "two", testPubKey(t, 2, "b"))
			m, _ := keysRoot(t, e)
			for _, k := range tt.keys {
				drive(t, m, press(k))
			}
			if got := keyNames(t, e); got != tt.names {
				t.Errorf("keys: %q, want %q", got, tt.names)
			}
			if len(m.stack) != tt.depth {
				t.Errorf("stack: %d, want %d", len(m.stack), tt.depth)
			}
			if tt.depth == 2 && !strings.Contains(frame(m), fmt.Sprintf("%d key", len(strings.Fields(tt.names)))) {
				t.Errorf("frame:\n%s", frame(m))
			}
		})
	}
}

func TestKeysLongList(t *testing.T) {
	e := realEnv(t, testAdmin)
	for i := range 30 {
		addKey(t, e, fmt.Sprintf("key%02d", i), testPubKey(t, byte(i+1), "c"))
	}
	m, _ := keysRoot(t, e)
	for range 29 {
		drive(t, m, press("down"))
	}
	drive(t, m, press("x"))
	f := frame(m)
	if !strings.Contains(f, "› key29") || !strings.Contains(f, "Remove key key29? y/n") {
		t.Fatalf("the selection or the question is off screen:\n%s", f)
	}
}
