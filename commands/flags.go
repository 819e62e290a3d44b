package commands

// Flags as Dokku's Go plugins parse them: spf13/pflag for subcommands (flags
// anywhere on the line, `--` ends them) and Go's standard flag package for
// the bare `config` command (flags first). The parsers return their errors;
// the callers print them the way Dokku's ExitOnError flag sets do.

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"dokku-sshd/output"

	"github.com/spf13/pflag"
)

// flagKind is the type of a flag's value.
type flagKind int

const (
	boolFlag flagKind = iota
	stringFlag
	intFlag
)

// flagSpec declares one flag of a subcommand, as Dokku declares it: its
// name, shorthand letter (may be empty), usage text and default.
type flagSpec struct {
	name, short, usage string
	kind               flagKind
	def                string // a string flag's default
	defInt             int    // an int flag's default
}

// parsedFlags are a subcommand's flag values and its other arguments.
type parsedFlags struct {
	bools map[string]bool
	strs  map[string]string
	ints  map[string]int
	args  []string
}

// arg is the i-th argument that is not a flag, or "" (pflag's Arg).
func (p *parsedFlags) arg(i int) string {
	if i < len(p.args) {
		return p.args[i]
	}
	return ""
}

// parsePflag parses args with pflag as a subcommand named name declaring
// specs. Errors print pflag's usage and the error on stderr and exit 2;
// --help and -h (unless declared) print the usage and exit 0.
func (e *Call) parsePflag(name string, specs []flagSpec, args []string) (*parsedFlags, error) {
	return e.parsePflagUsage(name, nil, specs, args)
}

// parsePflagUsage is parsePflag with the usage a FlagSet's Usage replaces
// (Dokku's bare commands print their plugin's help); nil means pflag's.
func (e *Call) parsePflagUsage(name string, usage func(), specs []flagSpec, args []string) (*parsedFlags, error) {
	return e.parsePflagSet(name, usage, specs, args, true)
}

// parsePflagLeading is parsePflag for a subcommand whose flags come before
// its first argument (pflag's SetInterspersed(false)): what follows is
// passed on as it is, flags included (docker-options' option text).
func (e *Call) parsePflagLeading(name string, specs []flagSpec, args []string) (*parsedFlags, error) {
	return e.parsePflagSet(name, nil, specs, args, false)
}

func (e *Call) parsePflagSet(name string, usage func(), specs []flagSpec, args []string, interspersed bool) (*parsedFlags, error) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetInterspersed(interspersed)
	fs.SetOutput(e.Stderr)
	// pflag's default usage, callable from here for the error case too
	fs.Usage = func() { fmt.Fprintf(e.Stderr, "Usage of %s:\n%s", name, fs.FlagUsages()) }
	if usage != nil {
		fs.Usage = usage
	}
	bools, strs, ints := map[string]*bool{}, map[string]*string{}, map[string]*int{}
	for _, s := range specs {
		switch s.kind {
		case stringFlag:
			strs[s.name] = fs.StringP(s.name, s.short, s.def, s.usage)
		case intFlag:
			ints[s.name] = fs.IntP(s.name, s.short, s.defInt, s.usage)
		default:
			bools[s.name] = fs.BoolP(s.name, s.short, false, s.usage)
		}
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		return nil, output.Exit(0) // pflag printed the usage
	case err != nil:
		fs.Usage()
		_, _ = io.WriteString(e.Stderr, err.Error()+"\n")
		return nil, output.Exit(output.ExitUsage)
	}
	p := &parsedFlags{bools: map[string]bool{}, strs: map[string]string{}, ints: map[string]int{}, args: fs.Args()}
	for n, v := range bools {
		p.bools[n] = *v
	}
	for n, v := range strs {
		p.strs[n] = *v
	}
	for n, v := range ints {
		p.ints[n] = *v
	}
	return p, nil
}

// parseBareFlags parses the bare `config` command's flags with Go's flag
// package, as Dokku does: flags first, the first non-flag (or `--`) ends
// them. err is flag.ErrHelp for -h/--help.
func parseBareFlags(args []string) (flags map[string]bool, rest []string, err error) {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // the caller prints the error and Dokku's help
	fs.Usage = func() {}
	vals := map[string]*bool{}
	for _, n := range []string{"global", "shell", "export", "merged"} {
		vals[n] = fs.Bool(n, false, "")
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	flags = map[string]bool{}
	for n, v := range vals {
		flags[n] = *v
	}
	return flags, fs.Args(), nil
}

// formatFlag is the --format flag of Dokku's Go list commands.
var formatFlag = flagSpec{name: "format", kind: stringFlag, def: "stdout", usage: "format: [ stdout | json ]"}

// checkFormat refuses a --format other than stdout or json.
func checkFormat(format string) error {
	if format != "stdout" && format != "json" {
		return output.Userf("Invalid format specified, supported formats: json, stdout")
	}
	return nil
}
