package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"dokku-sshd/output"
)

// What a failed command prints on stderr, and the status it exits with.
func TestReportAndExitCode(t *testing.T) {
	missing := AppDoesNotExist("web")
	for _, tt := range []struct {
		name   string
		err    error
		stderr string
		code   int
		logged bool
	}{
		{"nil", nil, "", 0, false},
		{"Fail", output.Userf("Unknown flag %s", "--x"), " !     Unknown flag --x\n", 1, false},
		{"a missing app", missing, " !     App web does not exist\n", 20, false},
		{"wrapped, with its context", fmt.Errorf("ps:stop: %w", missing), " !     ps:stop: App web does not exist\n", 20, false},
		{"double-wrapped", fmt.Errorf("a: %w", fmt.Errorf("b: %w", missing)), " !     a: b: App web does not exist\n", 20, false},
		{"a message of two lines", output.Userf("one\ntwo"), " !     one\n !     two\n", 1, false},
		{"plain", output.Plainf("authorized_keys is empty for dokku"), "authorized_keys is empty for dokku\n", 1, false},
		{"exit without a message", output.Exit(3), "", 3, false},
		{"a cancelled command is silent", fmt.Errorf("deploy: %w", context.Canceled), "", 1, false},
		{"unexpected, paths cut", errors.New("open /srv/app/ENV: boom"), " !     open .../ENV: boom" + output.DetailsInLog + "\n", 1, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stderr, log bytes.Buffer
			report(context.Background(), &stderr, slog.New(slog.NewTextHandler(&log, nil)), tt.err)
			if stderr.String() != tt.stderr {
				t.Errorf("stderr %q, want %q", stderr.String(), tt.stderr)
			}
			if got := output.ExitCode(tt.err); got != tt.code {
				t.Errorf("exit code %d, want %d", got, tt.code)
			}
			if logged := strings.Contains(log.String(), "unexpected error"); logged != tt.logged {
				t.Errorf("logged = %v, want %v: %q", logged, tt.logged, log.String())
			}
		})
	}
}
