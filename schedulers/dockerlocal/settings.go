package dockerlocal

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// Settings are read with store.ComputedProperty (app, then --global, then
// Dokku's default). A setting that cannot be read fails what needs it;
// only stopping a container does not wait on it: a stop goes ahead with
// the default timeout and logs the error.

// intSetting is a computed setting that must be a non-negative integer;
// any other value is def.
func (s *Scheduler) intSetting(plugin, app, key string, def int) (int, error) {
	v, err := s.Store.ComputedProperty(plugin, app, key, "")
	if err != nil {
		return 0, err
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return n, nil
	}
	return def, nil
}

// The checks plugin's settings when neither the app nor --global sets
// them (checks:report shows wait-to-retire as computed).
const (
	DefaultWaitToRetire = 60 // checks wait-to-retire, seconds
	DefaultDefaultWait  = 10 // checks --global default-wait, seconds
)

// waitToRetire is checks' computed wait-to-retire (DefaultWaitToRetire).
func (s *Scheduler) waitToRetire(app string) (int, error) {
	return s.intSetting("checks", app, "wait-to-retire", DefaultWaitToRetire)
}

// defaultWait is the uptime of the default check: checks --global
// default-wait (DefaultDefaultWait).
func (s *Scheduler) defaultWait() (int, error) {
	return s.intSetting("checks", store.Global, "default-wait", DefaultDefaultWait)
}

// checkAttempts is checks' computed attempts: how many times a
// healthcheck that sets no attempts of its own is tried; 0 (unset, or not
// a positive integer) leaves the healthcheck's default.
func (s *Scheduler) checkAttempts(app string) (int, error) {
	n, err := s.intSetting("checks", app, "attempts", 0)
	if err != nil {
		return 0, fmt.Errorf("read checks attempts of %s: %w", app, err)
	}
	return n, nil
}

// The scheduler's settings when neither the app nor --global sets them
// (ps:report and scheduler-docker-local:report show them as computed).
const (
	DefaultRestartPolicy         = "on-failure:10" // ps restart-policy
	DefaultStopTimeout           = 30              // ps stop-timeout-seconds
	DefaultInitProcess           = "true"          // scheduler-docker-local init-process
	DefaultParallelScheduleCount = 1               // scheduler-docker-local parallel-schedule-count
)

// stopTimeout is ps' computed stop-timeout-seconds. A container
// is stopped whatever happens to the setting: one that cannot be read is
// logged and the default used.
func (s *Scheduler) stopTimeout(app string) int {
	t, err := s.intSetting("ps", app, "stop-timeout-seconds", DefaultStopTimeout)
	if err != nil {
		s.log().Warn("read stop-timeout-seconds, using the default", "app", app, "default", DefaultStopTimeout, "err", err)
		return DefaultStopTimeout
	}
	return t
}

// readSettings reads, before anything starts, the settings every process
// type of the deploy shares.
func (d *deployment) readSettings() (err error) {
	s, app := d.s, d.app
	if d.restart, err = s.restartPolicy(app); err != nil {
		return err
	}
	if d.network, err = s.initialNetwork(app); err != nil {
		return err
	}
	if d.wait, err = s.waitToRetire(app); err != nil {
		return err
	}
	if d.attempts, err = s.checkAttempts(app); err != nil {
		return err
	}
	if d.port, err = s.webPort(app); err != nil {
		return err
	}
	d.parallel, err = s.intSetting("scheduler-docker-local", app, "parallel-schedule-count", DefaultParallelScheduleCount)
	return err
}

// initialNetwork is network's computed initial-network ("" for Docker's
// default).
func (s *Scheduler) initialNetwork(app string) (string, error) {
	return s.Store.ComputedProperty("network", app, "initial-network", "")
}

// inList reports whether proc is in app's checks list property
// (comma-separated, or _all_). An unreadable list is an error: it decides
// whether a deploy checks its containers.
func (s *Scheduler) inList(app, key, proc string) (bool, error) {
	v, err := s.Store.Property("checks", app, key)
	if err != nil {
		return false, fmt.Errorf("read checks %s of %s: %w", key, app, err)
	}
	if v == "_all_" {
		return true, nil
	}
	for _, p := range strings.Split(v, ",") {
		if strings.TrimSpace(p) == proc {
			return true, nil
		}
	}
	return false, nil
}

// restartPolicy is ps' computed restart-policy (default
// DefaultRestartPolicy).
func (s *Scheduler) restartPolicy(app string) (container.RestartPolicy, error) {
	v, err := s.Store.ComputedProperty("ps", app, "restart-policy", DefaultRestartPolicy)
	if err != nil {
		return container.RestartPolicy{}, err
	}
	name, count, hasCount := strings.Cut(v, ":")
	switch container.RestartPolicyMode(name) {
	case container.RestartPolicyDisabled, container.RestartPolicyAlways, container.RestartPolicyUnlessStopped:
		if !hasCount {
			return container.RestartPolicy{Name: container.RestartPolicyMode(name)}, nil
		}
	case container.RestartPolicyOnFailure:
		rp := container.RestartPolicy{Name: container.RestartPolicyOnFailure}
		if !hasCount {
			return rp, nil
		}
		if n, err := strconv.Atoi(count); err == nil && n >= 0 {
			rp.MaximumRetryCount = n
			return rp, nil
		}
	}
	return container.RestartPolicy{}, output.Userf("Invalid restart-policy %q: valid values are no, always, unless-stopped, on-failure and on-failure:N", v)
}

// initProcess is scheduler-docker-local's computed init-process (default
// DefaultInitProcess, except for a linuxserver.io image, which brings an
// init of its own: false).
func (s *Scheduler) initProcess(app, imageVendor string) (bool, error) {
	def := DefaultInitProcess
	if imageVendor == "linuxserver.io" {
		def = "false"
	}
	v, err := s.Store.ComputedProperty("scheduler-docker-local", app, "init-process", def)
	if err != nil {
		return false, err
	}
	return v == "true", nil
}

// portMaps returns app's port map (schedulers.PortMaps).
func (s *Scheduler) portMaps(app string) ([]string, error) {
	return schedulers.PortMaps(s.Store, app)
}

// containerPort is port as a number, else schedulers.DefaultContainerPort.
func containerPort(port string) int {
	if p, err := strconv.Atoi(port); err == nil {
		return p
	}
	return schedulers.DefaultContainerPort
}

// webPort is the PORT given to web containers: the container port of the
// first port map whose scheme is not udp ("" when there is none).
func (s *Scheduler) webPort(app string) (string, error) {
	maps, err := s.portMaps(app)
	if err != nil {
		return "", err
	}
	for _, m := range maps {
		parts := strings.SplitN(m, ":", 3)
		if len(parts) == 3 && parts[0] != "udp" {
			return parts[2], nil
		}
	}
	return "", nil
}
