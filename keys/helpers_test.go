package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"dokku-sshd/internal/testenv"
)

// tool returns the path of an external program the test needs, skipping
// the test when it is missing (failing on CI, where it must be installed).
func tool(t testing.TB, name string) string {
	t.Helper()
	return testenv.Tool(t, name)
}

// genKey makes a real key pair with ssh-keygen and returns its public line
// ("<type> <base64> user@host").
func genKey(t testing.TB, typ string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "k")
	args := []string{"-q", "-t", typ, "-N", "", "-C", "user@host", "-f", p}
	if typ == "rsa" {
		args = append(args, "-b", "2048")
	}
	if out, err := exec.Command(tool(t, "ssh-keygen"), args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen %v: %v %s", args, err, out)
	}
	b, err := os.ReadFile(p + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// goKey makes an ed25519 public key line in process (fast, for bulk tests).
func goKey(t testing.TB, comment string) string {
	t.Helper()
	pk, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := gossh.NewPublicKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pub)))
	if comment != "" {
		line += " " + comment
	}
	return line
}

func pubOf(t testing.TB, line string) gossh.PublicKey {
	t.Helper()
	pub, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	return pub
}

func fpOf(t testing.TB, line string) string { return gossh.FingerprintSHA256(pubOf(t, line)) }

// newStore is a store whose file would be <tmp>/home/.ssh/authorized_keys
// (not created yet); "admin" is an admin name.
func newStore(t *testing.T) *Store {
	t.Helper()
	return Open(filepath.Join(t.TempDir(), "home", ".ssh", "authorized_keys"), []string{"admin"})
}

func home(s *Store) string { return filepath.Dir(filepath.Dir(s.Path())) }

func writeFile(t *testing.T, s *Store, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(s.Path()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Path(), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, s *Store) string {
	t.Helper()
	b, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
