package sshd

import (
	"sync"
	"time"
)

// logLimiter thins out repeated log lines under a flood. Per key (a refusal
// reason, a source address) the first burst lines of each interval are
// written and the rest only counted; when the interval ends, one summary
// line reports how many were held back. The lines of one key over time are
// therefore at most burst+1 per interval, and no attempt goes uncounted.
// Idle, it costs nothing: its timer runs only while some key has a window
// open.
type logLimiter struct {
	burst    int
	interval time.Duration
	// maxKeys bounds the memory a flood from many addresses can take: past
	// it, new keys share the overflow key's window.
	maxKeys int
	// summary writes the line for n held-back lines of key, over the
	// window that began at since. Called without the lock held.
	summary func(key string, n int, since time.Time)

	mu      sync.Mutex
	windows map[string]*logWindow
	timer   *time.Timer
}

type logWindow struct {
	start  time.Time
	logged int
	held   int
}

// overflowKey is the key of everything past maxKeys.
const overflowKey = "*"

func newLogLimiter(burst int, interval time.Duration, maxKeys int, summary func(key string, n int, since time.Time)) *logLimiter {
	return &logLimiter{burst: burst, interval: interval, maxKeys: maxKeys, summary: summary, windows: map[string]*logWindow{}}
}

// set changes the burst and the interval (for tests).
func (l *logLimiter) set(burst int, interval time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.burst, l.interval = burst, interval
}

// allow reports whether a line for key may be written now; false: it was
// counted for the summary instead.
func (l *logLimiter) allow(key string) bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.windows[key]
	if w == nil {
		if len(l.windows) >= l.maxKeys {
			key = overflowKey
			w = l.windows[key]
		}
		if w == nil {
			w = &logWindow{start: now}
			l.windows[key] = w
			if l.timer == nil {
				l.timer = time.AfterFunc(l.interval, l.tick)
			}
		}
	}
	if w.logged < l.burst {
		w.logged++
		return true
	}
	w.held++
	return false
}

// tick closes the windows that are over, writes their summaries, and runs
// again while windows remain open.
func (l *logLimiter) tick() {
	l.flush(time.Now())
}

// flush closes the windows older than an interval at now (every window
// when now is zero) and writes their summaries.
func (l *logLimiter) flush(now time.Time) {
	type held struct {
		key   string
		n     int
		since time.Time
	}
	var out []held
	l.mu.Lock()
	next := l.interval
	for k, w := range l.windows {
		if age := now.Sub(w.start); !now.IsZero() && age < l.interval {
			next = min(next, l.interval-age)
			continue
		}
		if w.held > 0 {
			out = append(out, held{k, w.held, w.start})
		}
		delete(l.windows, k)
	}
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if len(l.windows) > 0 {
		l.timer = time.AfterFunc(max(next, time.Millisecond), l.tick)
	}
	l.mu.Unlock()
	for _, h := range out {
		l.summary(h.key, h.n, h.since)
	}
}
