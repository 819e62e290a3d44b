package commands

import (
	"strings"

	"dokku-sshd/dockeropts"
	"dokku-sshd/output"
	"dokku-sshd/store"
)

// docker-options (docs/dokku-behaviour.md#docker-options): options an app
// adds to docker for its build, deploy and run phases.

func dockerOptionsGroup() *Group {
	report := ReportSpec{
		Command: "docker-options:report", Type: "docker-options", FlagPrefix: "docker-options", Legacy: true,
		App: func(e *Call, app string) (map[string]string, error) {
			fields := map[string]string{}
			for _, p := range dockeropts.Phases {
				opts, err := dockeropts.Get(e.Store, app, p)
				if err != nil {
					return nil, err
				}
				fields["docker-options-"+p] = strings.Join(opts, " ")
			}
			return fields, nil
		},
		Global: func(e *Call) (map[string]string, error) { return map[string]string{}, nil },
		// The JSON report also lists each phase's options one by one.
		JSONLists: func(e *Call, app string) (map[string][]string, error) {
			lists := map[string][]string{}
			if app == store.Global {
				return lists, nil
			}
			for _, p := range dockeropts.Phases {
				opts, err := dockeropts.Get(e.Store, app, p)
				if err != nil {
					return nil, err
				}
				if opts == nil {
					opts = []string{}
				}
				lists[p+"-list"] = opts
			}
			return lists, nil
		},
	}
	return &Group{
		Name:        "docker-options",
		Description: "Manage docker options for an app",
		Commands: []*Command{
			{Name: "docker-options:add", Args: "<app> <phase(s)> OPTION", Help: "Add Docker option to app for phase (comma separated phase list)", Run: dockerOptionsAdd},
			{Name: "docker-options:clear", Args: "<app> [phase(s)]", Help: "Clear a docker options from application with an optional phase (comma separated phase list)", Run: dockerOptionsClear},
			{Name: "docker-options:remove", Args: "<app> <phase(s)> OPTION", Help: "Remove Docker option from app for phase (comma separated phase list)", Run: dockerOptionsRemove},
			{Name: "docker-options:report", Args: "[<app>] [<flag>]", Help: "Displays a docker options report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(report, args) }},
		},
	}
}

// processFlag is Dokku's --process (options scoped to one process type),
// which this server does not implement yet: it is refused, not ignored.
var processFlag = flagSpec{name: "process", kind: stringFlag, usage: "process types to scope this option to (deploy phase only)"}

var errProcessScope = output.Userf("--process (options scoped to a process type) is not supported by this server; add the option without it to apply it to every process type")

// dockerOptionsArgs parses `<app> <phase(s)> OPTION...` (flags only before
// the app, as Dokku's SetInterspersed(false)) and checks the app and the
// phases. option is the text after the phases, split into options.
func (e *Call) dockerOptionsArgs(name string, args []string) (app string, phases []string, p *parsedFlags, err error) {
	if p, err = e.parsePflagLeading(name, []flagSpec{processFlag}, args); err != nil {
		return "", nil, nil, err
	}
	if p.strs["process"] != "" {
		return "", nil, nil, errProcessScope
	}
	app = p.arg(0)
	if err := e.VerifyApp(app); err != nil {
		return "", nil, nil, err
	}
	if phases, err = parsePhases(p.arg(1)); err != nil {
		return "", nil, nil, err
	}
	return app, phases, p, nil
}

// parsePhases splits a comma-separated phase list; "" is none.
func parsePhases(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	phases := strings.Split(s, ",")
	for _, p := range phases {
		if !dockeropts.ValidPhase(p) {
			return nil, output.Userf("Phase(s) must be one of [%s]", strings.Join(dockeropts.Phases, " "))
		}
	}
	return phases, nil
}

// optionText is what follows the phases, split into options; a --process
// among them is refused like the flag.
func optionText(p *parsedFlags) ([]string, error) {
	var rest []string
	if len(p.args) > 2 {
		rest = p.args[2:]
	}
	opts, err := dockeropts.SplitInput(strings.Join(rest, " "))
	if err != nil {
		return nil, output.Userf("Unable to parse docker option: %v", err)
	}
	for _, o := range opts {
		if o == "--process" || strings.HasPrefix(o, "--process ") || strings.HasPrefix(o, "--process=") {
			return nil, errProcessScope
		}
	}
	return opts, nil
}

// dockerOptionsAdd is `docker-options:add <app> <phase(s)> OPTION...`.
// Each option is checked against the phase's option set now, so that one
// the server cannot pass to docker fails here rather than at the next
// build or deploy.
func dockerOptionsAdd(e *Call, args []string) error {
	app, phases, p, err := e.dockerOptionsArgs("docker-options:add", args)
	if err != nil {
		return err
	}
	opts, err := optionText(p)
	if err != nil {
		return err
	}
	if len(opts) == 0 {
		return output.Userf("Please specify docker options to add to the phase")
	}
	for _, ph := range phases {
		if err := dockeropts.Check(ph, opts); err != nil {
			return output.Userf("Invalid docker option for the %s phase: %v", ph, err)
		}
	}
	return dockeropts.Add(e.Store, app, phases, opts)
}

// dockerOptionsRemove is `docker-options:remove <app> <phase(s)> OPTION...`:
// each stored option equal to one given (same text or same words) goes.
func dockerOptionsRemove(e *Call, args []string) error {
	app, phases, p, err := e.dockerOptionsArgs("docker-options:remove", args)
	if err != nil {
		return err
	}
	opts, err := optionText(p)
	if err != nil {
		return err
	}
	if len(opts) == 0 {
		return output.Userf("Please specify docker options to remove from the phase")
	}
	return dockeropts.Remove(e.Store, app, phases, opts)
}

// dockerOptionsClear is `docker-options:clear <app> [phase(s)]`.
func dockerOptionsClear(e *Call, args []string) error {
	app, phases, _, err := e.dockerOptionsArgs("docker-options:clear", args)
	if err != nil {
		return err
	}
	if len(phases) == 0 {
		e.Info1("Clearing docker-options for %s on all phases", app)
		return dockeropts.Clear(e.Store, app, dockeropts.Phases)
	}
	for _, ph := range phases {
		e.Info1("Clearing docker-options for %s on phase %s", app, ph)
		if err := dockeropts.Clear(e.Store, app, []string{ph}); err != nil {
			return err
		}
	}
	return nil
}
