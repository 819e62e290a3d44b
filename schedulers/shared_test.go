package schedulers

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

// hangGuard only stops a hang from blocking the suite; nothing is timed.
const hangGuard = time.Minute

func TestAppLocks(t *testing.T) {
	tests := []struct {
		name string
		// second takes the lock of app2 while the first holds app's; end
		// says how the first one ends: unlock or the waiter's ctx ends.
		app2, end string
		wantErr   error
		wantSaid  string
	}{
		{"other app does not wait", "other", "unlock", nil, ""},
		{"same app waits for the unlock", "app", "unlock", nil, "deploy"},
		{"same app gives up with its ctx", "app", "cancel", context.Canceled, "deploy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l AppLocks
			guard, stop := context.WithTimeout(context.Background(), hangGuard)
			defer stop()
			unlock, err := l.Lock(guard, "app", "deploy")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(guard)
			defer cancel()
			said := make(chan string, 1)
			type result struct {
				unlock func()
				err    error
			}
			done := make(chan result, 1)
			go func() {
				u, err := l.LockOrSay(ctx, tt.app2, "stop", func(holder string) { said <- holder })
				done <- result{u, err}
			}()
			if tt.wantSaid != "" {
				// The waiter said it waits before the first lets go.
				select {
				case h := <-said:
					if h != tt.wantSaid {
						t.Errorf("waiting for %q, want %q", h, tt.wantSaid)
					}
				case <-guard.Done():
					t.Fatal("the waiter never said it waits")
				}
				if tt.end == "cancel" {
					cancel()
				} else {
					unlock()
				}
			}
			var r result
			select {
			case r = <-done:
			case <-guard.Done():
				t.Fatal("the second Lock never returned")
			}
			if !errors.Is(r.err, tt.wantErr) {
				t.Fatalf("second Lock: %v, want %v", r.err, tt.wantErr)
			}
			if r.unlock != nil {
				r.unlock()
				r.unlock() // a second unlock does nothing
			}
			unlock()
			// Nothing is held or awaited: the app is forgotten, and it can be
			// taken again.
			l.mu.Lock()
			n := len(l.apps)
			l.mu.Unlock()
			if n != 0 {
				t.Errorf("%d apps still known after every unlock", n)
			}
			again, err := l.Lock(guard, "app", "deploy")
			if err != nil {
				t.Fatal(err)
			}
			again()
		})
	}
}

func TestLogOut(t *testing.T) {
	var buf bytes.Buffer
	failed := 0
	o := NewLogOut(&buf, func() { failed++ })
	if _, err := o.Write([]byte("one\n")); err != nil || o.Err() != nil {
		t.Fatalf("write: %v, %v", err, o.Err())
	}
	bad := NewLogOut(failWriter{}, func() { failed++ })
	for range 2 {
		if _, err := bad.Write([]byte("x\n")); err == nil {
			t.Error("a failed write returned no error")
		}
	}
	if failed != 1 || bad.Err() == nil || buf.String() != "one\n" {
		t.Errorf("failed called %d times (want 1), Err %v, out %q", failed, bad.Err(), buf.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }
