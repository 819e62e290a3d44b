package sshd

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"

	gossh "golang.org/x/crypto/ssh"
)

// hostKeyType is one kind of host key. Host key files are in HostKeyDir, named
// as OpenSSH names them (so the directory can also be /etc/ssh, keeping a
// host's identity), in OpenSSH's private key format (`ssh-keygen -y -f` reads
// them), mode 0600, with a .pub beside each.
type hostKeyType struct {
	file     string
	generate func() (crypto.Signer, error)
}

var hostKeyTypes = []hostKeyType{
	{"ssh_host_ed25519_key", func() (crypto.Signer, error) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}},
	{"ssh_host_ecdsa_key", func() (crypto.Signer, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }},
	{"ssh_host_rsa_key", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 3072) }},
}

// loadHostKeys reads the host keys in dir, generating the missing ones on
// first start: ed25519 and ECDSA P-256 always (fast), RSA 3072 only when
// genRSA. A key that exists is always used. A key file that is ours and
// readable by group or others is refused, as OpenSSH refuses it.
func loadHostKeys(dir string, genRSA bool, log *slog.Logger) ([]gossh.Signer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("host keys: %w", err)
	}
	var (
		signers []gossh.Signer
		genErrs []error
	)
	for _, kt := range hostKeyTypes {
		path := filepath.Join(dir, kt.file)
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			if kt.file == "ssh_host_rsa_key" && !genRSA {
				continue
			}
			if b, err = createHostKey(path, kt.generate); err != nil {
				genErrs = append(genErrs, err)
				continue
			}
			log.Info("generated host key", "path", path)
		}
		if err != nil {
			return nil, fmt.Errorf("host key %s: %w", path, err)
		}
		if err := checkKeyMode(path, log); err != nil {
			return nil, err
		}
		signer, err := gossh.ParsePrivateKey(b)
		var pe *gossh.PassphraseMissingError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("host key %s is encrypted; host keys must not have a passphrase", path)
		}
		if err != nil {
			return nil, fmt.Errorf("host key %s: %w", path, err)
		}
		signers = append(signers, signer)
	}
	if len(signers) == 0 {
		return nil, fmt.Errorf("no host key in %s: %w", dir, errors.Join(genErrs...))
	}
	for _, err := range genErrs {
		log.Warn("host key not generated; serving the others", "err", err)
	}
	return signers, nil
}

// checkKeyMode refuses a private key file we own that group or others may
// read; one owned by another user (root's /etc/ssh keys readable by a group
// we are in) is only warned about.
func checkKeyMode(path string, log *slog.Logger) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("host key %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		log.Warn("host key is readable by group or others", "path", path, "mode", fi.Mode().Perm().String())
		return nil
	}
	return fmt.Errorf("host key %s has mode %04o: group or others may read it; chmod 600 it", path, fi.Mode().Perm())
}

// createHostKey generates a key and stores it at path unless another
// process got there first (the file is linked into place, never renamed
// over): either way it returns what path holds now.
func createHostKey(path string, generate func() (crypto.Signer, error)) ([]byte, error) {
	key, err := generate()
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", path, err)
	}
	block, err := gossh.MarshalPrivateKey(key, "dokku-sshd host key")
	if err != nil {
		return nil, fmt.Errorf("generate %s: %w", path, err)
	}
	if err := writeNew(path, pem.EncodeToMemory(block), 0o600, false); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// The .pub of whatever won, for admins (ssh-keyscan gives the same).
	if signer, err := gossh.ParsePrivateKey(b); err == nil {
		_ = writeNew(path+".pub", gossh.MarshalAuthorizedKey(signer.PublicKey()), 0o644, true)
	}
	return b, nil
}

// writeNew writes a file in full (temp file, fsync) and links it into
// place; replace chooses between renaming over an existing file and
// failing with fs.ErrExist.
func writeNew(path string, data []byte, perm os.FileMode, replace bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if replace {
		err = os.Rename(tmp, path)
	} else {
		err = os.Link(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
