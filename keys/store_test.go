package keys

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// genKey makes a real key pair with ssh-keygen and returns the public line.
func genKey(t testing.TB, typ string) string {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ssh-keygen is required (openssh-client)")
		}
		t.Skip("ssh-keygen not installed")
	}
	p := filepath.Join(t.TempDir(), "k")
	args := []string{"-q", "-t", typ, "-N", "", "-C", "user@host", "-f", p}
	if typ == "rsa" {
		args = append(args, "-b", "2048")
	}
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	b, err := os.ReadFile(p + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func newStore(t *testing.T) *Store {
	return Open(filepath.Join(t.TempDir(), "home", ".ssh", "authorized_keys"), []string{"admin"})
}

func pubOf(t *testing.T, line string) gossh.PublicKey {
	pub, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// sshcommandList is sshcommand's list regex (reference 1.5).
var sshcommandList = regexp.MustCompile("^command=\"FINGERPRINT=(\\S+) NAME=(\\\\\"|)(.*)\\\\\" `.*\",(\\S+).*")

func TestAddListRemove(t *testing.T) {
	s := newStore(t)
	ed, ec, rsa := genKey(t, "ed25519"), genKey(t, "ecdsa"), genKey(t, "rsa")
	for name, key := range map[string]string{"admin": ed, "with space": ec, "rsa": rsa} {
		fp, err := s.Add(name, []byte(key+"\n"))
		if err != nil {
			t.Fatalf("add %s: %v", name, err)
		}
		if fp != gossh.FingerprintSHA256(pubOf(t, key)) {
			t.Fatalf("fingerprint %s", fp)
		}
	}
	b, _ := os.ReadFile(s.Path())
	home := filepath.Dir(filepath.Dir(s.Path()))
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		m := sshcommandList.FindStringSubmatch(line)
		if m == nil || m[4] != DefaultOptions {
			t.Fatalf("line not in sshcommand's format: %s", line)
		}
		if !strings.Contains(line, "`cat "+home+"/.sshcommand` $SSH_ORIGINAL_COMMAND\",") {
			t.Fatalf("forced command differs from sshcommand's: %s", line)
		}
	}
	if fi, _ := os.Stat(s.Path()); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	// ssh-keygen accepts the file, as sshcommand's validation does.
	if out, err := exec.Command("ssh-keygen", "-lf", s.Path()).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -lf: %v %s", err, out)
	}
	keys, err := s.List()
	if err != nil || len(keys) != 3 {
		t.Fatalf("list: %v %v", keys, err)
	}
	id, ok := s.LookupKey(pubOf(t, ed))
	if !ok || id.Name != "admin" || !id.Admin {
		t.Fatalf("lookup admin: %+v %v", id, ok)
	}
	id, ok = s.LookupKey(pubOf(t, ec))
	if !ok || id.Name != "with space" || id.Admin {
		t.Fatalf("lookup ecdsa: %+v %v", id, ok)
	}
	if err := s.RemoveByName("with space"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.LookupKey(pubOf(t, ec)); ok {
		t.Fatal("removed key still authorized")
	}
	if err := s.RemoveByFingerprint(gossh.FingerprintSHA256(pubOf(t, rsa))); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.LookupKey(pubOf(t, rsa)); ok {
		t.Fatal("key removed by fingerprint still authorized")
	}
	if err := s.RemoveByName("nobody"); err != nil {
		t.Fatalf("removing an unknown name: %v", err)
	}
}

func TestAddErrors(t *testing.T) {
	s := newStore(t)
	key := genKey(t, "ed25519")
	if _, err := s.Add("first", []byte(key)); err != nil {
		t.Fatal(err)
	}
	other := genKey(t, "ed25519")
	before, _ := os.ReadFile(s.Path())
	for _, tc := range []struct {
		name, text string
		want       error
	}{
		{"x", "", ErrEmptyKey},
		{"first", "no-pty " + other, ErrDuplicateName},
		{"x", "\n\n", ErrEmptyKey},
		{"x", key + "\n" + other + "\n", ErrTooManyKeys},
		{"x", "ssh-ed25519 notbase64", ErrInvalidKey},
		{"x", "garbage", ErrInvalidKey},
		{"first", other, ErrDuplicateName},
		{"second", key, ErrDuplicateKey},
		{"x", `command="echo hi" ` + other, ErrKeyOptions},
		{"x", "no-pty " + other, ErrKeyOptions},
		{`bad"name`, other, ErrBadName},
		{"", other, ErrBadName},
	} {
		_, err := s.Add(tc.name, []byte(tc.text))
		if !errors.Is(err, tc.want) {
			t.Errorf("Add(%q, %q) = %v, want %v", tc.name, tc.text, err, tc.want)
		}
	}
	var sce *SSHCommandError
	if _, err := s.Add("first", []byte(other)); !errors.As(err, &sce) || sce.Error() != "Duplicate ssh key name" {
		t.Fatalf("duplicate name is an sshcommand error: %v", err)
	}
	after, _ := os.ReadFile(s.Path())
	if string(before) != string(after) {
		t.Fatal("a refused add changed the file")
	}
	// An invalid line elsewhere blocks adding (validate before writing).
	os.WriteFile(s.Path(), append(after, []byte("this is not a key\n")...), 0o600)
	if _, err := s.Add("third", []byte(other)); err == nil || !strings.Contains(err.Error(), "line 2 failed ssh-keygen check.") {
		t.Fatalf("add with an invalid line present: %v", err)
	}
}

func TestReloadOnExternalEdit(t *testing.T) {
	s := newStore(t)
	key := genKey(t, "ed25519")
	if _, ok := s.LookupKey(pubOf(t, key)); ok {
		t.Fatal("authorized before being added")
	}
	os.MkdirAll(filepath.Dir(s.Path()), 0o700)
	line := FormatLine("ext", gossh.FingerprintSHA256(pubOf(t, key)), DefaultOptions, key, "/home/dokku")
	if err := os.WriteFile(s.Path(), []byte("# managed by hand\n"+line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	id, ok := s.LookupKey(pubOf(t, key))
	if !ok || id.Name != "ext" {
		t.Fatalf("externally added key: %+v %v", id, ok)
	}
	// A plain line (no forced command) authorizes with no name, never admin.
	plain := genKey(t, "ed25519")
	f, _ := os.OpenFile(s.Path(), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(plain + "\n")
	f.Close()
	id, ok = s.LookupKey(pubOf(t, plain))
	if !ok || id.Name != "" || id.Admin {
		t.Fatalf("plain key: %+v %v", id, ok)
	}
	// The first line carrying a key wins.
	dup := FormatLine("second", "SHA256:x", DefaultOptions, key, "/home/dokku")
	f, _ = os.OpenFile(s.Path(), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(dup + "\n")
	f.Close()
	if id, _ := s.LookupKey(pubOf(t, key)); id.Name != "ext" {
		t.Fatalf("first line must win, got %q", id.Name)
	}
	os.Remove(s.Path())
	if _, ok := s.LookupKey(pubOf(t, key)); ok {
		t.Fatal("key authorized after the file was removed")
	}
}

func TestParseLine(t *testing.T) {
	key := genKey(t, "ed25519")
	tests := []struct {
		line                 string
		ok                   bool
		name, fp, opts, text string
	}{
		{FormatLine("sha256", "SHA256:abc", DefaultOptions, key, "/home/dokku"), true, "sha256", "SHA256:abc", DefaultOptions, key},
		{FormatLine("a b", "SHA256:abc", "no-pty", key, "/home/dokku"), true, "a b", "SHA256:abc", "no-pty", key},
		{"command=\"FINGERPRINT=aa:bb NAME=legacy `cat /home/dokku/.sshcommand` $SSH_ORIGINAL_COMMAND\",no-pty " + key, true, "legacy", "aa:bb", "no-pty", key},
		{key, false, "", "", "", ""},
		{"# comment", false, "", "", "", ""},
		{"", false, "", "", "", ""},
	}
	for _, tt := range tests {
		k, ok, err := ParseLine(tt.line)
		if err != nil || ok != tt.ok || k.Name != tt.name || k.Fingerprint != tt.fp || k.Options != tt.opts || k.PublicKeyText != tt.text {
			t.Errorf("ParseLine(%q) = %+v %v %v", tt.line, k, ok, err)
		}
	}
	if _, _, err := ParseLine("ssh-ed25519 AAAA"); err == nil {
		t.Error("invalid key line accepted")
	}
}

func TestFormats(t *testing.T) {
	k := Key{Name: "n", Fingerprint: "SHA256:f", Options: DefaultOptions, PublicKeyText: "ssh-ed25519 AAAA c"}
	if got := FormatText([]Key{k}); got != `SHA256:f NAME="n" SSHCOMMAND_ALLOWED_KEYS="`+DefaultOptions+"\"\n" {
		t.Errorf("text = %q", got)
	}
	if got := FormatJSON([]Key{k, k}, false); got != `[{ "fingerprint": "SHA256:f", "name": "n", "SSHCOMMAND_ALLOWED_KEYS": "`+DefaultOptions+`", "public-key": "ssh-ed25519 AAAA c" },{ "fingerprint": "SHA256:f", "name": "n", "SSHCOMMAND_ALLOWED_KEYS": "`+DefaultOptions+`", "public-key": "ssh-ed25519 AAAA c" }]` {
		t.Errorf("json = %s", got)
	}
	if got := FormatJSON([]Key{k}, true); got != `[{"fingerprint":"SHA256:f","name":"n","SSHCOMMAND_ALLOWED_KEYS":"`+DefaultOptions+`","public-key":"ssh-ed25519 AAAA c"}]` {
		t.Errorf("compact json = %s", got)
	}
	if got := FormatJSON(nil, true); got != "[]" {
		t.Errorf("empty = %s", got)
	}
}

func FuzzParseLine(f *testing.F) {
	f.Add(FormatLine("n", "SHA256:x", DefaultOptions, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbLVgPLvpmv4HYbz6kM5hR0Bw0ZaAqZvzuZWOK/3eK9 c", "/home/dokku"))
	f.Add("command=\"FINGERPRINT=aa NAME=x `cat /h/.sshcommand` $SSH_ORIGINAL_COMMAND\",no-pty ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbLVgPLvpmv4HYbz6kM5hR0Bw0ZaAqZvzuZWOK/3eK9")
	f.Add("# c")
	f.Add("ssh-rsa AAAA")
	f.Fuzz(func(t *testing.T, line string) {
		k, ok, err := ParseLine(line)
		if err != nil || !ok {
			return
		}
		if strings.ContainsAny(k.Name, "\"\\\n") || strings.ContainsAny(k.Options, " \t") {
			return // names the store refuses to write
		}
		again, ok2, err := ParseLine(FormatLine(k.Name, k.Fingerprint, k.Options, k.PublicKeyText, "/home/dokku"))
		if err != nil || !ok2 || again.Name != k.Name || again.Fingerprint != k.Fingerprint || again.Options != k.Options ||
			string(again.PublicKey.Marshal()) != string(k.PublicKey.Marshal()) {
			t.Fatalf("round trip of %q: %+v %v %v", line, again, ok2, err)
		}
	})
}
