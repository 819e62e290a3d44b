package schedulers

import (
	"context"
	"errors"
	"testing"

	"dokku-sshd/store"
)

// TestLockRelease: one release of an app at a time; a waiter gives up
// when its context ends, saying why; other apps are not held up.
func TestLockRelease(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := LockRelease(context.Background(), st, "app")
	if err != nil {
		t.Fatal(err)
	}
	other, err := LockRelease(context.Background(), st, "app2")
	if err != nil {
		t.Fatalf("another app waits: %v", err)
	}
	other()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LockRelease(ctx, st, "app"); !errors.Is(err, context.Canceled) || err.Error() == "" {
		t.Fatalf("waiting with a cancelled context: %v", err)
	}

	got := make(chan error, 1)
	go func() {
		u, err := LockRelease(context.Background(), st, "app")
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("the waiter after unlock: %v", err)
	}
}
