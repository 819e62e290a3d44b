package commands

import (
	"dokku-sshd/schedulers"
)

// scheduler returns the scheduler selected for app (app, then --global,
// then docker-local); nil when deploys are not wired or it is not available
// (nothing of the app can be running on it then).
func (e *Call) scheduler(app string) schedulers.Scheduler {
	p := e.Dispatcher.cfg.Pipeline
	if p == nil || p.Schedulers == nil {
		return nil
	}
	name, err := schedulers.Selected(e.Store, app)
	if err != nil {
		return nil
	}
	s, err := p.Schedulers.Get(name)
	if err != nil {
		return nil
	}
	return s
}
