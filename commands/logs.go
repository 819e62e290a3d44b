package commands

import (
	"errors"

	"dokku-sshd/output"
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

// logsFlags are logs' flags as Dokku declares them.
var logsFlags = []flagSpec{
	{name: "help", short: "h", usage: "print help for the command"},
	{name: "num", short: "n", kind: intFlag, defInt: defaultLogLines, usage: "the number of lines to display"},
	{name: "ps", short: "p", kind: stringFlag, usage: "only display logs from the given process"},
	{name: "tail", short: "t", usage: "continually stream logs"},
	{name: "quiet", short: "q", usage: "display raw logs without colors, time and names"},
}

// parseLogsArgs parses logs' flags with pflag, as Dokku does (anywhere on
// the line, -n5 / -n 5 / --num=5 / --num 5, grouped -tq, `--` ends flags);
// the first positional argument is the app. A negative -n shows every
// line, as docker logs --tail does.
func (e *Call) parseLogsArgs(args []string) (logsArgs, error) {
	p, err := e.parsePflag("logs", logsFlags, args)
	if err != nil {
		return logsArgs{}, err
	}
	return logsArgs{app: p.arg(0), help: p.bools["help"], o: schedulers.LogOptions{
		ProcessType: p.strs["ps"], Follow: p.bools["tail"], Quiet: p.bools["quiet"], Num: p.ints["num"],
	}}, nil
}

// logsCmd is `dokku logs`: the app's process logs through its scheduler
// (scheduler-logs).
func logsCmd(e *Call, g *Group, args []string) error {
	a, err := e.parseLogsArgs(args)
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
		return output.Userf("App %s runs on the %s scheduler, which keeps no logs", a.app, sched.Name())
	}
	e.Debug("logs of %s: %+v", a.app, a.o)
	err = ls.Logs(e.Ctx, a.app, a.o, e.Stdout)
	// A scheduler that said it its own way (k3s: no pods matching the
	// labels) keeps its message.
	if errors.Is(err, schedulers.ErrNoProcess) && !output.IsUserError(err) {
		return output.Userf("No %s containers found for %s", a.o.ProcessType, a.app)
	}
	return err
}
