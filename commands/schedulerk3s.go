package commands

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"dokku-sshd/deploy"
	"dokku-sshd/output"
	"dokku-sshd/schedulers/k3s"
	"dokku-sshd/store"
)

// k3sReportFields are scheduler-k3s:report's fields
// (docs/dokku-behaviour.md#k3s-properties): for an app, each app property's
// own, global and computed value and each global-only property's global
// and computed value; for --global, every property's global and computed
// value, and the token.
func (e *Call) k3sReportFields(app string) (map[string]string, error) {
	const prefix = "scheduler-k3s-"
	out := map[string]string{}
	global := app == store.Global
	props := append(slices.Clone(k3s.AppProps), k3s.GlobalProps...)
	for _, p := range props {
		appLevel := slices.Contains(k3s.AppProps, p)
		if p == "token" {
			if global {
				v, err := e.Store.Property(k3s.Plugin, store.Global, p)
				if err != nil {
					return nil, err
				}
				out[prefix+"global-token"] = v
			}
			continue
		}
		g, err := e.Store.Property(k3s.Plugin, store.Global, p)
		if err != nil {
			return nil, err
		}
		out[prefix+"global-"+p] = g
		// A global-only property's app value, if any, is not read.
		level := store.Global
		if appLevel {
			level = app
		}
		var c string
		if p == "kubeconfig-path" {
			c, err = k3s.KubeconfigPath(e.Store)
		} else {
			c, err = e.Store.ComputedProperty(k3s.Plugin, level, p, k3s.Defaults[p])
		}
		if err != nil {
			return nil, err
		}
		out[prefix+"computed-"+p] = c
		if appLevel && !global {
			v, err := e.Store.Property(k3s.Plugin, app, p)
			if err != nil {
				return nil, err
			}
			out[prefix+p] = v
		}
	}
	return out, nil
}

// k3sSetSpec is scheduler-k3s:set's properties, each value checked before
// it is stored (Dokku checks few; a bad one would fail every deploy).
func (e *Call) k3sSetSpec() SetSpec {
	var props []Property
	for _, p := range append(slices.Clone(k3s.AppProps), k3s.GlobalProps...) {
		prop := Property{Name: p, Global: true, App: slices.Contains(k3s.AppProps, p),
			OnlyGlobal: "Property can only be specified globally: scheduler-k3s:set --global " + p + " <value>"}
		switch p {
		case "kubeconfig-path":
			prop.Validate = k3s.CheckKubeconfig
		case "kube-context":
			prop.Validate = e.warnUnknownContext
		default:
			prop.Validate = func(v string) error { _, err := k3s.ValidateProp(p, v); return err }
		}
		props = append(props, prop)
	}
	return SetSpec{Plugin: k3s.Plugin, Props: props}
}

// warnUnknownContext warns when the kubeconfig read now has no context
// named name; it may be set before the kubeconfig that has it.
func (e *Call) warnUnknownContext(name string) error {
	names, err := k3s.KubeContexts(e.Store)
	if err == nil && !slices.Contains(names, name) {
		e.Warn("No context %s in the current kubeconfig (contexts: %s)", name, strings.Join(names, ", "))
	}
	return nil
}

// runK3sSet is `scheduler-k3s:set <app>|--global <property> [<value>]`,
// with --global anywhere on the line as Dokku's flag parser takes it.
func (e *Call) runK3sSet(args []string) error {
	p, err := e.parsePflag("scheduler-k3s:set", []flagSpec{
		{name: "global", kind: boolFlag, usage: "--global: set a global property"},
	}, args)
	if err != nil {
		return err
	}
	argv := p.args
	if p.bools["global"] {
		argv = append([]string{store.Global}, argv...)
	}
	if len(argv) > 2 && argv[1] == "cert-issuer-kind" {
		// stored in cert-manager's casing, whatever the user typed
		if v, err := k3s.ValidateProp("cert-issuer-kind", strings.Join(argv[2:], " ")); err == nil {
			argv = append(argv[:2], v)
		}
	}
	return e.RunSet(e.k3sSetSpec(), argv)
}

// runK3sMetaSet is `scheduler-k3s:annotations:set` and `:labels:set`:
// `<app>|--global <key> [<value>] [--process-type P] --resource-type R`;
// no value removes the key. Silent on success, as in Dokku.
func (e *Call) runK3sMetaSet(kind k3s.MetaKind, args []string) error {
	p, err := e.parsePflag("scheduler-k3s:"+string(kind)+":set", []flagSpec{
		{name: "global", kind: boolFlag, usage: "--global: set a global property"},
		{name: "process-type", kind: stringFlag, usage: "--process-type: scope to process-type"},
		{name: "resource-type", kind: stringFlag, usage: "--resource-type: scope to resource-type"},
	}, args)
	if err != nil {
		return err
	}
	app, key, value := p.arg(0), p.arg(1), p.arg(2)
	if p.bools["global"] {
		app, key, value = store.Global, p.arg(0), p.arg(1)
	} else if err := e.VerifyApp(app); err != nil {
		return err
	}
	proc, resource := p.strs["process-type"], p.strs["resource-type"]
	if resource == "" {
		return output.Userf("Missing resource-type")
	}
	if proc == "" {
		proc = k3s.AllProcesses
	} else if !deploy.ValidProcessName(proc) {
		return output.Userf("Invalid process-type specified: %s", proc)
	}
	if key == "" {
		return output.Userf("No key specified")
	}
	if value != "" {
		if err := k3s.CheckMeta(kind, key, value); err != nil {
			return err
		}
	}
	return k3s.SetMeta(e.Store, kind, app, proc, resource, key, value)
}

func schedulerK3sGroup() *Group {
	report := ReportSpec{
		Command: "scheduler-k3s:report", Type: "scheduler-k3s", FlagPrefix: "scheduler-k3s", Legacy: true,
		App:    func(e *Call, app string) (map[string]string, error) { return e.k3sReportFields(app) },
		Global: func(e *Call) (map[string]string, error) { return e.k3sReportFields(store.Global) },
		Masked: []string{"scheduler-k3s-global-token"},
	}
	return &Group{
		Name:        "scheduler-k3s",
		Description: "Manage scheduler-k3s settings for an app",
		Commands: []*Command{
			{Name: "scheduler-k3s:annotations:set", Args: "<app|--global> <property> (<value>) [--process-type PROCESS_TYPE] <--resource-type RESOURCE_TYPE>",
				Help: "Set or clear an annotation for a given app/process-type/resource-type combination",
				Run:  func(e *Call, args []string) error { return e.runK3sMetaSet(k3s.Annotations, args) }},
			{Name: "scheduler-k3s:annotations:report", Args: "[<app>|--global] [--format stdout|json] [--process-type PROCESS_TYPE] [--resource-type RESOURCE_TYPE]",
				Help: "Displays a scheduler-k3s annotations report for one or more apps",
				Run:  func(e *Call, args []string) error { return e.runK3sMetaReport(k3s.Annotations, args) }},
			{Name: "scheduler-k3s:labels:set", Args: "<app|--global> <property> (<value>) [--process-type PROCESS_TYPE] <--resource-type RESOURCE_TYPE>",
				Help: "Set or clear a label for a given app/process-type/resource-type combination",
				Run:  func(e *Call, args []string) error { return e.runK3sMetaSet(k3s.Labels, args) }},
			{Name: "scheduler-k3s:labels:report", Args: "[<app>|--global] [--format stdout|json] [--process-type PROCESS_TYPE] [--resource-type RESOURCE_TYPE]",
				Help: "Displays a scheduler-k3s labels report for one or more apps",
				Run:  func(e *Call, args []string) error { return e.runK3sMetaReport(k3s.Labels, args) }},
			{Name: "scheduler-k3s:report", Args: "[<app>|--global] [--format stdout|json] [<flag>]", Help: "Displays a scheduler-k3s report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(report, args) }},
			{Name: "scheduler-k3s:set", Args: "<app|--global> <property> (<value>)", Help: "Set or clear a scheduler-k3s property for an app or globally",
				Run: func(e *Call, args []string) error { return e.runK3sSet(args) }},
		},
	}
}

// runK3sMetaReport is `scheduler-k3s:annotations:report` and
// `:labels:report`: `[<app>|--global] [--format stdout|json]
// [--process-type P] [--resource-type R] [--scheduler-k3s-<kind>.<P>.<R>.<key>]`.
func (e *Call) runK3sMetaReport(kind k3s.MetaKind, args []string) error {
	prefix := "--scheduler-k3s-" + string(kind) + "."
	var rest []string
	info := ""
	for _, a := range args {
		if !strings.HasPrefix(a, prefix) {
			rest = append(rest, a)
			continue
		}
		if info != "" {
			return output.Userf("only a single info flag may be specified")
		}
		info = a
	}
	p, err := e.parsePflag("scheduler-k3s:"+string(kind)+":report", []flagSpec{
		{name: "global", kind: boolFlag, usage: "--global: show the global report"},
		{name: "format", kind: stringFlag, def: "stdout", usage: "format: [ stdout | json ]"},
		{name: "process-type", kind: stringFlag, usage: "--process-type: filter by process-type"},
		{name: "resource-type", kind: stringFlag, usage: "--resource-type: filter by resource-type"},
	}, rest)
	if err != nil {
		return err
	}
	apps := []string{p.arg(0)}
	switch {
	case p.bools["global"]:
		apps = []string{store.Global}
	case apps[0] == "":
		if apps, err = e.Store.Apps(); err != nil {
			return err
		}
		if len(apps) == 0 {
			e.Warn("You haven't deployed any applications yet")
			return nil
		}
	}
	proc := p.strs["process-type"]
	if proc == "global" {
		proc = k3s.AllProcesses
	}
	if r := p.strs["resource-type"]; r != "" {
		if err := kind.CheckResource(r); err != nil {
			return err
		}
	}
	for _, app := range apps {
		if app != store.Global {
			if err := e.VerifyApp(app); err != nil {
				return err
			}
		}
		entries, err := k3s.ListMeta(e.Store, kind, app, proc, p.strs["resource-type"])
		if err != nil {
			return err
		}
		if err := e.renderMetaReport(kind, app, p.strs["format"], info, entries); err != nil {
			return err
		}
	}
	return nil
}

// renderMetaReport prints one app's annotations or labels: one value
// (info flag), a JSON object keyed <P>.<R>.<key>, or groups of lines per
// process type and resource type (P "global" for every process type).
func (e *Call) renderMetaReport(kind k3s.MetaKind, app, format, info string, entries []k3s.MetaEntry) error {
	if format != "stdout" && format != "json" {
		return output.Userf("Invalid format: %s", format)
	}
	if format == "json" && info != "" {
		return output.Userf("--format flag cannot be specified when specifying an info flag")
	}
	shown := func(proc string) string {
		if proc == k3s.AllProcesses {
			return "global"
		}
		return proc
	}
	flat := map[string]string{}
	groups := map[string][]k3s.MetaEntry{}
	for _, m := range entries {
		flat[shown(m.Proc)+"."+m.Resource+"."+m.Key] = m.Value
		g := shown(m.Proc) + "/" + m.Resource
		groups[g] = append(groups[g], m)
	}
	if info != "" {
		prefix := "--scheduler-k3s-" + string(kind) + "."
		v, ok := flat[strings.TrimPrefix(info, prefix)]
		if !ok {
			valid := make([]string, 0, len(flat))
			for _, k := range sortedKeys(flat) {
				valid = append(valid, prefix+k)
			}
			return output.Userf("Invalid flag passed, valid flags: %s", strings.Join(valid, ", "))
		}
		e.Println(v)
		return nil
	}
	if format == "json" {
		b, err := json.Marshal(flat)
		if err != nil {
			return fmt.Errorf("encoding the %s report: %w", kind, err)
		}
		e.Println(string(b))
		return nil
	}
	row := "Annotation"
	if kind == k3s.Labels {
		row = "Label"
	}
	e.Info2Quiet("%s %s information", app, kind)
	names := slices.Sorted(maps.Keys(groups))
	for _, g := range names {
		ms := groups[g]
		slices.SortFunc(ms, func(a, b k3s.MetaEntry) int { return strings.Compare(a.Key, b.Key) })
		width := 31
		for _, m := range ms {
			width = max(width, len(fmt.Sprintf("%s (%s) %s:", row, g, m.Key))+1)
		}
		for _, m := range ms {
			label := fmt.Sprintf("%s (%s) %s:", row, g, m.Key)
			e.Print(prefixVerbose + label + strings.Repeat(" ", width-len(label)) + m.Value + "\n")
		}
	}
	return nil
}
