package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Deploy locks are flock(2) locks on LibDir/data/apps/<app>/.deploy.lock, as
// in Dokku, so they die with the process that holds them: a server killed
// mid-deploy leaves no lock that blocks the next push. The file is never
// deleted (deleting a flock file races with the next locker); it is
// truncated on release and holds the holder's description while locked.
//
// apps:lock is a separate, explicit marker (.deploy.lock.manual) that blocks
// deploys until apps:unlock, which is what Dokku documents for apps:lock.

// ErrDeployLocked is returned when a deploy is running or the app is locked.
var ErrDeployLocked = errors.New("deploy lock in place")

func (s *Store) lockDir(app string) string { return s.AppDataDir("apps", app) }

func (s *Store) deployLockPath(app string) string {
	return filepath.Join(s.lockDir(app), ".deploy.lock")
}

func (s *Store) manualLockPath(app string) string {
	return filepath.Join(s.lockDir(app), ".deploy.lock.manual")
}

// DeployLock is a held deploy lock.
type DeployLock struct{ f *os.File }

// Release truncates the lock file and drops the lock.
func (l *DeployLock) Release() {
	if l == nil || l.f == nil {
		return
	}
	_ = l.f.Truncate(0)
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
}

// TryDeployLock takes app's deploy lock without waiting. It fails with
// ErrDeployLocked when another deploy holds it or apps:lock is in place.
func (s *Store) TryDeployLock(app, holder string) (*DeployLock, error) {
	l, err := s.TryRepoLock(app, holder)
	if err != nil {
		return nil, err
	}
	if s.ManuallyLocked(app) {
		l.Release()
		return nil, ErrDeployLocked
	}
	return l, nil
}

// TryRepoLock takes app's deploy lock without waiting and without looking
// at apps:lock: for upkeep that must never run during a deploy but is no
// deploy itself (the start-up sweep of a killed server's leftovers). It
// fails with ErrDeployLocked when another process holds the lock.
func (s *Store) TryRepoLock(app, holder string) (*DeployLock, error) {
	if err := os.MkdirAll(s.lockDir(app), 0o755); err != nil {
		return nil, fmt.Errorf("deploy lock %s: %w", app, err)
	}
	f, err := os.OpenFile(s.deployLockPath(app), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("deploy lock %s: %w", app, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrDeployLocked
		}
		return nil, fmt.Errorf("deploy lock %s: %w", app, err)
	}
	l := &DeployLock{f: f}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(holder+"\n"), 0)
	return l, nil
}

// DeployRunning reports whether some process holds app's deploy lock.
func (s *Store) DeployRunning(app string) bool {
	f, err := os.Open(s.deployLockPath(app))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return true
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// DeployLockHolder returns what the running deploy wrote into its lock file.
func (s *Store) DeployLockHolder(app string) string {
	b, _ := os.ReadFile(s.deployLockPath(app))
	return strings.TrimSpace(string(b))
}

// ManuallyLocked reports whether apps:lock is in place.
func (s *Store) ManuallyLocked(app string) bool {
	_, err := os.Stat(s.manualLockPath(app))
	return err == nil
}

// Locked is what apps:locked and apps:report --app-locked show: a manual
// lock or a running deploy.
func (s *Store) Locked(app string) bool {
	return s.ManuallyLocked(app) || s.DeployRunning(app)
}

// SetManualLock creates (on) or removes (off) the apps:lock marker.
func (s *Store) SetManualLock(app string, on bool) error {
	if !on {
		err := os.Remove(s.manualLockPath(app))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove deploy lock %s: %w", app, err)
		}
		return nil
	}
	if err := os.MkdirAll(s.lockDir(app), 0o755); err != nil {
		return fmt.Errorf("create deploy lock %s: %w", app, err)
	}
	if err := WriteFileAtomic(s.manualLockPath(app), []byte("apps:lock\n"), 0o644); err != nil {
		return fmt.Errorf("create deploy lock %s: %w", app, err)
	}
	return nil
}

// AppLock serialises short state changes of one app (create, rename, clone,
// destroy, property writes that read-modify-write) across processes: the
// server and a local `dokku-sshd COMMAND` may run at once. It blocks.
func (s *Store) AppLock(app string) (unlock func(), err error) {
	// Callers check names first; this keeps a name no app can have from
	// ever reaching a path (and a path from reaching a client's message).
	if app != Global && (!ValidAppName(app) || len(app) > maxExistingAppName) {
		return nil, fmt.Errorf("app lock: invalid app name")
	}
	unlock, err = LockFile(context.Background(), filepath.Join(s.Paths.LibDir, "data", "apps", ".locks", app))
	if err != nil {
		return nil, fmt.Errorf("app lock %s: %w", app, err)
	}
	return unlock, nil
}

// LockFile takes the exclusive flock(2) lock of the file at path (created,
// with its directory, when missing), which dies with the process. It waits
// until the lock is free or ctx ends, and then returns ctx's error as is;
// with a ctx that never ends it waits in flock itself.
func LockFile(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := waitFlock(ctx, f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// lockPoll is how often LockFile tries again a lock it waits for with a ctx
// that can end (flock itself cannot be cancelled).
const lockPoll = 100 * time.Millisecond

func waitFlock(ctx context.Context, f *os.File) error {
	if ctx.Done() == nil {
		return syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(lockPoll):
		}
	}
}

// TryRetireLock takes ps:retire's lock, LibDir/data/ps/retire as in
// Dokku, without waiting: ok is false when another retirement (ps:retire,
// the server's retirement loop) holds it. The lock dies with the process.
func (s *Store) TryRetireLock() (unlock func(), ok bool, err error) {
	return TryLockFile(filepath.Join(s.Paths.LibDir, "data", "ps", "retire"))
}

// TryLockFile takes the exclusive flock(2) lock of the file at path
// (created, with its directory, when missing) without waiting: ok is
// false when someone else holds it. A directory at path (an app named
// like the file has its data directory there) is locked as it is.
func TryLockFile(path string) (unlock func(), ok bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if errors.Is(err, syscall.EISDIR) {
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, false, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, true, nil
}
