package tui

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestEventsPublish(t *testing.T) {
	ev := &Events{}
	a, b := ev.Subscribe(), ev.Subscribe()
	defer b.Close()
	ev.Publish("one")
	ev.Publish("two")
	ev.Publish("one")
	for _, s := range []*Subscription{a, b} {
		select {
		case <-s.C():
		default:
			t.Fatal("a subscriber was not signalled")
		}
		got := s.Take()
		slices.Sort(got)
		if !slices.Equal(got, []string{"one", "two"}) {
			t.Fatalf("Take: %v", got)
		}
		if got := s.Take(); len(got) != 0 {
			t.Fatalf("second Take: %v", got)
		}
	}
	a.Close()
	ev.Publish("three")
	if got := a.Take(); len(got) != 0 {
		t.Fatalf("a closed subscription got %v", got)
	}
}

// Sources run only while someone listens, and a failed one starts again.
func TestEventsSources(t *testing.T) {
	defer func(d time.Duration) { sourceRetry = d }(sourceRetry)
	sourceRetry = 10 * time.Millisecond
	ev := &Events{}
	var starts, running atomic.Int32
	ev.AddSource("test", func(ctx context.Context, changed func(string)) error {
		n := starts.Add(1)
		running.Add(1)
		defer running.Add(-1)
		changed("app")
		if n == 1 {
			return errors.New("first run fails")
		}
		<-ctx.Done()
		return nil
	})
	time.Sleep(20 * time.Millisecond)
	if starts.Load() != 0 {
		t.Fatal("a source ran with no subscriber")
	}
	s := ev.Subscribe()
	waitFor(t, func() bool { return starts.Load() >= 2 && running.Load() == 1 })
	if got := s.Take(); !slices.Equal(got, []string{"app"}) {
		t.Fatalf("Take: %v", got)
	}
	s.Close()
	waitFor(t, func() bool { return running.Load() == 0 })
}

// waitFor waits until cond holds (or fails the test after a long while:
// it stops a hang, it does not time anything).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
