package keys

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"dokku-sshd/output"
	"dokku-sshd/store"

	gossh "golang.org/x/crypto/ssh"
)

// Store is the key store over one authorized_keys file in sshcommand's
// format. Lookups re-read the file when it changed (whoever wrote it: this
// server, a local dokku-sshd, sshcommand, an editor), so no restart is ever
// needed. Edits (Add, Remove*) hold an flock on <path>.lock and re-read the
// file under it, so a concurrent local command and the server never lose
// each other's update. The file is shared with programs that take no lock
// (sshcommand appends with `>>`): Add therefore appends its line, and only
// a removal replaces the file, carrying over whatever was appended to the
// old file, also after the rename, until no one has it open (see
// removeWhere).
type Store struct {
	path   string
	admins map[string]bool

	mu     sync.Mutex
	loaded bool
	stamp  fileStamp
	racy   bool              // the file changed too recently to trust an equal stamp
	byKey  map[string]string // key wire bytes -> NAME of the first line that authorizes it
}

// fileStamp identifies one version of the file: a rename changes dev/ino,
// an edit in place changes size or mtime.
type fileStamp struct {
	dev, ino uint64
	size     int64
	mtime    int64 // ns
}

func stampOf(fi os.FileInfo) fileStamp {
	st := fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.dev, st.ino = uint64(sys.Dev), uint64(sys.Ino)
	}
	return st
}

// racyWindow: file timestamps come from a coarse kernel clock, so two edits
// in place of equal size within one tick can carry the same mtime. A file
// whose mtime is this close to the time it was read is re-read on the next
// lookup (as git does with its index).
const racyWindow = 2 * time.Second

// Open returns the key store for path (authorized_keys, which need not exist
// yet). Keys whose name is in adminNames may run root-only commands.
func Open(path string, adminNames []string) *Store {
	s := &Store{path: path, admins: map[string]bool{}}
	for _, n := range adminNames {
		if n != "" {
			s.admins[n] = true
		}
	}
	return s
}

// Path is the authorized_keys file.
func (s *Store) Path() string { return s.path }

// IsAdmin reports whether a key or certificate name has the admin role. The
// empty name (keys added by hand, without sshcommand's NAME) never has.
func (s *Store) IsAdmin(name string) bool { return name != "" && s.admins[name] }

// LookupKey returns the identity of a key that may log in. The first line
// that authorizes the key wins, as in sshd. Which lines authorize, and with
// what name, is described at line.authorizes: sshcommand lines as their NAME,
// plain lines added by hand with the empty name (never admin), lines with a
// restriction this server cannot enforce (from=, a foreign command=, ...)
// not at all. Invalid lines are skipped, as sshd skips them.
//
// The parsed file is cached and re-read only when its (dev, inode, size,
// mtime) changed, so a lookup costs one stat(2) and a map access. Any error
// reading the file denies.
func (s *Store) LookupKey(key gossh.PublicKey) (Identity, bool) {
	if key == nil {
		return Identity{}, false
	}
	s.mu.Lock()
	byKey := s.current()
	s.mu.Unlock()
	name, ok := byKey[string(key.Marshal())]
	if !ok {
		return Identity{}, false
	}
	return Identity{Name: name, Fingerprint: gossh.FingerprintSHA256(key), Admin: s.IsAdmin(name)}, true
}

// current returns the index of the file as it is now; s.mu is held.
func (s *Store) current() map[string]string {
	fi, err := os.Stat(s.path)
	if err != nil {
		s.loaded, s.byKey = false, nil
		return nil
	}
	if s.loaded && !s.racy && stampOf(fi) == s.stamp {
		return s.byKey
	}
	f, err := os.Open(s.path)
	if err != nil {
		s.loaded, s.byKey = false, nil
		return nil
	}
	defer f.Close()
	// Stamp the version read: from the open file, before reading, so a
	// change during the read shows as a different stamp next time.
	fi, err = f.Stat()
	if err != nil {
		s.loaded, s.byKey = false, nil
		return nil
	}
	b, err := io.ReadAll(f)
	if err != nil {
		s.loaded, s.byKey = false, nil
		return nil
	}
	s.byKey, s.stamp, s.loaded = index(b), stampOf(fi), true
	s.racy = time.Since(fi.ModTime()) < racyWindow
	return s.byKey
}

// index maps every key that may log in to the name of its first line.
func index(b []byte) map[string]string {
	m := map[string]string{}
	for _, raw := range strings.Split(string(b), "\n") {
		l, skip, err := parseLine(raw)
		if err != nil || skip {
			continue
		}
		name, ok := l.authorizes()
		if !ok {
			continue
		}
		kb := string(l.pub.Marshal())
		if _, seen := m[kb]; !seen {
			m[kb] = name
		}
	}
	return m
}

// List returns the sshcommand-managed keys in file order (with Line set).
// Other lines (comments, keys added by hand, invalid lines) are skipped, as
// `sshcommand list` skips them. A missing file is an empty list.
func (s *Store) List() ([]Key, error) {
	b, err := readSettled(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.path, err)
	}
	var out []Key
	for i, raw := range strings.Split(string(b), "\n") {
		if k, ok, err := ParseLine(raw); err == nil && ok {
			k.Line = i + 1
			out = append(out, k)
		}
	}
	return out, nil
}

// Validate checks every non-blank, non-# line as `ssh-keygen -lf` does and
// returns a *LineError, marked as a message for the client, for the first
// bad one ("<path> line <n> failed ssh-keygen check."). A missing file is
// an error (errors.Is fs.ErrNotExist); an empty one is valid. Like List,
// it reads the file settled, so a key being appended is not a bad line.
func (s *Store) Validate() error {
	b, err := readSettled(s.path)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.path, err)
	}
	return validate(s.path, b)
}

func validate(path string, b []byte) error {
	for i, raw := range strings.Split(string(b), "\n") {
		if _, _, err := parseLine(raw); err != nil {
			return output.UserError(&LineError{Path: path, Line: i + 1})
		}
	}
	return nil
}

// ValidName reports whether Add accepts name: not empty, and nothing that
// would break the line or be expanded by the shell OpenSSH runs the forced
// command with (NAME=\"<name>\" becomes NAME="<name>" there): no double
// quote, backslash, backtick, dollar sign or control character.
func ValidName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || strings.ContainsRune("\"\\`$", r) {
			return false
		}
	}
	return true
}

// parseNewKey checks the key text given to ssh-keys:add, in Dokku's order:
// empty, more than one key, not a key, then what this server refuses. Blank
// lines around the key (a trailing newline) are ignored; two key lines are
// refused whether they came from a file or a pipe.
func parseNewKey(text []byte) (line, error) {
	var lines []string
	for _, l := range strings.Split(string(text), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	switch {
	case len(lines) == 0:
		return line{}, ErrEmptyKey
	case len(lines) > 1:
		return line{}, ErrTooManyKeys
	}
	l, skip, err := parseLine(lines[0])
	if err != nil || skip {
		return line{}, ErrInvalidKey
	}
	switch pub := l.pub.(type) {
	case *gossh.Certificate:
		return line{}, ErrUnsupportedKey
	case gossh.CryptoPublicKey:
		if rk, ok := pub.CryptoPublicKey().(*rsa.PublicKey); ok && rk.N.BitLen() < 1024 {
			return line{}, ErrUnsupportedKey
		}
	}
	if l.pub.Type() == "ssh-dss" {
		return line{}, ErrUnsupportedKey
	}
	return l, nil
}

// Add validates everything, then appends sshcommand's line for the key
// (FormatLine with DefaultOptions and the SHA256 fingerprint) and returns
// the fingerprint. Checks, in order (the first failing one is returned):
//
//	keyText nil                                   ErrNoKey
//	no non-blank line                             ErrEmptyKey
//	more than one non-blank line                  ErrTooManyKeys
//	not a public key line                         ErrInvalidKey
//	certificate, DSA, RSA < 1024 bits             ErrUnsupportedKey
//	name refused by ValidName                     ErrBadName
//	-- under the lock, on the current file --
//	some line of the file is invalid              *LineError (nothing is written)
//	a line already has that NAME                  ErrDuplicateName
//	the key text carries options                  ErrKeyOptions
//	the key or its fingerprint is already present ErrDuplicateKey
//
// The file keeps its mode (a new one gets 0600) and, when run as root, its
// owner (a new file gets its directory's owner).
func (s *Store) Add(name string, keyText []byte) (string, error) {
	if keyText == nil {
		return "", ErrNoKey
	}
	nk, err := parseNewKey(keyText)
	if err != nil {
		return "", err
	}
	if !ValidName(name) {
		return "", ErrBadName
	}
	fp := gossh.FingerprintSHA256(nk.pub)
	want := nk.pub.Marshal()
	err = s.appendLine(func(cur []byte) (string, error) {
		if err := validate(s.path, cur); err != nil {
			return "", err
		}
		lines := strings.Split(string(cur), "\n")
		quotedName := `NAME=\"` + name + `\"`
		for _, raw := range lines {
			l, skip, _ := parseLine(raw)
			if skip {
				continue
			}
			// sshcommand greps the file for NAME=\"<name>\"; a legacy
			// unquoted NAME=<name> is the same name too.
			if strings.Contains(raw, quotedName) || (l.managed && l.name == name) {
				return "", ErrDuplicateName
			}
		}
		if nk.optField != "" {
			return "", ErrKeyOptions
		}
		for _, raw := range lines {
			l, skip, err := parseLine(raw)
			if skip || err != nil { // validated above; never nil-deref l.pub
				continue
			}
			// sshcommand greps for the fingerprint; the key itself on any
			// line (also a hand-added one, which would shadow ours) counts.
			if strings.Contains(raw, fp) || bytes.Equal(l.pub.Marshal(), want) {
				return "", ErrDuplicateKey
			}
		}
		home := filepath.Dir(filepath.Dir(s.path))
		return FormatLine(name, fp, DefaultOptions, nk.text, home), nil
	})
	if err != nil {
		return "", err
	}
	return fp, nil
}

// RemoveByName deletes every sshcommand line with that NAME (quoted or
// legacy unquoted). An unknown or empty name is no error and writes nothing.
func (s *Store) RemoveByName(name string) error {
	if name == "" {
		return nil
	}
	return s.removeWhere(func(k Key) bool { return k.Name == name })
}

// RemoveByFingerprint deletes every sshcommand line whose recorded
// FINGERPRINT is fp, or whose key has fp as its SHA256 or MD5 fingerprint
// (so a line written with a legacy MD5 fingerprint can be removed by the
// SHA256 one ssh-keygen prints today, and vice versa). Unknown: no error.
func (s *Store) RemoveByFingerprint(fp string) error {
	if fp == "" {
		return nil
	}
	return s.removeWhere(func(k Key) bool {
		md5 := gossh.FingerprintLegacyMD5(k.PublicKey)
		return k.Fingerprint == fp || gossh.FingerprintSHA256(k.PublicKey) == fp || md5 == fp || "MD5:"+md5 == fp
	})
}

// removeWhere drops the managed lines that match; every other byte of the
// file stays as it was. The new content goes to a temporary file renamed
// over the old one (readers never see half a file). Programs that append
// without the lock (sshcommand's `>>`) may write to the old file until the
// rename, and after it as long as they keep open a descriptor they opened
// before: what they appended is read from the old file right before the
// rename, and after it once no one has the old file open any more (see
// carryOver), and kept.
func (s *Store) removeWhere(match func(Key) bool) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()

	target := s.target()
	old, err := os.Open(target)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing to remove
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", s.path, err)
	}
	defer old.Close()
	fi, err := old.Stat()
	if err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	cur, err := io.ReadAll(old) // leaves old's offset at the end read
	if err != nil {
		return fmt.Errorf("read %s: %w", s.path, err)
	}
	var next bytes.Buffer
	for _, raw := range strings.SplitAfter(string(cur), "\n") {
		if k, ok, err := ParseLine(raw); err == nil && ok && match(k) {
			continue
		}
		next.WriteString(raw)
	}
	if bytes.Equal(next.Bytes(), cur) {
		return nil
	}

	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	renamed := false
	defer func() {
		if !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(fi.Mode().Perm()); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	// Run as root (a local `dokku-sshd ssh-keys:remove`), the new file
	// would be root's and unreadable to a server running as the dokku user.
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		if err := tmp.Chown(int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("key store: %w", err)
		}
	}
	if _, err := tmp.Write(next.Bytes()); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	// Re-read right before the rename: lines appended since the first read.
	if _, err := io.Copy(tmp, old); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	renamed = true
	if err := carryOver(old, target); err != nil {
		return fmt.Errorf("key store: carry over lines appended during the removal: %w", err)
	}
	_ = store.SyncDir(filepath.Dir(target))
	return nil
}

// leaseTimeout bounds how long a removal waits for others to close the file
// it replaced (an appender holds it for microseconds; a pager or `tail -f`
// may hold it for hours).
var leaseTimeout = 5 * time.Second

// carryOver appends to the new file at target what was appended to old, the
// file just replaced, after old's offset (the last read). A writer that
// opened old before the rename can write to it until it closes it, so the
// rest of old is read only once no descriptor of it is open anywhere: a
// write lease on old is granted just then (waitUnheld), and no one can open
// old again since its name is gone. old must be this process's only
// descriptor of the file: the store keeps none open between calls, and its
// lookups close theirs when done (a lookup racing this only delays the
// lease). Where leases are not available, or old stays open beyond
// leaseTimeout, old is read at once, and a line written to it later by an
// appender that opened it before the rename is lost; a warning says so.
func carryOver(old *os.File, target string) error {
	release, err := waitUnheld(old, leaseTimeout)
	if err != nil {
		slog.Warn("key store: could not wait for appenders to close the replaced authorized_keys; a line they append to it from now on is lost", "err", err)
	} else {
		defer release()
	}
	late, err := io.ReadAll(old)
	if err != nil || len(late) == 0 {
		return err
	}
	return appendBytes(target, late)
}

// target is the file the key file's path names: a symlinked
// authorized_keys is written through, so that it stays a symlink.
func (s *Store) target() string {
	if t, err := filepath.EvalSymlinks(s.path); err == nil {
		return t
	}
	return s.path
}

// appendLine runs check on the current content (nil when the file does not
// exist) under the lock and appends the line it returns, in one write to
// the end of the file: lines others append meanwhile, with or without the
// lock, all stay. A new file gets mode 0600 and, when run as root, its
// directory's owner.
func (s *Store) appendLine(check func(cur []byte) (string, error)) error {
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()

	target := s.target()
	cur, err := readSettled(target)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", s.path, err)
	}
	line, err := check(cur)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(target, os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	created := err == nil
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(target, os.O_RDWR|os.O_APPEND, 0)
	}
	if err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	defer f.Close()
	if created && os.Geteuid() == 0 {
		if uid, gid, ok := ownerOf(filepath.Dir(target)); ok {
			if err := f.Chown(uid, gid); err != nil {
				return fmt.Errorf("key store: %w", err)
			}
		}
	}
	if err := appendTo(f, []byte(line+"\n")); err != nil {
		return fmt.Errorf("key store: %w", err)
	}
	if created {
		_ = store.SyncDir(filepath.Dir(target))
	}
	return nil
}

// readSettled reads path; content that ends inside a line that does not
// parse is read again a few times first: a lockless writer (sshcommand's
// >>) may be in the middle of its append, and its half line would fail
// the file's check. A complete last line without its newline (a file
// edited by hand) is taken at once; one that stays broken is returned as
// it is.
func readSettled(path string) ([]byte, error) {
	cur, err := os.ReadFile(path)
	for i := 0; err == nil && i < settleTries && halfLine(cur); i++ {
		time.Sleep(settleWait)
		cur, err = os.ReadFile(path)
	}
	return cur, err
}

// halfLine reports whether b ends inside a line that does not parse.
func halfLine(b []byte) bool {
	if len(b) == 0 || b[len(b)-1] == '\n' {
		return false
	}
	last := b[bytes.LastIndexByte(b, '\n')+1:]
	_, _, err := parseLine(string(last))
	return err != nil
}

const (
	settleTries = 25
	settleWait  = 4 * time.Millisecond
)

// appendBytes appends b to the file at path as it is: b continues what the
// file holds (the carried-over tail of the old file).
func appendBytes(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return err
	}
	return f.Sync()
}

// appendTo writes b at the end of f (opened O_RDWR|O_APPEND) in one write,
// on a line of its own when the file ends without a newline (an edit by
// hand), and syncs it.
func appendTo(f *os.File, b []byte) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if n := fi.Size(); n > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, n-1); err != nil {
			return err
		}
		if last[0] != '\n' {
			b = append([]byte{'\n'}, b...)
		}
	}
	if _, err := f.Write(b); err != nil {
		return err
	}
	return f.Sync()
}

// lock takes the exclusive flock on <path>.lock, creating the directory and
// the lock file when needed.
func (s *Store) lock() (unlock func(), err error) {
	dir := filepath.Dir(s.path)
	if err := mkdirOwned(dir); err != nil {
		return nil, fmt.Errorf("key store: %w", err)
	}
	name := s.path + ".lock"
	_, statErr := os.Stat(name)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrPermission) {
		f, err = os.Open(name) // flock works on a read-only descriptor too
	}
	if err != nil {
		return nil, fmt.Errorf("key store lock: %w", err)
	}
	if errors.Is(statErr, fs.ErrNotExist) && os.Geteuid() == 0 {
		if uid, gid, ok := ownerOf(dir); ok {
			_ = f.Chown(uid, gid) // best effort: a lock file only
		}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("key store lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// mkdirOwned creates dir (mode 0700) and, when run as root, gives the
// directories it created the owner of the nearest existing ancestor.
func mkdirOwned(dir string) error {
	var created []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		created = append(created, d)
	}
	if len(created) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid, ok := ownerOf(filepath.Dir(created[len(created)-1]))
	if !ok {
		return nil
	}
	for _, d := range created {
		if err := os.Chown(d, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

func ownerOf(path string) (uid, gid int, ok bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}
