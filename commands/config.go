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
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// RestartApp restarts a deployed app after config:set, config:unset,
// config:clear or config:import changed its config (Dokku's
// release-and-deploy with "config-redeploy"). nil means there is nothing to
// restart with: no restart is attempted and nothing is printed.
var RestartApp func(e *Env, app string) error

func init() {
	groupConstructors = append(groupConstructors, configGroup)
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
	cfgExportFmt  = flagSpec{name: "format", str: true, def: "exports", usage: "--format: [ docker-args | docker-args-keys | exports | envfile | json | json-list | pack-keys | pretty | shell ] which format to export as)"}
	cfgImportFmt  = flagSpec{name: "format", str: true, def: "envfile", usage: "--format: [ envfile | json ] which format to export as)"}
)

func configGroup() *Group {
	g := &Group{Name: "config", Description: "Manage global and app-specific config vars"}
	bare := func(e *Env, args []string) error { return configBare(e, g, args) }
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
		return Fail("%s", msg)
	}
	return &ExitError{Code: 1, Msg: prefixWarn + msg, Plain: true}
}

// logInfo1 is common.LogInfo1: one `-----> ` prefix, whatever msg holds.
func (e *Env) logInfo1(quiet bool, msg string) {
	if !quiet || !e.Flags.Quiet {
		e.Print(prefixInfo1 + msg + "\n")
	}
}

// logWarn is common.LogWarn.
func (e *Env) logWarn(msg string) { _, _ = io.WriteString(e.Stderr, prefixWarn+msg+"\n") }

// ---- flags: spf13/pflag as Dokku's subcommands use it --------------------

type flagSpec struct {
	name, usage string
	str         bool   // a string flag (else bool)
	def         string // a string flag's default
}

type parsedFlags struct {
	bools map[string]bool
	strs  map[string]string
	args  []string
}

// pflagUsage is pflag's default usage for a flag set.
func pflagUsage(name string, specs []flagSpec) string {
	specs = append([]flagSpec(nil), specs...)
	sort.Slice(specs, func(i, j int) bool { return specs[i].name < specs[j].name })
	lefts := make([]string, len(specs))
	width := 0
	for i, s := range specs {
		lefts[i] = "      --" + s.name
		if s.str {
			lefts[i] += " string"
		}
		width = max(width, len(lefts[i])+1)
	}
	var b strings.Builder
	b.WriteString("Usage of " + name + ":\n")
	for i, s := range specs {
		usage := s.usage
		if s.str && s.def != "" {
			usage += fmt.Sprintf(" (default %q)", s.def)
		}
		b.WriteString(lefts[i] + " " + strings.Repeat(" ", width-len(lefts[i])) + " " + usage + "\n")
	}
	return b.String()
}

// parsePflag parses args as pflag with ExitOnError does: flags anywhere,
// `--` ends them. Errors print the usage and the error on stderr and exit 2;
// --help and -h print the usage and exit 0.
func (e *Env) parsePflag(name string, specs []flagSpec, args []string) (*parsedFlags, error) {
	p := &parsedFlags{bools: map[string]bool{}, strs: map[string]string{}}
	byName := map[string]flagSpec{}
	for _, s := range specs {
		byName[s.name] = s
		if s.str {
			p.strs[s.name] = s.def
		}
	}
	usage := func() { _, _ = io.WriteString(e.Stderr, pflagUsage(name, specs)) }
	fail := func(msg string) error {
		usage()
		_, _ = io.WriteString(e.Stderr, msg+"\n")
		return Exit(2)
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case len(a) < 2 || a[0] != '-':
			p.args = append(p.args, a)
		case a == "--":
			p.args = append(p.args, args[i+1:]...)
			return p, nil
		case a[1] == '-':
			fname := a[2:]
			if fname == "" || fname[0] == '-' || fname[0] == '=' {
				return nil, fail("bad flag syntax: " + a)
			}
			fname, value, hasValue := strings.Cut(fname, "=")
			spec, ok := byName[fname]
			if !ok {
				if fname == "help" {
					usage()
					return nil, Exit(0)
				}
				return nil, fail("unknown flag: --" + fname)
			}
			if spec.str {
				if !hasValue {
					if i+1 >= len(args) {
						return nil, fail("flag needs an argument: --" + fname)
					}
					i++
					value = args[i]
				}
				p.strs[fname] = value
				continue
			}
			if !hasValue {
				value = "true"
			}
			v, err := strconv.ParseBool(value)
			if err != nil {
				return nil, fail(fmt.Sprintf("invalid argument %q for %q flag: %v", value, "--"+fname, err))
			}
			p.bools[fname] = v
		default:
			if strings.HasPrefix(a[1:], "test.") {
				continue // pflag skips `go test` flags
			}
			if a[1] == 'h' {
				usage()
				return nil, Exit(0)
			}
			return nil, fail(fmt.Sprintf("unknown shorthand flag: %q in %s", rune(a[1]), a))
		}
	}
	return p, nil
}

// configArgs parses a subcommand's flags and takes the app (unless
// --global) from the first positional argument, checked as Dokku's
// getAppNameOrGlobal does. rest is what follows the app.
func (e *Env) configArgs(sub string, specs []flagSpec, args []string) (p *parsedFlags, app string, rest []string, err error) {
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
func (e *Env) configEnv(app string, merged bool) (map[string]string, error) {
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

// prettyEnv is Dokku's prettyPrintEnvEntries: columnize (github.com/ryanuber/
// columnize) over "KEY:\x00VALUE" lines sorted by key: every field trimmed of
// white space, columns padded to their widest field in runes and joined by
// two spaces, prefix in front of each line, no final newline.
func prettyEnv(prefix string, env map[string]string) string {
	keys := sortedEnvKeys(env)
	rows := make([][]string, len(keys))
	var widths []int
	for i, k := range keys {
		fields := strings.Split(k+":\x00"+env[k], "\x00")
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

// parseBareFlags parses `config`'s flags as Go's flag package does: flags
// first, the first non-flag (or `--`) ends them. errMsg is the flag
// package's message; help is -h/--help.
func parseBareFlags(args []string) (flags map[string]bool, rest []string, errMsg string, help bool) {
	flags = map[string]bool{"global": false, "shell": false, "export": false, "merged": false}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' {
			return flags, args[i:], "", false
		}
		name := a[1:]
		if a[1] == '-' {
			if len(a) == 2 {
				return flags, args[i+1:], "", false
			}
			name = a[2:]
		}
		if name == "" || name[0] == '-' || name[0] == '=' {
			return nil, nil, "bad flag syntax: " + a, false
		}
		value, hasValue := "", false
		if j := strings.IndexByte(name[1:], '='); j >= 0 {
			name, value, hasValue = name[:j+1], name[j+2:], true
		}
		if _, ok := flags[name]; !ok {
			if name == "help" || name == "h" {
				return nil, nil, "", true
			}
			return nil, nil, "flag provided but not defined: -" + name, false
		}
		v := true
		if hasValue {
			var err error
			if v, err = strconv.ParseBool(value); err != nil {
				return nil, nil, fmt.Sprintf("invalid boolean value %q for -%s: parse error", value, name), false
			}
		}
		flags[name] = v
	}
	return flags, nil, "", false
}

func configBare(e *Env, g *Group, args []string) error {
	help := func() error {
		if e.D == nil {
			return nil
		}
		return e.D.groupHelp(e, g)
	}
	flags, rest, errMsg, wantHelp := parseBareFlags(args)
	switch {
	case wantHelp:
		if err := help(); err != nil {
			return err
		}
		return Exit(0)
	case errMsg != "":
		// the flag package prints its message, then the usage (Dokku's help,
		// on stdout)
		_, _ = io.WriteString(e.Stderr, errMsg+"\n")
		_ = help()
		return Exit(2)
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

func showEnv(e *Env, title string, env map[string]string) {
	if !e.Flags.Quiet {
		e.Print(prefixInfo2 + title + " env vars\n")
	}
	e.Print(prettyEnv("", env) + "\n")
}

// ---- read subcommands -------------------------------------------------------

func configShow(e *Env, args []string) error {
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

func configKeys(e *Env, args []string) error {
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

func configGet(e *Env, args []string) error {
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
		return Exit(1) // Dokku says nothing either
	}
	v, ok := env[keys[0]]
	if !ok {
		return Exit(1)
	}
	if p.bools["quoted"] {
		v = singleQuote(v)
	}
	e.Print(v + "\n")
	return nil
}

func configExport(e *Env, args []string) error {
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

func configBundle(e *Env, args []string) error {
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

func configSet(e *Env, args []string) error {
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
func (e *Env) setConfig(app string, vars map[string]string, replace, restart, quiet bool) error {
	// Dokku loads the environment first: a broken file fails before the key
	// check and before anything is printed
	if _, err := e.Store.Env(app); err != nil {
		return configWriteError(err)
	}
	if err := store.CheckEnvKeys(sortedEnvKeys(vars)); err != nil {
		return goFail(err.Error())
	}
	if err := store.CheckEnvValues(vars); err != nil {
		return goFail(err.Error())
	}
	if len(vars) > 0 {
		// refuse before saying anything: a value the file cannot hold
		if _, err := store.MarshalEnvFile(vars); err != nil {
			return goFail(err.Error())
		}
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

func configUnset(e *Env, args []string) error {
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

func configClear(e *Env, args []string) error {
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

func configImport(e *Env, args []string) error {
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
func (e *Env) checkImportFile() error {
	if os.Geteuid() == 0 && !e.Identity.Local && !e.Identity.Admin {
		return goFail("Importing a file on the server is reserved to admin keys on this server; use - to read from stdin")
	}
	return nil
}

// restartAfterConfig is Dokku's shouldRestart + triggerRestart: an app (not
// --global) whose ps restore property is not false and that is deployed
// (the common/deployed property Dokku caches) is restarted through
// RestartApp. A failed restart is a warning; the command still succeeds.
func (e *Env) restartAfterConfig(app string, restart bool) {
	if !restart || app == store.Global || RestartApp == nil {
		return
	}
	if v, _ := e.Store.Property("ps", app, "restore"); v == "false" {
		return
	}
	if v, _ := e.Store.Property("common", app, "deployed"); v != "true" {
		return
	}
	e.logInfo1(false, "Restarting app "+app)
	if err := RestartApp(e, app); err != nil {
		e.logWarn("Failure while restarting app: " + output.Reason(e.Ctx, e.D.cfg.Logger, err, "app", app))
	}
}
