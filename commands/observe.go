package commands

import (
	"time"
)

// Observer is told of each command run over SSH, for metrics
// (metrics.Metrics implements it; Config.Observer nil: nobody is told, at
// no cost). name is a command or group this dispatcher knows, "help",
// "version", or "unknown" (anything else, also what is handed to
// --dokku-bin): never another word from the client, so that the set stays
// bounded.
type Observer interface {
	CommandDone(name string, code int, d time.Duration)
}

// observe reports a command to the observer; deferred by RunSSH.
func (d *Dispatcher) observe(argv []string, tokenizeErr error, start time.Time, code *int) {
	name := "unknown"
	if tokenizeErr == nil {
		name = d.commandLabel(argv)
	}
	d.cfg.Observer.CommandDone(name, *code, time.Since(start))
}

// commandLabel names argv's command the way run resolves it: leading
// global flags skipped, aliases applied; a known command by its name, a
// group's bare name or help by the group's name. It allocates nothing for
// an unaliased name.
func (d *Dispatcher) commandLabel(argv []string) string {
	argv = cutLeadingFlags(argv, nil)
	if len(argv) == 0 {
		return "help"
	}
	name := argv[0]
	switch name {
	case "help":
		return "help"
	case "version", "-v", "--version":
		return "version"
	}
	switch _, g, c := d.resolve(name); {
	case c != nil:
		return c.Name
	case g != nil:
		return g.Name
	}
	return "unknown"
}
