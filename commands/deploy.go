package commands

import (
	"context"
	"io"
	"strings"

	"dokku-sshd/keys"
	"dokku-sshd/schedulers"
)

// SetConfigFor records config vars for the deploy pipeline (GIT_REV during a
// push), as `config:set --no-restart` would, writing to out.
func (d *Dispatcher) SetConfigFor(ctx context.Context, app string, vars map[string]string, out io.Writer) error {
	e := &Call{Ctx: ctx, IO: IO{Stdin: strings.NewReader(""), Stdout: out, Stderr: out},
		Identity: keys.Identity{Name: "deploy", Local: true}, Store: d.cfg.Store, Keys: d.cfg.Keys, Dispatcher: d}
	return e.SetConfig(app, vars, false)
}

// scheduler returns the scheduler selected for app (app, then --global,
// then docker-local); nil when deploys are not wired or it is not available
// (nothing of the app can be running on it then).
func (e *Call) scheduler(app string) schedulers.Scheduler {
	p := e.Dispatcher.cfg.Pipeline
	if p == nil || p.Schedulers == nil {
		return nil
	}
	name, err := e.ComputedProperty("scheduler", app, "selected", DefaultScheduler)
	if err != nil {
		return nil
	}
	s, err := p.Schedulers.Get(name)
	if err != nil {
		return nil
	}
	return s
}
