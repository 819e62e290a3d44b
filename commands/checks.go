package commands

import (
	"slices"
	"strconv"
	"strings"

	"dokku-sshd/deploy"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/dockerlocal"
	"dokku-sshd/store"
)

// The checks plugin (docs/dokku-behaviour.md#checks): which process types
// skip their zero-downtime checks (skipped) or have none at all
// (disabled: old containers stop before new ones start), as comma lists
// or "_all_" in LIB/config/checks/<app>/{disabled,skipped}; and the
// settings the deploy reads: wait-to-retire, attempts, --global
// default-wait.

// checksAll is the list value that covers every process type.
const checksAll = "_all_"

func checksGroup() *Group {
	report := ReportSpec{
		Command: "checks:report", Type: "checks", FlagPrefix: "checks",
		App:    checksReport,
		Global: func(e *Call) (map[string]string, error) { return checksWaitFields(e, store.Global) },
	}
	nonNegative := func(name string) func(string) error {
		return func(v string) error {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				return output.Userf("Invalid %s specified, must be a non-negative integer", name)
			}
			return nil
		}
	}
	set := SetSpec{Plugin: "checks", Bash: true, Props: []Property{
		// Dokku's checks:set accepts wait-to-retire only, though its
		// documentation sets attempts and --global default-wait with it
		// too; the deploy reads all three.
		{Name: "attempts", App: true, Global: true, Validate: func(v string) error {
			if n, err := strconv.Atoi(v); err != nil || n < 1 {
				return output.Userf("Invalid attempts specified, must be a positive integer")
			}
			return nil
		}},
		{Name: "default-wait", Global: true, Validate: nonNegative("default-wait")},
		{Name: "wait-to-retire", App: true, Global: true, Validate: nonNegative("wait-to-retire")},
	}}
	return &Group{
		Name:        "checks",
		Description: "Manage zero-downtime settings",
		Bash:        true,
		Commands: []*Command{
			{Name: "checks:disable", Args: "<app> [process-type(s)]", Help: "Disable zero-downtime deployment for all processes (or comma-separated process-type list) ***WARNING: this will cause downtime during deployments***",
				Run: func(e *Call, args []string) error { return checksList(e, args, "disabled") }},
			{Name: "checks:enable", Args: "<app> [process-type(s)]", Help: "Enable zero-downtime deployment for all processes (or comma-separated process-type list)",
				Run: func(e *Call, args []string) error { return checksList(e, args, "") }},
			{Name: "checks:report", Args: "[<app>] [<flag>]", Help: "Displays a checks report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(report, args) }},
			{Name: "checks:run", Args: "<app> [process-type(s)]", Help: "Runs zero-downtime checks for all processes (or comma-separated process-type list)", Run: checksRun},
			// "logs" (sic): Dokku's help text.
			{Name: "checks:set", Args: "[--global|<app>] <key> <value>", Help: "Set or clear a logs property for an app",
				Run: func(e *Call, args []string) error { return e.RunSet(set, args) }},
			{Name: "checks:skip", Args: "<app> [process-type(s)]", Help: "Skip zero-downtime checks for all processes (or comma-separated process-type list)",
				Run: func(e *Call, args []string) error { return checksList(e, args, "skipped") }},
		},
	}
}

// checksWaitFields are the wait-to-retire flags of checks:report.
func checksWaitFields(e *Call, app string) (map[string]string, error) {
	return e.propertyFields("checks", "checks", app, map[string]string{"wait-to-retire": strconv.Itoa(dockerlocal.DefaultWaitToRetire)})
}

func checksReport(e *Call, app string) (map[string]string, error) {
	out, err := checksWaitFields(e, app)
	if err != nil {
		return nil, err
	}
	for _, key := range []string{"disabled", "skipped"} {
		v, err := e.Store.Property("checks", app, key)
		if err != nil {
			return nil, err
		}
		if v == "" {
			v = "none"
		}
		out["checks-"+key+"-list"] = v
	}
	return out, nil
}

// checksProcTypes reads the optional comma-separated process-type list of
// checks:disable/enable/skip/run; nil stands for every type (no list, or
// Dokku's "_all_"). A name no Procfile can have (an option, say) is
// refused with checks:run's message for an unknown type.
func checksProcTypes(app string, args []string, dynos bool) ([]string, error) {
	if len(args) < 2 || args[1] == "" || args[1] == checksAll {
		return nil, nil
	}
	var out []string
	for p := range strings.SplitSeq(args[1], ",") {
		if p == "" {
			continue
		}
		name := p
		if dynos {
			// checks:run takes web.2 for one container.
			var idx string
			var ok bool
			if name, idx, ok = strings.Cut(p, "."); ok {
				if n, err := strconv.Atoi(idx); err != nil || n < 1 {
					return nil, output.Userf("Invalid container index specified (%s.%s)", app, p)
				}
			}
		}
		if strings.HasPrefix(name, "-") || !deploy.ValidProcessName(name) {
			return nil, output.Userf("Invalid process type specified (%s.%s)", app, p)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// splitList is a checks list property as its items.
func splitList(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// checksList is checks:disable (into "disabled"), checks:skip (into
// "skipped") and checks:enable (into neither). A process type is in at
// most one of the two lists; every type at once is "_all_", and naming
// types replaces "_all_" in the list they go into (Dokku's rules).
func checksList(e *Call, args []string, into string) error {
	app := firstArg(args)
	if err := e.VerifyAppBash(app); err != nil {
		return err
	}
	types, err := checksProcTypes(app, args, false)
	if err != nil {
		return err
	}
	unlock, err := e.Store.AppLock(app)
	if err != nil {
		return err
	}
	defer unlock()
	lists := map[string][]string{}
	for _, key := range []string{"disabled", "skipped"} {
		v, err := e.Store.Property("checks", app, key)
		if err != nil {
			return err
		}
		lists[key] = splitList(v)
	}
	verb := map[string]string{"disabled": "Disabling", "skipped": "Skipping", "": "Enabling"}[into]
	if types == nil {
		// Dokku's enable says "app's" here too.
		if into == "" {
			e.Info1("%s zero downtime for app's (%s)", verb, app)
		} else {
			e.Info1("%s zero downtime for app (%s)", verb, app)
		}
		for _, key := range []string{"disabled", "skipped"} {
			lists[key] = nil
			if key == into {
				lists[key] = []string{checksAll}
			}
		}
	} else {
		e.Info1("%s zero downtime for app's (%s) proctypes (%s)", verb, app, args[1])
		for _, key := range []string{"disabled", "skipped"} {
			l := lists[key]
			for _, t := range types {
				if key != into {
					l = removeItem(l, t)
				} else if !slices.Contains(l, t) {
					l = append(l, t)
				}
			}
			if key == into {
				l = removeItem(l, checksAll)
			}
			lists[key] = l
		}
	}
	for _, key := range []string{"disabled", "skipped"} {
		if len(lists[key]) == 0 {
			if err := e.Store.DeleteProperty("checks", app, key); err != nil {
				return err
			}
			continue
		}
		if err := e.Store.SetProperty("checks", app, key, strings.Join(lists[key], ",")); err != nil {
			return err
		}
	}
	return nil
}

func removeItem(l []string, item string) []string {
	out := l[:0:0]
	for _, x := range l {
		if x != item {
			out = append(out, x)
		}
	}
	return out
}

// checksRun is checks:run: the deploy's checks against the containers
// that run now, per process type (or per container, web.2), stopping at
// the first failure (exit 1).
func checksRun(e *Call, args []string) error {
	app := firstArg(args)
	if err := e.VerifyAppBash(app); err != nil {
		return err
	}
	types, err := checksProcTypes(app, args, true)
	if err != nil {
		return err
	}
	s, err := e.appScheduler(app)
	if err != nil {
		return err
	}
	c, ok := s.(schedulers.Checker)
	if !ok {
		return output.Userf("The %s scheduler does not run zero-downtime checks on demand", s.Name())
	}
	e.Info1("Running pre-flight checks")
	if types == nil {
		types = []string{""}
	}
	for _, t := range types {
		if err := c.RunChecks(e.Ctx, app, t, e.Stdout); err != nil {
			return err
		}
	}
	return nil
}
