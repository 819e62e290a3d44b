package schedulers_test

import (
	"testing"

	"dokku-sshd/schedulers"
	"dokku-sshd/store"
)

// TestDefaultPortMap: http:<proxy-port>:5000 with proxy's computed
// proxy-port (app, then --global, else 80); an unreadable proxy-port is an
// error, not port 80.
func TestDefaultPortMap(t *testing.T) {
	tests := []struct {
		name        string
		app, global string // "": not set
		unreadable  bool   // the app's proxy-port cannot be read
		want        string
	}{
		{name: "default", want: "http:80:5000"},
		{name: "global", global: "8080", want: "http:8080:5000"},
		{name: "app over global", app: "81", global: "8080", want: "http:81:5000"},
		{name: "unreadable", global: "8080", unreadable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := store.New(store.Paths{DataDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			for who, v := range map[string]string{"app": tt.app, store.Global: tt.global} {
				if v != "" {
					if err := st.SetProperty("proxy", who, "proxy-port", v); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tt.unreadable {
				// A directory where the value should be.
				if err := st.SetProperty("proxy", "app", "proxy-port/x", "y"); err != nil {
					t.Fatal(err)
				}
			}
			got, err := schedulers.DefaultPortMap(st, "app")
			if tt.unreadable {
				if err == nil {
					t.Fatalf("= %q; want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
