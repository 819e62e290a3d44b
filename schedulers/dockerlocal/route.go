package dockerlocal

import (
	"context"
	"io"
	"time"

	"github.com/moby/moby/client"
)

// route points the proxy at the web processes this deploy leaves
// running, before any old container retires: the new web containers (a
// deploy of web or of every type), else the web containers that keep
// running. An error (nginx refused the config) fails the deploy; the
// old containers keep serving under the previous config.
func (d *deployment) route(ctx context.Context) error {
	s := d.s
	if s.Router == nil {
		return nil
	}
	var web []string
	if d.r.ProcessType == "" || d.r.ProcessType == "web" {
		for _, n := range d.started {
			if n.Proc == "web" && n.IP != "" {
				web = append(web, n.IP)
			}
		}
	} else {
		var err error
		if web, err = s.runningWeb(ctx, d.app, d.slots); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Once nginx is being switched, the switch ends (a client that goes
	// away cancels the deploy before or after it, not halfway).
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	return s.Router.Route(rctx, d.app, web, d.out)
}

// routeBack points the proxy at the old web containers again, when the
// deploy fails after route switched it to the new ones.
func (d *deployment) routeBack(ctx context.Context) {
	s := d.s
	if s.Router == nil {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	web, err := s.runningWeb(rctx, d.app, d.slots)
	if err == nil {
		err = s.Router.Route(rctx, d.app, web, io.Discard)
	}
	if err != nil {
		s.log().Error("deploy rollback: route the old containers again", "app", d.app, "err", err)
	}
}

// WebAddresses returns the addresses of app's running web containers, from
// its state files; ok is false when app is not deployed on docker-local.
func (s *Scheduler) WebAddresses(ctx context.Context, app string) (web []string, ok bool, err error) {
	slots, err := s.slots(app)
	if err != nil || len(slots) == 0 {
		return nil, false, err
	}
	web, err = s.runningWeb(ctx, app, slots)
	return web, true, err
}

// runningWeb returns the current addresses of the running web containers
// among slots.
func (s *Scheduler) runningWeb(ctx context.Context, app string, slots []slot) ([]string, error) {
	network, err := s.initialNetwork(app)
	if err != nil {
		return nil, err
	}
	var web []string
	for _, sl := range slots {
		if sl.Proc != "web" || sl.ID == "" {
			continue
		}
		res, err := s.Client.ContainerInspect(ctx, sl.ID, client.ContainerInspectOptions{})
		if err != nil || res.Container.State == nil || !res.Container.State.Running {
			continue
		}
		if ip := s.ipAddress(ctx, sl.ID, network); ip != "" {
			web = append(web, ip)
		}
	}
	return web, nil
}

// unrouteStopped tells the proxy app's web processes stopped (ps:stop: 502).
func (s *Scheduler) unrouteStopped(ctx context.Context, app string) error {
	if s.Router == nil {
		return nil
	}
	return s.Router.Route(ctx, app, nil, io.Discard)
}

// DomainsUpdated routes app's new domains at once
// (schedulers.DomainsUpdater).
func (s *Scheduler) DomainsUpdated(ctx context.Context, app string, out io.Writer) error {
	return s.Reroute(ctx, app, out)
}

// Reroute routes app again, under its lock, to the web containers that
// run (domains, ports or nginx settings changed, the server started); an
// app with no state files is left alone.
func (s *Scheduler) Reroute(ctx context.Context, app string, out io.Writer) error {
	if s.Router == nil {
		return nil
	}
	unlock, err := s.locks.Lock(ctx, app, "reroute")
	if err != nil {
		return err
	}
	defer unlock()
	web, ok, err := s.WebAddresses(ctx, app)
	if err != nil || !ok {
		return err
	}
	return s.Router.Route(ctx, app, web, out)
}
