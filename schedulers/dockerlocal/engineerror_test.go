package dockerlocal

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"dokku-sshd/output"
)

// An engine error can name host paths (a bind mount's source, the daemon's
// socket): the client's text has them cut, the server log has them whole,
// and it stays a message for the client (no "details in the server log"
// suffix from output.Reason, which would lose the cause's wording).
func TestEngineErrorCutsHostPaths(t *testing.T) {
	var logs bytes.Buffer
	s := &Scheduler{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	cause := errors.New("Error response from daemon: invalid mount config for type \"bind\": bind source path does not exist: /var/lib/dokku/data/storage/app")
	err := s.engineError("Unable to create the web.1 container", "app", cause)
	got := err.Error()
	if strings.Contains(got, "/var/lib") {
		t.Errorf("client text names a host path: %q", got)
	}
	if want := "Unable to create the web.1 container: Error response from daemon: invalid mount config for type \"bind\": bind source path does not exist: .../app"; got != want {
		t.Errorf("client text %q, want %q", got, want)
	}
	if !output.IsUserError(err) {
		t.Error("not a message for the client")
	}
	if !strings.Contains(logs.String(), "/var/lib/dokku/data/storage/app") {
		t.Errorf("server log lacks the whole error: %s", logs.String())
	}
}
