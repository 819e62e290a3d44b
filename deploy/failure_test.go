package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"dokku-sshd/output"
)

// A deploy failure is a message for the client, matches ErrFailed and
// carries its reason, however it is wrapped.
func TestFailure(t *testing.T) {
	var out bytes.Buffer
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"failure", failure("App build failed: boom")},
		{"fail", fail(&out, "App build failed: %s", "boom")},
		{"wrapped", fmt.Errorf("restart: %w", failure("App build failed: boom"))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var f *Failure
			if !errors.Is(tt.err, ErrFailed) || !errors.As(tt.err, &f) || f.Reason != "App build failed: boom" {
				t.Errorf("%v: not a Failure matching ErrFailed", tt.err)
			}
			if !output.IsUserError(tt.err) || output.ExitCode(tt.err) != 1 {
				t.Errorf("%v: user error %v, exit %d", tt.err, output.IsUserError(tt.err), output.ExitCode(tt.err))
			}
		})
	}
	if out.String() != " !     App build failed: boom\n" {
		t.Errorf("fail printed %q", out.String())
	}
	if errors.Is(output.Userf("deploy failed"), ErrFailed) {
		t.Error("a message with ErrFailed's text matches it")
	}
}
