package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"dokku-sshd/deploy"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/dockerlocal"
	"dokku-sshd/store"
)

// ps properties with their computed defaults (each default's home is the
// package that reads the property); Global marks the ones that may also be
// set with --global (docs/dokku-behaviour.md#ps-scale).
var psProps = []struct {
	Name, Default string
	Global        bool
}{
	{"dockerfile-start-cmd", "", false},
	{"procfile-path", deploy.DefaultProcfilePath, true},
	{"restart-policy", dockerlocal.DefaultRestartPolicy, true},
	{"skip-deploy", deploy.DefaultSkipDeploy, true},
	{"start-cmd", "", false},
	{"stop-timeout-seconds", strconv.Itoa(dockerlocal.DefaultStopTimeout), true},
}

var restartPolicy = regexp.MustCompile(`^(no|always|unless-stopped|on-failure(:[0-9]+)?)$`)

func psGroup() *Group {
	report := ReportSpec{
		Command: "ps:report", Type: "ps", FlagPrefix: "ps", Legacy: true,
		App:    psReport,
		Global: func(e *Call) (map[string]string, error) { return psPropertyFields(e, store.Global) },
	}
	boolean := func(name string) func(string) error {
		return func(v string) error {
			if v != "true" && v != "false" {
				return output.Userf("Invalid %s specified, valid values include: true, false", name)
			}
			return nil
		}
	}
	set := SetSpec{Plugin: "ps", Props: []Property{
		{Name: "dockerfile-start-cmd", App: true},
		{Name: "procfile-path", App: true, Global: true},
		{Name: "restart-policy", App: true, Global: true, Validate: func(v string) error {
			if !restartPolicy.MatchString(v) {
				return output.Userf("Invalid restart-policy specified")
			}
			return nil
		}},
		{Name: "restore", App: true, Validate: boolean("restore")},
		{Name: "skip-deploy", App: true, Global: true, Validate: boolean("skip-deploy")},
		{Name: "start-cmd", App: true},
		{Name: "stop-timeout-seconds", App: true, Global: true, Validate: func(v string) error {
			if n, err := strconv.Atoi(v); err != nil || n < 0 {
				return output.Userf("Invalid stop-timeout-seconds specified, must be a non-negative integer")
			}
			return nil
		}},
	}}
	return &Group{
		Name:        "ps",
		Description: "Manage app processes",
		Commands: []*Command{
			{Name: "ps:inspect", Args: "<app>", Help: "Displays a sanitized version of docker inspect for an app", Run: psInspect},
			{Name: "ps:rebuild", Args: "[--parallel count] [--all|<app>]", Help: "Rebuilds an app from source", Run: psRebuild},
			{Name: "ps:report", Args: "[<app>] [<flag>]", Help: "Displays a process report for one or more apps",
				Run: func(e *Call, args []string) error { return e.RunReport(report, args) }},
			{Name: "ps:restart", Args: "[--parallel count] [--all|<app>] [<process-name>]", Help: "Restart an app", Run: psRestart},
			{Name: "ps:restore", Args: "[<app>]", Help: "Start previously running apps e.g. after reboot", Run: psRestore},
			{Name: "ps:retire", Args: "[<app>]", Help: "Retire old containers and images whose time has come, and expired run containers", Run: psRetire},
			{Name: "ps:scale", Args: "[--skip-deploy] [--format stdout|json] <app> <proc>=<count> [<proc>=<count>...]", Help: "Get/Set how many instances of a given process to run", Run: psScale},
			{Name: "ps:set", Args: "<app> <key> <value>", Help: "Set or clear a ps property for an app",
				Run: func(e *Call, args []string) error { return e.RunSet(set, args) }},
			{Name: "ps:start", Args: "[--parallel count] [--all|<app>]", Help: "Start an app", Run: psStart},
			{Name: "ps:stop", Args: "[--parallel count] [--all|<app>]", Help: "Stop an app", Run: psStop},
		},
	}
}

// pipeline returns the deploy pipeline, or an error where none is wired.
func (e *Call) pipeline() (*deploy.Pipeline, error) {
	if e.Dispatcher.cfg.Pipeline == nil {
		return nil, output.Userf("Deploys are not available on this server")
	}
	return e.Dispatcher.cfg.Pipeline, nil
}

// deployError turns a deploy that already reported its failure into a
// plain exit 1.
func deployError(err error) error {
	if errors.Is(err, deploy.ErrFailed) {
		return output.Exit(output.ExitFailure)
	}
	return err
}

// deployedScheduler returns the scheduler of a deployed app for the
// commands that act on its processes (logs, run, enter); the app was
// checked by the caller.
func (e *Call) deployedScheduler(app string) (schedulers.Scheduler, error) {
	s, err := e.appScheduler(app)
	if err != nil {
		return nil, err
	}
	ok, err := s.IsDeployed(e.Ctx, app)
	if err != nil {
		if output.IsUserError(err) {
			return nil, err // the scheduler's own message says what failed
		}
		return nil, fmt.Errorf("check whether %s is deployed: %w", app, err)
	}
	if !ok {
		return nil, output.Userf("App %s has not been deployed", app)
	}
	return s, nil
}

// isDeployed is Dokku's IsDeployed: the cached common/deployed property,
// else the scheduler's answer.
func (e *Call) isDeployed(app string) bool {
	// The property only caches the scheduler's answer: unreadable, the
	// scheduler is asked.
	if v, _ := e.Store.Property("common", app, "deployed"); v == "true" {
		return true
	}
	s := e.scheduler(app)
	if s == nil {
		return false
	}
	ok, err := s.IsDeployed(e.Ctx, app)
	return err == nil && ok
}

func psPropertyFields(e *Call, app string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range psProps {
		if !p.Global && app == store.Global {
			continue
		}
		f, err := e.propertyFields("ps", "ps", app, map[string]string{p.Name: p.Default})
		if err != nil {
			return nil, err
		}
		if !p.Global {
			delete(f, "ps-global-"+p.Name)
		}
		for k, v := range f {
			out[k] = v
		}
	}
	return out, nil
}

func psReport(e *Call, app string) (map[string]string, error) {
	out, err := psPropertyFields(e, app)
	if err != nil {
		return nil, err
	}
	canScale, err := e.Store.Property("ps", app, "can-scale")
	if err != nil {
		return nil, err
	}
	if canScale == "" {
		canScale = "true"
	}
	restore, err := e.Store.Property("ps", app, "restore")
	if err != nil {
		return nil, err
	}
	if restore == "" {
		restore = "true"
	}
	out["ps-can-scale"] = canScale
	out["restore"] = restore
	out["deployed"] = strconv.FormatBool(e.isDeployed(app))
	// The recorded release: what runs, and what every restart starts.
	out["deployed-at"], out["deployed-image"], out["deployed-rev"] = "", "", ""
	if d, err := deploy.DeployedRelease(e.Store, app); err != nil {
		return nil, err
	} else if d != nil {
		out["deployed-image"], out["deployed-rev"] = d.Ref(), d.Rev
		if !d.DeployedAt.IsZero() {
			out["deployed-at"] = d.DeployedAt.UTC().Format(time.RFC3339)
		}
	}
	out["processes"], out["running"] = "0", "false"
	if s := e.scheduler(app); s != nil {
		n, running, err := s.Status(e.Ctx, app)
		if err != nil {
			// The report stays readable; the user is told why its process
			// fields say nothing, and the scheduler is not asked again.
			e.Warn("Unable to read the processes of %s: %s", app, output.Reason(e.Ctx, e.Dispatcher.cfg.Logger, err, "app", app))
			out["processes"], out["running"] = "-1", "false"
			return out, nil
		}
		out["processes"], out["running"] = strconv.Itoa(n), running
		if ps, ok := s.(schedulers.ProcessStatuser); ok {
			st, err := ps.ProcessStatuses(e.Ctx, app)
			if err != nil {
				return nil, err
			}
			for dyno, v := range st {
				out["status-"+dyno] = v
			}
		}
	}
	return out, nil
}

func psInspect(e *Call, args []string) error {
	p, err := e.parsePflag("ps:inspect", nil, args)
	if err != nil {
		return err
	}
	app := p.arg(0)
	if err := e.VerifyApp(app); err != nil {
		return err
	}
	s, err := e.appScheduler(app)
	if err != nil {
		return err
	}
	return s.Inspect(e.Ctx, app, e.Stdout)
}

// psAllFlags are the flags of the ps commands that act on one app or on
// all of them, as Dokku declares them for ps:<sub>.
func psAllFlags(sub string) []flagSpec {
	return []flagSpec{
		{name: "all", usage: "--all: " + sub + " all apps"},
		{name: "parallel", kind: intFlag, usage: "--parallel: number of apps to " + sub + " in parallel, -1 to match cpu count"},
	}
}

// psTargets are the apps a ps command acts on.
type psTargets struct {
	apps     []string
	parallel int      // how many apps at a time
	all      bool     // --all
	rest     []string // the words after the app (all words with --all)
}

// psArgs parses ps:<sub>'s [--parallel count] [--all|<app>] [extra...].
func (e *Call) psArgs(sub string, args []string) (*psTargets, error) {
	p, err := e.parsePflag("ps:"+sub, psAllFlags(sub), args)
	if err != nil {
		return nil, err
	}
	if p.bools["all"] {
		apps, parallel, err := e.allApps(p.ints["parallel"])
		if err != nil {
			return nil, err
		}
		return &psTargets{apps: apps, parallel: parallel, all: true, rest: p.args}, nil
	}
	app := p.arg(0)
	if err := e.VerifyApp(app); err != nil {
		return nil, err
	}
	return &psTargets{apps: []string{app}, parallel: 1, rest: p.args[1:]}, nil
}

// allApps returns every app and how many of them to run at a time for
// --parallel n, as Dokku reads it: 0 and 1 run them one after the other,
// -1 one per CPU.
func (e *Call) allApps(n int) (apps []string, parallel int, err error) {
	switch {
	case n < -1:
		return nil, 0, output.Userf("Invalid value %d for --parallel flag", n)
	case n == -1:
		n = runtime.NumCPU()
	}
	if apps, err = e.Store.Apps(); err != nil {
		return nil, 0, err
	}
	return apps, n, nil
}

// eachApp runs fn for every app, parallel at a time. With more than one at
// a time each app's output is held and written, in the order of apps, once
// it ends, so apps' transcripts never interleave (GNU parallel's --group
// --keep-order, as Dokku runs them). Every app is tried; the first error
// decides the exit status.
func (e *Call) eachApp(apps []string, parallel int, fn func(e *Call, app string) error) error {
	if parallel <= 1 || len(apps) <= 1 {
		var first error
		for _, app := range apps {
			if err := e.printed(fn(e, app)); err != nil && first == nil {
				first = err
			}
		}
		return first
	}
	type job struct {
		stdout, stderr bytes.Buffer
		err            error
		done           chan struct{}
	}
	jobs := make([]*job, len(apps))
	sem := make(chan struct{}, parallel)
	for i, app := range apps {
		j := &job{done: make(chan struct{})}
		jobs[i] = j
		go func() {
			defer close(j.done)
			sem <- struct{}{}
			defer func() { <-sem }()
			sub := *e
			sub.Stdout, sub.Stderr = &j.stdout, &j.stderr
			j.err = sub.printed(fn(&sub, app))
		}()
	}
	var first error
	for _, j := range jobs {
		<-j.done
		_, _ = io.Copy(e.Stdout, &j.stdout)
		_, _ = io.Copy(e.Stderr, &j.stderr)
		if j.err != nil && first == nil {
			first = j.err
		}
	}
	return first
}

// notDeployed is Dokku's warning for ps commands on an app never deployed
// (exit 0).
func (e *Call) notDeployed(app string) bool {
	if e.isDeployed(app) {
		return false
	}
	e.Warn("App %s has not been deployed", app)
	return true
}

func psRebuild(e *Call, args []string) error {
	t, err := e.psArgs("rebuild", args)
	if err != nil {
		return err
	}
	if len(t.rest) > 0 {
		return output.Userf("Unexpected argument: %s", t.rest[0])
	}
	p, err := e.pipeline()
	if err != nil {
		return err
	}
	return e.eachApp(t.apps, t.parallel, func(e *Call, app string) error {
		return deployError(p.Rebuild(e.Ctx, app, "ps:rebuild", e.Stdout))
	})
}

func psRestart(e *Call, args []string) error {
	t, err := e.psArgs("restart", args)
	if err != nil {
		return err
	}
	// Dokku takes the process from the word after the app's place, so
	// that `--all web` restarts every app; here it is refused.
	proc := firstArg(t.rest)
	if proc != "" && t.all {
		return output.Userf("Unable to restart all apps when specifying a process name")
	}
	p, err := e.pipeline()
	if err != nil {
		return err
	}
	return e.eachApp(t.apps, t.parallel, func(e *Call, app string) error {
		if e.notDeployed(app) {
			return nil
		}
		return deployError(p.Redeploy(e.Ctx, app, "ps:restart", proc, e.Stdout))
	})
}

func psStart(e *Call, args []string) error {
	t, err := e.psArgs("start", args)
	if err != nil {
		return err
	}
	return e.eachApp(t.apps, t.parallel, startApp)
}

// startApp releases app unless all its processes run (ps:start).
func startApp(e *Call, app string) error {
	if e.notDeployed(app) {
		return nil
	}
	p, err := e.pipeline()
	if err != nil {
		return err
	}
	s, err := e.appScheduler(app)
	if err != nil {
		return err
	}
	_, running, err := s.Status(e.Ctx, app)
	if err != nil {
		return err
	}
	switch running {
	case "true":
		e.Warn("App %s already running", app)
		return nil
	case "mixed":
		e.Warn("App is running in mixed mode, releasing")
	default:
		e.Warn("App has been detected as not running, releasing")
	}
	// Dokku's ps:start calls release-and-deploy without a source: its
	// build is recorded as "deploy".
	return deployError(p.ReleaseAndDeploy(e.Ctx, app, "deploy", e.Stdout))
}

func psStop(e *Call, args []string) error {
	t, err := e.psArgs("stop", args)
	if err != nil {
		return err
	}
	return e.eachApp(t.apps, t.parallel, func(e *Call, app string) error {
		if e.notDeployed(app) {
			return nil
		}
		s, err := e.appScheduler(app)
		if err != nil {
			return err
		}
		e.Info1Quiet("Stopping %s", app)
		// A scheduler that says what it stops (k3s: a line per process
		// type) gets the client's output.
		if so, ok := s.(interface {
			StopWithOutput(ctx context.Context, app string, out io.Writer) error
		}); ok {
			out := e.Stdout
			if e.Flags.Quiet {
				out = io.Discard
			}
			return so.StopWithOutput(e.Ctx, app, out)
		}
		return s.Stop(e.Ctx, app)
	})
}

// psRestore is ps:restore: one app, or with --all or no app every app.
func psRestore(e *Call, args []string) error {
	p, err := e.parsePflag("ps:restore", psAllFlags("restore"), args)
	if err != nil {
		return err
	}
	apps, parallel := []string{p.arg(0)}, 1
	all := p.bools["all"]
	if !all && apps[0] == "" {
		e.Warn("Restore specified without app, assuming --all")
		all = true
	}
	if all {
		apps, parallel, err = e.allApps(p.ints["parallel"])
	} else {
		err = e.VerifyApp(apps[0])
	}
	if err != nil {
		return err
	}
	return e.eachApp(apps, parallel, func(e *Call, app string) error {
		e.Info1("Clearing potentially invalid proxy configuration")
		if e.notDeployed(app) {
			return nil
		}
		if v, err := e.Store.Property("ps", app, "restore"); err != nil {
			return fmt.Errorf("read ps restore of %s: %w", app, err)
		} else if v == "false" {
			e.Warn("Skipping ps:restore for %s as restore property is false", app)
			return nil
		}
		e.Info1("Starting app")
		return startApp(e, app)
	})
}

// psScale is ps:scale: with no <proc>=<count> it shows the scale, else it
// sets it (the rules are schedulers') and redeploys the types whose count
// changed.
func psScale(e *Call, args []string) error {
	p, err := e.parsePflag("ps:scale", []flagSpec{
		{name: "skip-deploy", usage: "--skip-deploy: skip deploy of the app"},
		formatFlag,
	}, args)
	if err != nil {
		return err
	}
	format, pos := p.strs["format"], p.args
	if err := checkFormat(format); err != nil {
		return err
	}
	app := p.arg(0)
	if err := e.VerifyApp(app); err != nil {
		return err
	}
	current, _, err := schedulers.ReadScale(e.Store, app)
	if err != nil {
		return err
	}
	if len(pos) == 1 {
		return e.showScale(app, format, current)
	}
	if v, err := e.Store.Property("ps", app, "can-scale"); err != nil {
		return fmt.Errorf("read ps can-scale of %s: %w", app, err)
	} else if v == "false" {
		return output.Userf("App %s contains an app.json file with a formations key and cannot be manually scaled", app)
	}
	deployed := e.isDeployed(app)
	changes, err := e.scaleChanges(app, deployed, pos[1:])
	if err != nil {
		return err
	}
	e.Info1("Scaling %s processes: %s", app, strings.Join(pos[1:], " "))
	changed, err := schedulers.SetScale(e.Ctx, e.Store, app, changes)
	if err != nil {
		return err
	}
	if p.bools["skip-deploy"] || !deployed {
		return nil
	}
	pl, err := e.pipeline()
	if err != nil {
		return err
	}
	for _, proc := range changed {
		if err := deployError(pl.Redeploy(e.Ctx, app, "ps:scale", proc, e.Stdout)); err != nil {
			return err
		}
	}
	return nil
}

// scaleChanges parses ps:scale's <proc>=<count> arguments. A deployed app
// can only scale up what its release can run; any app only names a
// Procfile could hold.
func (e *Call) scaleChanges(app string, deployed bool, args []string) ([]schedulers.ProcessCount, error) {
	var procfile map[string]string
	if deployed {
		var err error
		if procfile, err = deploy.DeployedProcfile(e.Store, app); err != nil {
			return nil, err
		}
	}
	changes := make([]schedulers.ProcessCount, 0, len(args))
	for _, a := range args {
		pc, err := schedulers.ParseProcessCount(a)
		if err != nil {
			return nil, err
		}
		if !deploy.ValidProcessName(pc.Proc) {
			return nil, schedulers.NotScalable(pc.Proc)
		}
		if deployed {
			if err := schedulers.CheckScalable(pc, procfile); err != nil {
				return nil, err
			}
		}
		changes = append(changes, pc)
	}
	return changes, nil
}

// scaleReport is the scale as Dokku reports it: each type once (its first
// line in the scale file), sorted by name.
func scaleReport(pcs []schedulers.ProcessCount) []schedulers.ProcessCount {
	seen := map[string]bool{}
	out := make([]schedulers.ProcessCount, 0, len(pcs))
	for _, pc := range pcs {
		if !seen[pc.Proc] {
			seen[pc.Proc] = true
			out = append(out, pc)
		}
	}
	slices.SortFunc(out, func(a, b schedulers.ProcessCount) int { return strings.Compare(a.Proc, b.Proc) })
	return out
}

func (e *Call) showScale(app, format string, current []schedulers.ProcessCount) error {
	current = scaleReport(current)
	if format == "json" {
		type entry struct {
			ProcessType string `json:"process_type"`
			Quantity    int    `json:"quantity"`
		}
		out := []entry{}
		for _, pc := range current {
			out = append(out, entry{pc.Proc, pc.Count})
		}
		data, err := json.Marshal(out)
		if err != nil {
			return err
		}
		e.Println(string(data))
		return nil
	}
	e.Info1Quiet("Scaling for %s", app)
	if !e.Flags.Quiet {
		e.Println("proctype: qty")
		e.Println("--------: ---")
	}
	for _, pc := range current {
		e.Println(fmt.Sprintf("%-5s %d", pc.Proc+":", pc.Count))
	}
	return nil
}

// ExitRetireLocked is ps:retire's status when another retirement holds
// its lock (Dokku's RetireLockFailed).
const ExitRetireLocked = 137

// psRetire is ps:retire: under the retirement lock, the containers (and
// their images) of app, or of every app, whose wait-to-retire has passed,
// then the run containers past their ttl, of every app whatever app is
// given (as Dokku's scheduler-run-retire is called without one).
func psRetire(e *Call, args []string) error {
	p, err := e.parsePflag("ps:retire", nil, args)
	if err != nil {
		return err
	}
	app := p.arg(0)
	if app != "" {
		if err := e.VerifyApp(app); err != nil {
			return err
		}
	}
	unlock, ok, err := e.Store.TryRetireLock()
	if err != nil {
		return output.Exitf(ExitRetireLocked, "Failed to acquire ps:retire lock: %s", output.CutPaths(err.Error()))
	}
	if !ok {
		return output.Exitf(ExitRetireLocked, "Failed to acquire ps:retire lock")
	}
	defer unlock()
	out := e.Stdout
	if e.Flags.Quiet {
		out = io.Discard
	}
	var all []schedulers.Scheduler
	if p := e.Dispatcher.cfg.Pipeline; p != nil {
		all = p.Schedulers.All()
	}
	scheds := all
	if app != "" {
		s, err := e.appScheduler(app)
		if err != nil {
			return err
		}
		scheds = []schedulers.Scheduler{s}
	}
	e.Info1("Retiring old containers and images")
	for _, s := range scheds {
		if err := s.Retire(e.Ctx, app, out); err != nil {
			return output.Userf("Error retiring containers: %s", output.CutPaths(err.Error()))
		}
	}
	e.Info1("Retiring expired run and cron containers")
	announced := false
	for _, s := range all {
		r, ok := s.(schedulers.Runner)
		if !ok {
			continue
		}
		if !announced {
			e.Info1Quiet("Retiring all run and cron containers")
			announced = true
		}
		if err := r.RunRetire(e.Ctx, ""); err != nil {
			return output.Userf("Error retiring expired run containers: %s", output.CutPaths(err.Error()))
		}
	}
	return nil
}
