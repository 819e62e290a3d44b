package tui

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Events tells sessions which apps changed, so their lists update at once
// instead of polling. Sources (a scheduler's process events, builds
// starting and ending) call Publish; each session subscribes.
type Events struct {
	Logger *slog.Logger

	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	sources []namedSource
	stop    context.CancelFunc // ends the sources; nil while nobody listens
}

// Source follows something that changes apps (a scheduler's events) and
// calls changed for each app, until ctx ends or it fails.
type Source func(ctx context.Context, changed func(app string)) error

type namedSource struct {
	name string
	run  Source
}

// sourceRetry is the pause before a failed source is started again.
var sourceRetry = 10 * time.Second

// AddSource adds a source of changes. Sources run only while a session
// listens: a server nobody watches does not follow Docker's events or
// hold watches on a cluster.
func (ev *Events) AddSource(name string, src Source) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	ev.sources = append(ev.sources, namedSource{name, src})
}

// Subscription is one session's view of Events: C signals that apps
// changed, Take returns which.
type Subscription struct {
	ev      *Events
	c       chan struct{}
	mu      sync.Mutex
	pending map[string]bool
}

// Publish records that app changed for every subscriber. It never blocks.
func (ev *Events) Publish(app string) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for s := range ev.subs {
		s.mu.Lock()
		s.pending[app] = true
		s.mu.Unlock()
		select {
		case s.c <- struct{}{}:
		default:
		}
	}
}

// Subscribe starts a subscription; Close ends it. The first one starts
// the sources.
func (ev *Events) Subscribe() *Subscription {
	s := &Subscription{ev: ev, c: make(chan struct{}, 1), pending: map[string]bool{}}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.subs == nil {
		ev.subs = map[*Subscription]struct{}{}
	}
	ev.subs[s] = struct{}{}
	if ev.stop == nil && len(ev.sources) > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		ev.stop = cancel
		for _, src := range ev.sources {
			go ev.runSource(ctx, src)
		}
	}
	return s
}

// runSource runs src until ctx ends, starting it again after a failure
// (Docker restarted, a cluster unreachable for a while).
func (ev *Events) runSource(ctx context.Context, src namedSource) {
	log := ev.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for {
		err := src.run(ctx, ev.Publish)
		if ctx.Err() != nil {
			return
		}
		log.Warn("dashboard events source failed; retrying", "source", src.name, "err", err, "retry", sourceRetry)
		select {
		case <-ctx.Done():
			return
		case <-time.After(sourceRetry):
		}
	}
}

// C receives a value when apps changed since the last Take.
func (s *Subscription) C() <-chan struct{} { return s.c }

// Take returns the apps that changed since the last Take, and forgets them.
func (s *Subscription) Take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.pending))
	for app := range s.pending {
		out = append(out, app)
	}
	clear(s.pending)
	return out
}

// Close ends the subscription; the last one stops the sources.
func (s *Subscription) Close() {
	ev := s.ev
	ev.mu.Lock()
	defer ev.mu.Unlock()
	delete(ev.subs, s)
	if len(ev.subs) == 0 && ev.stop != nil {
		ev.stop()
		ev.stop = nil
	}
}
