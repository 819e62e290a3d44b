package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLockFile: one holder at a time; a waiter whose context ends gets the
// context's error, one whose context cannot end waits in flock, and either
// kind takes the lock once it is released.
func TestLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "locks", "app")
	unlock, err := LockFile(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	timeout, cancel2 := context.WithTimeout(context.Background(), 3*lockPoll)
	defer cancel2()
	for _, tt := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"deadline", timeout, context.DeadlineExceeded},
	} {
		if _, err := LockFile(tt.ctx, path); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}

	for _, ctx := range []context.Context{context.Background(), t.Context()} {
		got := make(chan error, 1)
		go func() {
			u, err := LockFile(ctx, path)
			if err == nil {
				u()
			}
			got <- err
		}()
		select {
		case err := <-got:
			t.Fatalf("took a held lock: %v", err)
		case <-time.After(2 * lockPoll):
		}
		unlock()
		if err := <-got; err != nil {
			t.Fatalf("the waiter after unlock: %v", err)
		}
		if unlock, err = LockFile(context.Background(), path); err != nil {
			t.Fatal(err)
		}
	}
	unlock()
}

// TestTryRetireLock: ps:retire's lock is taken without waiting, by one
// holder at a time (flock locks of two open files conflict within a
// process as between processes), also where an app named "retire" has
// its ps data directory.
func TestTryRetireLock(t *testing.T) {
	s, err := New(Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	unlock, ok, err := s.TryRetireLock()
	if err != nil || !ok {
		t.Fatalf("first lock: ok=%v err=%v", ok, err)
	}
	if _, ok, err := s.TryRetireLock(); err != nil || ok {
		t.Fatalf("second lock while held: ok=%v err=%v", ok, err)
	}
	unlock()
	unlock, ok, err = s.TryRetireLock()
	if err != nil || !ok {
		t.Fatalf("lock after release: ok=%v err=%v", ok, err)
	}
	unlock()

	s2, err := New(Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	dir := s2.AppDataDir("ps", "retire")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, ok, err = s2.TryRetireLock()
	if err != nil || !ok {
		t.Fatalf("lock on a directory: ok=%v err=%v", ok, err)
	}
	if _, ok, _ := s2.TryRetireLock(); ok {
		t.Fatal("second lock on a directory while held")
	}
	unlock()
}
