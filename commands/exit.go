package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"dokku-sshd/output"
)

// A command fails with an *output.Error: its message is printed on stderr
// behind Dokku's ` !     ` prefix (as is when Plain; nothing when empty) and
// the command exits with its Code (output.ExitCode).

// AppDoesNotExist is Dokku's message and exit code for a missing app.
func AppDoesNotExist(app string) error {
	return output.Exitf(output.ExitAppMissing, "App %s does not exist", app)
}

// report prints err on w as Dokku would: a message for the user as is
// (behind ` !     ` unless Plain), any other error as output.Reason tells it
// to a client (logged on log with attrs), and nothing for a cancelled
// command, whose client went away.
func report(ctx context.Context, w io.Writer, log *slog.Logger, err error, attrs ...any) {
	var ue *output.Error
	switch {
	case err == nil || errors.Is(err, context.Canceled):
	case errors.As(err, &ue):
		// The whole text: a wrapped message keeps its context.
		switch msg := err.Error(); {
		case msg == "":
		case ue.Plain:
			fmt.Fprintln(w, msg)
		default:
			writeLines(w, prefixWarn, msg)
		}
	default:
		writeLines(w, prefixWarn, output.Reason(ctx, log, err, attrs...))
	}
}

// printed reports err on stderr now, as Run would at the end, and returns
// an error with the same exit code and nothing left to print: for commands
// that go on after one failure (ps:* --all) and must not lose the message.
func (e *Call) printed(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	report(e.Ctx, e.Stderr, e.Dispatcher.cfg.Logger, err)
	return output.Exit(output.ExitCode(err))
}
