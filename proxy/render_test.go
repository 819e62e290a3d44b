package proxy

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"dokku-sshd/schedulers"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func defaults() map[string]string {
	m := map[string]string{}
	for _, s := range Settings {
		m[s.Name] = s.Default
	}
	return m
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file:\n%s", name, got)
	}
}

func TestRender(t *testing.T) {
	base := func() *App {
		return &App{
			Name: "app", Root: "/home/dokku", Domains: []string{"app.example.com", "www.example.com"},
			Ports:    []schedulers.PortMap{{Scheme: "http", Host: 80, Container: 5000}},
			Web:      []string{"172.17.0.2", "172.17.0.3"},
			Settings: defaults(), ProxyPort: 80, SSLPort: 443, Listen6: "::",
			AccessLog: "/var/log/nginx/app-access.log", ErrLog: "/var/log/nginx/app-error.log",
		}
	}
	cases := map[string]func(a *App){
		"render-default": func(a *App) {},
		"render-no-web":  func(a *App) { a.Web = nil },
		"render-settings": func(a *App) {
			a.Settings["client-max-body-size"] = "20m"
			a.Settings["proxy-read-timeout"] = "120s"
			a.Settings["x-forwarded-ssl"] = "on"
			a.Settings["proxy-keepalive"] = "16"
			a.Settings["access-log-format"] = "combined"
			a.Listen4, a.Listen6 = "127.0.0.1", ""
			a.Domains = nil
		},
		"render-two-ports": func(a *App) {
			a.Ports = append(a.Ports, schedulers.PortMap{Scheme: "http", Host: 8080, Container: 3000}, schedulers.PortMap{Scheme: "tcp", Host: 9000, Container: 9000})
		},
		"render-tls": func(a *App) {
			a.TLSCrt, a.TLSKey = "/home/dokku/app/tls/server.crt", "/home/dokku/app/tls/server.key"
			a.TLSDigest = "0123456789abcdef"
		},
	}
	for name, mod := range cases {
		t.Run(name, func(t *testing.T) {
			a := base()
			mod(a)
			golden(t, name, Render(a))
		})
	}
}

func TestDefaultServers(t *testing.T) {
	golden(t, "default-servers", DefaultServers("", "::", []int{80, 8080}, []int{443}))
	if got := DefaultServers("127.0.0.1", "", nil, nil); got != "" {
		t.Errorf("no ports: got %q, want nothing", got)
	}
}

func TestValidateValue(t *testing.T) {
	for _, v := range []string{"1m; include /etc/passwd", "a{", "x\ny", "a}", `"q"`} {
		if err := ValidateValue("client-max-body-size", v); err == nil {
			t.Errorf("%q: accepted", v)
		}
	}
	if err := ValidateValue("proxy-keepalive", "abc"); err == nil {
		t.Error("proxy-keepalive abc: accepted")
	}
	for _, v := range []string{"20m", "$remote_addr", "8 4k"} {
		if err := ValidateValue("proxy-buffers", v); err != nil {
			t.Errorf("%q: %v", v, err)
		}
	}
}
