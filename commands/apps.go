package commands

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"dokku-sshd/domains"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

func appsGroup() *Group {
	g := &Group{
		Name:        "apps",
		Description: "Manage apps",
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
	g.Bare = func(e *Call, args []string) error { return appsBare(e, g, args) }
	return g
}

var appsSet = SetSpec{Plugin: "apps", Props: []Property{
	{Name: "deploy-source", App: true},
	{Name: "deploy-source-metadata", App: true},
	{Name: "disable-autocreation", Global: true, Validate: func(v string) error {
		if v != "true" && v != "false" {
			return output.Userf("Invalid value for disable-autocreation, expected true or false")
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
		return output.Userf("Please specify an app to run the command on")
	case store.NewAppNameProblem(app) != "":
		return output.Userf("%s", store.NewAppNameProblem(app))
	case e.Store.AppExists(app):
		return output.Userf("Name is already taken")
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
			return output.Userf("Name is already taken")
		}
		return err
	}
	// APP.GLOBAL-DOMAIN, when a global domain exists (Dokku's post-create).
	if created, err := domains.SetupDefaults(e.Store, app); err != nil {
		return err
	} else if created {
		e.Info1Quiet("Creating new app virtual host file...")
	}
	return nil
}

func firstArg(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return ""
}

// appArg parses the command line of an apps subcommand that takes no flag
// and returns its app.
func (e *Call) appArg(cmd string, args []string) (string, error) {
	p, err := e.parsePflag(cmd, nil, args)
	if err != nil {
		return "", err
	}
	return p.arg(0), nil
}

func appsCreate(e *Call, args []string) error {
	app, err := e.appArg("apps:create", args)
	if err != nil {
		return err
	}
	return e.CreateApp(app)
}

func appsExists(e *Call, args []string) error {
	app, err := e.appArg("apps:exists", args)
	if err != nil {
		return err
	}
	return e.VerifyApp(app)
}

// appsBare is the bare `apps`: the list, with no flag of its own; a bad
// flag prints the plugin's help, as Dokku's does.
func appsBare(e *Call, g *Group, args []string) error {
	usage := func() { _ = e.Dispatcher.groupHelp(e, g) }
	if _, err := e.parsePflagUsage("apps", usage, nil, args); err != nil {
		return err
	}
	return listApps(e, "stdout")
}

func appsList(e *Call, args []string) error {
	p, err := e.parsePflag("apps:list", []flagSpec{formatFlag}, args)
	if err != nil {
		return err
	}
	return listApps(e, p.strs["format"])
}

func listApps(e *Call, format string) error {
	if err := checkFormat(format); err != nil {
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
			return output.Userf("EOF")
		}
		return err
	case strings.TrimSpace(line) == "":
		return output.Userf("unexpected newline")
	case strings.Fields(line)[0] != app:
		return output.Plainf("Confirmation did not match test. Aborted.")
	}
	return nil
}

func appsDestroy(e *Call, args []string) error {
	// The dispatcher takes --force for the global flag; declared here too
	// for the usage Dokku prints.
	p, err := e.parsePflag("apps:destroy", []flagSpec{
		{name: "force", usage: "--force: force destroy without confirmation"},
	}, args)
	if err != nil {
		return err
	}
	app := p.arg(0)
	if err := e.VerifyApp(app); err != nil {
		return err
	}
	if !e.Flags.Force && !p.bools["force"] {
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
			return schedulerDestroyError(app, sched.Name(), "destroy", err)
		}
	}
	if r := e.Dispatcher.cfg.Proxy; r != nil {
		// Routed by an earlier scheduler, say: the config goes with the
		// app's directory, nginx must forget it.
		if err := r.Unroute(e.Ctx, app); err != nil {
			return err
		}
	}
	return e.Store.DestroyApp(app)
}

// schedulerDestroyError is a failure of app's scheduler to remove its
// processes (a cluster that cannot be reached): the app is kept whole, and
// the user is told how to let it go all the same.
func schedulerDestroyError(app, scheduler, doing string, err error) error {
	if !output.IsUserError(err) {
		return fmt.Errorf("%s %s on the %s scheduler: %w", doing, app, scheduler, err)
	}
	return output.Userf("%w\nThe app %s is kept. To %s it all the same, leaving what the %s scheduler runs for it, "+
		"select the null scheduler first: scheduler:set %s selected null", err, app, doing, scheduler, app)
}

func deployLockedError(app string) error {
	return output.Userf("%s currently has a deploy lock in place. Exiting...\nRun 'apps:unlock' to release the existing deploy lock", app)
}

func appsLock(e *Call, args []string) error {
	app, err := e.appArg("apps:lock", args)
	if err != nil {
		return err
	}
	if err := e.VerifyApp(app); err != nil {
		return err
	}
	if err := e.Store.SetManualLock(app, true); err != nil {
		return output.Userf("Unable to create deploy lock")
	}
	e.Info1("Deploy lock created")
	return nil
}

func appsLocked(e *Call, args []string) error {
	app, err := e.appArg("apps:locked", args)
	if err != nil {
		return err
	}
	if err := e.VerifyApp(app); err != nil {
		return err
	}
	if !e.Store.Locked(app) {
		return output.Userf("Deploy lock does not exist")
	}
	if !e.Flags.Quiet {
		e.Println("Deploy lock exists")
	}
	return nil
}

func appsUnlock(e *Call, args []string) error {
	app, err := e.appArg("apps:unlock", args)
	if err != nil {
		return err
	}
	if err := e.VerifyApp(app); err != nil {
		return err
	}
	running := e.Store.DeployRunning(app)
	if !e.Store.ManuallyLocked(app) && !running {
		return output.Userf("Unable to remove deploy lock")
	}
	e.Warn("A deploy may be in progress.")
	e.Warn("Removing the app lock will not stop in progress deploys.")
	if err := e.Store.SetManualLock(app, false); err != nil {
		return output.Userf("Unable to remove deploy lock")
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
		return output.Userf("Please specify an new app name")
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
			return output.Userf("Name is already taken") // created meanwhile, e.g. by a push
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

// startCopy is the common start of rename and clone: both apps locked,
// every check passed. unlock must be called.
func startCopy(e *Call, oldApp, newApp string) (unlock func(), err error) {
	if err := e.VerifyApp(oldApp); err != nil {
		return nil, err
	}
	unlock, err = e.lockPair(oldApp, newApp)
	if err != nil {
		return nil, err
	}
	if err := checkCopy(e, oldApp, newApp); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// skipDeployFlag is rename's and clone's --skip-deploy.
var skipDeployFlag = flagSpec{name: "skip-deploy", usage: "--skip-deploy: skip deploy of the new app"}

func appsRename(e *Call, args []string) error {
	p, err := e.parsePflag("apps:rename", []flagSpec{skipDeployFlag}, args)
	if err != nil {
		return err
	}
	if err := renameApp(e, p.arg(0), p.arg(1)); err != nil {
		return err
	}
	return e.rebuildCopy(p.arg(1), p.bools["skip-deploy"])
}

func renameApp(e *Call, oldApp, newApp string) error {
	unlock, err := startCopy(e, oldApp, newApp)
	if err != nil {
		return err
	}
	defer unlock()
	e.Info1("Renaming %s to %s", oldApp, newApp)
	if err := copyApp(e, oldApp, newApp); err != nil {
		return err
	}
	if err := domains.RenameSetup(e.Store, oldApp, newApp); err != nil {
		return err
	}
	if sched := e.scheduler(oldApp); sched != nil {
		if err := sched.Destroy(e.Ctx, oldApp); err != nil {
			// The old app is still whole: the copy goes, so that nothing of
			// the rename stays (two apps with the same domains).
			if rerr := e.Store.DestroyApp(newApp); rerr != nil {
				return fmt.Errorf("rename %s: remove the copy %s after %v: %w", oldApp, newApp, err, rerr)
			}
			return schedulerDestroyError(oldApp, sched.Name(), "rename", err)
		}
	}
	return e.Store.DestroyApp(oldApp)
}

func appsClone(e *Call, args []string) error {
	p, err := e.parsePflag("apps:clone", []flagSpec{
		skipDeployFlag,
		{name: "ignore-existing", usage: "--ignore-existing: exit 0 if new app already exists"},
	}, args)
	if err != nil {
		return err
	}
	oldApp, newApp := p.arg(0), p.arg(1)
	if p.bools["ignore-existing"] && newApp != "" && e.Store.AppExists(newApp) {
		e.Warn("Name is already taken")
		return nil
	}
	if err := cloneApp(e, oldApp, newApp); err != nil {
		return err
	}
	return e.rebuildCopy(newApp, p.bools["skip-deploy"])
}

func cloneApp(e *Call, oldApp, newApp string) error {
	unlock, err := startCopy(e, oldApp, newApp)
	if err != nil {
		return err
	}
	defer unlock()
	e.Info1("Cloning %s to %s", oldApp, newApp)
	if err := copyApp(e, oldApp, newApp); err != nil {
		return err
	}
	if err := domains.CloneSetup(e.Store, newApp); err != nil {
		return err
	}
	return certsCloneSetup(e, newApp)
}

// rebuildCopy builds and deploys the app a rename or clone made, as Dokku
// does, unless --skip-deploy or its repository has no code. It runs after
// the apps' locks are released: the deploy takes its own.
func (e *Call) rebuildCopy(app string, skipDeploy bool) error {
	p := e.Dispatcher.cfg.Pipeline
	if skipDeploy || p == nil || !p.HasCode(e.Ctx, app) {
		return nil
	}
	// Dokku's ps plugin rebuilds it through receive-app, which records
	// the build as a git-hook one.
	return deployError(p.Rebuild(e.Ctx, app, "git-hook", e.Stdout))
}
