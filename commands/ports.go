package commands

import (
	"sort"
	"strings"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

// ports:* is Dokku's ports plugin (docs/dokku-behaviour.md#ports); the
// port-map rules and storage are schedulers' (schedulers/ports.go).
func portsGroup() *Group {
	report := ReportSpec{
		Command: "ports:report", Type: "ports", FlagPrefix: "ports", Legacy: true,
		App:    portsReport,
		Global: func(e *Call) (map[string]string, error) { return map[string]string{}, nil },
	}
	maps := "[<scheme>:<host-port>:<container-port>...]"
	return &Group{
		Name:        "ports",
		Description: "Manage ports for an app",
		Commands: []*Command{
			{Name: "ports:list", Args: "<app>", Help: "List port mappings for app", Run: portsList},
			{Name: "ports:add", Args: "<app> " + maps, Help: "Add port mappings to an app", Run: portsChange("add")},
			{Name: "ports:clear", Args: "<app>", Help: "Clear all port mappings for an app", Run: portsClear},
			{Name: "ports:remove", Args: "<app> [<host-port>|<scheme>:<host-port>:<container-port>...]", Help: "Remove specific port mappings from an app", Run: portsChange("remove")},
			{Name: "ports:set", Args: "<app> " + maps, Help: "Set port mappings for an app", Run: portsChange("set")},
			{Name: "ports:report", Args: "[<app>] [<flag>]", Help: "Displays a ports report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(report, args) }},
		},
	}
}

func portsReport(e *Call, app string) (map[string]string, error) {
	user, err := schedulers.AppPortMaps(e.Store, app)
	if err != nil {
		return nil, err
	}
	detected, err := schedulers.DetectedPortMaps(e.Store, app)
	if err != nil {
		return nil, err
	}
	join := func(maps []schedulers.PortMap) string {
		s := make([]string, len(maps))
		for i, m := range maps {
			s[i] = m.String()
		}
		return strings.Join(s, " ")
	}
	return map[string]string{
		"ports-map":               join(user),
		"ports-map-json":          schedulers.PortMapsJSON(user),
		"ports-map-detected":      join(detected),
		"ports-map-detected-json": schedulers.PortMapsJSON(detected),
	}, nil
}

// proxyRebuild runs the configured proxy rebuild for app, if any (the
// post-proxy-ports-update and post-certs-update triggers).
func (e *Call) proxyRebuild(app string) error {
	if e.Dispatcher == nil || e.Dispatcher.cfg.Proxy == nil {
		return nil
	}
	return e.Dispatcher.cfg.Proxy.Rebuild(e.Ctx, app, e.Stdout)
}

// portsChange is ports:add, ports:remove and ports:set: the app is checked
// first (Go plugin rules), then the maps.
func portsChange(sub string) func(e *Call, args []string) error {
	return func(e *Call, args []string) error {
		p, err := e.parsePflag("ports:"+sub, nil, args)
		if err != nil {
			return err
		}
		app := p.arg(0)
		if err := e.VerifyApp(app); err != nil {
			return err
		}
		if len(p.args) < 2 {
			return output.Userf("No port mapping specified")
		}
		maps, err := schedulers.ParsePortMapArgs(p.args[1:], sub == "remove")
		if err != nil {
			return err
		}
		switch sub {
		case "add":
			err = schedulers.AddPortMaps(e.Store, app, maps)
		case "remove":
			err = schedulers.RemovePortMaps(e.Store, app, maps)
		default:
			err = schedulers.SetPortMaps(e.Store, app, maps)
		}
		if err != nil {
			return err
		}
		return e.proxyRebuild(app)
	}
}

func portsClear(e *Call, args []string) error {
	p, err := e.parsePflag("ports:clear", nil, args)
	if err != nil {
		return err
	}
	app := p.arg(0)
	if err := e.VerifyApp(app); err != nil {
		return err
	}
	if err := schedulers.ClearPortMaps(e.Store, app); err != nil {
		return err
	}
	return e.proxyRebuild(app)
}

// portsList prints app's own port map (not the detected one) as a table;
// with none it fails.
func portsList(e *Call, args []string) error {
	p, err := e.parsePflag("ports:list", nil, args)
	if err != nil {
		return err
	}
	app := p.arg(0)
	if err := e.VerifyApp(app); err != nil {
		return err
	}
	maps, err := schedulers.AppPortMaps(e.Store, app)
	if err != nil {
		return err
	}
	if len(maps) == 0 {
		return output.Userf("No port mappings configured for app")
	}
	var lines []string
	if !e.Flags.Quiet {
		lines = append(lines, prefixInfo1+"scheme:host port:container port")
	}
	for _, m := range maps {
		lines = append(lines, m.String())
	}
	sort.Strings(lines)
	e.Info1Quiet("Port mappings for %s", app)
	e.Println(columnize(lines, ":", "    "))
	return nil
}
