package commands

import (
	"dokku-sshd/schedulers"
)

// scheduler returns the scheduler selected for app (app, then --global,
// then docker-local); nil when deploys are not wired or it is not available
// (nothing of the app can be running on it then).
func (e *Call) scheduler(app string) schedulers.Scheduler {
	s, _ := e.appScheduler(app)
	return s
}

// appScheduler returns app's scheduler, or a message saying why there is
// none.
func (e *Call) appScheduler(app string) (schedulers.Scheduler, error) {
	name, err := schedulers.Selected(e.Store, app)
	if err != nil {
		return nil, err
	}
	var reg *schedulers.Registry
	if p := e.Dispatcher.cfg.Pipeline; p != nil {
		reg = p.Schedulers
	}
	return reg.Get(name)
}
