package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"

	"dokku-sshd/store"
)

// hostKeyFile is the ed25519 host key, in OpenSSH's private key format so
// `ssh-keygen -y -f` reads it.
const hostKeyFile = "ssh_host_ed25519_key"

// loadHostKeys reads the host keys in dir, generating the ed25519 key on
// first start. Keys are kept with mode 0600 in a 0700 directory.
func loadHostKeys(dir string, log *slog.Logger) ([]gossh.Signer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("host keys: %w", err)
	}
	path := filepath.Join(dir, hostKeyFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = generateHostKey(path)
		if err == nil {
			log.Info("generated host key", "path", path)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("host key %s: mode %v is readable by others; chmod 600 it", path, fi.Mode().Perm())
	}
	signer, err := gossh.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("host key %s: %w", path, err)
	}
	return []gossh.Signer{signer}, nil
}

func generateHostKey(path string) ([]byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := gossh.MarshalPrivateKey(priv, "dokku-sshd host key")
	if err != nil {
		return nil, err
	}
	b := pem.EncodeToMemory(block)
	if err := store.WriteFileAtomic(path, b, 0o600); err != nil {
		return nil, err
	}
	pub, err := gossh.NewPublicKey(priv.Public())
	if err != nil {
		return nil, err
	}
	if err := store.WriteFileAtomic(path+".pub", gossh.MarshalAuthorizedKey(pub), 0o644); err != nil {
		return nil, err
	}
	return b, nil
}
