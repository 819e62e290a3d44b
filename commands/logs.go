package commands

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"dokku-sshd/schedulers"
)

// defaultLogLines is Dokku's `logs --num` default.
const defaultLogLines = 100

func logsGroup() *Group {
	g := &Group{Name: "logs", Description: "Manage log integration for an app"}
	// `dokku logs <app>` shows logs, as Dokku's bare `logs` does.
	run := func(e *Call, args []string) error { return logsCmd(e, g, args) }
	g.Bare = run
	g.Commands = []*Command{
		{Name: "logs", Args: "[-h|--help] [-t|--tail] [-n|--num num] [-q|--quiet] [-p|--ps process] <app>", Help: "Display recent log output", Run: run},
	}
	return g
}

// logsArgs is a parsed `logs` command line.
type logsArgs struct {
	app  string
	help bool
	o    schedulers.LogOptions
}

// parseLogsArgs parses logs' flags the way pflag does (anywhere on the
// line, -n5 / -n 5 / --num=5 / --num 5, grouped -tq, `--` ends flags); the
// first positional argument is the app. Flag syntax errors exit 2, as
// pflag's do; a bad number exits 1.
func parseLogsArgs(args []string) (logsArgs, error) {
	a := logsArgs{o: schedulers.LogOptions{Num: defaultLogLines}}
	var pos []string
	num, numSet := "", false
	// set applies one flag by its long name; a flag taking a value gets
	// value, or the next word when it has none.
	set := func(i *int, name, value string, hasValue bool, shown string) error {
		switch name {
		case "help", "tail", "quiet":
			b := true
			if hasValue {
				var err error
				if b, err = strconv.ParseBool(value); err != nil {
					return FailCode(2, "invalid argument %q for %s flag", value, shown)
				}
			}
			switch name {
			case "help":
				a.help = b
			case "tail":
				a.o.Follow = b
			default:
				a.o.Quiet = b
			}
		case "num", "ps":
			if !hasValue {
				if *i+1 >= len(args) {
					return FailCode(2, "flag needs an argument: %s", shown)
				}
				*i++
				value = args[*i]
			}
			if name == "num" {
				num, numSet = value, true
			} else {
				a.o.ProcessType = value
			}
		default:
			return FailCode(2, "unknown flag: %s", shown)
		}
		return nil
	}
	short := map[byte]string{'h': "help", 't': "tail", 'q': "quiet", 'n': "num", 'p': "ps"}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			pos = append(pos, args[i+1:]...)
			i = len(args)
		case strings.HasPrefix(arg, "--"):
			name, value, hasValue := strings.Cut(arg[2:], "=")
			if err := set(&i, name, value, hasValue, "--"+name); err != nil {
				return a, err
			}
		case len(arg) > 1 && arg[0] == '-':
			// grouped shorthands; -n and -p take the rest of the word or
			// the next one
			for j := 1; j < len(arg); j++ {
				c := arg[j]
				name, ok := short[c]
				if !ok {
					return a, FailCode(2, "unknown shorthand flag: '%c' in %s", c, arg)
				}
				value := ""
				if name == "num" || name == "ps" {
					value, j = arg[j+1:], len(arg)
				}
				if err := set(&i, name, value, value != "", fmt.Sprintf("'%c' in -%c", c, c)); err != nil {
					return a, err
				}
			}
		default:
			pos = append(pos, arg)
		}
	}
	if numSet {
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 {
			return a, Fail("Invalid number of lines %q: -n/--num takes a non-negative integer", num)
		}
		a.o.Num = n
	}
	a.app = firstArg(pos)
	return a, nil
}

// logsCmd is `dokku logs`: the app's process logs through its scheduler
// (scheduler-logs).
func logsCmd(e *Call, g *Group, args []string) error {
	a, err := parseLogsArgs(args)
	if err != nil {
		return err
	}
	if a.help {
		return e.Dispatcher.groupHelp(e, g)
	}
	// The dispatcher takes --quiet for the global flag wherever it is;
	// after `logs` it is logs' own -q.
	a.o.Quiet = a.o.Quiet || e.Flags.Quiet
	if err := e.VerifyApp(a.app); err != nil {
		return err
	}
	sched, err := e.deployedScheduler(a.app)
	if err != nil {
		return err
	}
	ls, ok := sched.(schedulers.LogStreamer)
	if !ok {
		return Fail("App %s runs on the %s scheduler, which keeps no logs", a.app, sched.Name())
	}
	e.Debug("logs of %s: %+v", a.app, a.o)
	err = ls.Logs(e.Ctx, a.app, a.o, e.Stdout)
	if errors.Is(err, schedulers.ErrNoProcess) {
		return Fail("No %s containers found for %s", a.o.ProcessType, a.app)
	}
	return err
}
