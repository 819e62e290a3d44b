package sshd

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

func newWithHostKeys(t *testing.T, dir string, rsa bool) (*Server, error) {
	t.Helper()
	return New(Config{HostKeyDir: dir, HostKeyRSA: rsa, Keys: newKeyTable(), Logger: slog.New(&logRecords{})}, Handlers{Command: testHandler})
}

func hostKeyTypeNames(s *Server) []string {
	var out []string
	for _, k := range s.HostKeys() {
		out = append(out, k.Type())
	}
	return out
}

func TestHostKeysCreatedOnceAndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "host-keys")
	s1, err := newWithHostKeys(t, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(hostKeyTypeNames(s1), " "); got != "ssh-ed25519 ecdsa-sha2-nistp256" {
		t.Fatalf("host key types %q", got)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("host key directory: %v %v", fi.Mode(), err)
	}
	for _, name := range []string{"ssh_host_ed25519_key", "ssh_host_ecdsa_key"} {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", name, fi.Mode(), err)
		}
		// OpenSSH reads it, and it matches the .pub.
		pub, _ := os.ReadFile(p + ".pub")
		if _, err := exec.LookPath("ssh-keygen"); err == nil {
			out := mustRun(t, "ssh-keygen", "-y", "-f", p)
			if strings.Fields(out)[1] != strings.Fields(string(pub))[1] {
				t.Errorf("%s: ssh-keygen -y gives %q, .pub has %q", name, out, pub)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ssh_host_rsa_key")); err == nil {
		t.Error("RSA key generated without HostKeyRSA")
	}

	s2, err := newWithHostKeys(t, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range s1.HostKeys() {
		if !bytes.Equal(k.Marshal(), s2.HostKeys()[i].Marshal()) {
			t.Errorf("host key %s changed across a restart", k.Type())
		}
	}
	// Leftover temporary files would be a bug.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 4 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files in the host key directory: %q", names)
	}
}

func TestHostKeysRSAOptIn(t *testing.T) {
	dir := t.TempDir()
	s, err := newWithHostKeys(t, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(hostKeyTypeNames(s), " "); got != "ssh-ed25519 ecdsa-sha2-nistp256 ssh-rsa" {
		t.Fatalf("host key types %q", got)
	}
	// Once there, the RSA key is used whatever HostKeyRSA says.
	s2, err := newWithHostKeys(t, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(s2.HostKeys()) != 3 {
		t.Fatalf("host keys after restart: %q", hostKeyTypeNames(s2))
	}
}

// Keys made by ssh-keygen (an existing /etc/ssh) are used as they are.
func TestHostKeysFromOpenSSH(t *testing.T) {
	requireOpenSSH(t)
	dir := t.TempDir()
	k := keygen(t, dir, "ssh_host_ed25519_key", "ed25519")
	s, err := newWithHostKeys(t, dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.HostKeys()[0].Marshal(), k.pub.Marshal()) {
		t.Fatal("the existing ed25519 host key was not used")
	}
}

func TestHostKeysRefused(t *testing.T) {
	requireOpenSSH(t)
	t.Run("readable by others", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := newWithHostKeys(t, dir, false); err != nil {
			t.Fatal(err)
		}
		os.Chmod(filepath.Join(dir, "ssh_host_ed25519_key"), 0o644)
		_, err := newWithHostKeys(t, dir, false)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("encrypted", func(t *testing.T) {
		dir := t.TempDir()
		keygen(t, dir, "ssh_host_ed25519_key", "ed25519")
		mustRun(t, "ssh-keygen", "-q", "-p", "-P", "", "-N", "secret", "-f", filepath.Join(dir, "ssh_host_ed25519_key"))
		_, err := newWithHostKeys(t, dir, false)
		if err == nil || !strings.Contains(err.Error(), "passphrase") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "ssh_host_ecdsa_key"), []byte("not a key"), 0o600)
		if _, err := newWithHostKeys(t, dir, false); err == nil {
			t.Fatal("a broken host key file was accepted")
		}
	})
	// A directory where no key can be written, for root too: its parent
	// is a regular file.
	t.Run("directory cannot be made, nothing there", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "a-file")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := newWithHostKeys(t, filepath.Join(file, "host-keys"), false); err == nil {
			t.Fatal("started without a host key")
		}
	})
}

// The OpenSSH client records the server's ed25519 key.
func TestHostKeyOfferedToOpenSSH(t *testing.T) {
	requireOpenSSH(t)
	ts := startServer(t, Config{}, Handlers{})
	k := keygen(t, t.TempDir(), "bob", "ed25519")
	ts.keys.add("bob", k.pub)
	known := filepath.Join(t.TempDir(), "known_hosts")
	r := ts.ssh(t, sshOpts{identities: []string{k.priv}, knownHosts: known}, "exit", "0")
	if r.code != 0 {
		t.Fatal(r)
	}
	b, _ := os.ReadFile(known)
	want := string(gossh.MarshalAuthorizedKey(ts.HostKeys()[0]))
	if !strings.Contains(string(b), strings.TrimSpace(want)) {
		t.Fatalf("known_hosts %q lacks %q", b, want)
	}
}
