package commands

import (
	"context"
	"io"
	"strings"

	"dokku-sshd/keys"
)

// SetConfigFor records config vars for the deploy pipeline (GIT_REV during a
// push), as `config:set --no-restart` would, writing to out.
func (d *Dispatcher) SetConfigFor(ctx context.Context, app string, vars map[string]string, out io.Writer) error {
	e := &Env{Ctx: ctx, IO: IO{Stdin: strings.NewReader(""), Stdout: out, Stderr: out},
		Identity: keys.Identity{Name: "deploy", Local: true}, Store: d.cfg.Store, Keys: d.cfg.Keys, D: d}
	return e.SetConfig(app, vars, false)
}
