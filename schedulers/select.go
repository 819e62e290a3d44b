package schedulers

import "dokku-sshd/store"

// Default is the scheduler of an app when neither the app nor --global
// selects one.
const Default = "docker-local"

// Selected is the name of app's scheduler: scheduler:set's selected
// property (app, then --global), else Default. An unreadable property is an
// error, not the default (see store.ComputedProperty).
func Selected(st *store.Store, app string) (string, error) {
	return st.ComputedProperty("scheduler", app, "selected", Default)
}
