package commands

import (
	"encoding/json"
	"sort"
	"strings"

	"dokku-sshd/output"
	"dokku-sshd/store"
)

// ReportSpec describes one plugin's :report
// (docs/dokku-behaviour.md#report-layout). Field maps are keyed by flag name
// without the leading "--", e.g. "scheduler-selected".
type ReportSpec struct {
	Command    string // e.g. "scheduler:report", for the parser error
	Type       string // header word: "app", "scheduler", "git", ...
	FlagPrefix string // e.g. "scheduler": JSON keys are stripped of "<prefix>-"
	Legacy     bool   // JSON also carries the unstripped (legacy) keys
	BashApp    bool   // missing/invalid app gives the bash "App X does not exist" (20)
	App        func(e *Call, app string) (map[string]string, error)
	Global     func(e *Call) (map[string]string, error)
	// JSONLists adds keys whose values are lists to the JSON layout (an
	// app's, or store.Global's); nil: none.
	JSONLists func(e *Call, app string) (map[string][]string, error)
	// Masked fields show "*******" instead of a value in the stdout
	// layout; their own flag and JSON show the value (a secret's report).
	Masked []string
}

// reportMask is what the stdout layout shows for a masked value.
const reportMask = "*******"

// VerifyApp checks an app argument as Dokku's Go commands do: empty (1),
// invalid name (1), missing (20).
func (e *Call) VerifyApp(app string) error {
	switch {
	case app == "":
		return output.Userf("Please specify an app to run the command on")
	case !store.ValidAppName(app):
		return output.Userf(store.AppNameRules)
	case !e.Store.AppExists(app):
		return AppDoesNotExist(app)
	}
	return nil
}

// VerifyAppBash checks an app argument as Dokku's bash commands do: every
// failure is "App <app> does not exist" with exit 20.
func (e *Call) VerifyAppBash(app string) error {
	if app == "" || !e.Store.AppExists(app) {
		return AppDoesNotExist(app)
	}
	return nil
}

// reportKey turns a flag name into the report's key text:
// "scheduler-computed-selected" -> "Scheduler computed selected".
func reportKey(flag string) string {
	k := strings.NewReplacer("-", " ", ".", " ").Replace(flag)
	if k == "" {
		return k
	}
	return strings.ToUpper(k[:1]) + k[1:]
}

// FormatReport renders the stdout layout of
// docs/dokku-behaviour.md#report-layout.
func FormatReport(fields map[string]string) string {
	flags := sortedKeys(fields)
	width := 31
	for _, f := range flags {
		width = max(width, len(f)+2)
	}
	var b strings.Builder
	for _, f := range flags {
		key := reportKey(f) + ":"
		b.WriteString(prefixVerbose)
		b.WriteString(key)
		if pad := width - len(key); pad > 0 {
			b.WriteString(strings.Repeat(" ", pad))
		}
		b.WriteString(fields[f])
		b.WriteByte('\n')
	}
	return b.String()
}

// reportJSON renders the JSON layout of docs/dokku-behaviour.md#report-layout.
func reportJSON(spec ReportSpec, fields map[string]string) string {
	out := map[string]string{}
	prefix := spec.FlagPrefix + "-"
	for f, v := range fields {
		if spec.FlagPrefix != "" && strings.HasPrefix(f, prefix) {
			out[strings.TrimPrefix(f, prefix)] = v
			if spec.Legacy {
				out[f] = v
			}
			continue
		}
		out[f] = v
	}
	b, _ := json.Marshal(out) // map[string]string cannot fail
	return string(b)
}

// reportJSONWithLists is reportJSON with list-valued keys added.
func reportJSONWithLists(spec ReportSpec, fields map[string]string, lists map[string][]string) string {
	out := map[string]any{}
	if err := json.Unmarshal([]byte(reportJSON(spec, fields)), &out); err != nil {
		panic(err) // reportJSON's own output
	}
	for k, v := range lists {
		out[k] = v
	}
	b, _ := json.Marshal(out) // strings and lists of strings cannot fail
	return string(b)
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// RunReport implements
// `<plugin>:report [<app>|--global] [<flag>|--format json]`.
func (e *Call) RunReport(spec ReportSpec, args []string) error {
	var (
		app, format string
		global      bool
		infoFlags   []string
	)
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--format":
			if i+1 < len(args) {
				format = args[i+1]
				i++
			} else {
				format = ""
				return output.Userf(`Format must be "stdout" or "json": ""`)
			}
		case strings.HasPrefix(a, "--format="):
			format = strings.TrimPrefix(a, "--format=")
		case a == "--global":
			global = true
		case strings.HasPrefix(a, "--"):
			infoFlags = append(infoFlags, a)
		case app == "":
			app = a
		}
	}
	if format != "" && format != "stdout" && format != "json" {
		return output.Userf(`Format must be "stdout" or "json": "%s"`, format)
	}
	if len(infoFlags) > 1 {
		return output.Userf("%s command allows only a single flag", spec.Command)
	}
	if len(infoFlags) == 1 && format == "json" {
		return output.Userf("--format flag cannot be specified when specifying an info flag")
	}
	if global {
		return e.reportOne(spec, store.Global, format, infoFlags)
	}
	if app == "" {
		return e.forEveryApp(func(a string) error { return e.reportOne(spec, a, format, infoFlags) })
	}
	verify := e.VerifyApp
	if spec.BashApp {
		verify = e.VerifyAppBash
	}
	if err := verify(app); err != nil {
		return err
	}
	return e.reportOne(spec, app, format, infoFlags)
}

func (e *Call) reportOne(spec ReportSpec, app, format string, infoFlags []string) error {
	var (
		fields map[string]string
		err    error
	)
	if app == store.Global {
		fields, err = spec.Global(e)
	} else {
		fields, err = spec.App(e, app)
	}
	if err != nil {
		return err
	}
	if len(infoFlags) == 1 {
		v, ok := fields[strings.TrimPrefix(infoFlags[0], "--")]
		if !ok {
			valid := make([]string, 0, len(fields))
			for _, f := range sortedKeys(fields) {
				valid = append(valid, "--"+f)
			}
			return output.Userf("Invalid flag passed, valid flags: %s", strings.Join(valid, ", "))
		}
		e.Println(v)
		return nil
	}
	if format == "json" {
		if spec.JSONLists == nil {
			e.Println(reportJSON(spec, fields))
			return nil
		}
		lists, err := spec.JSONLists(e, app)
		if err != nil {
			return err
		}
		e.Println(reportJSONWithLists(spec, fields, lists))
		return nil
	}
	for _, f := range spec.Masked {
		if fields[f] != "" {
			fields[f] = reportMask
		}
	}
	e.Info2Quiet("%s %s information", app, spec.Type)
	e.Print(FormatReport(fields))
	return nil
}

// forEveryApp runs fn on every app in name order; with no app it prints
// Dokku's "You haven't deployed any applications yet" warning and succeeds.
func (e *Call) forEveryApp(fn func(app string) error) error {
	apps, err := e.Store.Apps()
	if err != nil {
		return err
	}
	if len(apps) == 0 {
		e.Warn("You haven't deployed any applications yet")
		return nil
	}
	for _, a := range apps {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}
