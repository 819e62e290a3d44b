package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"dokku-sshd/deploy"
	"dokku-sshd/output"
)

func buildsGroup() *Group {
	return &Group{
		Name:        "builds",
		Description: "Manage running builds",
		Commands: []*Command{
			{Name: "builds:cancel", Args: "<app>", Help: "Cancel a running build for an app", Run: buildsCancel},
			{Name: "builds:list", Args: "[--format stdout|json] <app>", Help: "List the builds of an app", Run: buildsList},
			{Name: "builds:output", Args: "[--follow] <app> [<build-id>]", Help: "Show the output of a build (default: the latest); --follow: until it ends", Run: buildsOutput},
		},
	}
}

// appBuilds checks app and returns the build records.
func (e *Call) appBuilds(app string) (*deploy.Builds, error) {
	if err := e.VerifyApp(app); err != nil {
		return nil, err
	}
	if e.Dispatcher.cfg.Pipeline == nil || e.Dispatcher.cfg.Pipeline.Builds == nil {
		return nil, output.Userf("Builds are not recorded by this server")
	}
	return e.Dispatcher.cfg.Pipeline.Builds, nil
}

func buildsList(e *Call, args []string) error {
	p, err := e.parsePflag("builds:list", []flagSpec{formatFlag}, args)
	if err != nil {
		return err
	}
	format, app := p.strs["format"], p.arg(0)
	if err := checkFormat(format); err != nil {
		return err
	}
	b, err := e.appBuilds(app)
	if err != nil {
		return err
	}
	recs, err := b.List(app)
	if err != nil {
		return err
	}
	if format == "json" {
		if recs == nil {
			recs = []deploy.Record{}
		}
		data, err := json.Marshal(recs)
		if err != nil {
			return err
		}
		e.Println(string(data))
		return nil
	}
	e.Info2Quiet("%s builds", app)
	if len(recs) == 0 {
		e.Warn("No builds recorded for %s", app)
		return nil
	}
	rows := [][]string{{"BUILD ID", "STATUS", "KIND", "STARTED", "DURATION", "REV"}}
	if e.Flags.Quiet {
		rows = rows[:0]
	}
	for _, r := range recs {
		end := r.Finished
		if end.IsZero() {
			end = time.Now()
		}
		rows = append(rows, []string{r.ID, r.Status, r.Kind, r.Started.UTC().Format(time.RFC3339),
			end.Sub(r.Started).Round(100 * time.Millisecond).String(), shortRev(r.Rev)})
	}
	e.Print(table(rows))
	return nil
}

// table aligns columns with two spaces between them.
func table(rows [][]string) string {
	var widths []int
	for _, r := range rows {
		for i, c := range r {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len(c))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(c + strings.Repeat(" ", widths[i]-len(c)+2))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func buildsOutput(e *Call, args []string) error {
	p, err := e.parsePflag("builds:output", []flagSpec{
		{name: "follow", usage: "--follow: while the build runs, print its output as it is written, until it ends"},
	}, args)
	if err != nil {
		return err
	}
	app, id := p.arg(0), p.arg(1)
	b, err := e.appBuilds(app)
	if err != nil {
		return err
	}
	if id == "" || id == "latest" || id == "current" {
		recs, err := b.List(app)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return output.Userf("No builds recorded for %s", app)
		}
		id = recs[0].ID
	}
	show := b.Output
	if p.bools["follow"] {
		// The dashboard's build screen watches a push this way.
		show = func(app, id string, w io.Writer) error { return b.Follow(e.Ctx, app, id, w) }
	}
	if err := show(app, id, e.Stdout); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return output.Userf("No build %s for %s", id, app)
		}
		return fmt.Errorf("build output: %w", err)
	}
	return nil
}

func buildsCancel(e *Call, args []string) error {
	p, err := e.parsePflag("builds:cancel", nil, args)
	if err != nil {
		return err
	}
	app := p.arg(0)
	b, err := e.appBuilds(app)
	if err != nil {
		return err
	}
	rec, err := b.Cancel(app)
	if errors.Is(err, deploy.ErrNotDeploying) {
		e.Warn("App not currently deploying")
		return nil
	}
	if err != nil {
		return err
	}
	e.Info1("Canceling build %s of %s", rec.ID, app)
	return nil
}
