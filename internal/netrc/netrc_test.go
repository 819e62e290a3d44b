package netrc

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSetUnsetGet(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".netrc")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A missing file is empty.
	if _, _, ok, err := Get(path, "h"); ok || err != nil {
		t.Fatalf("Get on no file: %v %v", ok, err)
	}
	if text, found, err := Unset(path, "h"); text != "" || found || err != nil {
		t.Fatalf("Unset on no file: %q %v %v", text, found, err)
	}
	text, err := Set(path, "h", "u", "p")
	if err != nil || text != "machine h\n  login u\n  password p\n" {
		t.Fatalf("Set on no file: %q %v", text, err)
	}

	existing := "# comment with machine h words\nmachine a.example login al password ap\n" +
		"macdef init\nmachine h login trap\n\n" +
		"machine h\n\tlogin old\n\tpassword oldpw\n" +
		"default login anon password anonpw\n"
	write(existing)
	if l, p, ok, err := Get(path, "h"); !ok || l != "old" || p != "oldpw" || err != nil {
		t.Fatalf("Get h: %q %q %v %v", l, p, ok, err)
	}
	if l, p, ok, _ := Get(path, "a.example"); !ok || l != "al" || p != "ap" {
		t.Fatalf("Get a.example: %q %q %v", l, p, ok)
	}
	if _, _, ok, _ := Get(path, "anon"); ok {
		t.Fatal("default is no machine")
	}
	text, err = Set(path, "h", "new", "newpw")
	want := "# comment with machine h words\nmachine a.example login al password ap\n" +
		"macdef init\nmachine h login trap\n\n" +
		"default login anon password anonpw\n" +
		"machine h\n  login new\n  password newpw\n"
	if err != nil || text != want {
		t.Fatalf("Set h:\n%s\nwant:\n%s", text, want)
	}
	write(text)
	if l, p, ok, _ := Get(path, "h"); !ok || l != "new" || p != "newpw" {
		t.Fatalf("Get h after Set: %q %q %v", l, p, ok)
	}
	text, found, err := Unset(path, "h")
	want = "# comment with machine h words\nmachine a.example login al password ap\n" +
		"macdef init\nmachine h login trap\n\n" +
		"default login anon password anonpw\n"
	if err != nil || !found || text != want {
		t.Fatalf("Unset h: %v %v\n%s\nwant:\n%s", found, err, text, want)
	}
	write(text)
	if _, found, _ := Unset(path, "h"); found {
		t.Fatal("Unset found h twice")
	}
	// A file without a final newline gets one before the new entry.
	write("machine a login b password c")
	if text, _ := Set(path, "h", "u", "p"); text != "machine a login b password c\nmachine h\n  login u\n  password p\n" {
		t.Fatalf("no final newline: %q", text)
	}
	for _, bad := range [][3]string{{"h h", "u", "p"}, {"h", "", "p"}, {"h", "u", "a b"}, {"h", "u", "\"q"}, {"h", "u", "p\n"}, {"h", "#u", "p"}} {
		if _, err := Set(path, bad[0], bad[1], bad[2]); !errors.Is(err, ErrBadValue) {
			t.Errorf("Set %q: %v", bad, err)
		}
	}
}
