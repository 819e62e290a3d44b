package tui

import "sync"

// Events tells sessions which apps changed, so their lists update at once
// instead of polling. Sources (a scheduler's process events, builds
// starting and ending) call Publish; each session subscribes.
type Events struct {
	mu   sync.Mutex
	subs map[*Subscription]struct{}
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

// Subscribe starts a subscription; Close ends it.
func (ev *Events) Subscribe() *Subscription {
	s := &Subscription{ev: ev, c: make(chan struct{}, 1), pending: map[string]bool{}}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.subs == nil {
		ev.subs = map[*Subscription]struct{}{}
	}
	ev.subs[s] = struct{}{}
	return s
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

// Close ends the subscription.
func (s *Subscription) Close() {
	s.ev.mu.Lock()
	defer s.ev.mu.Unlock()
	delete(s.ev.subs, s)
}
