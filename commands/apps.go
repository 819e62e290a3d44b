package commands

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

func appsGroup() *Group {
	return &Group{
		Name:        "apps",
		Description: "Manage apps",
		Bare:        appsList,
		Commands: []*Command{
			{Name: "apps:clone", Args: "<old-app> <new-app>", Help: "Clones an app", Run: appsClone},
			{Name: "apps:create", Args: "<app>", Help: "Create a new app", Run: appsCreate},
			{Name: "apps:destroy", Args: "<app>", Help: "Permanently destroy an app", Run: appsDestroy},
			{Name: "apps:exists", Args: "<app>", Help: "Checks if an app exists", Run: appsExists},
			{Name: "apps:list", Help: "List your apps", Run: appsList},
			{Name: "apps:lock", Args: "<app>", Help: "Locks an app for deployment", Run: appsLock},
			{Name: "apps:locked", Args: "<app>", Help: "Checks if an app is locked for deployment", Run: appsLocked},
			{Name: "apps:rename", Args: "<old-app> <new-app>", Help: "Rename an app", Run: appsRename},
			{Name: "apps:report", Args: "[<app>] [<flag>]", Help: "Display report about an app",
				Run: func(e *Call, args []string) error { return e.RunReport(appsReport, args) }},
			{Name: "apps:set", Args: "[--global|<app>] <key> <value>", Help: "Set or clear an apps property for an app",
				Run: func(e *Call, args []string) error { return e.RunSet(appsSet, args) }},
			{Name: "apps:unlock", Args: "<app>", Help: "Unlocks an app for deployment", Run: appsUnlock},
		},
	}
}

var appsSet = SetSpec{Plugin: "apps", Props: []Property{
	{Name: "deploy-source", App: true},
	{Name: "deploy-source-metadata", App: true},
	{Name: "disable-autocreation", Global: true, Validate: func(v string) error {
		if v != "true" && v != "false" {
			return Fail("Invalid value for disable-autocreation, expected true or false")
		}
		return nil
	}},
}}

var appsReport = ReportSpec{
	Command: "apps:report", Type: "app", FlagPrefix: "app", Legacy: true,
	App: func(e *Call, app string) (map[string]string, error) {
		out := map[string]string{
			"app-dir":    e.Store.AppDir(app),
			"app-locked": fmt.Sprint(e.Store.Locked(app)),
		}
		for flag, prop := range map[string]struct{ plugin, app, key string }{
			"app-created-at":                  {"apps", app, "created-at"},
			"app-deploy-source":               {"apps", app, "deploy-source"},
			"app-deploy-source-metadata":      {"apps", app, "deploy-source-metadata"},
			"app-global-disable-autocreation": {"apps", store.Global, "disable-autocreation"},
		} {
			v, err := e.Store.Property(prop.plugin, prop.app, prop.key)
			if err != nil {
				return nil, err
			}
			out[flag] = v
		}
		return out, nil
	},
	Global: func(e *Call) (map[string]string, error) {
		v, err := e.Store.Property("apps", store.Global, "disable-autocreation")
		return map[string]string{"app-global-disable-autocreation": v}, err
	},
}

// validateNewApp applies the checks of apps:create to a new name.
func validateNewApp(e *Call, app string) error {
	switch {
	case app == "":
		return Fail("Please specify an app to run the command on")
	case store.NewAppNameProblem(app) != "":
		return Fail("%s", store.NewAppNameProblem(app))
	case e.Store.AppExists(app):
		return Fail("Name is already taken")
	}
	return nil
}

// CreateApp creates an app with Dokku's output; the git push path uses it
// for auto-creation too.
func (e *Call) CreateApp(app string) error {
	if err := validateNewApp(e, app); err != nil {
		return err
	}
	unlock, err := e.Store.AppLock(app)
	if err != nil {
		return err
	}
	defer unlock()
	// Again under the lock: a concurrent create may have won meanwhile.
	if err := validateNewApp(e, app); err != nil {
		return err
	}
	e.Info1Quiet("Creating %s...", app)
	if err := e.Store.CreateApp(app, Now().Unix()); err != nil {
		if errors.Is(err, store.ErrAppExists) {
			return Fail("Name is already taken")
		}
		return err
	}
	return nil
}

func firstArg(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return ""
}

func appsCreate(e *Call, args []string) error { return e.CreateApp(firstArg(args)) }

func appsExists(e *Call, args []string) error { return e.VerifyApp(firstArg(args)) }

func appsList(e *Call, args []string) error {
	format, _, err := formatArg(args)
	if err != nil {
		return err
	}
	apps, err := e.Store.Apps()
	if err != nil {
		return err
	}
	if format == "json" {
		if apps == nil {
			apps = []string{}
		}
		b, _ := json.Marshal(apps)
		e.Println(string(b))
		return nil
	}
	e.Info2Quiet("My Apps")
	if len(apps) == 0 {
		e.Warn("You haven't deployed any applications yet")
		return nil
	}
	e.Print(strings.Join(apps, "\n") + "\n")
	return nil
}

// formatArg takes `--format stdout|json` (or `--format=...`) out of args,
// as the Go plugins' list commands read it; rest is everything else.
func formatArg(args []string) (format string, rest []string, err error) {
	format = "stdout"
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--format" && i+1 < len(args):
			format = args[i+1]
			i++
		case strings.HasPrefix(args[i], "--format="):
			format = strings.TrimPrefix(args[i], "--format=")
		default:
			rest = append(rest, args[i])
		}
	}
	if format != "stdout" && format != "json" {
		return "", nil, Fail("Invalid format specified, supported formats: json, stdout")
	}
	return format, rest, nil
}

// confirmDestroy asks for the app name, as Dokku does, unless --force.
func confirmDestroy(e *Call, app, what string) error {
	e.Warn("WARNING: Potentially Destructive Action")
	e.Warn("This command will destroy %s.", what)
	e.Warn("To proceed, type \"%s\"", app)
	e.Print("> ")
	line, err := bufio.NewReader(e.Stdin).ReadString('\n')
	line = strings.TrimRight(line, "\r\n")
	switch {
	case err != nil && line == "":
		if errors.Is(err, io.EOF) {
			return Fail("EOF")
		}
		return err
	case strings.TrimSpace(line) == "":
		return Fail("unexpected newline")
	case strings.Fields(line)[0] != app:
		return &output.Error{Msg: "Confirmation did not match test. Aborted.", Code: 1, Plain: true}
	}
	return nil
}

func hasFlag(args []string, flag string) bool { return contains(args, flag) }

// positional returns args without --flags.
func positional(args []string) []string {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, "--") {
			out = append(out, a)
		}
	}
	return out
}

func appsDestroy(e *Call, args []string) error {
	app := firstArg(positional(args))
	if err := e.VerifyApp(app); err != nil {
		return err
	}
	if !e.Flags.Force && !hasFlag(args, "--force") {
		if err := confirmDestroy(e, app, "app "+app); err != nil {
			return err
		}
	}
	return e.DestroyApp(app)
}

// DestroyApp removes an app and everything recorded about it.
func (e *Call) DestroyApp(app string) error {
	unlock, err := e.Store.AppLock(app)
	if err != nil {
		return err
	}
	defer unlock()
	if e.Store.DeployRunning(app) {
		return deployLockedError(app)
	}
	e.Info1("Destroying %s (including all add-ons)", app)
	if sched := e.scheduler(app); sched != nil {
		// Containers and images go first: the state that finds them goes
		// with the app's directory below.
		if err := sched.Destroy(e.Ctx, app); err != nil {
			return fmt.Errorf("destroy %s on the %s scheduler: %w", app, sched.Name(), err)
		}
	}
	return e.Store.DestroyApp(app)
}

func deployLockedError(app string) error {
	return Fail("%s currently has a deploy lock in place. Exiting...\nRun 'apps:unlock' to release the existing deploy lock", app)
}

func appsLock(e *Call, args []string) error {
	app := firstArg(args)
	if err := e.VerifyApp(app); err != nil {
		return err
	}
	if err := e.Store.SetManualLock(app, true); err != nil {
		return Fail("Unable to create deploy lock")
	}
	e.Info1("Deploy lock created")
	return nil
}

func appsLocked(e *Call, args []string) error {
	app := firstArg(args)
	if err := e.VerifyApp(app); err != nil {
		return err
	}
	if !e.Store.Locked(app) {
		return Fail("Deploy lock does not exist")
	}
	if !e.Flags.Quiet {
		e.Println("Deploy lock exists")
	}
	return nil
}

func appsUnlock(e *Call, args []string) error {
	app := firstArg(args)
	if err := e.VerifyApp(app); err != nil {
		return err
	}
	running := e.Store.DeployRunning(app)
	if !e.Store.ManuallyLocked(app) && !running {
		return Fail("Unable to remove deploy lock")
	}
	e.Warn("A deploy may be in progress.")
	e.Warn("Removing the app lock will not stop in progress deploys.")
	if err := e.Store.SetManualLock(app, false); err != nil {
		return Fail("Unable to remove deploy lock")
	}
	e.Info1("Deploy lock removed")
	return nil
}

// lockPair takes the app locks of both apps of a rename or clone, in name
// order so that two crossed renames cannot deadlock.
func (e *Call) lockPair(oldApp, newApp string) (func(), error) {
	names := []string{oldApp}
	if newApp != "" && newApp != oldApp && store.ValidNewAppName(newApp) {
		names = append(names, newApp) // an invalid name is reported by checkCopy
	}
	sort.Strings(names)
	var unlocks []func()
	release := func() {
		for i := len(unlocks) - 1; i >= 0; i-- {
			unlocks[i]()
		}
	}
	for _, n := range names {
		u, err := e.Store.AppLock(n)
		if err != nil {
			release()
			return nil, err
		}
		unlocks = append(unlocks, u)
	}
	return release, nil
}

// checkCopy validates the arguments of rename and clone.
func checkCopy(e *Call, oldApp, newApp string) error {
	if err := e.VerifyApp(oldApp); err != nil {
		return err
	}
	if newApp == "" {
		return Fail("Please specify an new app name")
	}
	if err := validateNewApp(e, newApp); err != nil {
		return err
	}
	if e.Store.DeployRunning(oldApp) {
		return deployLockedError(oldApp)
	}
	return nil
}

// copyApp is the shared part of rename and clone: a new app with the old
// one's repository, properties and data.
func copyApp(e *Call, oldApp, newApp string) error {
	e.Info1Quiet("Creating %s...", newApp)
	if err := e.Store.CopyAppState(oldApp, newApp); err != nil {
		if errors.Is(err, store.ErrAppExists) {
			return Fail("Name is already taken") // created meanwhile, e.g. by a push
		}
		_ = e.Store.DestroyApp(newApp)
		return err
	}
	if err := e.Store.SetProperty("apps", newApp, "created-at", fmt.Sprint(Now().Unix())); err != nil {
		return err
	}
	// Nothing of the new app is deployed yet: its restarts must not run
	// the old app's image.
	if err := e.Store.DeleteProperty("common", newApp, "deployed"); err != nil {
		return err
	}
	if err := schedulers.ForgetDeployed(e.Store, newApp); err != nil {
		return err
	}
	if sched := e.scheduler(newApp); sched != nil {
		// The copy carries the old app's container state: it is not the
		// new app's.
		if err := sched.CloneSetup(e.Ctx, oldApp, newApp); err != nil {
			return fmt.Errorf("set up %s: %w", newApp, err)
		}
	}
	return nil
}

// startCopy is the common start of rename and clone: the two names from
// args, both apps locked, every check passed. unlock must be called.
func startCopy(e *Call, args []string) (oldApp, newApp string, unlock func(), err error) {
	pos := append(positional(args), "", "")
	oldApp, newApp = pos[0], pos[1]
	if err := e.VerifyApp(oldApp); err != nil {
		return "", "", nil, err
	}
	unlock, err = e.lockPair(oldApp, newApp)
	if err != nil {
		return "", "", nil, err
	}
	if err := checkCopy(e, oldApp, newApp); err != nil {
		unlock()
		return "", "", nil, err
	}
	return oldApp, newApp, unlock, nil
}

func appsRename(e *Call, args []string) error {
	newApp, err := renameApp(e, args)
	if err != nil {
		return err
	}
	return e.rebuildCopy(newApp, args)
}

func renameApp(e *Call, args []string) (string, error) {
	oldApp, newApp, unlock, err := startCopy(e, args)
	if err != nil {
		return "", err
	}
	defer unlock()
	e.Info1("Renaming %s to %s", oldApp, newApp)
	if err := copyApp(e, oldApp, newApp); err != nil {
		return "", err
	}
	if sched := e.scheduler(oldApp); sched != nil {
		if err := sched.Destroy(e.Ctx, oldApp); err != nil {
			return "", fmt.Errorf("rename %s: remove its processes: %w", oldApp, err)
		}
	}
	return newApp, e.Store.DestroyApp(oldApp)
}

func appsClone(e *Call, args []string) error {
	if pos := append(positional(args), "", ""); hasFlag(args, "--ignore-existing") && pos[1] != "" && e.Store.AppExists(pos[1]) {
		e.Warn("Name is already taken")
		return nil
	}
	newApp, err := cloneApp(e, args)
	if err != nil {
		return err
	}
	return e.rebuildCopy(newApp, args)
}

func cloneApp(e *Call, args []string) (string, error) {
	oldApp, newApp, unlock, err := startCopy(e, args)
	if err != nil {
		return "", err
	}
	defer unlock()
	e.Info1("Cloning %s to %s", oldApp, newApp)
	return newApp, copyApp(e, oldApp, newApp)
}

// rebuildCopy builds and deploys the app a rename or clone made, as Dokku
// does, unless --skip-deploy or its repository has no code. It runs after
// the apps' locks are released: the deploy takes its own.
func (e *Call) rebuildCopy(app string, args []string) error {
	p := e.Dispatcher.cfg.Pipeline
	if hasFlag(args, "--skip-deploy") || p == nil || !p.HasCode(e.Ctx, app) {
		return nil
	}
	return deployError(p.Rebuild(e.Ctx, app, "ps:rebuild", e.Stdout))
}
