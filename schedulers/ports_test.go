package schedulers_test

import (
	"strings"
	"testing"
	"time"

	"dokku-sshd/certs"

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

// TestPortMapsWithCert: the detected map gains https on proxy-ssl-port for
// each http:80 map when the app has a certificate, or turns http into
// https when it has no http:80 map; the user's map wins over both, one map
// per scheme:host-port.
func TestPortMapsWithCert(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	get := func() string {
		t.Helper()
		m, err := schedulers.PortMaps(st, "app")
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(m, " ")
	}
	if got := get(); got != "http:80:5000" {
		t.Fatalf("default = %q", got)
	}
	crt, key, err := certs.SelfSigned([]string{"a.example.com"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := certs.Install(st, "app", crt, key); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "http:80:5000 https:443:5000" {
		t.Errorf("with a cert = %q", got)
	}
	if err := st.SetProperty("proxy", store.Global, "proxy-ssl-port", "8443"); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "http:80:5000 https:8443:5000" {
		t.Errorf("global proxy-ssl-port = %q", got)
	}
	if err := st.SetProperty("ports", "app", "map-detected", "http:3000:3000\nudp:53:53\n"); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "https:3000:3000 udp:53:53" {
		t.Errorf("no http:80 = %q", got)
	}
	if err := st.SetProperty("ports", "app", "map", "http:80:1\nhttp:80:2\n"); err != nil {
		t.Fatal(err)
	}
	if got := get(); got != "http:80:1" {
		t.Errorf("user map = %q", got)
	}
}
