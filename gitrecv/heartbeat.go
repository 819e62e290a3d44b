package gitrecv

import (
	"io"
	"sync"
	"time"
)

// heartbeat passes writes through and, while nothing is written for a whole
// interval, writes a progress line itself: clients, proxies and CI runners
// give up on a connection that stays silent through a long build step.
type heartbeat struct {
	mu       sync.Mutex
	w        io.Writer
	last     time.Time
	start    time.Time
	midLine  bool
	done     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

func newHeartbeat(w io.Writer, every time.Duration) *heartbeat {
	now := time.Now()
	h := &heartbeat{w: w, last: now, start: now, done: make(chan struct{})}
	h.wg.Add(1)
	go h.loop(every)
	return h
}

func (h *heartbeat) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = time.Now()
	if len(p) > 0 {
		h.midLine = p[len(p)-1] != '\n'
	}
	return h.w.Write(p)
}

func (h *heartbeat) loop(every time.Duration) {
	defer h.wg.Done()
	t := time.NewTicker(every / 4) // silence never exceeds 1.25 × every
	defer t.Stop()
	for {
		select {
		case <-h.done:
			return
		case now := <-t.C:
			h.mu.Lock()
			if now.Sub(h.last) >= every {
				msg := "       ... still working (" + now.Sub(h.start).Round(time.Second).String() + " elapsed)\n"
				if h.midLine {
					msg = "\n" + msg
				}
				_, _ = h.w.Write([]byte(msg))
				h.last, h.midLine = now, false
			}
			h.mu.Unlock()
		}
	}
}

func (h *heartbeat) stop() {
	h.stopOnce.Do(func() { close(h.done) })
	h.wg.Wait()
}
