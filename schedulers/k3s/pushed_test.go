package k3s

import (
	"fmt"
	"testing"
)

// TestPushedRecord: the last pushedKeep images an app pushed are found by
// id; a push of an id again replaces its reference; apps are apart.
func TestPushedRecord(t *testing.T) {
	s := newTestScheduler(t)
	st := s.Store
	for i := range pushedKeep + 2 {
		if err := recordPushed(st, "app", fmt.Sprintf("sha256:%d", i), fmt.Sprintf("r/app@sha256:%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := recordPushed(st, "app", "sha256:6", "r/app@sha256:again"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ app, id, want string }{
		{"app", "sha256:0", ""}, // the oldest are forgotten
		{"app", "sha256:1", ""},
		{"app", "sha256:2", "r/app@sha256:2"},
		{"app", "sha256:5", "r/app@sha256:5"},
		{"app", "sha256:6", "r/app@sha256:again"},
		{"other", "sha256:5", ""},
	} {
		got, err := pushedRef(st, tt.app, tt.id)
		if err != nil || got != tt.want {
			t.Errorf("pushedRef(%s, %s) = %q, %v; want %q", tt.app, tt.id, got, err, tt.want)
		}
	}
}
