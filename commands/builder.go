package commands

import (
	"dokku-sshd/output"
	"dokku-sshd/store"
)

// Builders this server can run. An empty selection means auto-detection at
// build time (a Dockerfile in the pushed tree selects dockerfile).
var Builders = []string{"dockerfile", "null"}

func validBuilder(v string) error {
	for _, b := range Builders {
		if v == b {
			return nil
		}
	}
	return output.Userf("Invalid builder specified, valid builders: dockerfile, null")
}

func builderGroup() *Group {
	props := map[string]string{"selected": "", "build-dir": ""}
	report := ReportSpec{
		Command: "builder:report", Type: "builder", FlagPrefix: "builder", Legacy: true,
		App: func(e *Call, app string) (map[string]string, error) {
			return e.propertyFields("builder", "builder", app, props)
		},
		Global: func(e *Call) (map[string]string, error) {
			return e.propertyFields("builder", "builder", store.Global, props)
		},
	}
	set := SetSpec{Plugin: "builder", Props: []Property{
		{Name: "build-dir", App: true, Global: true},
		{Name: "selected", App: true, Global: true, Validate: validBuilder},
	}}
	return &Group{
		Name:        "builder",
		Description: "Manage builder settings for an app",
		Commands: []*Command{
			{Name: "builder:report", Args: "[<app>] [<flag>]", Help: "Displays a builder report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(report, args) }},
			{Name: "builder:set", Args: "<app> <property> (<value>)", Help: "Set or clear a builder property for an app",
				Run: func(e *Call, args []string) error { return e.RunSet(set, args) }},
		},
	}
}
