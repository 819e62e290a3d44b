package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"dokku-sshd/deploy"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

func runGroup() *Group {
	run := &Command{Name: "run", Args: "[-e|--env KEY=VALUE] [--no-tty] [--force-tty] [--ttl-seconds SECONDS] <app> <cmd>",
		Help: "Run a command in a new container using the current app image", RawArgs: true, Run: runAttached}
	return &Group{
		Name:        "run",
		Description: "Run a one-off process inside a container",
		Bash:        true,
		Commands: []*Command{
			run,
			{Name: "run:detached", Args: "[-e|--env KEY=VALUE] [--force-tty] [--ttl-seconds SECONDS] <app> <cmd>",
				Help: "Run a command in a new detached container using the current app image", RawArgs: true, Run: runDetached},
			{Name: "run:list", Args: "[--format json|stdout] <app>", Help: "List all run containers for an app", Run: runList},
			{Name: "run:retire", Args: "[<app>]", Help: "Stop the run containers that outlived their ttl", Run: runRetire},
			{Name: "run:stop", Args: "<app|--container CONTAINER>", Help: "Stop all run containers for an app or a specified run container", Run: runStop},
		},
	}
}

// runArgs are the words of run and run:detached: flags, the app, then the
// command (everything after the app, flags included).
type runArgs struct {
	env      []string
	noTTY    bool
	forceTTY bool
	ttl      int
	app      string
	cmd      []string
}

var digits = regexp.MustCompile(`^[0-9]+$`)

// parseRunArgs reads the flags before the app; the first other word is the
// app.
func parseRunArgs(args []string) (runArgs, error) {
	var r runArgs
	i := 0
	value := func(flag string) (string, error) {
		if i+1 >= len(args) {
			return "", output.Userf("%s requires an argument", flag)
		}
		i++
		return args[i], nil
	}
	ttl := ""
	ttlSet := false
loop:
	for ; i < len(args); i++ {
		w := args[i]
		switch {
		case w == "-e" || w == "--env":
			v, err := value(w)
			if err != nil {
				return r, err
			}
			r.env = append(r.env, v)
		case strings.HasPrefix(w, "--env="):
			r.env = append(r.env, strings.TrimPrefix(w, "--env="))
		case w == "--no-tty":
			r.noTTY = true
		case w == "--force-tty":
			r.forceTTY = true
		case w == "--ttl-seconds":
			v, err := value(w)
			if err != nil {
				return r, err
			}
			ttl, ttlSet = v, true
		case strings.HasPrefix(w, "--ttl-seconds="):
			ttl, ttlSet = strings.TrimPrefix(w, "--ttl-seconds="), true
		default:
			break loop
		}
	}
	if ttlSet {
		n, err := strconv.Atoi(ttl)
		if !digits.MatchString(ttl) || err != nil || n <= 0 {
			return r, output.Userf("--ttl-seconds must be a positive integer")
		}
		r.ttl = n
	}
	for _, kv := range r.env {
		// The engine has no environment of the client's to take a bare
		// KEY from: only KEY=VALUE means something.
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return r, output.Userf("Invalid -e value %q: expected KEY=VALUE", kv)
		}
	}
	if r.noTTY && r.forceTTY {
		return r, output.Userf("Cannot specify both --force-tty and --no-tty")
	}
	if i < len(args) {
		r.app, r.cmd = args[i], args[i+1:]
	}
	return r, nil
}

// processScheduler returns app's scheduler once app exists (bash
// plugins' check: exit 20) and was deployed.
func (e *Call) processScheduler(app string) (schedulers.Scheduler, error) {
	if err := e.VerifyAppBash(app); err != nil {
		return nil, err
	}
	return e.deployedScheduler(app)
}

// runner is app's scheduler as a Runner, with the release its one-off
// containers start from. Dokku's run family never asks whether a process
// of the app runs: an app scaled to 0, or one with only commands for run
// in its Procfile, runs them from its deployed image all the same. So
// what counts is the release record, not the running containers; an app
// never deployed has none.
func (e *Call) runner(app, what string) (schedulers.Runner, *schedulers.Deployed, error) {
	if err := e.VerifyAppBash(app); err != nil {
		return nil, nil, err
	}
	// A scheduler that runs nothing says so first, deployed or not.
	s, err := e.appScheduler(app)
	if err != nil {
		return nil, nil, err
	}
	r, ok := s.(schedulers.Runner)
	if !ok {
		return nil, nil, output.Userf("The %s scheduler does not support %s", s.Name(), what)
	}
	d, err := deploy.DeployedRelease(e.Store, app)
	if err != nil {
		return nil, nil, fmt.Errorf("read the deployed release of %s: %w", app, err)
	}
	if d == nil || d.Ref() == "" {
		return nil, nil, output.Userf("App %s has not been deployed", app)
	}
	return r, d, nil
}

// globalLabels are the labels of `dokku --label=KEY=VALUE run ...`.
func (e *Call) globalLabels() map[string]string {
	labels := map[string]string{}
	for _, f := range e.Flags.Other {
		if kv, ok := strings.CutPrefix(f, "--label="); ok {
			k, v, _ := strings.Cut(kv, "=")
			if k != "" {
				labels[k] = v
			}
		}
	}
	return labels
}

func runAttached(e *Call, args []string) error { return e.runOneOff(args, false) }

func runDetached(e *Call, args []string) error { return e.runOneOff(args, true) }

func (e *Call) runOneOff(args []string, detach bool) error {
	ra, err := parseRunArgs(args)
	if err != nil {
		return err
	}
	r, d, err := e.runner(ra.app, "run")
	if err != nil {
		return err
	}
	config, err := e.Store.MergedEnv(ra.app)
	if err != nil {
		return fmt.Errorf("read the config of %s: %w", ra.app, err)
	}
	shell, err := e.Store.ComputedProperty("scheduler", ra.app, "shell", "")
	if err != nil {
		return err
	}
	// The deployed release's image by id (Dokku runs its
	// deployed-image-tag, which a failed build may have moved since);
	// legacy when the tag is all an app deployed before releases were
	// recorded has (the scheduler then looks up what its containers run).
	o := &schedulers.RunOptions{
		App: ra.app, Image: d.Ref(), Legacy: d.Legacy, Command: ra.cmd, Shell: shell, Env: ra.env, Config: config,
		Process: d.Procfile, TTL: ra.ttl, Labels: e.globalLabels(),
		Detach: detach, Quiet: e.Flags.Quiet,
		Stdio: schedulers.Stdio{Stdin: e.Stdin, Stdout: e.Stdout, Stderr: e.Stderr},
	}
	if detach {
		// A detached container has no client to relay a terminal to; a
		// TTY only on request.
		o.TTY = ra.forceTTY
	} else {
		o.TTY = !ra.noTTY && (ra.forceTTY || e.Terminal != nil)
		if o.TTY {
			o.Terminal = e.Terminal
		}
	}
	name, status, err := r.Run(e.Ctx, o)
	if err != nil {
		return err
	}
	if detach {
		e.Println(name)
		return nil
	}
	if status != 0 {
		return output.Exit(status)
	}
	return nil
}

func runList(e *Call, args []string) error {
	format, pos, err := formatArg(args)
	if err != nil {
		return err
	}
	app := firstArg(pos)
	r, _, err := e.runner(app, "run:list")
	if err != nil {
		return err
	}
	e.retireRuns(r, app)
	list, err := r.RunList(e.Ctx, app)
	if err != nil {
		return err
	}
	if format == "json" {
		type item struct {
			Name      string `json:"name"`
			State     string `json:"state"`
			Command   string `json:"command"`
			CreatedAt string `json:"created_at"`
		}
		items := make([]item, 0, len(list))
		for _, c := range list {
			items = append(items, item{Name: c.Name, State: c.State, Command: c.Command, CreatedAt: c.Created.String()})
		}
		e.Println(prettyJSON(items))
		return nil
	}
	e.Info2Quiet("%s run containers", app)
	// docker container ls --format 'table ...': tab-separated cells,
	// columns at least 20 wide with 3 spaces of padding.
	tw := tabwriter.NewWriter(e.Stdout, 20, 1, 3, ' ', 0)
	if !e.Flags.Quiet {
		fmt.Fprint(tw, "NAMES\tCOMMAND\tRUNNING FOR\n")
	}
	now := Now()
	for _, c := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, strconv.Quote(ellipsis(c.Command, 20)), humanDuration(now.Sub(c.Created))+" ago")
	}
	return tw.Flush()
}

// formatArg takes `--format stdout|json` (or `--format=...`) out of
// run:list's args; rest is everything else. run:list is a bash command in
// Dokku, with a loop of its own rather than pflag.
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
	if err := checkFormat(format); err != nil {
		return "", nil, err
	}
	return format, rest, nil
}

// prettyJSON is v as jq prints it: two-space indentation, HTML characters
// as they are.
func prettyJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

// ellipsis shortens s to max characters, the last one an ellipsis, as
// docker's tables do.
func ellipsis(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}

// humanDuration is a duration in words as docker's RUNNING FOR column
// shows it.
func humanDuration(d time.Duration) string {
	secs := int(d.Seconds())
	mins := int(d.Minutes())
	hours := int(d.Hours() + 0.5)
	switch {
	case secs < 1:
		return "Less than a second"
	case secs == 1:
		return "1 second"
	case secs < 60:
		return fmt.Sprintf("%d seconds", secs)
	case mins == 1:
		return "About a minute"
	case mins < 60:
		return fmt.Sprintf("%d minutes", mins)
	case hours == 1:
		return "About an hour"
	case hours < 48:
		return fmt.Sprintf("%d hours", hours)
	case hours < 24*7*2:
		return fmt.Sprintf("%d days", hours/24)
	case hours < 24*30*2:
		return fmt.Sprintf("%d weeks", hours/24/7)
	case hours < 24*365*2:
		return fmt.Sprintf("%d months", hours/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}

// k3sRunName is the name of a run Job on k3s (APP-run-<10 hex digits>) or
// of its pod (a 5-character suffix more), which run:detached prints.
var k3sRunName = regexp.MustCompile(`^(.+)-run-[0-9a-f]{10}(-[a-z0-9]{5})?$`)

// parseRunStopArgs reads `<app>` or `--container NAME`; a container name
// is APP.run.N (docker-local) or a k3s run Job's or pod's name, and gives
// the app.
func parseRunStopArgs(args []string) (app, name string, err error) {
	switch {
	case len(args) > 0 && args[0] == "--container":
		if len(args) > 1 {
			name = args[1]
		}
	case len(args) > 0 && strings.HasPrefix(args[0], "--container="):
		name = strings.TrimPrefix(args[0], "--container=")
	case len(args) > 0:
		app = args[0]
	}
	if app == "" && name == "" {
		return "", "", output.Userf("No container or app specified")
	}
	if name == "" {
		return app, "", nil
	}
	if m := k3sRunName.FindStringSubmatch(name); m != nil {
		return m[1], name, nil
	}
	parts := strings.Split(name, ".")
	if len(parts) < 3 || parts[0] == "" {
		return "", "", output.Userf("Invalid container name specified: %s", name)
	}
	if parts[len(parts)-2] != "run" {
		return "", "", output.Userf("Specified container must be a run container")
	}
	return strings.Join(parts[:len(parts)-2], "."), name, nil
}

func runStop(e *Call, args []string) error {
	app, name, err := parseRunStopArgs(args)
	if err != nil {
		return err
	}
	r, _, err := e.runner(app, "run:stop")
	if err != nil {
		return err
	}
	e.retireRuns(r, app)
	stopped, err := r.RunStop(e.Ctx, app, name)
	if errors.Is(err, schedulers.ErrNoSuchContainer) || errors.Is(err, schedulers.ErrNoRunContainers) {
		e.Warn("%s", err.Error())
		return nil
	}
	for _, n := range stopped {
		e.Println(n)
	}
	return err
}

// retireRuns stops app's run containers past their TTL before they are
// listed or stopped (what the server's timers missed while it was down).
func (e *Call) retireRuns(r schedulers.Runner, app string) {
	if err := r.RunRetire(e.Ctx, app); err != nil {
		e.Dispatcher.cfg.Logger.Warn("retire run containers", "app", app, "err", err)
	}
}

func runRetire(e *Call, args []string) error {
	app := firstArg(args)
	target := app
	if app == "" {
		target = store.Global
	} else if err := e.VerifyAppBash(app); err != nil {
		return err
	}
	s := e.scheduler(target)
	r, ok := s.(schedulers.Runner)
	if !ok {
		return nil // nothing of the app runs one-off containers
	}
	return r.RunRetire(e.Ctx, app)
}
