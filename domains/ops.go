package domains

import (
	"slices"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// Check refuses the first domain that is not Valid with Dokku's message.
func Check(domains []string) error {
	for _, d := range domains {
		if !Valid(d) {
			return output.Userf("%s is invalid. exiting...", d)
		}
	}
	return nil
}

// Add appends each of add to app's (or, for store.Global, the global)
// domains unless it is there already, in order; added[i] says whether
// add[i] was added (a repeat within add is skipped like one in the file).
// Every domain is checked before anything is written. Adding to an app
// whose domains are disabled enables them.
func Add(st *store.Store, app string, add []string) (added []bool, err error) {
	if err := Check(add); err != nil {
		return nil, err
	}
	err = update(st, app, func(cur []string) ([]string, bool, error) {
		added = make([]bool, len(add))
		for i, d := range add {
			if !slices.Contains(cur, d) {
				cur = append(cur, d)
				added[i] = true
			}
		}
		return cur, true, nil
	})
	if err != nil {
		return nil, err
	}
	return added, enableAfterChange(st, app)
}

// Set replaces app's (or the global) domains with list, after checking
// every one; it enables an app's disabled domains.
func Set(st *store.Store, app string, list []string) error {
	if err := Check(list); err != nil {
		return err
	}
	if err := update(st, app, func([]string) ([]string, bool, error) {
		return list, true, nil
	}); err != nil {
		return err
	}
	return enableAfterChange(st, app)
}

// enableAfterChange enables an app's disabled domains after add or set
// wrote them. Dokku's domains_enable would then overwrite the file with
// the default domains, losing what was just added or set; the domains
// the user gave are kept here.
func enableAfterChange(st *store.Store, app string) error {
	if app == store.Global {
		return nil
	}
	on, err := Enabled(st, app)
	if err != nil || on {
		return err
	}
	return setEnabled(st, app, true)
}

// Remove takes each of rm out of app's (or the global) domains; a domain
// that is not there is no error. The file is left, empty if need be.
func Remove(st *store.Store, app string, rm []string) error {
	return update(st, app, func(cur []string) ([]string, bool, error) {
		return slices.DeleteFunc(cur, func(d string) bool { return slices.Contains(rm, d) }), true, nil
	})
}

// Clear removes app's domains file (domains:clear); for store.Global it
// leaves an empty one (domains:clear-global).
func Clear(st *store.Store, app string) error {
	return update(st, app, func([]string) ([]string, bool, error) {
		return nil, app == store.Global, nil
	})
}

// Enable enables app's domains; already is true when they were. Newly
// enabled domains start as the defaults from the global ones when there
// are any; otherwise whatever the file holds stays.
func Enable(st *store.Store, app string) (already bool, err error) {
	on, err := Enabled(st, app)
	if err != nil || on {
		return on, err
	}
	global, err := Global(st)
	if err != nil {
		return false, err
	}
	if def := Defaults(app, global); len(def) > 0 {
		if err := update(st, app, func([]string) ([]string, bool, error) { return def, true, nil }); err != nil {
			return false, err
		}
	}
	return false, setEnabled(st, app, true)
}

// Disable disables app's domains and removes its domains file; already is
// true when they were disabled.
func Disable(st *store.Store, app string) (already bool, err error) {
	on, err := Enabled(st, app)
	if err != nil || !on {
		return !on, err
	}
	if err := Clear(st, app); err != nil {
		return false, err
	}
	return false, setEnabled(st, app, false)
}

// SetupDefaults gives app the default domains (see Defaults) when it has
// no domains file and a global domain exists; created says whether it
// did. apps:create calls it, holding app's lock (it takes none). Dokku
// also disables the domains of an app created without a global domain
// (NO_VHOST=1 in its config); here such an app keeps its config untouched
// and simply has no domains, which routes the same.
func SetupDefaults(st *store.Store, app string) (created bool, err error) {
	if _, exists, err := Read(st, app); err != nil || exists {
		return false, err
	}
	global, err := Global(st)
	if err != nil {
		return false, err
	}
	def := Defaults(app, global)
	if len(def) == 0 {
		return false, nil
	}
	return true, write(st, app, def)
}

// Reset gives app the default domains again (domains:reset): cleared,
// then the defaults; with no global domain its domains are disabled, as
// Dokku does. defaults says which of the two happened.
func Reset(st *store.Store, app string) (defaults bool, err error) {
	global, err := Global(st)
	if err != nil {
		return false, err
	}
	def := Defaults(app, global)
	if err := update(st, app, func([]string) ([]string, bool, error) {
		return def, len(def) > 0, nil
	}); err != nil {
		return false, err
	}
	if len(def) > 0 {
		return true, nil
	}
	return false, setEnabled(st, app, false)
}

// CloneSetup is apps:clone's part: the new app does not take over the old
// one's domains but gets its own defaults (Dokku's post-app-clone-setup).
// The caller holds the app lock of to: the file is written without it.
func CloneSetup(st *store.Store, to string) error {
	if err := remove(st, to); err != nil {
		return err
	}
	global, err := Global(st)
	if err != nil {
		return err
	}
	if def := Defaults(to, global); len(def) > 0 {
		return write(st, to, def)
	}
	return nil
}

// RenameSetup is apps:rename's part, after the old app's directory was
// copied to to: its default domains follow the new name (Renamed). The
// caller holds the app lock of to.
func RenameSetup(st *store.Store, from, to string) error {
	cur, exists, err := Read(st, to)
	if err != nil || !exists {
		return err
	}
	global, err := Global(st)
	if err != nil {
		return err
	}
	return write(st, to, Renamed(cur, from, to, global))
}
