package commands

import (
	"sort"
	"strings"
)

// columns aligns rows of two fields the way Dokku's help does: the first
// field padded to the widest, two spaces, then the second.
func columns(rows [][2]string) string {
	w := 0
	for _, r := range rows {
		w = max(w, len(r[0]))
	}
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(r[0])
		b.WriteString(strings.Repeat(" ", w-len(r[0])+2))
		b.WriteString(r[1])
		b.WriteByte('\n')
	}
	return b.String()
}

// help prints `dokku help` (docs/dokku-behaviour.md#help). Its header lines are
// "quiet" lines: hidden without a TTY and with --quiet, exactly like Dokku.
func (d *Dispatcher) help(e *Call, all bool) error {
	if e.TTY && !e.Flags.Quiet {
		e.Println("Usage: dokku [--quiet|--trace|--force] COMMAND <app> [command-specific-options]")
		e.Println("")
		e.Println(`Primary help options, type "dokku COMMAND:help" for more details, or dokku help --all to see all commands.`)
		e.Println("")
		e.Println("Commands:")
		e.Println("")
	}
	var rows [][2]string
	for _, g := range d.sortedGroups() {
		if !all {
			// `column -t -s,` keeps the space after the comma.
			rows = append(rows, [2]string{"    " + g.Name, " " + g.Description})
			continue
		}
		for _, c := range g.Commands {
			rows = append(rows, [2]string{"    " + usage(c), " " + c.Help})
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
	e.Print(columns(rows))
	return nil
}

func usage(c *Command) string {
	if c.Args == "" {
		return c.Name
	}
	return c.Name + " " + c.Args
}

// groupHelp prints `dokku <plugin>:help` (byte-identical to the bare plugin
// name): header, then the aligned command list.
func (d *Dispatcher) groupHelp(e *Call, g *Group) error {
	e.Println("Usage: dokku " + g.Name + "[:COMMAND]")
	e.Println("")
	e.Println(g.Description)
	e.Println("")
	e.Println("Additional commands:")
	sep := ""
	if g.Bash {
		sep = " "
	}
	var rows [][2]string
	for _, c := range g.Commands {
		rows = append(rows, [2]string{"    " + usage(c), sep + c.Help})
	}
	if g.Bash {
		// bash plugins pipe their help through sort; Go plugins keep the
		// order they declare.
		sort.Slice(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] })
	}
	e.Print(columns(rows))
	return nil
}
