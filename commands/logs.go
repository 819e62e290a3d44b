package commands

import (
	"errors"
	"io"
	"strconv"

	"github.com/spf13/pflag"

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

// parseLogsArgs parses logs' flags with pflag, as Dokku does (anywhere on
// the line, -n5 / -n 5 / --num=5 / --num 5, grouped -tq, `--` ends flags);
// the first positional argument is the app. Flag syntax errors exit 2 with
// pflag's message, as Dokku's do; a bad number exits 1.
func parseLogsArgs(args []string) (logsArgs, error) {
	a := logsArgs{o: schedulers.LogOptions{Num: defaultLogLines}}
	fs := pflag.NewFlagSet("logs", pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // the error is reported as a failure; -h shows the group's help
	fs.BoolVarP(&a.help, "help", "h", false, "show help")
	fs.BoolVarP(&a.o.Follow, "tail", "t", false, "continually stream logs")
	fs.BoolVarP(&a.o.Quiet, "quiet", "q", false, "display raw logs without colors, time and names")
	num := fs.StringP("num", "n", "", "the number of lines to display")
	fs.StringVarP(&a.o.ProcessType, "ps", "p", "", "only display logs from the given process")
	if err := fs.Parse(args); err != nil {
		return a, FailCode(2, "%s", err.Error())
	}
	if fs.Changed("num") {
		n, err := strconv.Atoi(*num)
		if err != nil || n < 0 {
			return a, Fail("Invalid number of lines %q: -n/--num takes a non-negative integer", *num)
		}
		a.o.Num = n
	}
	a.app = firstArg(fs.Args())
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
