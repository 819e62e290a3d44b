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

// watchEvents are the container events that change what an app runs.
// Not exec_*: every health check and enter makes some, and each would
// reload the dashboards' view of the app.
var watchEvents = []string{"create", "start", "restart", "die", "kill", "oom", "stop", "destroy", "pause", "unpause", "rename", "health_status"}

// Watch follows the Engine's events for the containers of every app (the
// app-name label): each one is an app that changed.
func (s *Scheduler) Watch(ctx context.Context, changed func(app string)) error {
	f := make(client.Filters).Add("type", "container").Add("label", labelApp)
	for _, ev := range watchEvents {
		f = f.Add("event", ev)
	}
	res := s.Client.Events(ctx, client.EventsListOptions{Filters: f})
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
