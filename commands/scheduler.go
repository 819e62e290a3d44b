package commands

import (
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// propertyFields fills report fields for each property the usual way:
// <prefix>-<p>, <prefix>-global-<p>, <prefix>-computed-<p>.
func (e *Call) propertyFields(plugin, prefix, app string, props map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for p, def := range props {
		g, err := e.Store.Property(plugin, store.Global, p)
		if err != nil {
			return nil, err
		}
		out[prefix+"-global-"+p] = g
		c, err := e.Store.ComputedProperty(plugin, app, p, def)
		if err != nil {
			return nil, err
		}
		out[prefix+"-computed-"+p] = c
		if app != store.Global {
			v, err := e.Store.Property(plugin, app, p)
			if err != nil {
				return nil, err
			}
			out[prefix+"-"+p] = v
		}
	}
	return out, nil
}

func schedulerGroup() *Group {
	props := map[string]string{"selected": schedulers.Default, "shell": ""}
	report := ReportSpec{
		Command: "scheduler:report", Type: "scheduler", FlagPrefix: "scheduler", Legacy: true,
		App: func(e *Call, app string) (map[string]string, error) {
			return e.propertyFields("scheduler", "scheduler", app, props)
		},
		Global: func(e *Call) (map[string]string, error) {
			return e.propertyFields("scheduler", "scheduler", store.Global, props)
		},
	}
	set := SetSpec{Plugin: "scheduler", Props: []Property{
		{Name: "selected", App: true, Global: true},
		{Name: "shell", App: true, Global: true},
	}}
	return &Group{
		Name:        "scheduler",
		Description: "Manage scheduler settings for an app",
		Commands: []*Command{
			{Name: "scheduler:report", Args: "[<app>] [<flag>]", Help: "Displays a scheduler report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(report, args) }},
			{Name: "scheduler:set", Args: "<app> <property> (<value>)", Help: "Set or clear a scheduler property for an app",
				Run: func(e *Call, args []string) error { return e.RunSet(set, args) }},
		},
	}
}
