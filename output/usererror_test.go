package output

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestUserErrorAndExitCode(t *testing.T) {
	plain := errors.New("open /srv/x: boom")
	missing := Exitf(ExitAppMissing, "App %s does not exist", "web")
	for _, tt := range []struct {
		name string
		err  error
		text string // Error()
		user bool   // IsUserError
		code int    // ExitCode
	}{
		{"nil", nil, "", false, 0},
		{"plain error", plain, "open /srv/x: boom", false, 1},
		{"wrapped plain error", fmt.Errorf("read: %w", plain), "read: open /srv/x: boom", false, 1},
		{"Userf", Userf("No such app: %s", "web"), "No such app: web", true, 1},
		{"Exitf", missing, "App web does not exist", true, 20},
		{"wrapped Exitf", fmt.Errorf("ps:stop: %w", missing), "ps:stop: App web does not exist", true, 20},
		{"double-wrapped Exitf", fmt.Errorf("a: %w", fmt.Errorf("b: %w", missing)), "a: b: App web does not exist", true, 20},
		{"joined with a plain error", errors.Join(plain, missing), "open /srv/x: boom\nApp web does not exist", true, 20},
		{"Exit without a message", Exit(2), "", true, 2},
		{"Exit 0 is a success", Exit(0), "", true, 0},
		{"UserError", UserError(plain), "open /srv/x: boom", true, 1},
		{"UserError of nil", UserError(nil), "", false, 0},
		{"UserError of an empty text stays unmarked", UserError(errors.New("")), "", false, 1},
		{"Userf of an empty text stays unmarked", Userf(""), "", false, 1},
		{"plain message", &Error{Msg: "authorized_keys is empty", Code: 1, Plain: true}, "authorized_keys is empty", true, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.err != nil && tt.err.Error() != tt.text {
				t.Errorf("Error() = %q, want %q", tt.err.Error(), tt.text)
			}
			if got := IsUserError(tt.err); got != tt.user {
				t.Errorf("IsUserError = %v, want %v", got, tt.user)
			}
			if got := ExitCode(tt.err); got != tt.code {
				t.Errorf("ExitCode = %d, want %d", got, tt.code)
			}
		})
	}
}

type lineError struct{ line int }

func (e *lineError) Error() string { return fmt.Sprintf("line %d failed", e.line) }

// A message keeps what it was made of: callers still match it.
func TestUserErrorKeepsTheChain(t *testing.T) {
	sentinel := Userf("deploy failed")
	for _, tt := range []struct {
		name string
		err  error
		is   error
	}{
		{"Userf with %w", Userf("Unable to read the key: %w", fs.ErrNotExist), fs.ErrNotExist},
		{"Exitf with %w", Exitf(3, "stopped: %w", fs.ErrPermission), fs.ErrPermission},
		{"UserError", UserError(fmt.Errorf("x: %w", fs.ErrClosed)), fs.ErrClosed},
		{"a sentinel, wrapped", fmt.Errorf("push: %w", sentinel), sentinel},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", tt.err, tt.is)
			}
		})
	}
	var le *lineError
	if err := fmt.Errorf("validate: %w", UserError(&lineError{7})); !errors.As(err, &le) || le.line != 7 {
		t.Errorf("errors.As found %v in %v", le, err)
	}
	if errors.Is(Userf("deploy failed"), sentinel) {
		t.Error("two messages with the same text match each other")
	}
}
