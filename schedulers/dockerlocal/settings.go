package dockerlocal

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"

	"dokku-sshd/appjson"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// property resolves plugin/key for app, then --global, then def (Dokku's
// computed value).
func (s *Scheduler) property(plugin, app, key, def string) string {
	if app != "" && app != store.Global {
		if v, _ := s.Store.Property(plugin, app, key); v != "" {
			return v
		}
	}
	if v, _ := s.Store.Property(plugin, store.Global, key); v != "" {
		return v
	}
	return def
}

func (s *Scheduler) intProperty(plugin, app, key string, def int) int {
	v := s.property(plugin, app, key, "")
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return n
	}
	return def
}

// waitToRetire is checks' computed wait-to-retire (default 60 s).
func (s *Scheduler) waitToRetire(app string) int {
	return s.intProperty("checks", app, "wait-to-retire", 60)
}

// defaultWait is the uptime of the default check: checks --global
// default-wait (default 10 s).
func (s *Scheduler) defaultWait() int {
	return s.intProperty("checks", store.Global, "default-wait", 10)
}

// stopTimeout is ps' computed stop-timeout-seconds (default 30).
func (s *Scheduler) stopTimeout(app string) int {
	return s.intProperty("ps", app, "stop-timeout-seconds", 30)
}

// inList reports whether proc is in app's checks list property
// (comma-separated, or _all_).
func (s *Scheduler) inList(app, key, proc string) bool {
	v, _ := s.Store.Property("checks", app, key)
	if v == "_all_" {
		return true
	}
	for _, p := range strings.Split(v, ",") {
		if strings.TrimSpace(p) == proc {
			return true
		}
	}
	return false
}

// restartPolicy is ps' computed restart-policy (default on-failure:10).
func (s *Scheduler) restartPolicy(app string) (container.RestartPolicy, error) {
	v := s.property("ps", app, "restart-policy", "on-failure:10")
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

// initProcess is scheduler-docker-local's init-process (app, then
// --global; unset: true unless the image is a linuxserver.io one).
func (s *Scheduler) initProcess(app, imageVendor string) bool {
	v := s.property("scheduler-docker-local", app, "init-process", "")
	if v == "" {
		return imageVendor != "linuxserver.io"
	}
	return v == "true"
}

// portMaps returns app's port map: ports map, else map-detected, else
// http:<proxy-port>:5000.
func (s *Scheduler) portMaps(app string) []string {
	for _, key := range []string{"map", "map-detected"} {
		v, _ := s.Store.Property("ports", app, key)
		if f := strings.Fields(v); len(f) > 0 {
			return f
		}
	}
	return []string{"http:" + s.property("proxy", app, "proxy-port", "80") + ":5000"}
}

// webPort is the PORT given to web containers: the container port of the
// first port map whose scheme is not udp ("" when there is none).
func (s *Scheduler) webPort(app string) string {
	for _, m := range s.portMaps(app) {
		parts := strings.SplitN(m, ":", 3)
		if len(parts) == 3 && parts[0] != "udp" {
			return parts[2]
		}
	}
	return ""
}

// formation is one process type and its count.
type formation = schedulers.ProcessCount

// syncScale brings ps' scale property up to date for a release, as Dokku
// does before scheduler-deploy (ps post-release-builder, app-json
// setScale): app.json formation quantities replace the scale and make it
// unscalable by hand; types of the Procfile that are not scaled yet get 0;
// unscaled types that left the Procfile move to scale.old. It returns the
// current scale (ps-current-scale): scale and scale.old, sorted by type.
// No scale at all (an app created elsewhere) means web=1.
func (s *Scheduler) syncScale(app string, aj *appjson.File, procfile map[string]string) ([]formation, error) {
	raw, set, err := s.Store.LookupProperty("ps", app, "scale")
	if err != nil {
		return nil, err
	}
	current, err := schedulers.ParseScale(raw)
	if err != nil {
		return nil, err
	}
	if !set {
		current = []formation{{Proc: "web", Count: 1}}
	}
	var updates []formation
	fromAppJSON := false
	if aj != nil {
		for proc, f := range aj.Formation {
			if f.Quantity != nil {
				updates = append(updates, formation{Proc: proc, Count: *f.Quantity})
			}
		}
		sort.Slice(updates, func(i, j int) bool { return updates[i].Proc < updates[j].Proc })
		fromAppJSON = len(updates) > 0
	}
	if err := s.Store.SetProperty("ps", app, "can-scale", strconv.FormatBool(!fromAppJSON)); err != nil {
		return nil, err
	}
	if fromAppJSON {
		current = nil // ps-set-scale with clear-existing
	}
	seen := map[string]bool{}
	var merged []formation
	for _, f := range append(updates, current...) {
		if seen[f.Proc] {
			continue
		}
		if procfile != nil && procfile[f.Proc] == "" && f.Count != 0 && fromAppJSON {
			return nil, fmt.Errorf("%s is not a valid process name to scale up", f.Proc)
		}
		seen[f.Proc] = true
		merged = append(merged, f)
	}
	var procs []string
	for p := range procfile {
		procs = append(procs, p)
	}
	sort.Strings(procs)
	for _, p := range procs {
		if !seen[p] {
			seen[p] = true
			merged = append(merged, formation{Proc: p, Count: 0})
		}
	}
	var keep, old []formation
	for _, f := range merged {
		if procfile != nil && procfile[f.Proc] == "" && f.Count == 0 {
			old = append(old, f)
			continue
		}
		keep = append(keep, f)
	}
	if err := s.Store.SetProperty("ps", app, "scale.old", schedulers.FormatScale(old)); err != nil {
		return nil, err
	}
	if err := s.Store.SetProperty("ps", app, "scale", schedulers.FormatScale(keep)); err != nil {
		return nil, err
	}
	all := append(keep, old...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Proc < all[j].Proc })
	return all, nil
}
