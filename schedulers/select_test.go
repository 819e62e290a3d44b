package schedulers_test

import (
	"testing"

	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/null"
	"dokku-sshd/store"
)

// TestSelected: scheduler:set selected, app then --global, else
// docker-local.
func TestSelected(t *testing.T) {
	tests := []struct {
		name        string
		app, global string // "": not set
		want        string
	}{
		{name: "default", want: "docker-local"},
		{name: "global", global: "null", want: "null"},
		{name: "app over global", app: "k3s", global: "null", want: "k3s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := store.New(store.Paths{DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			for who, v := range map[string]string{"app": tt.app, store.Global: tt.global} {
				if v != "" {
					if err := st.SetProperty("scheduler", who, "selected", v); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got, err := schedulers.Selected(st, "app"); err != nil || got != tt.want {
				t.Fatalf("= %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	r := schedulers.NewRegistry(null.Scheduler{})
	tests := []struct {
		name    string
		wantErr string
	}{
		{name: "null"},
		{name: "docker-local", wantErr: "The docker-local scheduler is not available on this server (available: null)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := r.Get(tt.name)
			if tt.wantErr == "" {
				if err != nil || s == nil || s.Name() != tt.name {
					t.Fatalf("= %v, %v", s, err)
				}
				return
			}
			if s != nil || err == nil || err.Error() != tt.wantErr || !output.IsUserError(err) {
				t.Fatalf("= %v, %v; want the user message %q", s, err, tt.wantErr)
			}
		})
	}
}
