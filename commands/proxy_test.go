package commands

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"dokku-sshd/internal/testenv"
	"dokku-sshd/proxy"
)

// TestNginxReport checks nginx:report for an app and --global (golden
// files), JSON, a single flag and nginx:help.
func TestNginxReport(t *testing.T) {
	d := configDispatcher(t)
	runSteps(t, d, local, []cfgStep{
		{name: "set global", argv: []string{"nginx:set", "--global", "client-max-body-size", "20m"}, stdout: "=====> Setting client-max-body-size to 20m\n"},
		{name: "set app", argv: []string{"nginx:set", "app1", "proxy-read-timeout", "120s"}, stdout: "=====> Setting proxy-read-timeout to 120s\n"},
		{name: "flag computed", argv: []string{"nginx:report", "app1", "--nginx-computed-client-max-body-size"}, stdout: "20m\n"},
		{name: "flag app", argv: []string{"nginx:report", "app1", "--nginx-proxy-read-timeout"}, stdout: "120s\n"},
		{name: "flag default", argv: []string{"nginx:report", "app2", "--nginx-computed-proxy-read-timeout"}, stdout: "60s\n"},
		{name: "unset", argv: []string{"nginx:set", "app1", "proxy-read-timeout"}, stdout: "=====> Unsetting proxy-read-timeout\n"},
		{name: "flag after unset", argv: []string{"nginx:report", "app1", "--nginx-computed-proxy-read-timeout"}, stdout: "60s\n"},
		{name: "set app again", argv: []string{"nginx:set", "app1", "x-forwarded-ssl", "on"}, stdout: "=====> Setting x-forwarded-ssl to on\n"},
	})
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"nginx-report", []string{"nginx:report", "app1"}},
		{"nginx-report-global", []string{"nginx:report", "--global"}},
		{"nginx-report-json", []string{"nginx:report", "app1", "--format", "json"}},
		{"nginx-help", []string{"nginx:help"}},
	} {
		r := run(d, local, false, "", c.argv...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%v: %+v", c.argv, r)
		}
		golden(t, c.name, r.stdout)
	}
}

func TestNginxSetErrors(t *testing.T) {
	d := configDispatcher(t)
	runSteps(t, d, local, []cfgStep{
		{name: "missing app", argv: []string{"nginx:set", "nope", "client-max-body-size", "1m"}, code: 20, stderr: " !     App nope does not exist\n"},
		{name: "no key", argv: []string{"nginx:set", "app1"}, code: 1, stderr: " !     No key specified\n"},
		{name: "unknown key", argv: []string{"nginx:set", "app1", "hsts", "true"}, code: 1,
			stderr: " !     Invalid key specified, valid keys include: access-log-format, access-log-path, bind-address-ipv4, bind-address-ipv6, client-body-timeout, client-header-timeout, client-max-body-size, error-log-path, keepalive-timeout, lingering-timeout, proxy-buffer-size, proxy-buffering, proxy-buffers, proxy-busy-buffers-size, proxy-connect-timeout, proxy-keepalive, proxy-read-timeout, proxy-send-timeout, send-timeout, underscore-in-headers, x-forwarded-for-value, x-forwarded-port-value, x-forwarded-proto-value, x-forwarded-ssl\n"},
		{name: "keepalive not a number", argv: []string{"nginx:set", "app1", "proxy-keepalive", "many"}, code: 1, stderr: " !     Invalid value for proxy-keepalive: must be an integer\n"},
		{name: "directive injection", argv: []string{"nginx:set", "app1", "client-max-body-size", "1m; return 200"}, code: 1,
			stderr: " !     Invalid value for client-max-body-size: must not contain ; { } # quotes, backslashes or line breaks\n"},
		{name: "show-config missing app", argv: []string{"nginx:show-config", "nope"}, code: 20, stderr: " !     App nope does not exist\n"},
		{name: "show-config without config", argv: []string{"nginx:show-config", "app1"}, code: 1, stderr: " !     No nginx.conf exists for app1\n"},
		{name: "access-logs missing app", argv: []string{"nginx:access-logs", "nope"}, code: 20, stderr: " !     App nope does not exist\n"},
		{name: "access-logs bad flag", argv: []string{"nginx:access-logs", "app1", "-x"}, code: 1, stderr: " !     Invalid flag -x: nginx:access-logs takes <app> [-t]\n"},
		{name: "validate without routing", argv: []string{"nginx:validate-config"}, code: 1, stderr: " !     HTTP routing is off on this server (no nginx, or --no-proxy)\n"},
	})
	conf := filepath.Join(d.cfg.Store.AppDir("app1"), "nginx.conf")
	if err := os.WriteFile(conf, []byte("server {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runSteps(t, d, local, []cfgStep{{name: "show-config", argv: []string{"nginx:show-config", "app1"}, stdout: "server {}\n"}})
	logs := filepath.Join(t.TempDir(), "access.log")
	if err := os.WriteFile(logs, []byte("one\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	runSteps(t, d, local, []cfgStep{
		{name: "set log path", argv: []string{"nginx:set", "app1", "access-log-path", logs}, stdout: "=====> Setting access-log-path to " + logs + "\n"},
		{name: "access-logs", argv: []string{"nginx:access-logs", "app1"}, stdout: "one\ntwo\n"},
	})
}

func TestProxyCommands(t *testing.T) {
	d := configDispatcher(t)
	runSteps(t, d, local, []cfgStep{
		{name: "enable enabled", argv: []string{"proxy:enable", "app1"}, stdout: "-----> Proxy is already enabled for app\n"},
		{name: "disable", argv: []string{"proxy:disable", "app1"}, stdout: "-----> Disabling proxy for app\n"},
		{name: "disable disabled", argv: []string{"proxy:disable", "app1"}, stdout: "-----> Proxy is already disable for app\n"},
		{name: "report disabled", argv: []string{"proxy:report", "app1", "--proxy-enabled"}, stdout: "false\n"},
		{name: "enable", argv: []string{"proxy:enable", "app1"}, stdout: "-----> Enabling proxy for app\n"},
		{name: "enable all", argv: []string{"proxy:enable", "--all"}, stdout: "-----> Proxy is already enabled for app\n-----> Proxy is already enabled for app\n"},
		{name: "enable missing app", argv: []string{"proxy:enable", "nope"}, code: 20, stderr: " !     App nope does not exist\n"},
		{name: "enable no app", argv: []string{"proxy:enable"}, code: 1, stderr: " !     Please specify an app to run the command on\n"},
		{name: "set type", argv: []string{"proxy:set", "app1", "nginx"}, stdout: "=====> Setting type to nginx\n"},
		{name: "set other type", argv: []string{"proxy:set", "app1", "caddy"}, code: 1, stderr: " !     Invalid proxy type caddy: this server has the nginx proxy only\n"},
		{name: "set port map", argv: []string{"proxy:set", "app1", "http:80:5000"}, code: 1,
			stderr: " !     Detected potential port mapping instead of proxy type\n !     Consider using ports:set command or specifying a valid proxy\n"},
		{name: "set bad port", argv: []string{"proxy:set", "--global", "proxy-port", "http"}, code: 1, stderr: " !     Invalid proxy-port specified, must be a number from 1 to 65535\n"},
		{name: "set port", argv: []string{"proxy:set", "--global", "proxy-port", "8080"}, stdout: "=====> Setting proxy-port to 8080\n"},
		{name: "build-config without routing", argv: []string{"proxy:build-config", "app1"}, code: 1, stderr: " !     HTTP routing is off on this server (no nginx, or --no-proxy)\n"},
	})
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"proxy-report", []string{"proxy:report", "app1"}},
		{"proxy-report-json", []string{"proxy:report", "app1", "--format", "json"}},
		{"proxy-help", []string{"proxy:help"}},
	} {
		r := run(d, local, false, "", c.argv...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%v: %+v", c.argv, r)
		}
		golden(t, c.name, r.stdout)
	}
	r := run(d, local, false, "", "proxy:enable", "--bogus", "app1")
	if r.code == 0 {
		t.Errorf("proxy:enable --bogus: %+v, want a failure", r)
	}
}

// TestNginxValidateConfig runs nginx:validate-config and proxy:build-config
// with the real nginx binary (not running: nothing reloads).
func TestNginxValidateConfig(t *testing.T) {
	bin := proxy.FindNginx("")
	if bin == "" {
		testenv.SkipOrFail(t, "this test needs nginx (Debian: apt-get install -y nginx; scripts/test installs it)")
	}
	d := configDispatcher(t)
	st := d.cfg.Store
	r := &proxy.Router{Store: st, Nginx: &proxy.Nginx{Bin: bin, Prefix: filepath.Join(t.TempDir(), "nginx"), Root: st.Paths.RootDir, Listen: "127.0.0.1"}}
	r.Reroute = func(ctx context.Context, app string, out io.Writer) error {
		if app != "app1" { // not on docker-local
			return nil
		}
		return r.Route(ctx, app, []string{"172.17.0.5"}, out)
	}
	d.cfg.Proxy = r
	if err := st.SetProperty("ports", "--global", "map", "http:18080:5000"); err != nil {
		t.Fatal(err)
	}
	runSteps(t, d, local, []cfgStep{
		{name: "build-config", argv: []string{"proxy:build-config", "app1"}, stdout: "-----> Creating http nginx.conf\n       Reloading nginx\n"},
		{name: "build-config of an app not on docker-local", argv: []string{"proxy:build-config", "app2"}},
		{name: "valid", argv: []string{"nginx:validate-config", "app1"}},
		{name: "no config", argv: []string{"nginx:validate-config", "app2"}, stderr: " !     No nginx config found for app2\n"},
	})
	bad := "server {\n  bogus_directive on;\n}\n"
	if err := os.WriteFile(filepath.Join(st.AppDir("app2"), "nginx.conf"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	runSteps(t, d, local, []cfgStep{
		{name: "invalid", argv: []string{"nginx:validate-config"}, stdout: bad, stderr: " !     Failed to validate nginx config for app2. Contents below...\n"},
		{name: "clean", argv: []string{"nginx:validate-config", "app2", "--clean"}, stdout: bad,
			stderr: " !     Failed to validate nginx config for app2. Contents below...\n !     Removing invalid nginx file\n"},
	})
	if _, err := os.Stat(filepath.Join(st.AppDir("app2"), "nginx.conf")); !os.IsNotExist(err) {
		t.Errorf("--clean left the invalid config: %v", err)
	}
}
