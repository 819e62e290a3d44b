package dockerlocal

import (
	"strings"
	"testing"

	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// settingsStore is a store whose app "app" has the given properties
// ("plugin/key" -> value); a key ending in "/x" makes its parent
// unreadable (a directory where the value should be).
func settingsStore(t *testing.T, props map[string]string) *store.Store {
	t.Helper()
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for pk, v := range props {
		plugin, key, _ := strings.Cut(pk, "/")
		if err := st.SetProperty(plugin, "app", key, v); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// TestInList: checks' disabled and skipped lists, comma-separated or
// _all_; an unreadable list is an error, not an empty one.
func TestInList(t *testing.T) {
	tests := []struct {
		name    string
		props   map[string]string
		want    bool
		wantErr bool
	}{
		{name: "not set"},
		{name: "listed", props: map[string]string{"checks/skipped": "worker, web"}, want: true},
		{name: "not listed", props: map[string]string{"checks/skipped": "worker"}},
		{name: "all", props: map[string]string{"checks/skipped": "_all_"}, want: true},
		{name: "unreadable", props: map[string]string{"checks/skipped/x": "y"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Scheduler{Store: settingsStore(t, tt.props)}
			got, err := s.inList("app", "skipped", "web")
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("= %v, %v; want %v (error: %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestInitProcess: init-process (app, then --global), else true, but false
// for a linuxserver.io image, which brings its own init.
func TestInitProcess(t *testing.T) {
	tests := []struct {
		name, vendor string
		props        map[string]string
		want         bool
		wantErr      bool
	}{
		{name: "default", want: true},
		{name: "linuxserver.io", vendor: "linuxserver.io"},
		{name: "set false", props: map[string]string{"scheduler-docker-local/init-process": "false"}},
		{name: "set true for linuxserver.io", vendor: "linuxserver.io", props: map[string]string{"scheduler-docker-local/init-process": "true"}, want: true},
		{name: "unreadable", props: map[string]string{"scheduler-docker-local/init-process/x": "y"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Scheduler{Store: settingsStore(t, tt.props)}
			got, err := s.initProcess("app", tt.vendor)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("= %v, %v; want %v (error: %v)", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

// TestStartCommand: dockerfile-start-cmd, else the Procfile line with its
// PORT, else none; an unreadable dockerfile-start-cmd is an error, not the
// Procfile's command.
func TestStartCommand(t *testing.T) {
	procfile := map[string]string{"web": "serve --port $PORT", "worker": "work $PORT"}
	tests := []struct {
		name, proc string
		props      map[string]string
		want       string
		wantErr    bool
	}{
		{name: "web from the Procfile", proc: "web", want: "serve --port 8080"},
		{name: "other types on the default port", proc: "worker", want: "work 5000"},
		{name: "dockerfile-start-cmd wins", proc: "web", props: map[string]string{"ps/dockerfile-start-cmd": "run it"}, want: "run it"},
		{name: "unreadable dockerfile-start-cmd", proc: "web", props: map[string]string{"ps/dockerfile-start-cmd/x": "y"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &deployment{
				s:    &Scheduler{Store: settingsStore(t, tt.props)},
				r:    &schedulers.Release{App: "app", Process: procfile},
				app:  "app",
				port: "8080",
			}
			words, err := d.startCommand(tt.proc)
			if got := strings.Join(words, " "); (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("= %q, %v; want %q (error: %v)", words, err, tt.want, tt.wantErr)
			}
		})
	}
}
