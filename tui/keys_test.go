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

// keysPubKey is an authorized_keys line for a fixed ed25519 key (seed
// byte b), so that fingerprints in golden files stay the same.
func keysPubKey(t *testing.T, b byte, comment string) string {
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

// keysAddAsRoot adds a key as root, as `ssh-keys:add NAME < key` would.
func keysAddAsRoot(t *testing.T, e *env, name, pub string) {
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
	for _, msg := range actExec(s.Init()) {
		actDrive(t, m, msg)
	}
	return m, s.(*keysScreen)
}

// keysNames is the names ssh-keys:list prints, in order.
func keysNames(t *testing.T, e *env) string {
	t.Helper()
	r := e.b.run(t.Context(), "ssh-keys:list", "--format", "json")
	var names []string
	for _, part := range strings.Split(r.Stdout, `"name": "`)[1:] {
		names = append(names, part[:strings.IndexByte(part, '"')])
	}
	return strings.Join(names, " ")
}

func TestKeysGolden(t *testing.T) {
	e := realEnv(t, actAdmin)
	m, _ := keysRoot(t, e)
	if f := actFrame(m); !strings.Contains(f, "No keys yet") {
		t.Fatalf("empty store:\n%s", f)
	}
	keysAddAsRoot(t, e, "admin", keysPubKey(t, 1, "admin@laptop"))
	keysAddAsRoot(t, e, "deploy-bot", keysPubKey(t, 2, "ci"))
	m, _ = keysRoot(t, e)
	actGoldens(t, m, "keys-list")
	actDrive(t, m, actPress("down"))
	actDrive(t, m, actPress("x"))
	actGoldens(t, m, "keys-remove")
	actDrive(t, m, actPress("n"))
	actDrive(t, m, actPress("a"))
	actType(t, m, "laptop")
	actDrive(t, m, actPress("enter"))
	actGoldens(t, m, "keys-add")
}

func TestKeysNotAdmin(t *testing.T) {
	e := realEnv(t, keys.Identity{Name: "dev"})
	keysAddAsRoot(t, e, "admin", keysPubKey(t, 1, "admin@laptop"))
	m, s := keysRoot(t, e)
	if s.Init() != nil {
		t.Error("a plain key's keys view runs a command")
	}
	for _, k := range []string{"a", "x", "y"} {
		actDrive(t, m, actPress(k))
	}
	if keysNames(t, e) != "admin" {
		t.Fatalf("keys: %q", keysNames(t, e))
	}
	actGoldens(t, m, "keys-not-admin")
	if len(s.Keys()) != 0 {
		t.Error("a plain key's keys view offers keys")
	}
}

func TestKeysAdd(t *testing.T) {
	good := keysPubKey(t, 3, "new@host")
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
			e := realEnv(t, actAdmin)
			keysAddAsRoot(t, e, "admin", keysPubKey(t, 1, "admin@laptop"))
			m, s := keysRoot(t, e)
			actDrive(t, m, actPress("a"))
			if !s.Capturing() {
				t.Fatal("the name field does not capture keys")
			}
			actType(t, m, tt.keyIn)
			actDrive(t, m, actPress("enter"))
			actDrive(t, m, tea.PasteMsg{Content: tt.paste})
			actDrive(t, m, actPress("enter"))
			if got := keysNames(t, e); got != tt.names {
				t.Errorf("keys: %q, want %q", got, tt.names)
			}
			if s.mode != keysList || s.noteBad != tt.errors || s.note == "" {
				t.Errorf("mode %d, note %q (bad %v)", s.mode, s.note, s.noteBad)
			}
			f := actFrame(m)
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
	e := realEnv(t, actAdmin)
	want := errText((&backend{srv: e.b.srv, id: testRoot}).runStdin(t.Context(), "ssh-ed25519 not-a-key\n", "ssh-keys:add", "x"))
	m, s := keysRoot(t, e)
	actDrive(t, m, actPress("a"))
	actType(t, m, "laptop")
	actDrive(t, m, actPress("enter"))
	actDrive(t, m, tea.PasteMsg{Content: "ssh-ed25519 not-a-key"})
	actDrive(t, m, actPress("enter"))
	if s.note != want || !s.noteBad || want == "" {
		t.Fatalf("note %q, want %q", s.note, want)
	}
	if f := actFrame(m); !strings.Contains(f, strings.Split(want, "\n")[0]) {
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
			e := realEnv(t, actAdmin)
			keysAddAsRoot(t, e, "one", keysPubKey(t, 1, "a"))
			keysAddAsRoot(t, e, "two", keysPubKey(t, 2, "b"))
			m, _ := keysRoot(t, e)
			for _, k := range tt.keys {
				actDrive(t, m, actPress(k))
			}
			if got := keysNames(t, e); got != tt.names {
				t.Errorf("keys: %q, want %q", got, tt.names)
			}
			if len(m.stack) != tt.depth {
				t.Errorf("stack: %d, want %d", len(m.stack), tt.depth)
			}
			if tt.depth == 2 && !strings.Contains(actFrame(m), fmt.Sprintf("%d key", len(strings.Fields(tt.names)))) {
				t.Errorf("frame:\n%s", actFrame(m))
			}
		})
	}
}

func TestKeysLongList(t *testing.T) {
	e := realEnv(t, actAdmin)
	for i := range 30 {
		keysAddAsRoot(t, e, fmt.Sprintf("key%02d", i), keysPubKey(t, byte(i+1), "c"))
	}
	m, _ := keysRoot(t, e)
	for range 29 {
		actDrive(t, m, actPress("down"))
	}
	actDrive(t, m, actPress("x"))
	f := actFrame(m)
	if !strings.Contains(f, "› key29") || !strings.Contains(f, "Remove key key29? y/n") {
		t.Fatalf("the selection or the question is off screen:\n%s", f)
	}
}
