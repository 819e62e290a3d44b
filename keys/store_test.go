package keys

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dokku-sshd/output"

	gossh "golang.org/x/crypto/ssh"
)

func TestAddListLookupRemove(t *testing.T) {
	s := newStore(t)
	ed, ec, rsaKey := genKey(t, "ed25519"), genKey(t, "ecdsa"), genKey(t, "rsa")
	adds := []struct{ name, key string }{{"admin", ed}, {"with space", ec}, {"rsa", rsaKey}}
	for _, a := range adds {
		fp, err := s.Add(a.name, []byte(a.key+"\n"))
		if err != nil {
			t.Fatalf("add %s: %v", a.name, err)
		}
		if fp != fpOf(t, a.key) {
			t.Fatalf("add %s: fingerprint %s", a.name, fp)
		}
	}
	var want strings.Builder
	for _, a := range adds {
		want.WriteString(FormatLine(a.name, fpOf(t, a.key), DefaultOptions, a.key, home(s)) + "\n")
	}
	if got := readFile(t, s); got != want.String() {
		t.Fatalf("file:\n%s\nwant:\n%s", got, want.String())
	}
	if fi, _ := os.Stat(s.Path()); fi.Mode().Perm() != 0o600 {
		t.Fatalf("new file mode %v", fi.Mode())
	}
	keys, err := s.List()
	if err != nil || len(keys) != 3 || keys[1].Name != "with space" || keys[1].Line != 2 {
		t.Fatalf("list: %+v %v", keys, err)
	}

	for _, tt := range []struct {
		key, name string
		admin     bool
	}{{ed, "admin", true}, {ec, "with space", false}, {rsaKey, "rsa", false}} {
		id, ok := s.LookupKey(pubOf(t, tt.key))
		if !ok || id.Name != tt.name || id.Admin != tt.admin || id.Fingerprint != fpOf(t, tt.key) || id.Cert || id.Local {
			t.Errorf("LookupKey(%s) = %+v %v", tt.name, id, ok)
		}
	}
	if _, ok := s.LookupKey(pubOf(t, goKey(t, ""))); ok {
		t.Error("unknown key authorized")
	}

	if err := s.RemoveByName("with space"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.LookupKey(pubOf(t, ec)); ok {
		t.Fatal("key removed by name still authorized")
	}
	if err := s.RemoveByFingerprint(fpOf(t, rsaKey)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.LookupKey(pubOf(t, rsaKey)); ok {
		t.Fatal("key removed by fingerprint still authorized")
	}
	if got := readFile(t, s); got != FormatLine("admin", fpOf(t, ed), DefaultOptions, ed, home(s))+"\n" {
		t.Fatalf("after removals:\n%s", got)
	}
}

// Every line we write passes `ssh-keygen -lf` (sshcommand's and Dokku's
// check), and ssh-keygen computes the fingerprint we recorded.
func TestWrittenLinesPassSSHKeygen(t *testing.T) {
	keygen := tool(t, "ssh-keygen")
	s := newStore(t)
	for i, typ := range []string{"ed25519", "ecdsa", "rsa", "ed25519"} {
		name := fmt.Sprintf("key %d (%s)", i, typ)
		if _, err := s.Add(name, []byte(genKey(t, typ))); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command(keygen, "-lf", s.Path()).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -lf on the file: %v %s", err, out)
	}
	keys, err := s.List()
	if err != nil || len(keys) != 4 {
		t.Fatalf("list: %v %v", keys, err)
	}
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, s)), "\n") {
		p := filepath.Join(t.TempDir(), "line")
		if err := os.WriteFile(p, []byte(line+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(keygen, "-lf", p).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen -lf refuses %q: %v %s", line, err, out)
		}
		k, _, _ := ParseLine(line)
		if f := strings.Fields(string(out)); len(f) < 2 || f[1] != k.Fingerprint {
			t.Errorf("ssh-keygen says %q, line records %s", out, k.Fingerprint)
		}
	}
}

func TestAddErrors(t *testing.T) {
	s := newStore(t)
	key, other := goKey(t, "first"), goKey(t, "other")
	if _, err := s.Add("first", []byte(key)); err != nil {
		t.Fatal(err)
	}
	// A legacy line with an unquoted name and a plain hand-added key.
	legacy, plain := goKey(t, ""), goKey(t, "by hand")
	f, _ := os.OpenFile(s.Path(), os.O_APPEND|os.O_WRONLY, 0)
	fmt.Fprintf(f, "command=\"FINGERPRINT=aa:bb NAME=old `cat /h/.sshcommand` $SSH_ORIGINAL_COMMAND\",no-pty %s\n%s\n# NAME=\\\"commented\\\"\n", legacy, plain)
	f.Close()

	cert := func() string {
		if _, err := exec.LookPath("ssh-keygen"); err != nil {
			return ""
		}
		dir := t.TempDir()
		ca, user := filepath.Join(dir, "ca"), filepath.Join(dir, "user")
		for _, p := range []string{ca, user} {
			if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", p).CombinedOutput(); err != nil {
				t.Fatalf("%v %s", err, out)
			}
		}
		if out, err := exec.Command("ssh-keygen", "-q", "-s", ca, "-I", "id", "-n", "dokku", user+".pub").CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
		b, _ := os.ReadFile(user + "-cert.pub")
		return strings.TrimSpace(string(b))
	}()
	small, _ := gossh.NewPublicKey(&rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 767).Add(new(big.Int).Lsh(big.NewInt(1), 767), big.NewInt(1)), E: 65537})
	smallRSA := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(small)))

	before := readFile(t, s)
	tests := []struct {
		desc, name string
		text       []byte
		want       error
		msg        string
	}{
		{"no key", "x", nil, ErrNoKey, "No key specified via file or pipe"},
		{"empty", "x", []byte{}, ErrEmptyKey, "Empty key was specified"},
		{"blank lines", "x", []byte("\n \r\n\n"), ErrEmptyKey, "Empty key was specified"},
		{"two keys", "x", []byte(other + "\n" + goKey(t, "") + "\n"), ErrTooManyKeys, "Too many keys provided, set one per invocation of dokku ssh-keys:add <NAME> <KEY_FILE>"},
		{"key and comment", "x", []byte("# mine\n" + other), ErrTooManyKeys, "Too many keys provided, set one per invocation of dokku ssh-keys:add <NAME> <KEY_FILE>"},
		{"garbage", "x", []byte("garbage"), ErrInvalidKey, "Key specified in is not a valid ssh public key"},
		{"truncated", "x", []byte("ssh-ed25519 AAAA"), ErrInvalidKey, "Key specified in is not a valid ssh public key"},
		{"private key", "x", []byte("-----BEGIN OPENSSH PRIVATE KEY-----"), ErrInvalidKey, "Key specified in is not a valid ssh public key"},
		{"comment only", "x", []byte("# nothing"), ErrInvalidKey, "Key specified in is not a valid ssh public key"},
		{"small rsa", "x", []byte(smallRSA), ErrUnsupportedKey, ErrUnsupportedKey.Error()},
		{"empty name", "", []byte(other), ErrBadName, ErrBadName.Error()},
		{"quote in name", `a"b`, []byte(other), ErrBadName, ErrBadName.Error()},
		{"backslash in name", `a\b`, []byte(other), ErrBadName, ErrBadName.Error()},
		{"newline in name", "a\nb", []byte(other), ErrBadName, ErrBadName.Error()},
		{"backtick in name", "a`id`", []byte(other), ErrBadName, ErrBadName.Error()},
		{"dollar in name", "$(id)", []byte(other), ErrBadName, ErrBadName.Error()},
		{"duplicate name", "first", []byte(other), ErrDuplicateName, "Duplicate ssh key name"},
		{"duplicate legacy name", "old", []byte(other), ErrDuplicateName, "Duplicate ssh key name"},
		{"duplicate key", "second", []byte(key), ErrDuplicateKey, "Duplicate ssh public key specified"},
		{"duplicate of a legacy key", "second", []byte(legacy), ErrDuplicateKey, "Duplicate ssh public key specified"},
		{"duplicate of a hand-added key", "second", []byte(plain), ErrDuplicateKey, "Duplicate ssh public key specified"},
		{"same key, other comment", "second", []byte(strings.Join(strings.Fields(key)[:2], " ") + " another"), ErrDuplicateKey, "Duplicate ssh public key specified"},
		{"command option", "x", []byte(`command="echo hi" ` + other), ErrKeyOptions, "Invalid ssh public key"},
		{"no-pty option", "x", []byte("no-pty " + other), ErrKeyOptions, "Invalid ssh public key"},
		// sshcommand checks the name before the key.
		{"options and duplicate name", "first", []byte("no-pty " + other), ErrDuplicateName, "Duplicate ssh key name"},
	}
	if cert != "" {
		tests = append(tests, struct {
			desc, name string
			text       []byte
			want       error
			msg        string
		}{"certificate", "x", []byte(cert), ErrUnsupportedKey, ErrUnsupportedKey.Error()})
	}
	if p := filepath.Join(t.TempDir(), "dsa"); exec.Command("ssh-keygen", "-q", "-t", "dsa", "-N", "", "-f", p).Run() == nil {
		b, _ := os.ReadFile(p + ".pub")
		tests = append(tests, struct {
			desc, name string
			text       []byte
			want       error
			msg        string
		}{"dsa", "x", b, ErrUnsupportedKey, ErrUnsupportedKey.Error()})
	}
	for _, tt := range tests {
		fp, err := s.Add(tt.name, tt.text)
		if !errors.Is(err, tt.want) || err.Error() != tt.msg || fp != "" {
			t.Errorf("%s: Add(%q, %q) = %q, %v; want %v", tt.desc, tt.name, tt.text, fp, err, tt.want)
		}
	}
	for _, err := range []error{ErrDuplicateName, ErrDuplicateKey, ErrKeyOptions} {
		var sce *SSHCommandError
		if !errors.As(err, &sce) {
			t.Errorf("%v is not an *SSHCommandError", err)
		}
	}
	var sce *SSHCommandError
	if errors.As(ErrInvalidKey, &sce) {
		t.Error("ErrInvalidKey must not print as an sshcommand error")
	}
	if after := readFile(t, s); after != before {
		t.Fatalf("a refused add changed the file:\n%s", after)
	}

	// A commented-out line does not reserve its name; "named" lines are
	// only lines OpenSSH reads.
	if _, err := s.Add("commented", []byte(other)); err != nil {
		t.Fatalf("name only in a comment: %v", err)
	}
}

func TestAddAcceptsOneKeyInAnyShape(t *testing.T) {
	for i, text := range []string{"%s", "%s\n", "%s\r\n", "\n%s\n\n\n", "  %s  \n"} {
		s := newStore(t)
		key := goKey(t, "c")
		if _, err := s.Add("k", []byte(fmt.Sprintf(text, key))); err != nil {
			t.Fatalf("%d %q: %v", i, text, err)
		}
		if got := readFile(t, s); got != FormatLine("k", fpOf(t, key), DefaultOptions, key, home(s))+"\n" {
			t.Fatalf("%d: %q", i, got)
		}
	}
}

// Add validates the whole file before writing anything (Dokku appends first
// and complains afterwards).
func TestAddRefusesWhenFileInvalid(t *testing.T) {
	s := newStore(t)
	writeFile(t, s, goKey(t, "")+"\nthis is not a key\n")
	before := readFile(t, s)
	_, err := s.Add("x", []byte(goKey(t, "")))
	var le *LineError
	if !errors.As(err, &le) || le.Line != 2 || err.Error() != s.Path()+" line 2 failed ssh-keygen check." || !output.IsUserError(err) {
		t.Fatalf("Add with an invalid line present: %v", err)
	}
	if readFile(t, s) != before {
		t.Fatal("file changed")
	}
	if err := s.Validate(); err == nil || err.Error() != s.Path()+" line 2 failed ssh-keygen check." {
		t.Fatalf("Validate: %v", err)
	}
}

func TestAddKeepsFile(t *testing.T) {
	s := newStore(t)
	// No trailing newline, CRLF, a comment, a hand-added key: all kept.
	orig := "# keys\r\n" + goKey(t, "plain") + "\r\n\n" + goKey(t, "last")
	writeFile(t, s, orig)
	if err := os.Chmod(s.Path(), 0o700); err != nil { // what sshcommand leaves
		t.Fatal(err)
	}
	key := goKey(t, "")
	if _, err := s.Add("new", []byte(key)); err != nil {
		t.Fatal(err)
	}
	want := orig + "\n" + FormatLine("new", fpOf(t, key), DefaultOptions, key, home(s)) + "\n"
	if got := readFile(t, s); got != want {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if fi, _ := os.Stat(s.Path()); fi.Mode().Perm() != 0o700 {
		t.Fatalf("mode %v, want the file's 0700 kept", fi.Mode())
	}
}

func TestAddThroughSymlink(t *testing.T) {
	s := newStore(t)
	real := filepath.Join(t.TempDir(), "real_keys")
	if err := os.WriteFile(real, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(s.Path()), 0o700)
	if err := os.Symlink(real, s.Path()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add("x", []byte(goKey(t, ""))); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(s.Path()); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("symlink replaced: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(real); !bytes.Contains(b, []byte(`NAME=\"x\"`)) {
		t.Fatalf("target not written: %q", b)
	}
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o640 {
		t.Fatalf("target mode %v", fi.Mode())
	}
}

func TestRemove(t *testing.T) {
	s := newStore(t)
	content, want := fixtureFile(t)
	writeFile(t, s, content)
	lines := strings.SplitAfter(content, "\n")
	without := func(lineNos ...int) string {
		var b strings.Builder
	next:
		for i, l := range lines {
			for _, n := range lineNos {
				if i+1 == n {
					continue next
				}
			}
			b.WriteString(l)
		}
		return b.String()
	}
	md5Key := pubOf(t, want[0].PublicKeyText)
	tests := []struct {
		desc   string
		remove func() error
		want   string
	}{
		{"unknown name", func() error { return s.RemoveByName("nobody") }, content},
		{"empty name", func() error { return s.RemoveByName("") }, content},
		{"unknown fingerprint", func() error { return s.RemoveByFingerprint("SHA256:nope") }, content},
		{"name with space", func() error { return s.RemoveByName("my laptop") }, without(7)},
		{"legacy unquoted name", func() error { return s.RemoveByName("without-quotes") }, without(4)},
		{"recorded md5 fingerprint", func() error { return s.RemoveByFingerprint(want[0].Fingerprint) }, without(1)},
		{"sha256 of a line recorded with md5", func() error { return s.RemoveByFingerprint(gossh.FingerprintSHA256(md5Key)) }, without(1)},
		{"MD5: prefixed", func() error { return s.RemoveByFingerprint("MD5:" + gossh.FingerprintLegacyMD5(md5Key)) }, without(1)},
		{"recorded fingerprint that is not the key's", func() error { return s.RemoveByFingerprint("SHA256:recorded") }, without(7)},
		{"sha256", func() error { return s.RemoveByFingerprint(want[1].Fingerprint) }, without(3)},
	}
	for _, tt := range tests {
		writeFile(t, s, content)
		fi0, _ := os.Stat(s.Path())
		if err := tt.remove(); err != nil {
			t.Fatalf("%s: %v", tt.desc, err)
		}
		if got := readFile(t, s); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.desc, got, tt.want)
		}
		if tt.want == content {
			if fi, _ := os.Stat(s.Path()); !os.SameFile(fi0, fi) {
				t.Errorf("%s: file rewritten although nothing was removed", tt.desc)
			}
		}
	}

	// Nothing to remove from a missing file, and it stays missing.
	s2 := newStore(t)
	if err := s2.RemoveByName("x"); err != nil {
		t.Fatal(err)
	}
	if err := s2.RemoveByFingerprint("SHA256:x"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s2.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("remove created the file: %v", err)
	}
}

// LookupKey sees what other programs do to the file, without restart.
func TestLookupSeesExternalEdits(t *testing.T) {
	s := newStore(t)
	key, key2 := goKey(t, ""), goKey(t, "")
	if _, ok := s.LookupKey(pubOf(t, key)); ok {
		t.Fatal("authorized without a file")
	}
	line := FormatLine("ext", fpOf(t, key), DefaultOptions, key, "/home/dokku")
	writeFile(t, s, "# by hand\n"+line+"\n")
	if id, ok := s.LookupKey(pubOf(t, key)); !ok || id.Name != "ext" {
		t.Fatalf("external add: %+v %v", id, ok)
	}

	// Rewritten in place with the same size (same inode): seen at once.
	line2 := FormatLine("ex2", fpOf(t, key2), DefaultOptions, key2, "/home/dokku")
	if len(line2) != len(line) {
		t.Fatal("test needs equal sizes")
	}
	f, err := os.OpenFile(s.Path(), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte(line2), int64(len("# by hand\n")))
	f.Close()
	if id, ok := s.LookupKey(pubOf(t, key2)); !ok || id.Name != "ex2" {
		t.Fatalf("in-place edit not seen: %+v %v", id, ok)
	}
	if _, ok := s.LookupKey(pubOf(t, key)); ok {
		t.Fatal("overwritten key still authorized")
	}

	// Appended plain key: authorizes with the empty name, never admin even
	// when its comment is an admin name.
	plain := goKey(t, "admin")
	f, _ = os.OpenFile(s.Path(), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(plain + "\n")
	f.Close()
	if id, ok := s.LookupKey(pubOf(t, plain)); !ok || id.Name != "" || id.Admin {
		t.Fatalf("plain key: %+v %v", id, ok)
	}

	// Replaced by rename (as sshcommand's sed -i, editors, our own writes).
	tmp := s.Path() + ".new"
	os.WriteFile(tmp, []byte(line+"\n"), 0o600)
	if err := os.Rename(tmp, s.Path()); err != nil {
		t.Fatal(err)
	}
	if id, ok := s.LookupKey(pubOf(t, key)); !ok || id.Name != "ext" {
		t.Fatalf("after rename: %+v %v", id, ok)
	}
	if _, ok := s.LookupKey(pubOf(t, plain)); ok {
		t.Fatal("key gone after rename still authorized")
	}

	os.Remove(s.Path())
	if _, ok := s.LookupKey(pubOf(t, key)); ok {
		t.Fatal("key authorized after the file was removed")
	}
}

func TestLookupFirstAuthorizingLineWins(t *testing.T) {
	s := Open(filepath.Join(t.TempDir(), "authorized_keys"), []string{"admin", "second"})
	key := goKey(t, "")
	other := goKey(t, "")
	bad := "this line is broken"
	writeFile(t, s, strings.Join([]string{
		bad,
		"cert-authority " + key,    // trusts certificates, not the key itself
		`from="192.0.2.1" ` + key,  // cannot be enforced here: skipped
		`command="/bin/sh" ` + key, // another forced command: skipped
		FormatLine("first", "SHA256:x", DefaultOptions+`,from="192.0.2.1"`, key, "/home/dokku"),
		FormatLine("admin", "SHA256:whatever", DefaultOptions, key, "/home/dokku"),
		FormatLine("second", "SHA256:x", DefaultOptions, key, "/home/dokku"),
		`cert-authority ` + other,
	}, "\n"))
	id, ok := s.LookupKey(pubOf(t, key))
	if !ok || id.Name != "admin" || !id.Admin || id.Fingerprint != fpOf(t, key) {
		t.Fatalf("got %+v %v", id, ok)
	}
	if _, ok := s.LookupKey(pubOf(t, other)); ok {
		t.Fatal("cert-authority key logged in as a plain key")
	}
	if s.IsAdmin("") || !s.IsAdmin("admin") || s.IsAdmin("Admin") {
		t.Fatal("IsAdmin")
	}
	if Open("x", []string{""}).IsAdmin("") {
		t.Fatal("empty admin name")
	}
}

// Concurrent writers with their own Store (as the server and a local
// dokku-sshd process are) never lose an update; readers never see a torn
// file.
func TestConcurrentAdds(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".ssh", "authorized_keys")
	const n = 24
	keys := make([]string, n)
	for i := range keys {
		keys[i] = goKey(t, "")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	stop := make(chan struct{})
	reader := Open(path, nil)
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			// What ssh-keys:list checks first: it must never see a
			// half-written line of a concurrent add.
			if err := reader.Validate(); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs <- fmt.Errorf("torn read: %v", err)
				return
			}
			reader.LookupKey(pubOf(t, keys[0]))
		}
	}()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := Open(path, nil)
			if _, err := s.Add(fmt.Sprintf("k%d", i), []byte(keys[i])); err != nil {
				errs <- err
			}
			if i%3 == 0 {
				if err := s.RemoveByName(fmt.Sprintf("k%d", i)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s := Open(path, nil)
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != n-(n+2)/3 {
		t.Fatalf("%d keys left, want %d", len(list), n-(n+2)/3)
	}
	for i, k := range keys {
		_, ok := s.LookupKey(pubOf(t, k))
		if ok != (i%3 != 0) {
			t.Errorf("key %d present=%v", i, ok)
		}
	}
}

func TestValidateAndListMissingFile(t *testing.T) {
	s := newStore(t)
	if err := s.Validate(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Validate on a missing file: %v", err)
	}
	if list, err := s.List(); err != nil || list != nil {
		t.Fatalf("List on a missing file: %v %v", list, err)
	}
	writeFile(t, s, "")
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate on an empty file: %v", err)
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"default": true, "my laptop": true, "a.b-c_d@e": true, "ünï": true, "it's": true,
		"": false, `a"b`: false, `a\b`: false, "a`b": false, "a$b": false, "a\nb": false, "a\rb": false, "a\tb": false, "a\x7fb": false,
	} {
		if ValidName(name) != want {
			t.Errorf("ValidName(%q) = %v", name, !want)
		}
	}
}

func TestLoadCAKeys(t *testing.T) {
	dir := t.TempDir()
	ca1, ca2 := goKey(t, "ca one"), goKey(t, "")
	write := func(content string) string {
		p := filepath.Join(dir, fmt.Sprintf("ca%d", len(content)))
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	got, err := LoadCAKeys(write("# trusted CAs\n\n" + ca1 + "\n  " + ca2 + "\r\n"))
	if err != nil || len(got) != 2 || !bytes.Equal(got[0].Marshal(), pubOf(t, ca1).Marshal()) || !bytes.Equal(got[1].Marshal(), pubOf(t, ca2).Marshal()) {
		t.Fatalf("LoadCAKeys: %v %v", got, err)
	}
	for desc, content := range map[string]string{
		"invalid line": ca1 + "\ngarbage\n",
		"options":      "cert-authority " + ca1 + "\n",
		"no keys":      "# nothing\n",
	} {
		if _, err := LoadCAKeys(write(content)); err == nil {
			t.Errorf("%s: accepted", desc)
		}
	}
	if _, err := LoadCAKeys(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func BenchmarkLookupKey(b *testing.B) {
	dir := b.TempDir()
	s := Open(filepath.Join(dir, "authorized_keys"), nil)
	var content strings.Builder
	var last string
	for i := range 200 {
		last = goKey(b, "")
		content.WriteString(FormatLine(fmt.Sprintf("k%d", i), "SHA256:x", DefaultOptions, last, "/home/dokku") + "\n")
	}
	os.WriteFile(s.Path(), []byte(content.String()), 0o600)
	pub := pubOf(b, last)
	past := time.Now().Add(-time.Hour) // outside the racy window
	os.Chtimes(s.Path(), past, past)
	b.ResetTimer()
	for range b.N {
		if _, ok := s.LookupKey(pub); !ok {
			b.Fatal("not found")
		}
	}
}
