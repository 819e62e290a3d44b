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

	"github.com/spf13/pflag"
)

// flagSpec declares one flag of a subcommand.
type flagSpec struct {
	name, usage string
	str         bool   // a string flag (else bool)
	def         string // a string flag's default
}

// parsedFlags are a subcommand's flag values and its other arguments.
type parsedFlags struct {
	bools map[string]bool
	strs  map[string]string
	args  []string
}

// parsePflag parses args with pflag as a subcommand named name declaring
// specs. Errors print pflag's usage and the error on stderr and exit 2;
// --help and -h print the usage and exit 0.
func (e *Call) parsePflag(name string, specs []flagSpec, args []string) (*parsedFlags, error) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	// pflag's default usage, callable from here for the error case too
	fs.Usage = func() { fmt.Fprintf(e.Stderr, "Usage of %s:\n%s", name, fs.FlagUsages()) }
	bools, strs := map[string]*bool{}, map[string]*string{}
	for _, s := range specs {
		if s.str {
			strs[s.name] = fs.String(s.name, s.def, s.usage)
		} else {
			bools[s.name] = fs.Bool(s.name, false, s.usage)
		}
	}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		return nil, Exit(0) // pflag printed the usage
	case err != nil:
		fs.Usage()
		_, _ = io.WriteString(e.Stderr, err.Error()+"\n")
		return nil, Exit(2)
	}
	p := &parsedFlags{bools: map[string]bool{}, strs: map[string]string{}, args: fs.Args()}
	for n, v := range bools {
		p.bools[n] = *v
	}
	for n, v := range strs {
		p.strs[n] = *v
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
