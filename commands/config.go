package commands

// The config plugin, after Dokku's plugins/config (Go): src/commands/
// commands.go (help, bare `config`), src/subcommands/subcommands.go (flags),
// config.go, subcommands.go, functions.go and environment.go (messages,
// formats, restart). Where Dokku iterates a Go map (config:clear, the invalid
// key check, config:import's lines) its order is random; here it is sorted.

import (
	"archive/tar"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// RestartApp restarts a deployed app after config:set, config:unset,
// config:clear or config:import changed its config (Dokku's
// release-and-deploy with "config-redeploy"). nil means there is nothing to
// restart with: no restart is attempted and nothing is printed. Like
// ps:start, it releases the recorded release again, whether or not a
// process of the app runs.
var RestartApp = func(e *Call, app string) error {
	p, err := e.pipeline()
	if err != nil {
		return err
	}
	// Not deployError: the caller reports the failure again, and its
	// reason with it ("Failure while restarting app: <reason>").
	return p.ReleaseAndDeploy(e.Ctx, app, "config-redeploy", e.Stdout)
}

// flag usages exactly as Dokku's config subcommands declare them
var (
	cfgGlobal     = flagSpec{name: "global", usage: "--global: use the global environment"}
	cfgMerged     = flagSpec{name: "merged", usage: "--merged: merge app environment and global environment"}
	cfgShowMerged = flagSpec{name: "merged", usage: "--merged: display the app's environment merged with the global environment"}
	cfgNoRestart  = flagSpec{name: "no-restart", usage: "--no-restart: no restart"}
	cfgEncoded    = flagSpec{name: "encoded", usage: "--encoded: interpret VALUEs as base64"}
	cfgQuoted     = flagSpec{name: "quoted", usage: "--quoted: get the value quoted"}
	cfgReplace    = flagSpec{name: "replace", usage: "--replace: replace existing config vars"}
	cfgExportFmt  = flagSpec{name: "format", kind: stringFlag, def: "exports", usage: "--format: [ docker-args | docker-args-keys | exports | envfile | json | json-list | pack-keys | pretty | shell ] which format to export as)"}
	cfgImportFmt  = flagSpec{name: "format", kind: stringFlag, def: "envfile", usage: "--format: [ envfile | json ] which format to export as)"}
)

func configGroup() *Group {
	g := &Group{Name: "config", Description: "Manage global and app-specific config vars"}
	bare := func(e *Call, args []string) error { return configBare(e, g, args) }
	g.Bare = bare
	g.Commands = []*Command{
		{Name: "config", Args: "(<app>|--global)", Help: "Pretty-print an app or global environment", Run: bare},
		{Name: "config:bundle", Args: "[--merged] (<app>|--global)", Help: "Bundle environment into tarfile", Run: configBundle},
		{Name: "config:clear", Args: "[--no-restart] (<app>|--global)", Help: "Clears environment variables", Run: configClear},
		{Name: "config:export", Args: "[--format=FORMAT] [--merged] (<app>|--global)", Help: "Export a global or app environment", Run: configExport},
		{Name: "config:get", Args: "[--quoted] (<app>|--global) KEY", Help: "Display a global or app-specific config value", Run: configGet},
		{Name: "config:import", Args: "[--no-restart] [--replace] (<app>|--global) [FILE|-]", Help: "Import environment from file", Run: configImport},
		{Name: "config:keys", Args: "[--merged] (<app>|--global)", Help: "Show keys set in environment", Run: configKeys},
		{Name: "config:show", Args: "[--merged] (<app>|--global)", Help: "Show keys set in environment", Run: configShow},
		{Name: "config:set", Args: "[--encoded] [--no-restart] (<app>|--global) KEY1=VALUE1 [KEY2=VALUE2 ...]", Help: "Set one or more config vars", Run: configSet},
		{Name: "config:unset", Args: "[--no-restart] (<app>|--global) KEY1 [KEY2 ...]", Help: "Unset one or more config vars", Run: configUnset},
	}
	return g
}

// ---- output as Dokku's Go plugins write it -------------------------------

// goFail is common.LogFailWithError: ` !     <msg>` on stderr (the prefix on
// the first line only), exit 1.
func goFail(msg string) error {
	if !strings.Contains(msg, "\n") {
		return output.Userf("%s", msg)
	}
	return output.Plainf("%s", prefixWarn+msg)
}

// logInfo1 is common.LogInfo1: one `-----> ` prefix, whatever msg holds.
func (e *Call) logInfo1(quiet bool, msg string) {
	if !quiet || !e.Flags.Quiet {
		e.Print(prefixInfo1 + msg + "\n")
	}
}

// logWarn is common.LogWarn.
func (e *Call) logWarn(msg string) { _, _ = io.WriteString(e.Stderr, prefixWarn+msg+"\n") }

// configArgs parses a subcommand's flags and takes the app (unless
// --global) from the first positional argument, checked as Dokku's
// getAppNameOrGlobal does. rest is what follows the app.
func (e *Call) configArgs(sub string, specs []flagSpec, args []string) (p *parsedFlags, app string, rest []string, err error) {
	p, err = e.parsePflag("config:"+sub, append(specs, cfgGlobal), args)
	if err != nil {
		return nil, "", nil, err
	}
	rest = p.args
	if p.bools["global"] {
		return p, store.Global, rest, nil
	}
	if len(rest) > 0 {
		app, rest = rest[0], rest[1:]
	}
	if err := e.VerifyApp(app); err != nil {
		return nil, "", nil, err
	}
	return p, app, rest, nil
}

// configEnv loads the environment a read command shows.
func (e *Call) configEnv(app string, merged bool) (map[string]string, error) {
	var (
		env map[string]string
		err error
	)
	if merged && app != store.Global {
		env, err = e.Store.MergedEnv(app)
	} else {
		env, err = e.Store.Env(app)
	}
	if err != nil {
		return nil, configWriteError(err)
	}
	return env, nil
}

// ---- formats --------------------------------------------------------------

func sortedEnvKeys(env map[string]string) []string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// singleQuote quotes v for a POSIX shell: in single quotes, each quote in v
// closed, backslash-escaped and reopened.
func singleQuote(v string) string { return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'" }

func joinEnv(env map[string]string, each func(k, v string) string, sep string) string {
	keys := sortedEnvKeys(env)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = each(k, env[k])
	}
	return strings.Join(parts, sep)
}

// prettyEnv is Dokku's prettyPrintEnvEntries: columnize over "KEY:\x00VALUE"
// lines sorted by key.
func prettyEnv(prefix string, env map[string]string) string {
	keys := sortedEnvKeys(env)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = k + ":\x00" + env[k]
	}
	return columnize(lines, "\x00", prefix)
}

// columnize is github.com/ryanuber/columnize as Dokku's Go plugins use it:
// lines split on delim, every field trimmed of white space, columns padded
// to their widest field in runes and joined by two spaces, prefix in front
// of each line, no final newline.
func columnize(lines []string, delim, prefix string) string {
	rows := make([][]string, len(lines))
	var widths []int
	for i, l := range lines {
		fields := strings.Split(l, delim)
		for j := range fields {
			fields[j] = strings.TrimSpace(fields[j])
			w := len([]rune(fields[j]))
			if j >= len(widths) {
				widths = append(widths, w)
			} else {
				widths[j] = max(widths[j], w)
			}
		}
		rows[i] = fields
	}
	var b strings.Builder
	for _, fields := range rows {
		b.WriteString(prefix)
		for j, f := range fields {
			if j == len(fields)-1 {
				b.WriteString(f + "\n")
				break
			}
			fmt.Fprintf(&b, "%-*s  ", widths[j], f)
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// exportFormats are config:export's formats, each rendered as Dokku prints
// it (the final newline, or the shell format's final space, included).
var exportFormats = map[string]func(env map[string]string) string{
	"docker-args": func(env map[string]string) string {
		return joinEnv(env, func(k, v string) string { return "--env=" + k + "=" + singleQuote(v) }, " ") + "\n"
	},
	"docker-args-keys": func(env map[string]string) string {
		return joinEnv(env, func(k, _ string) string { return "--env=" + k }, " ") + "\n"
	},
	"envfile": func(env map[string]string) string { return store.DokkuEnvfile(env) + "\n" },
	"exports": func(env map[string]string) string {
		return joinEnv(env, func(k, v string) string { return "export " + k + "=" + singleQuote(v) }, "\n") + "\n"
	},
	"json": func(env map[string]string) string {
		b, _ := json.Marshal(env) // a map[string]string always marshals
		return string(b) + "\n"
	},
	"json-list": func(env map[string]string) string {
		var list []map[string]string // null when empty, as Dokku's
		for _, k := range sortedEnvKeys(env) {
			list = append(list, map[string]string{"name": k, "value": env[k]})
		}
		b, _ := json.Marshal(list)
		return string(b) + "\n"
	},
	"pack-keys": func(env map[string]string) string {
		return joinEnv(env, func(k, _ string) string { return "--env " + k }, " ") + "\n"
	},
	"pretty": func(env map[string]string) string { return prettyEnv("", env) + "\n" },
	"shell": func(env map[string]string) string {
		return joinEnv(env, func(k, v string) string { return k + "=" + singleQuote(v) }, " ") + " "
	},
}

// ---- bare `config` (Go's standard flag package, as in Dokku) ------------

func configBare(e *Call, g *Group, args []string) error {
	help := func() error {
		if e.Dispatcher == nil {
			return nil
		}
		return e.Dispatcher.groupHelp(e, g)
	}
	flags, rest, err := parseBareFlags(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		if err := help(); err != nil {
			return err
		}
		return output.Exit(0)
	case err != nil:
		// the flag package prints its message, then the usage (Dokku's help,
		// on stdout)
		_, _ = io.WriteString(e.Stderr, err.Error()+"\n")
		_ = help()
		return output.Exit(output.ExitUsage)
	}
	app := firstArg(rest)
	// With --global Dokku takes the first argument as the app all the same,
	// unchecked: `config --global foo` shows foo's (probably empty) env.
	target, title := app, app
	switch {
	case !flags["global"]:
		if err := e.VerifyApp(app); err != nil {
			return err
		}
	case app == "" || app == store.Global:
		target, title = store.Global, "global"
		if app != "" {
			title = app
		}
	case !store.ValidAppName(app):
		target = "" // not a name an app directory can have: nothing to read
	}
	env := map[string]string{}
	if target != "" {
		var err error
		if env, err = e.configEnv(target, flags["merged"]); err != nil {
			return err
		}
	}
	switch {
	case flags["shell"] && flags["export"]:
		return goFail("Only one of --shell and --export can be given")
	case flags["shell"]:
		e.logWarn("Deprecated: Use 'config:export --format shell' instead")
		e.Print(strings.TrimSuffix(exportFormats["shell"](env), " "))
	case flags["export"]:
		e.logWarn("Deprecated: Use 'config:export --format exports' instead")
		e.Print(exportFormats["exports"](env))
	default:
		showEnv(e, title, env)
	}
	return nil
}

func showEnv(e *Call, title string, env map[string]string) {
	if !e.Flags.Quiet {
		e.Print(prefixInfo2 + title + " env vars\n")
	}
	e.Print(prettyEnv("", env) + "\n")
}

// ---- read subcommands -------------------------------------------------------

func configShow(e *Call, args []string) error {
	p, app, _, err := e.configArgs("show", []flagSpec{cfgShowMerged}, args)
	if err != nil {
		return err
	}
	env, err := e.configEnv(app, p.bools["merged"])
	if err != nil {
		return err
	}
	title := app
	if app == store.Global {
		title = "global"
	}
	showEnv(e, title, env)
	return nil
}

func configKeys(e *Call, args []string) error {
	p, app, _, err := e.configArgs("keys", []flagSpec{cfgMerged}, args)
	if err != nil {
		return err
	}
	env, err := e.configEnv(app, p.bools["merged"])
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, k := range sortedEnvKeys(env) {
		b.WriteString(k + "\n")
	}
	e.Print(b.String())
	return nil
}

func configGet(e *Call, args []string) error {
	p, app, keys, err := e.configArgs("get", []flagSpec{cfgQuoted}, args)
	if err != nil {
		return err
	}
	switch {
	case len(keys) == 0:
		return goFail("Expected: key")
	case len(keys) != 1:
		return goFail(fmt.Sprintf("Unexpected argument(s): %v", keys[1:]))
	}
	env, err := e.Store.Env(app)
	if err != nil || !store.ValidEnvKey(keys[0]) {
		return output.Exit(output.ExitFailure) // Dokku says nothing either
	}
	v, ok := env[keys[0]]
	if !ok {
		return output.Exit(output.ExitFailure)
	}
	if p.bools["quoted"] {
		v = singleQuote(v)
	}
	e.Print(v + "\n")
	return nil
}

func configExport(e *Call, args []string) error {
	p, app, _, err := e.configArgs("export", []flagSpec{cfgMerged, cfgExportFmt}, args)
	if err != nil {
		return err
	}
	env, err := e.configEnv(app, p.bools["merged"])
	if err != nil {
		return err
	}
	format := p.strs["format"]
	render, ok := exportFormats[format]
	if !ok {
		return goFail("Unknown export format: " + format)
	}
	e.Print(render(env))
	return nil
}

func configBundle(e *Call, args []string) error {
	p, app, _, err := e.configArgs("bundle", []flagSpec{cfgMerged}, args)
	if err != nil {
		return err
	}
	env, err := e.configEnv(app, p.bools["merged"])
	if err != nil {
		return err
	}
	tw := tar.NewWriter(e.Stdout)
	for _, k := range sortedEnvKeys(env) {
		v := []byte(env[k])
		if err := tw.WriteHeader(&tar.Header{Name: k, Mode: 0o600, Size: int64(len(v))}); err != nil {
			return err
		}
		if _, err := tw.Write(v); err != nil {
			return err
		}
	}
	return tw.Close()
}

// ---- write subcommands --------------------------------------------------

func configSet(e *Call, args []string) error {
	p, app, pairs, err := e.configArgs("set", []flagSpec{cfgEncoded, cfgNoRestart}, args)
	if err != nil {
		return err
	}
	if len(pairs) == 0 {
		return goFail("At least one env pair must be given")
	}
	vars := map[string]string{}
	for _, pair := range pairs {
		k, v, ok := strings.Cut(pair, "=")
		if !ok {
			return goFail("Invalid env pair: " + pair)
		}
		if p.bools["encoded"] {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return goFail(fmt.Sprintf("%s for key '%s'", err, k))
			}
			v = string(b)
		}
		vars[k] = v
	}
	return e.setConfig(app, vars, false, !p.bools["no-restart"], e.Flags.Quiet)
}

// setConfig is Dokku's SetMany.
func (e *Call) setConfig(app string, vars map[string]string, replace, restart, quiet bool) error {
	// Dokku loads the environment first: a broken file fails before the key
	// check and before anything is printed
	if _, err := e.Store.Env(app); err != nil {
		return configWriteError(err)
	}
	// refuse before saying anything
	if err := store.CheckEnvVars(vars); err != nil {
		return goFail(err.Error())
	}
	if len(vars) > 0 {
		if !quiet {
			e.Print(prefixInfo1 + "Setting config vars\n" + prettyEnv(prefixVerbose, vars) + "\n")
		}
		err := e.Store.UpdateEnv(app, func(env map[string]string) (bool, error) {
			if replace {
				clear(env)
			}
			for k, v := range vars {
				env[k] = v
			}
			return true, nil
		})
		if err != nil {
			return configWriteError(err)
		}
	}
	e.restartAfterConfig(app, restart)
	return nil
}

// configWriteError turns the store's refusals into Dokku-style failures.
func configWriteError(err error) error {
	if store.IsRefusal(err) {
		return goFail(err.Error())
	}
	return err
}

func configUnset(e *Call, args []string) error {
	p, app, keys, err := e.configArgs("unset", []flagSpec{cfgNoRestart}, args)
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return goFail("At least one key must be given")
	}
	if _, err := e.Store.Env(app); err != nil {
		return configWriteError(err)
	}
	if err := store.CheckEnvKeys(keys); err != nil {
		return goFail(err.Error())
	}
	var msgs []string
	err = e.Store.UpdateEnv(app, func(env map[string]string) (bool, error) {
		changed := false
		for _, k := range keys {
			if _, ok := env[k]; ok {
				msgs = append(msgs, "Unsetting "+k)
				delete(env, k)
				changed = true
			} else {
				msgs = append(msgs, "Skipping "+k+", it is not set in the environment")
			}
		}
		return changed, nil
	})
	for _, m := range msgs {
		e.logInfo1(true, m)
	}
	if err != nil {
		return configWriteError(err)
	}
	e.restartAfterConfig(app, !p.bools["no-restart"])
	return nil
}

func configClear(e *Call, args []string) error {
	p, app, _, err := e.configArgs("clear", []flagSpec{cfgNoRestart}, args)
	if err != nil {
		return err
	}
	var msgs []string
	err = e.Store.UpdateEnv(app, func(env map[string]string) (bool, error) {
		for _, k := range sortedEnvKeys(env) {
			msgs = append(msgs, "Unsetting "+k)
		}
		changed := len(env) > 0
		clear(env)
		return changed, nil
	})
	for _, m := range msgs {
		e.logInfo1(true, m)
	}
	if err != nil {
		return configWriteError(err)
	}
	e.restartAfterConfig(app, !p.bools["no-restart"])
	return nil
}

// maxImport bounds what config:import reads from the SSH client (Dokku
// has no bound; a server shared by many keys needs one).
const maxImport = 16 << 20

func configImport(e *Call, args []string) error {
	p, app, rest, err := e.configArgs("import", []flagSpec{cfgNoRestart, cfgReplace, cfgImportFmt}, args)
	if err != nil {
		return err
	}
	filename := firstArg(rest)
	name := app // what Dokku calls the config in its messages
	if app == store.Global {
		name = ""
	}
	if filename == "-" {
		e.logInfo1(true, "Reading config vars from stdin")
	}
	format := p.strs["format"]
	if format == "" {
		format = "envfile"
	}
	var vars map[string]string
	switch format {
	case "envfile":
		vars = map[string]string{}
		var data []byte
		if filename == "-" {
			if data, err = io.ReadAll(io.LimitReader(e.Stdin, maxImport+1)); err != nil {
				return goFail(err.Error())
			}
			if len(data) > maxImport {
				return goFail(fmt.Sprintf("config:import reads at most %d bytes", maxImport))
			}
		} else if err := e.checkImportFile(); err != nil {
			return err
		} else if _, serr := os.Stat(filename); serr == nil {
			if data, err = os.ReadFile(filename); err != nil {
				return goFail(err.Error())
			}
		}
		if data != nil {
			if vars, err = store.ParseEnvFile(data); err != nil {
				return goFail(err.Error())
			}
		}
		for _, k := range sortedEnvKeys(vars) {
			if !store.ValidEnvKey(k) {
				e.logInfo1(false, fmt.Sprintf("Deleting invalid key %s from config for %s", k, name))
				delete(vars, k)
			}
		}
	case "json":
		var r io.Reader = io.LimitReader(e.Stdin, maxImport)
		if filename != "-" {
			if err := e.checkImportFile(); err != nil {
				return err
			}
			f, err := os.Open(filename)
			if err != nil {
				return goFail(err.Error())
			}
			defer f.Close()
			r = f
		}
		if err := json.NewDecoder(r).Decode(&vars); err != nil {
			return goFail(err.Error())
		}
	default:
		return goFail("Unknown format: " + format)
	}
	if len(vars) == 0 {
		return goFail("No config vars to set")
	}
	if err := store.CheckEnvValues(vars); err != nil {
		return goFail(err.Error()) // before any line says it is being set
	}
	for _, k := range sortedEnvKeys(vars) {
		e.logInfo1(true, fmt.Sprintf("Setting config var %s=%s", k, vars[k]))
	}
	return e.setConfig(app, vars, p.bools["replace"], !p.bools["no-restart"], e.Flags.Quiet)
}

// checkImportFile guards config:import FILE. Dokku reads the file as the
// dokku user; a server running as root must not let any SSH key read root's
// files into an app's config, so there only local and admin identities may.
func (e *Call) checkImportFile() error {
	if os.Geteuid() == 0 && !e.Identity.Local && !e.Identity.Admin {
		return goFail("Importing a file on the server is reserved to admin keys on this server; use - to read from stdin")
	}
	return nil
}

// restartAfterConfig is Dokku's shouldRestart + triggerRestart: an app (not
// --global) whose ps restore property is not false and that is deployed
// (the common/deployed property Dokku caches) is restarted through
// RestartApp. A failed restart is a warning; the command still succeeds.
// So is a restore or deployed property that cannot be read: the config is
// written, and the app is not restarted.
func (e *Call) restartAfterConfig(app string, restart bool) {
	if !restart || app == store.Global || RestartApp == nil {
		return
	}
	failed := func(err error) {
		e.logWarn("Failure while restarting app: " + output.Reason(e.Ctx, e.Dispatcher.cfg.Logger, err, "app", app))
	}
	if v, err := e.Store.Property("ps", app, "restore"); err != nil {
		failed(fmt.Errorf("read ps restore of %s: %w", app, err))
		return
	} else if v == "false" {
		return
	}
	if v, err := e.Store.Property("common", app, "deployed"); err != nil {
		failed(fmt.Errorf("read whether %s is deployed: %w", app, err))
		return
	} else if v != "true" {
		return
	}
	e.logInfo1(false, "Restarting app "+app)
	if err := RestartApp(e, app); err != nil {
		failed(err)
	}
}
