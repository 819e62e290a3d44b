// Package commands is the Dokku-compatible command dispatcher: the SSH
// command tokenizer (xargs rules), global flags, help, the registry of
// command groups (registry.go), Dokku's output helpers, one :report/:set
// framework and one file per command group. A command is a plain function
// of (*Call, args), so it runs the same over SSH, locally and in tests;
// its error's exit code comes from output.ExitCode.
package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"dokku-sshd/deploy"
	"dokku-sshd/keys"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// IO is where a command reads and writes. With a TTY, Stdout and Stderr are
// the same stream.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	TTY    bool
	// Terminal is the client's terminal when it asked for one (ssh -t);
	// nil otherwise. Commands that relay a terminal (run, enter) use it.
	Terminal *Terminal
}

// Terminal is the client's pseudo-terminal as the SSH session describes it
// (TERM, size, window changes, the untranslated stream), in the form the
// schedulers relay it to a container's TTY.
type Terminal = schedulers.Terminal

// Flags are Dokku's global flags, recognised anywhere on the command line.
type Flags struct {
	Quiet bool     // --quiet
	Trace bool     // --trace
	Force bool     // --force
	App   string   // --app NAME
	Other []string // any other --flag[=value] seen before the command (DOKKU_GLOBAL_FLAGS)
}

// Call is one run of a command: its context, streams, caller and flags,
// and everything the command may use.
type Call struct {
	Ctx context.Context
	IO
	Identity keys.Identity
	Flags    Flags
	Store    *store.Store
	Keys     *keys.Store
	// Dispatcher is the dispatcher running the command (for help and
	// its configuration).
	Dispatcher *Dispatcher
}

// Now is the clock commands use (a variable so tests can pin it).
var Now = time.Now

// Command is one `plugin:subcommand`.
type Command struct {
	Name     string // e.g. "apps:create"
	Args     string // usage, e.g. "<app>"
	Help     string // one-line description
	RootOnly bool   // root (local) or admin keys only
	// RawArgs leaves global flags after the command word in args untouched
	// (for commands that pass the rest of the line on, like run).
	RawArgs bool
	Run     func(e *Call, args []string) error
}

// Group is one plugin's namespace, e.g. "apps".
type Group struct {
	Name        string
	Description string
	Commands    []*Command
	// Bare runs for the bare group name instead of help (`dokku apps` lists
	// apps); nil means help.
	Bare func(e *Call, args []string) error
	// Bash marks a plugin Dokku writes in bash: its help comes from
	// `column -t -s,`, which keeps the space after the comma.
	Bash bool
}

// Config configures a Dispatcher.
type Config struct {
	Store   *store.Store
	Keys    *keys.Store
	Version string
	// Fallback is the path of an installed `dokku` that unknown commands
	// are handed to; empty means unknown commands fail.
	Fallback string
	Logger   *slog.Logger
	// Pipeline deploys (and records builds); nil where deploys are not wired.
	Pipeline *deploy.Pipeline
	Observer Observer // nil: no metrics
	// ProxyRebuild rebuilds app's proxy configuration after its port map
	// or certificate changed (Dokku's post-proxy-ports-update and
	// post-certs-update triggers), writing its progress on out; nil: no
	// proxy to tell.
	ProxyRebuild func(ctx context.Context, app string, out io.Writer) error
}

// Dispatcher resolves and runs commands.
type Dispatcher struct {
	cfg    Config
	groups map[string]*Group
	cmds   map[string]*Command
}

// aliases maps Dokku's plugin aliases (the part before ':').
var aliases = map[string]string{
	"docker-local": "scheduler-docker-local",
	"dockerfile":   "builder-dockerfile",
	"herokuish":    "builder-herokuish",
	"k3s":          "scheduler-k3s",
	"lambda":       "builder-lambda",
	"nixpacks":     "builder-nixpacks",
	"pack":         "builder-pack",
	"rails":        "builder-railpack",
}

// New returns a dispatcher with every built-in command group registered.
func New(cfg Config) *Dispatcher {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{cfg: cfg, groups: map[string]*Group{}, cmds: map[string]*Command{}}
	for _, g := range builtinGroups() {
		d.Register(g)
	}
	return d
}

// Register adds a command group.
func (d *Dispatcher) Register(g *Group) {
	d.groups[g.Name] = g
	for _, c := range g.Commands {
		d.cmds[c.Name] = c
	}
}

// Version is the version string this dispatcher reports.
func (d *Dispatcher) Version() string { return d.cfg.Version }

// versionLine is what `version` prints (and `report` shows as the dokku
// version).
func (d *Dispatcher) versionLine() string { return "dokku-sshd version " + d.cfg.Version }

// RunSSH runs a raw SSH command line (SSH_ORIGINAL_COMMAND) and returns the
// exit status. An empty line prints help and exits 0, as Dokku does.
func (d *Dispatcher) RunSSH(ctx context.Context, io IO, id keys.Identity, raw string) (code int) {
	argv, err := Tokenize(raw)
	if d.cfg.Observer != nil {
		defer d.observe(argv, err, time.Now(), &code)
	}
	if err != nil {
		writeLines(io.Stderr, prefixWarn, err.Error())
		return 1
	}
	return d.Run(ctx, io, id, argv)
}

// Run runs argv (already tokenised) and returns the exit status.
func (d *Dispatcher) Run(ctx context.Context, sio IO, id keys.Identity, argv []string) (code int) {
	e := &Call{Ctx: ctx, IO: sio, Identity: id, Store: d.cfg.Store, Keys: d.cfg.Keys, Dispatcher: d}
	defer func() {
		if r := recover(); r != nil {
			d.cfg.Logger.Error("command panicked", "argv", argv, "panic", r, "stack", string(debug.Stack()))
			writeLines(sio.Stderr, prefixWarn, "internal error: "+output.CutPaths(fmt.Sprint(r))+output.DetailsInLog)
			code = 1
		}
	}()
	argv = parseGlobalFlags(&e.Flags, argv)
	err := d.run(e, argv)
	report(ctx, sio.Stderr, d.cfg.Logger, err, "argv", argv)
	return output.ExitCode(err)
}

// globalFlags are Dokku's global flags (its parse_args): what each sets,
// and whether a value word follows (--app; --app=NAME is read too).
var globalFlags = map[string]struct {
	takesValue bool
	set        func(f *Flags, value string)
}{
	"--quiet": {set: func(f *Flags, _ string) { f.Quiet = true }},
	"--trace": {set: func(f *Flags, _ string) { f.Trace = true }},
	"--force": {set: func(f *Flags, _ string) { f.Force = true }},
	"--app":   {takesValue: true, set: func(f *Flags, v string) { f.App = v }},
}

// isGlobalFlag reports whether w is one of Dokku's global flags (with a value
// word following for --app).
func isGlobalFlag(w string) (ok, takesValue bool) {
	if strings.HasPrefix(w, "--app=") {
		return true, false
	}
	g, ok := globalFlags[w]
	return ok, g.takesValue
}

// parseGlobalFlags records global flags anywhere on the line (Dokku's
// parse_args) and strips the leading ones; flags after the command word stay
// in argv and are removed by commandArgs unless the command takes raw args.
func parseGlobalFlags(f *Flags, argv []string) []string {
	for i := 0; i < len(argv); i++ {
		w := argv[i]
		if v, ok := strings.CutPrefix(w, "--app="); ok {
			f.App = v
			continue
		}
		g, ok := globalFlags[w]
		switch {
		case !ok:
		case !g.takesValue:
			g.set(f, "")
		case i+1 < len(argv):
			g.set(f, argv[i+1])
			i++
		}
	}
	return cutLeadingFlags(argv, func(w string) {
		if ok, _ := isGlobalFlag(w); !ok {
			f.Other = append(f.Other, w)
		}
	})
}

// cutLeadingFlags returns argv without the flags before the command word, as
// Dokku strips them (all but --version, so that `dokku --version` works).
// each, if not nil, is called with every flag word but --app's pair.
func cutLeadingFlags(argv []string, each func(flag string)) []string {
	for len(argv) > 0 && strings.HasPrefix(argv[0], "--") && argv[0] != "--version" {
		if argv[0] == "--app" && len(argv) > 1 {
			argv = argv[2:]
			continue
		}
		if each != nil {
			each(argv[0])
		}
		argv = argv[1:]
	}
	return argv
}

// Verb is the command word of a raw SSH command line, after Dokku's
// leading global flags: what the line would run. It is "" for an empty
// line, one of only flags, and one that does not tokenize.
func Verb(raw string) string {
	argv, err := Tokenize(raw)
	if err != nil {
		return ""
	}
	if argv = cutLeadingFlags(argv, nil); len(argv) == 0 {
		return ""
	}
	return argv[0]
}

// commandArgs removes global flags from a command's arguments.
func commandArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		ok, takesValue := isGlobalFlag(args[i])
		if !ok {
			out = append(out, args[i])
			continue
		}
		if takesValue {
			i++
		}
	}
	return out
}

// resolve applies the aliases to a command word and says what it names:
// g, a group whose page (or bare form) it asks for (the group's name or
// <group>:help), and c, the command of that name; nil for what it does
// not name. run and the metrics' commandLabel both resolve through it.
func (d *Dispatcher) resolve(word string) (name string, g *Group, c *Command) {
	name = word
	plugin, sub, hasSub := strings.Cut(word, ":")
	if a, ok := aliases[plugin]; ok {
		plugin, name = a, a
		if hasSub {
			name = a + ":" + sub
		}
	}
	if grp, ok := d.groups[plugin]; ok && (!hasSub || sub == "help") {
		g = grp
	}
	return name, g, d.cmds[name]
}

func (d *Dispatcher) run(e *Call, argv []string) error {
	if len(argv) == 0 {
		return d.help(e, false)
	}
	name, rest := argv[0], argv[1:]
	switch name {
	case "help":
		return d.help(e, contains(rest, "--all"))
	case "version", "-v", "--version":
		e.Println(d.versionLine())
		return nil
	}
	name, g, c := d.resolve(name)
	hasSub := strings.Contains(name, ":")
	if g != nil {
		if c != nil && !hasSub && c.RawArgs {
			// `run` and `enter` are commands named like their group:
			// what follows is a command line of the user's, global flags
			// included.
			return c.Run(e, d.withApp(e, rest))
		}
		if !hasSub && g.Bare != nil {
			return g.Bare(e, d.withApp(e, commandArgs(rest)))
		}
		return d.groupHelp(e, g)
	}
	if c == nil {
		return d.unknown(e, argv)
	}
	if !allowed(c, e.Identity) {
		return output.Userf("This command must be run as root")
	}
	args := rest
	if !c.RawArgs {
		args = commandArgs(rest)
	}
	args = d.withApp(e, args)
	e.Debug("running %s %q as %q (admin=%v, local=%v)", c.Name, args, e.Identity.Name, e.Identity.Admin, e.Identity.Local)
	return c.Run(e, args)
}

// allowed reports whether id may run c: root-only commands need the host's
// administrator or an admin key.
func allowed(c *Command, id keys.Identity) bool {
	return !c.RootOnly || id.Local || id.Admin
}

// Allowed reports whether id may run the command called name (a known
// one): the TUI offers only the actions a key may run.
func (d *Dispatcher) Allowed(id keys.Identity, name string) bool {
	c, ok := d.cmds[name]
	return ok && allowed(c, id)
}

// ReportCommands are the names of every plugin's :report command, sorted:
// the reports an app has.
func (d *Dispatcher) ReportCommands() []string {
	var out []string
	for name := range d.cmds {
		if strings.HasSuffix(name, ":report") && strings.Count(name, ":") == 1 {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// withApp prepends --app's value, unconditionally, as Dokku does for core
// plugins.
func (d *Dispatcher) withApp(e *Call, args []string) []string {
	if e.Flags.App == "" {
		return args
	}
	return append([]string{e.Flags.App}, args...)
}

func (d *Dispatcher) unknown(e *Call, argv []string) error {
	if d.cfg.Fallback != "" {
		return d.fallback(e, argv)
	}
	e.Warn("`%s` is not a dokku command.", strings.Join(argv, " "))
	e.Warn("See `dokku help` for a list of available commands.")
	return output.Exit(output.ExitFailure)
}

// fallback hands a command this server does not know to an installed dokku,
// with the identity in the environment sshcommand would have set.
func (d *Dispatcher) fallback(e *Call, argv []string) error {
	args := argv
	if e.Flags.App != "" {
		args = append([]string{"--app", e.Flags.App}, args...)
	}
	for _, f := range []struct {
		on   bool
		flag string
	}{{e.Flags.Quiet, "--quiet"}, {e.Flags.Trace, "--trace"}, {e.Flags.Force, "--force"}} {
		if f.on {
			args = append([]string{f.flag}, args...)
		}
	}
	cmd := exec.CommandContext(e.Ctx, d.cfg.Fallback, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.Stdin, e.Stdout, e.Stderr
	name := e.Identity.Name
	if name == "" {
		name = "default"
	}
	cmd.Env = append(os.Environ(), "NAME="+name, "SSH_NAME="+name, "FINGERPRINT="+e.Identity.Fingerprint, "SSH_USER=dokku")
	if e.TTY {
		cmd.Env = append(cmd.Env, "DOKKU_FORCE_TTY=true")
	} else {
		cmd.Env = append(cmd.Env, "DOKKU_DISABLE_TTY=true")
	}
	err := cmd.Run()
	var xe *exec.ExitError
	if errors.As(err, &xe) {
		return output.Exit(xe.ExitCode())
	}
	if err != nil {
		return fmt.Errorf("run %s: %w", d.cfg.Fallback, err)
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// sortedGroups returns the groups by name.
func (d *Dispatcher) sortedGroups() []*Group {
	gs := make([]*Group, 0, len(d.groups))
	for _, g := range d.groups {
		gs = append(gs, g)
	}
	sort.Slice(gs, func(i, j int) bool { return gs[i].Name < gs[j].Name })
	return gs
}
