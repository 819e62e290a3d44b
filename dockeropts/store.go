package dockeropts

import (
	"fmt"
	"sort"
	"strings"

	"dokku-sshd/store"
)

// The phases options apply to.
const (
	Build  = "build"
	Deploy = "deploy"
	Run    = "run"
)

// Phases are the valid phases, in Dokku's order.
var Phases = []string{Build, Deploy, Run}

// ValidPhase reports whether p is one of Phases.
func ValidPhase(p string) bool {
	for _, v := range Phases {
		if v == p {
			return true
		}
	}
	return false
}

// plugin is the property directory: LibDir/config/docker-options/<app>/.
const plugin = "docker-options"

// defaultScope is the key prefix of options that apply to every process
// type (Dokku's _default_.<phase> property lists).
const defaultScope = "_default_"

func key(phase string) string { return defaultScope + "." + phase }

// Get returns the options stored for app's phase, one option per entry,
// in stored order; blank lines are skipped.
func Get(st *store.Store, app, phase string) ([]string, error) {
	v, _, err := st.LookupProperty(plugin, app, key(phase))
	if err != nil {
		return nil, fmt.Errorf("read docker options of %s for %s: %w", app, phase, err)
	}
	var out []string
	for _, line := range strings.Split(v, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out, nil
}

func put(st *store.Store, app, phase string, options []string) error {
	sort.Strings(options)
	data := ""
	if len(options) > 0 {
		data = strings.Join(options, "\n") + "\n"
	}
	if err := st.SetProperty(plugin, app, key(phase), data); err != nil {
		return fmt.Errorf("write docker options of %s for %s: %w", app, phase, err)
	}
	return nil
}

// Add appends options to each phase's list (kept sorted, as Dokku keeps
// it; a repeated option is stored again).
func Add(st *store.Store, app string, phases, options []string) error {
	return update(st, app, phases, func(cur []string) []string { return append(cur, options...) })
}

// Remove drops every stored option equal to one of options (the same
// text, or the same words) from each phase's list.
func Remove(st *store.Store, app string, phases, options []string) error {
	return update(st, app, phases, func(cur []string) []string {
		var keep []string
		for _, c := range cur {
			drop := false
			for _, o := range options {
				if Same(c, o) {
					drop = true
					break
				}
			}
			if !drop {
				keep = append(keep, c)
			}
		}
		return keep
	})
}

// Clear removes each phase's list.
func Clear(st *store.Store, app string, phases []string) error {
	for _, p := range phases {
		if err := st.DeleteProperty(plugin, app, key(p)); err != nil {
			return fmt.Errorf("clear docker options of %s for %s: %w", app, p, err)
		}
	}
	return nil
}

func update(st *store.Store, app string, phases []string, fn func([]string) []string) error {
	unlock, err := st.AppLock(app)
	if err != nil {
		return err
	}
	defer unlock()
	for _, p := range phases {
		cur, err := Get(st, app, p)
		if err != nil {
			return err
		}
		if err := put(st, app, p, fn(cur)); err != nil {
			return err
		}
	}
	return nil
}

// PhaseWords returns the words of app's options for phase, as docker
// receives them: each stored line split (docs/dokku-behaviour.md#docker-options),
// lines starting with "#" skipped as Dokku skips them.
func PhaseWords(st *store.Store, app, phase string) ([]string, error) {
	lines, err := Get(st, app, phase)
	if err != nil {
		return nil, err
	}
	var words []string
	for _, l := range lines {
		if strings.HasPrefix(l, "#") {
			continue
		}
		w, err := Words(l)
		if err != nil {
			return nil, err
		}
		words = append(words, w...)
	}
	return words, nil
}
