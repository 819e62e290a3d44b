package output

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
)

func TestCutPaths(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"open /var/lib/dokku/config/app/ENV: permission denied", "open .../ENV: permission denied"},
		{"mkdir /home/dokku/app/: not a directory", "mkdir .../app: not a directory"},
		{"fatal: '/home/dokku/app' does not appear to be a git repository", "fatal: '.../app' does not appear to be a git repository"},
		{`exec: "/usr/bin/git": stat /usr/bin/git: no such file`, `exec: ".../git": stat .../git: no such file`},
		{"rename /a/b.tmp /a/b: file exists", "rename .../b.tmp .../b: file exists"},
		{"Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?", "Cannot connect to the Docker daemon at unix:.../docker.sock. Is the docker daemon running?"},
		{`Get "http://%2Fvar%2Frun%2Fdocker.sock/v1.51/containers/json": EOF`, `Get "http://.../v1.51/containers/json": EOF`},
		{`Get "http://172.17.0.2:5000/health": timeout`, `Get "http://172.17.0.2:5000/health": timeout`},
		{"path=/srv/x and (/srv/y)", "path=.../x and (.../y)"},
		{"a/b and 1/2 stay; so does / alone", "a/b and 1/2 stay; so does / alone"},
		{"no paths at all", "no paths at all"},
		{"", ""},
	} {
		if got := CutPaths(tt.in); got != tt.want {
			t.Errorf("CutPaths(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestReason(t *testing.T) {
	_, statErr := os.Stat("/nonexistent-dir/x/ENV")
	for _, tt := range []struct {
		name   string
		err    error
		want   string
		logged bool
	}{
		{"user error as is, paths too", UserError(errors.New("Unable to read /tmp/key")), "Unable to read /tmp/key", false},
		{"wrapped user error", fmt.Errorf("context: %w", UserError(errors.New("No such app"))), "context: No such app", false},
		{"a message with another exit code", Exitf(ExitAppMissing, "App %s does not exist", "x"), "App x does not exist", false},
		{"unexpected: cause without the path", fmt.Errorf("read the config of x: %w", statErr),
			"read the config of x: stat .../ENV: no such file or directory" + DetailsInLog, true},
		{"unexpected with an empty text", errors.New(""), "internal error" + DetailsInLog, true},
		{"user error with an empty text is a bug, not a silence", UserError(errors.New("")), "internal error" + DetailsInLog, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			ctx := WithRemote(context.Background(), "127.0.0.1:5555")
			if got := Reason(ctx, log, tt.err, "app", "x"); got != tt.want {
				t.Errorf("Reason = %q, want %q", got, tt.want)
			}
			line := buf.String()
			if !tt.logged {
				if line != "" {
					t.Errorf("a user error was logged: %s", line)
				}
				return
			}
			for _, want := range []string{"unexpected error", "remote=127.0.0.1:5555", "app=x"} {
				if !strings.Contains(line, want) {
					t.Errorf("log line %q lacks %q", line, want)
				}
			}
			if statErr != nil && strings.Contains(tt.want, "ENV") && !strings.Contains(line, "/nonexistent-dir/x/ENV") {
				t.Errorf("the log lacks the full path: %s", line)
			}
		})
	}
	if Reason(context.Background(), nil, nil) != "" {
		t.Error("Reason(nil) is not empty")
	}
}
