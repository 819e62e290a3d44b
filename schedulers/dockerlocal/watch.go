package dockerlocal

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/moby/moby/client"

	"dokku-sshd/schedulers"
)

var _ schedulers.Watcher = (*Scheduler)(nil)

// Watch follows the Engine's events for the containers of every app (the
// app-name label): start, die, stop, destroy, health changes... each one
// is an app that changed.
func (s *Scheduler) Watch(ctx context.Context, changed func(app string)) error {
	res := s.Client.Events(ctx, client.EventsListOptions{
		Filters: make(client.Filters).Add("type", "container").Add("label", labelApp),
	})
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-res.Messages:
			if app := m.Actor.Attributes[labelApp]; app != "" {
				changed(app)
			}
		case err := <-res.Err:
			if ctx.Err() != nil {
				return nil
			}
			if err == nil || errors.Is(err, io.EOF) {
				return errors.New("docker events: the stream ended")
			}
			return fmt.Errorf("docker events: %w", err)
		}
	}
}
