package commands

import (
	"fmt"
	"strings"

	"dokku-sshd/domains"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// domains:* is Dokku's domains plugin (docs/dokku-behaviour.md#domains); its
// rules and storage are the domains package's. Dokku writes the plugin in
// bash: every bad app is "App <app> does not exist" (20).
func domainsGroup() *Group {
	report := ReportSpec{
		Command: "domains:report", Type: "domains", FlagPrefix: "domains",
		App:    func(e *Call, app string) (map[string]string, error) { return domains.Report(e.Store, app) },
		Global: func(e *Call) (map[string]string, error) { return domains.Report(e.Store, store.Global) },
	}
	list := "<domain> [<domain> ...]"
	return &Group{
		Name:        "domains",
		Description: "Manage domains used by the proxy",
		Bash:        true,
		Commands: []*Command{
			{Name: "domains:add", Args: "<app> " + list, Help: "Add domains to app", Run: domainsAdd},
			{Name: "domains:add-global", Args: list, Help: "Add global domain names", Run: domainsAddGlobal},
			{Name: "domains:clear", Args: "<app>", Help: "Clear all domains for app", Run: domainsClear},
			{Name: "domains:clear-global", Help: "Clear global domain names", Run: domainsClearGlobal},
			{Name: "domains:disable", Args: "<app>", Help: "Disable VHOST support", Run: domainsDisable},
			{Name: "domains:enable", Args: "<app>", Help: "Enable VHOST support", Run: domainsEnable},
			{Name: "domains:remove", Args: "<app> " + list, Help: "Remove domains from app", Run: domainsRemove},
			{Name: "domains:remove-global", Args: list, Help: "Remove global domain names", Run: domainsRemoveGlobal},
			{Name: "domains:report", Args: "[<app>|--global] [<flag>]", Help: "Displays a domains report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(report, args) }},
			{Name: "domains:reset", Args: "<app>", Help: "Reset app domains to global-configured domains", Run: domainsReset},
			{Name: "domains:set", Args: "<app> " + list, Help: "Set domains for app", Run: domainsSet},
			{Name: "domains:set-global", Args: list, Help: "Set global domain names", Run: domainsSetGlobal},
		},
	}
}

// domainArgs parses `domains:<sub> <app> <domain>...`: a missing domain is
// refused before the app is looked at, as Dokku does. Dokku's message
// names the app where the command belongs ("Usage: dokku APP  <domain>");
// here it names the command.
func (e *Call) domainArgs(cmd string, args []string) (app string, list []string, err error) {
	p, err := e.parsePflag(cmd, nil, args)
	if err != nil {
		return "", nil, err
	}
	if len(p.args) < 2 {
		return "", nil, output.Userf("Please specify a domain name. Usage: dokku %s <app> <domain> [<domain> ...]", cmd)
	}
	if err := e.VerifyAppBash(p.args[0]); err != nil {
		return "", nil, err
	}
	return p.args[0], p.args[1:], nil
}

// globalDomainArgs parses `domains:<sub>-global <domain>...`.
func (e *Call) globalDomainArgs(cmd string, args []string) ([]string, error) {
	p, err := e.parsePflag(cmd, nil, args)
	if err != nil {
		return nil, err
	}
	if len(p.args) == 0 {
		return nil, output.Userf("Please specify a domain name. Usage: dokku %s <domain> [<domain> ...]", cmd)
	}
	return p.args, nil
}

// domainsUpdated tells app's scheduler that its domains changed, when the
// scheduler routes them (k3s's Ingresses, docker-local's nginx).
func (e *Call) domainsUpdated(app string) error {
	u, ok := e.scheduler(app).(schedulers.DomainsUpdater)
	if !ok {
		return nil
	}
	err := u.DomainsUpdated(e.Ctx, app, e.Stdout)
	switch {
	case err == nil:
		return nil
	case output.IsUserError(err):
		// The domains are stored; say that only the routing failed.
		return output.Userf("Unable to route the domains of %s: %w", app, err)
	default:
		return fmt.Errorf("route the domains of %s: %w", app, err)
	}
}

func domainsAdd(e *Call, args []string) error {
	app, list, err := e.domainArgs("domains:add", args)
	if err != nil {
		return err
	}
	added, err := domains.Add(e.Store, app, list)
	if err != nil {
		return err
	}
	for i, d := range list {
		if added[i] {
			e.Info1("Added %s to %s", d, app)
		} else {
			e.Info1("Skipping: %s already added to %s", d, app)
		}
	}
	return e.domainsUpdated(app)
}

func domainsRemove(e *Call, args []string) error {
	app, list, err := e.domainArgs("domains:remove", args)
	if err != nil {
		return err
	}
	if err := domains.Remove(e.Store, app, list); err != nil {
		return err
	}
	for _, d := range list {
		e.Info1("Removed %s from %s", d, app)
	}
	return e.domainsUpdated(app)
}

func domainsSet(e *Call, args []string) error {
	app, list, err := e.domainArgs("domains:set", args)
	if err != nil {
		return err
	}
	if err := domains.Set(e.Store, app, list); err != nil {
		return err
	}
	e.Info1("Set %s for %s", strings.Join(list, " "), app)
	return e.domainsUpdated(app)
}

// domainsEachApp parses `domains:<sub> <app>|--all` and runs fn on the app, or on
// every app with --all (Dokku takes --all in the place of the app).
func (e *Call) domainsEachApp(cmd string, args []string, fn func(app string) error) error {
	p, err := e.parsePflag(cmd, []flagSpec{{name: "all", usage: "--all: run for every app"}}, args)
	if err != nil {
		return err
	}
	if !p.bools["all"] {
		if err := e.VerifyAppBash(p.arg(0)); err != nil {
			return err
		}
		return fn(p.arg(0))
	}
	apps, err := e.Store.Apps()
	if err != nil {
		return err
	}
	for _, app := range apps {
		if err := fn(app); err != nil {
			return err
		}
	}
	return nil
}

func domainsClear(e *Call, args []string) error {
	return e.domainsEachApp("domains:clear", args, func(app string) error {
		if err := domains.Clear(e.Store, app); err != nil {
			return err
		}
		e.Info1("Cleared domains in %s", app)
		return e.domainsUpdated(app)
	})
}

func domainsEnable(e *Call, args []string) error {
	return e.domainsEachApp("domains:enable", args, func(app string) error {
		already, err := domains.Enable(e.Store, app)
		if err != nil {
			return err
		}
		if already {
			e.Info1("Domains (VHOST) support is already enabled for app (%s)", app)
			return nil
		}
		return e.domainsUpdated(app)
	})
}

func domainsDisable(e *Call, args []string) error {
	return e.domainsEachApp("domains:disable", args, func(app string) error {
		already, err := domains.Disable(e.Store, app)
		if err != nil {
			return err
		}
		if already {
			e.Info1("Domains (VHOST) support is already disabled for app (%s)", app)
			return nil
		}
		e.Info1("App virtual host support disabled")
		return e.domainsUpdated(app)
	})
}

func domainsReset(e *Call, args []string) error {
	p, err := e.parsePflag("domains:reset", nil, args)
	if err != nil {
		return err
	}
	app := p.arg(0)
	if err := e.VerifyAppBash(app); err != nil {
		return err
	}
	defaults, err := domains.Reset(e.Store, app)
	if err != nil {
		return err
	}
	e.Info1("Cleared domains in %s", app)
	if defaults {
		e.Info1Quiet("Creating new app virtual host file...")
	} else {
		e.Info1Quiet("Global server virtual host not set, disabling app vhost...")
	}
	if err := e.domainsUpdated(app); err != nil {
		return err
	}
	e.Info1Quiet("Reset domains for %s", app)
	return nil
}

func domainsAddGlobal(e *Call, args []string) error {
	list, err := e.globalDomainArgs("domains:add-global", args)
	if err != nil {
		return err
	}
	added, err := domains.Add(e.Store, store.Global, list)
	if err != nil {
		return err
	}
	for i, d := range list {
		if added[i] {
			e.Info1("Added %s", d)
		} else {
			e.Info1("Skipping %s: already added", d)
		}
	}
	return nil
}

func domainsRemoveGlobal(e *Call, args []string) error {
	list, err := e.globalDomainArgs("domains:remove-global", args)
	if err != nil {
		return err
	}
	if err := domains.Remove(e.Store, store.Global, list); err != nil {
		return err
	}
	for _, d := range list {
		e.Info1("Removed %s", d)
	}
	return nil
}

func domainsSetGlobal(e *Call, args []string) error {
	list, err := e.globalDomainArgs("domains:set-global", args)
	if err != nil {
		return err
	}
	if err := domains.Set(e.Store, store.Global, list); err != nil {
		return err
	}
	e.Info1("Set %s", strings.Join(list, " "))
	return nil
}

func domainsClearGlobal(e *Call, args []string) error {
	if _, err := e.parsePflag("domains:clear-global", nil, args); err != nil {
		return err
	}
	e.Info1Quiet("Clearing global domains")
	return domains.Clear(e.Store, store.Global)
}
