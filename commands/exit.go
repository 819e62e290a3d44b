package commands

import (
	"context"
	"errors"
	"fmt"

	"dokku-sshd/output"
)

// ExitError is a failure the user sees: Msg is printed on stderr behind
// Dokku's ` !     ` prefix (unless Plain, or empty) and the command exits
// with Code.
type ExitError struct {
	Code  int
	Msg   string
	Plain bool // print Msg without a prefix (messages Dokku prints bare)
}

func (e *ExitError) Error() string { return e.Msg }

// UserMessage marks the text as the client's (output.Reason shows it as is).
func (*ExitError) UserMessage() {}

// Fail is the common failure: ` !     <msg>` on stderr, exit 1.
func Fail(format string, args ...any) error {
	return &ExitError{Code: 1, Msg: fmt.Sprintf(format, args...)}
}

// FailCode is Fail with another exit code.
func FailCode(code int, format string, args ...any) error {
	return &ExitError{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Exit ends a command with code and no further message (what has to be said
// was already printed).
func Exit(code int) error { return &ExitError{Code: code} }

// ExitCodeAppMissing is Dokku's exit code for "App <app> does not exist".
const ExitCodeAppMissing = 20

// AppDoesNotExist is Dokku's message and exit code for a missing app.
func AppDoesNotExist(app string) error {
	return FailCode(ExitCodeAppMissing, "App %s does not exist", app)
}

// exitCode maps an error to the process exit status.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return 1
}

// printed reports err on stderr now, as Run would at the end, and returns
// an error with the same exit code and nothing left to print: for commands
// that go on after one failure (ps:* --all) and must not lose the message.
func (e *Call) printed(err error) error {
	var ee *ExitError
	switch {
	case err == nil || errors.Is(err, context.Canceled):
		return err
	case errors.As(err, &ee):
		if ee.Msg == "" {
			return err
		}
		if ee.Plain {
			fmt.Fprintln(e.Stderr, ee.Msg)
		} else {
			writeLines(e.Stderr, prefixWarn, ee.Msg)
		}
	default:
		writeLines(e.Stderr, prefixWarn, output.Reason(e.Ctx, e.Dispatcher.cfg.Logger, err))
	}
	return Exit(exitCode(err))
}
