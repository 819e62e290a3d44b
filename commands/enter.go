package commands

import (
	"strings"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
)

func enterGroup() *Group {
	return &Group{
		Name:        "enter",
		Description: "Enter running app containers",
		Bash:        true,
		Commands: []*Command{
			{Name: "enter", Args: "<app> [<type>|<type>.<n>|--container-id <id>] [--] [<cmd>]",
				Help: "Connect to a running container of an app", RawArgs: true, Run: enter},
		},
	}
}

// enterArgs are enter's words: the app, what to enter, the command.
type enterArgs struct {
	app    string
	target string // type or dyno
	id     string // --container-id
	cmd    []string
}

func parseEnterArgs(args []string) (enterArgs, error) {
	var a enterArgs
	if len(args) == 0 {
		return a, nil
	}
	a.app, args = args[0], args[1:]
	switch {
	case len(args) == 0:
	case args[0] == "--container-id":
		if len(args) < 2 || args[1] == "" {
			return a, output.Userf("--container-id requires an argument")
		}
		a.id, args = args[1], args[2:]
	case strings.HasPrefix(args[0], "--container-id="):
		a.id, args = strings.TrimPrefix(args[0], "--container-id="), args[1:]
		if a.id == "" {
			return a, output.Userf("--container-id requires an argument")
		}
	case args[0] != "--":
		a.target, args = args[0], args[1:]
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	a.cmd = args
	return a, nil
}

func enter(e *Call, args []string) error {
	ea, err := parseEnterArgs(args)
	if err != nil {
		return err
	}
	s, err := e.processScheduler(ea.app)
	if err != nil {
		return err
	}
	en, ok := s.(schedulers.Enterer)
	if !ok {
		return output.Userf("The %s scheduler does not support enter", s.Name())
	}
	shell, err := e.Store.ComputedProperty("scheduler", ea.app, "shell", "")
	if err != nil {
		return err
	}
	o := &schedulers.EnterOptions{
		App: ea.app, Target: ea.target, ID: ea.id, Command: ea.cmd, Shell: shell,
		Stdio: schedulers.Stdio{Stdin: e.Stdin, Stdout: e.Stdout, Stderr: e.Stderr, Terminal: e.Terminal},
	}
	status, err := en.Enter(e.Ctx, o)
	if err != nil {
		return err
	}
	if status != 0 {
		return output.Exit(status)
	}
	return nil
}
