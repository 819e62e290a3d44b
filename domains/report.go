package domains

import (
	"strconv"
	"strings"

	"dokku-sshd/store"
)

// Report returns domains:report's fields for app, or for store.Global only
// the global ones, keyed by flag name without "--": domains-app-enabled,
// domains-app-vhosts (the app's file, even when disabled),
// domains-global-enabled and domains-global-vhosts (empty unless enabled).
// Lists are space-separated.
func Report(st *store.Store, app string) (map[string]string, error) {
	global, err := Global(st)
	if err != nil {
		return nil, err
	}
	genabled := GlobalEnabled(global)
	fields := map[string]string{
		"domains-global-enabled": strconv.FormatBool(genabled),
		"domains-global-vhosts":  "",
	}
	if genabled {
		fields["domains-global-vhosts"] = strings.Join(global, " ")
	}
	if app == store.Global {
		return fields, nil
	}
	on, err := Enabled(st, app)
	if err != nil {
		return nil, err
	}
	own, _, err := Read(st, app)
	if err != nil {
		return nil, err
	}
	fields["domains-app-enabled"] = strconv.FormatBool(on)
	fields["domains-app-vhosts"] = strings.Join(own, " ")
	return fields, nil
}
