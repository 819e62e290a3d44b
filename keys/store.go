package keys

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"dokku-sshd/store"
)

// SSHCommandError is a refusal that Dokku reports through sshcommand: the
// command layer prints Error() bare on stderr, then
// ` !     sshcommand returned an error: 1`.
type SSHCommandError struct{ Msg string }

func (e *SSHCommandError) Error() string { return e.Msg }

// Message is an error whose text is Dokku's user-facing message, printed
// as is behind ` !     ` (hence capitalised and punctuated).
type Message string

func (m Message) Error() string { return string(m) }

// Errors of Add, with Dokku's texts.
var (
	ErrNoKey       error = Message("No key specified via file or pipe")
	ErrEmptyKey    error = Message("Empty key was specified")
	ErrTooManyKeys error = Message("Too many keys provided, set one per invocation of dokku ssh-keys:add <NAME> <KEY_FILE>")
	ErrInvalidKey  error = Message("Key specified in is not a valid ssh public key")
	ErrBadName     error = Message(`A key name may not be empty or contain double quotes, backslashes or line breaks`)

	ErrDuplicateName = &SSHCommandError{"Duplicate ssh key name"}
	ErrDuplicateKey  = &SSHCommandError{"Duplicate ssh public key specified"}
	ErrKeyOptions    = &SSHCommandError{"Invalid ssh public key"}
)

// Store is the key store over one authorized_keys file. Lookups re-read the
// file when it changed (any writer: this server, a local dokku-sshd,
// sshcommand, an editor), so no restart is ever needed.
type Store struct {
	path   string
	admins map[string]bool

	mu     sync.Mutex
	stamp  fileStamp
	byKey  map[string]Identity // marshalled key -> identity of its first line
	loaded bool
}

type fileStamp struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

func stampOf(fi os.FileInfo) fileStamp {
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.dev, st.ino = uint64(sys.Dev), sys.Ino
	}
	return st
}

// Open returns the key store for path (which need not exist yet). Keys whose
// name is in adminNames may run root-only commands over SSH.
func Open(path string, adminNames []string) *Store {
	s := &Store{path: path, admins: map[string]bool{}}
	for _, n := range adminNames {
		s.admins[n] = true
	}
	return s
}

// Path is the authorized_keys file.
func (s *Store) Path() string { return s.path }

// IsAdmin reports whether a key or certificate name has the admin role.
func (s *Store) IsAdmin(name string) bool { return name != "" && s.admins[name] }

// LookupKey returns the identity of an authorized key. The first line that
// carries the key wins, as in sshd. A plain line without sshcommand's
// forced command (added by hand) authorizes too, with an empty name, which
// is never admin.
func (s *Store) LookupKey(key gossh.PublicKey) (Identity, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.path)
	if err != nil {
		s.byKey, s.loaded = nil, false
		return Identity{}, false
	}
	if st := stampOf(fi); !s.loaded || st != s.stamp {
		b, err := os.ReadFile(s.path)
		if err != nil {
			return Identity{}, false
		}
		s.byKey = index(b)
		s.stamp, s.loaded = st, true
	}
	id, ok := s.byKey[string(key.Marshal())]
	if !ok {
		return Identity{}, false
	}
	id.Fingerprint = gossh.FingerprintSHA256(key)
	id.Admin = s.IsAdmin(id.Name)
	return id, true
}

// index maps every valid line's key to the identity of its first line.
func index(b []byte) map[string]Identity {
	m := map[string]Identity{}
	for _, line := range strings.Split(string(b), "\n") {
		k, managed, err := ParseLine(line)
		if err != nil || k.PublicKey == nil {
			continue
		}
		kb := string(k.PublicKey.Marshal())
		if _, seen := m[kb]; seen {
			continue
		}
		name := ""
		if managed {
			name = k.Name
		}
		m[kb] = Identity{Name: name}
	}
	return m
}

// List returns the sshcommand-managed keys in file order.
func (s *Store) List() ([]Key, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.path, err)
	}
	var out []Key
	for i, line := range strings.Split(string(b), "\n") {
		k, managed, err := ParseLine(line)
		if err == nil && managed {
			k.Line = i + 1
			out = append(out, k)
		}
	}
	return out, nil
}

// Validate checks every line as `ssh-keygen -lf` would.
func (s *Store) Validate() error {
	b, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.path, err)
	}
	return validate(s.path, b)
}

func validate(path string, b []byte) error {
	for i, line := range strings.Split(string(b), "\n") {
		if _, _, err := ParseLine(line); err != nil {
			return Message(fmt.Sprintf("%s line %d failed ssh-keygen check.", path, i+1))
		}
	}
	return nil
}

// parseNewKey checks the key text given to ssh-keys:add as Dokku does
// before handing it to sshcommand (ssh-keygen accepts a line with options);
// hasOptions is checked later, after the duplicate name, as sshcommand does.
func parseNewKey(text []byte) (pub gossh.PublicKey, line string, hasOptions bool, err error) {
	var lines []string
	for _, l := range strings.Split(string(text), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	switch {
	case len(lines) == 0:
		return nil, "", false, ErrEmptyKey
	case len(lines) > 1:
		return nil, "", false, ErrTooManyKeys
	}
	pub, _, opts, rest, err := gossh.ParseAuthorizedKey([]byte(lines[0]))
	if err != nil || len(bytes.TrimSpace(rest)) > 0 {
		return nil, "", false, ErrInvalidKey
	}
	return pub, lines[0], len(opts) > 0, nil
}

func validName(name string) bool {
	return name != "" && !strings.ContainsAny(name, "\"\\\n\r")
}

// Add validates the key and appends sshcommand's line for it atomically;
// it returns the fingerprint. Nothing is written when any check fails, also
// not when another line of the file is invalid.
func (s *Store) Add(name string, keyText []byte) (string, error) {
	pub, text, hasOptions, err := parseNewKey(keyText)
	if err != nil {
		return "", err
	}
	if !validName(name) {
		return "", ErrBadName
	}
	fp := gossh.FingerprintSHA256(pub)
	var result string
	err = s.rewrite(func(cur []byte) ([]byte, error) {
		if err := validate(s.path, cur); err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(cur), "\n") {
			if strings.Contains(line, `NAME=\"`+name+`\"`) {
				return nil, ErrDuplicateName
			}
		}
		if hasOptions {
			return nil, ErrKeyOptions
		}
		for _, line := range strings.Split(string(cur), "\n") {
			k, _, err := ParseLine(line)
			if err == nil && k.PublicKey != nil && (bytes.Equal(k.PublicKey.Marshal(), pub.Marshal()) || strings.Contains(line, fp)) {
				return nil, ErrDuplicateKey
			}
		}
		home := filepath.Dir(filepath.Dir(s.path))
		out := append([]byte{}, cur...)
		if len(out) > 0 && out[len(out)-1] != '\n' {
			out = append(out, '\n')
		}
		out = append(out, FormatLine(name, fp, DefaultOptions, text, home)+"\n"...)
		result = fp
		return out, nil
	})
	return result, err
}

// RemoveByName deletes every line of that NAME; an unknown name is no error.
func (s *Store) RemoveByName(name string) error {
	return s.removeWhere(func(k Key) bool { return k.Name == name })
}

// RemoveByFingerprint deletes every line recorded with that fingerprint.
func (s *Store) RemoveByFingerprint(fp string) error {
	return s.removeWhere(func(k Key) bool { return k.Fingerprint == fp })
}

func (s *Store) removeWhere(match func(Key) bool) error {
	return s.rewrite(func(cur []byte) ([]byte, error) {
		lines := strings.SplitAfter(string(cur), "\n")
		var out strings.Builder
		for _, line := range lines {
			if k, managed, err := ParseLine(line); err == nil && managed && match(k) {
				continue
			}
			out.WriteString(line)
		}
		return []byte(out.String()), nil
	})
}

// rewrite runs edit on the current content under an exclusive lock (so a
// concurrent local command and the server never lose an update) and
// replaces the file atomically with the result.
func (s *Store) rewrite(edit func(cur []byte) ([]byte, error)) error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	lf, err := os.OpenFile(s.path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("key store lock: %w", err)
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("key store lock: %w", err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
	mode := os.FileMode(0o600)
	cur, err := os.ReadFile(s.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", s.path, err)
	}
	if fi, err := os.Stat(s.path); err == nil {
		mode = fi.Mode().Perm()
	}
	next, err := edit(cur)
	if err != nil {
		return err
	}
	if bytes.Equal(next, cur) && cur != nil {
		return nil
	}
	if err := store.WriteFileAtomic(s.path, next, mode); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	return nil
}

// LoadCAKeys reads CA public keys in OpenSSH TrustedUserCAKeys format.
func LoadCAKeys(path string) ([]gossh.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trusted user CA keys: %w", err)
	}
	var out []gossh.PublicKey
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pub, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("trusted user CA keys %s line %d: %w", path, i+1, err)
		}
		out = append(out, pub)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("trusted user CA keys %s: no keys", path)
	}
	return out, nil
}
