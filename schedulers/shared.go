package schedulers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
)

// What the schedulers share: the per-app lock that serialises the work on
// one app's processes, the writer that many log streams share, and a
// logger that may be nil.

// AppLocks serialises the work on each app (deploy, stop, destroy, a
// domains change): one holder per app at a time. A waiter gives up when
// its context ends, so that a client that went away leaves nothing parked.
// The zero value is ready to use.
type AppLocks struct {
	mu   sync.Mutex
	apps map[string]*appLock
}

// appLock is one app's lock: a token in a one-slot channel, taken by the
// holder; users counts the holder and the waiters, so that an app nobody
// wants any more is forgotten.
type appLock struct {
	token chan struct{}
	users int
	doing string // what the holder does, for a waiter's message
}

// Lock takes app's lock for doing ("deploy", "stop"...), waiting until it
// is free or ctx ends (then ctx's error). unlock releases it, once.
func (l *AppLocks) Lock(ctx context.Context, app, doing string) (unlock func(), err error) {
	return l.lock(ctx, app, doing, nil)
}

// LockOrSay is Lock that, when it has to wait, first calls waiting with
// what the holder does.
func (l *AppLocks) LockOrSay(ctx context.Context, app, doing string, waiting func(holder string)) (unlock func(), err error) {
	return l.lock(ctx, app, doing, waiting)
}

func (l *AppLocks) lock(ctx context.Context, app, doing string, waiting func(string)) (func(), error) {
	l.mu.Lock()
	if l.apps == nil {
		l.apps = map[string]*appLock{}
	}
	a := l.apps[app]
	if a == nil {
		a = &appLock{token: make(chan struct{}, 1)}
		a.token <- struct{}{}
		l.apps[app] = a
	}
	a.users++
	holder := a.doing
	l.mu.Unlock()

	select {
	case <-a.token:
	default:
		if waiting != nil {
			waiting(holder)
		}
		select {
		case <-a.token:
		case <-ctx.Done():
			l.release(app, a, false)
			return nil, ctx.Err()
		}
	}
	l.mu.Lock()
	a.doing = doing
	l.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { l.release(app, a, true) }) }, nil
}

// release gives a's token back (when held) and forgets a once nobody uses
// it.
func (l *AppLocks) release(app string, a *appLock, held bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if held {
		a.doing = ""
		a.token <- struct{}{}
	}
	a.users--
	if a.users == 0 {
		delete(l.apps, app)
	}
}

// LogOut is the writer shared by the log streams of many processes: one
// Write is one or more whole lines, so lines of different processes never
// mix. The first failed write (the client is gone) calls failed, and every
// later write fails at once with its error.
type LogOut struct {
	mu     sync.Mutex
	w      io.Writer
	err    error
	failed func()
}

// NewLogOut returns a LogOut onto w; failed (not nil) is called once, on
// the first failed write.
func NewLogOut(w io.Writer, failed func()) *LogOut {
	return &LogOut{w: w, failed: failed}
}

// Write writes p whole, or fails with the first write error.
func (o *LogOut) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err != nil {
		return 0, o.err
	}
	n, err := o.w.Write(p)
	if err != nil {
		o.err = fmt.Errorf("write logs: %w", err)
		o.failed()
		return n, o.err
	}
	return n, nil
}

// Err is the first write error, nil when every write went through.
func (o *LogOut) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// Logger is l, or a logger that discards everything when l is nil (a
// scheduler made without one).
func Logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
