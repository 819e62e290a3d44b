package output

import (
	"errors"
	"fmt"
)

// Exit codes that mean something to Dokku's clients.
const (
	// ExitFailure is dokku_log_fail's status, and that of any unexpected
	// error.
	ExitFailure = 1
	// ExitUsage is the status of a flag Go's flag packages refuse (pflag's
	// and flag's ExitOnError), which Dokku's Go commands exit with.
	ExitUsage = 2
	// ExitAppMissing is Dokku's status for "App <app> does not exist".
	ExitAppMissing = 20
)

// Error is a failure the user sees: Msg, a sentence written for the client,
// and the exit status Code. It is the one type every package uses to say
// "this error is a message for the user"; Reason shows its text as is and
// ExitCode finds its Code, through any wrapping. Make one with Userf,
// Exitf, Exit or UserError.
type Error struct {
	// Msg is the client's text; "" when what had to be said was printed
	// already.
	Msg string
	// Code is the exit status.
	Code int
	// Plain asks for Msg as is on stderr, without WarnPrefix (the messages
	// Dokku prints bare, such as sshcommand's).
	Plain bool
	// cause is the error the message was made of, for errors.Is and
	// errors.As.
	cause error
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.cause }

// Userf is the common failure: a message for the client, formatted as
// fmt.Errorf does (%w keeps the wrapped error for errors.Is), and exit
// status 1.
func Userf(format string, args ...any) error {
	return UserError(fmt.Errorf(format, args...))
}

// Exitf is Userf with another exit status.
func Exitf(code int, format string, args ...any) error {
	return userError(fmt.Errorf(format, args...), code)
}

// Plainf is Userf printed as is, without WarnPrefix: the messages Dokku
// prints bare, such as sshcommand's.
func Plainf(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...), Code: ExitFailure, Plain: true}
}

// Exit ends with code and no message: what had to be said was printed.
func Exit(code int) error { return &Error{Code: code} }

// UserError marks err's text as a message for the client, with exit status
// 1; err stays in the chain. nil stays nil, and an error without text is
// left unmarked: an empty message is a bug, which Reason reports as such.
func UserError(err error) error { return userError(err, ExitFailure) }

func userError(err error, code int) error {
	if err == nil || err.Error() == "" {
		return err
	}
	return &Error{Msg: err.Error(), Code: code, cause: err}
}

// IsUserError reports whether err, or an error it wraps, is a message for
// the client.
func IsUserError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// ExitCode is the exit status for err: 0 for nil, the Code of the Error it
// is or wraps, and 1 for any other error.
func ExitCode(err error) int {
	var e *Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &e):
		return e.Code
	default:
		return ExitFailure
	}
}
