package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"

	"dokku-sshd/store"
)

// syncBuffer is a bytes.Buffer that Follow writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newTestBuilds(t *testing.T) *Builds {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return NewBuilds(st)
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// Follow of a running build: lines written after it started arrive while
// the build runs, and it returns once the build ends with every byte
// copied, including the last ones written just before the end.
func TestFollow(t *testing.T) {
	for _, tt := range []struct {
		name string
		// lock holds the deploy lock as gitrecv does, so that the record
		// alone (another process's view) says the build runs.
		lock      bool
		otherProc bool
	}{
		{name: "in process"},
		{name: "in process, locked", lock: true},
		{name: "other process", lock: true, otherProc: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBuilds(t)
			var lock *store.DeployLock
			if tt.lock {
				var err error
				if lock, err = b.store.TryDeployLock("app", "test"); err != nil {
					t.Fatal(err)
				}
				defer lock.Release()
			}
			rec, log, _, cancel, err := b.start(t.Context(), "app", "git-hook", "abc")
			if err != nil {
				t.Fatal(err)
			}
			defer cancel()
			fmt.Fprintln(log, "-----> before")
			follower := b
			if tt.otherProc {
				// Another server's Builds over the same store knows the
				// build from its record and lock only.
				follower = NewBuilds(b.store)
			}
			var out syncBuffer
			done := make(chan error, 1)
			go func() { done <- follower.Follow(t.Context(), "app", rec.ID, &out) }()
			waitFor(t, "the first line", func() bool { return out.String() == "-----> before\n" })
			for i := range 3 {
				fmt.Fprintf(log, "line %d\n", i)
				want := fmt.Sprintf("line %d\n", i)
				waitFor(t, want, func() bool { return strings.HasSuffix(out.String(), want) })
			}
			select {
			case err := <-done:
				t.Fatalf("Follow returned while the build runs: %v", err)
			case <-time.After(3 * followPoll):
			}
			fmt.Fprint(log, "last, no newline")
			log.Close()
			b.finish(rec, nil, false)
			lock.Release()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Follow did not return when the build finished")
			}
			if want := "-----> before\nline 0\nline 1\nline 2\nlast, no newline"; out.String() != want {
				t.Fatalf("followed %q, want %q", out.String(), want)
			}
		})
	}
}

// Follow of a finished build copies its log and returns; of no build, it
// says so; a cancelled context ends it while the build runs.
func TestFollowEnds(t *testing.T) {
	b := newTestBuilds(t)
	rec, log, _, cancel, err := b.start(t.Context(), "app", "git-hook", "abc")
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	fmt.Fprintln(log, "output")

	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- b.Follow(ctx, "app", rec.ID, &syncBuffer{}) }()
	time.Sleep(2 * followPoll)
	stop()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled follow: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not end with its context")
	}

	log.Close()
	b.finish(rec, errors.New("boom"), false)
	var out bytes.Buffer
	if err := b.Follow(t.Context(), "app", rec.ID, &out); err != nil || out.String() != "output\n" {
		t.Fatalf("finished build: %q, %v", out.String(), err)
	}
	if err := b.Follow(t.Context(), "app", "nosuch", &out); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no build: %v", err)
	}
}
