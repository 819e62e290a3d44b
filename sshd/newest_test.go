package sshd

import (
	"sync"
	"testing"
)

func TestSendNewest(t *testing.T) {
	for _, tc := range []struct {
		name string
		sent []Window
		want Window
	}{
		{"one", []Window{{80, 24}}, Window{80, 24}},
		{"unread ones replaced", []Window{{80, 24}, {100, 30}, {120, 40}}, Window{120, 40}},
		{"same size twice", []Window{{80, 24}, {80, 24}}, Window{80, 24}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := make(chan Window, 1)
			for _, w := range tc.sent {
				SendNewest(c, w) // returns although nobody reads
			}
			if got := <-c; got != tc.want {
				t.Errorf("read %v, want %v", got, tc.want)
			}
			select {
			case w := <-c:
				t.Errorf("a second value %v is left, want only the newest", w)
			default:
			}
		})
	}
}

// A reader racing the sender gets sizes in the order sent, and the last
// one sent is the last one read: no send blocks, none is read twice.
func TestSendNewestConcurrentReader(t *testing.T) {
	const n = 10000
	c := make(chan int, 1)
	var wg sync.WaitGroup
	last := make(chan int, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		prev := -1
		for v := range c {
			if v <= prev {
				t.Errorf("read %d after %d", v, prev)
			}
			prev = v
		}
		last <- prev
	}()
	for i := range n {
		SendNewest(c, i)
	}
	close(c)
	wg.Wait()
	if got := <-last; got != n-1 {
		t.Errorf("last value read %d, want %d", got, n-1)
	}
}
