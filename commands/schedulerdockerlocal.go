package commands

import (
	"strconv"

	"dokku-sshd/output"
	"dokku-sshd/schedulers/dockerlocal"
	"dokku-sshd/store"
)

// scheduler-docker-local's properties and their computed defaults
// (docs/dokku-behaviour.md#docker-local-deploy); the scheduler reads them at
// each deploy.
var dockerLocalProps = map[string]string{
	"init-process":            dockerlocal.DefaultInitProcess,
	"parallel-schedule-count": strconv.Itoa(dockerlocal.DefaultParallelScheduleCount),
}

func schedulerDockerLocalGroup() *Group {
	report := ReportSpec{
		Command: "scheduler-docker-local:report", Type: "scheduler-docker-local", FlagPrefix: "scheduler-docker-local",
		Legacy: true, BashApp: true,
		App: func(e *Call, app string) (map[string]string, error) {
			return e.propertyFields("scheduler-docker-local", "scheduler-docker-local", app, dockerLocalProps)
		},
		Global: func(e *Call) (map[string]string, error) {
			return e.propertyFields("scheduler-docker-local", "scheduler-docker-local", store.Global, dockerLocalProps)
		},
	}
	set := SetSpec{Plugin: "scheduler-docker-local", Bash: true, Props: []Property{
		// Dokku takes any value; a value the scheduler cannot use is
		// refused here instead of failing the next deploy.
		{Name: "init-process", App: true, Global: true, Validate: func(v string) error {
			if v != "true" && v != "false" {
				return output.Userf("Invalid init-process value specified, valid values include: true, false")
			}
			return nil
		}},
		{Name: "parallel-schedule-count", App: true, Global: true, Validate: func(v string) error {
			if n, err := strconv.Atoi(v); err != nil || n < 1 {
				return output.Userf("Invalid parallel-schedule-count value specified, must be a positive integer")
			}
			return nil
		}},
	}}
	return &Group{
		Name:        "scheduler-docker-local",
		Description: "Manage the docker-local scheduler integration for an app",
		Bash:        true,
		Commands: []*Command{
			{Name: "scheduler-docker-local:report", Args: "[<app>] [<flag>]", Help: "Displays a scheduler-docker-local report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(report, args) }},
			{Name: "scheduler-docker-local:set", Args: "<app> <key> (<value>)", Help: "Set or clear a scheduler-docker-local property for an app",
				Run: func(e *Call, args []string) error { return e.RunSet(set, args) }},
		},
	}
}
