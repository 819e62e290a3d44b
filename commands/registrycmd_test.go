package commands

import (
	"os"
	"strings"
	"testing"

	"dokku-sshd/registry"
	"dokku-sshd/store"
)

// TestRegistryReport checks registry:report against Dokku's report for
// an app and --global (golden files), its JSON keys and single flags.
func TestRegistryReport(t *testing.T) {
	d := configDispatcher(t)
	runSteps(t, d, local, []cfgStep{
		{name: "set global server", argv: []string{"registry:set", "--global", "server", "registry.example.com"}, stdout: "=====> Setting server to registry.example.com\n"},
		{name: "set app server", argv: []string{"registry:set", "app1", "server", "127.0.0.1:5000/"}, stdout: "=====> Setting server to 127.0.0.1:5000/\n"},
		{name: "set push-on-release", argv: []string{"registry:set", "--global", "push-on-release", "true"}, stdout: "=====> Setting push-on-release to true\n"},
		{name: "set template", argv: []string{"registry:set", "--global", "image-repo-template", "acme/{{ .AppName }}"}, stdout: "=====> Setting image-repo-template to acme/{{ .AppName }}\n"},
		{name: "set image-repo", argv: []string{"registry:set", "app2", "image-repo", "other/repo"}, stdout: "=====> Setting image-repo to other/repo\n"},
		{name: "set extra tags", argv: []string{"registry:set", "app2", "push-extra-tags", "latest,stable"}, stdout: "=====> Setting push-extra-tags to latest,stable\n"},
		{name: "flag computed server", argv: []string{"registry:report", "app1", "--registry-computed-server"}, stdout: "127.0.0.1:5000/\n"},
		{name: "flag computed server of app2", argv: []string{"registry:report", "app2", "--registry-computed-server"}, stdout: "registry.example.com/\n"},
		{name: "flag computed repo", argv: []string{"registry:report", "app1", "--registry-computed-image-repo"}, stdout: "acme/app1\n"},
		{name: "flag computed repo of app2", argv: []string{"registry:report", "app2", "--registry-computed-image-repo"}, stdout: "other/repo\n"},
		{name: "flag not in the global report", argv: []string{"registry:report", "--global", "--registry-image-repo"}, code: 1,
			stderr: " !     Invalid flag passed, valid flags: --registry-computed-image-repo-template, --registry-computed-push-extra-tags, --registry-computed-push-on-release, --registry-computed-server, --registry-global-image-repo-template, --registry-global-push-extra-tags, --registry-global-push-on-release, --registry-global-server\n"},
	})
	if err := d.cfg.Store.SetProperty(registry.Plugin, "app1", registry.PropTagVersion, "3\n"); err != nil {
		t.Fatal(err)
	}
	r := run(d, local, false, "", "registry:report", "app1")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("registry:report app1: %+v", r)
	}
	golden(t, "registry-report", r.stdout)
	r = run(d, local, false, "", "registry:report", "--global")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("registry:report --global: %+v", r)
	}
	golden(t, "registry-report-global", r.stdout)
	r = run(d, local, false, "", "registry:report", "app2", "--format", "json")
	if r.code != 0 {
		t.Fatalf("registry:report --format json: %+v", r)
	}
	golden(t, "registry-report-json", r.stdout)
	r = run(d, local, false, "", "registry:help")
	golden(t, "registry-help", r.stdout)
}

func TestRegistrySetErrors(t *testing.T) {
	d := configDispatcher(t)
	runSteps(t, d, local, []cfgStep{
		{name: "no app", argv: []string{"registry:set"}, code: 1, stderr: " !     Please specify an app to run the command on\n"},
		{name: "missing app", argv: []string{"registry:set", "nope", "server", "x"}, code: 20, stderr: " !     App nope does not exist\n"},
		{name: "bad app name", argv: []string{"registry:set", "Bad_", "server", "x"}, code: 1, stderr: appRules},
		{name: "no property", argv: []string{"registry:set", "app1"}, code: 1, stderr: " !     No property specified\n"},
		{name: "unknown property", argv: []string{"registry:set", "app1", "tag-version", "4"}, code: 1,
			stderr: " !     Invalid property specified, valid properties include: image-repo, image-repo-template, push-extra-tags, push-on-release, server\n"},
		{name: "image-repo is per app", argv: []string{"registry:set", "--global", "image-repo", "x/y"}, code: 1, stderr: " !     Property cannot be specified globally\n"},
		{name: "push-on-release value", argv: []string{"registry:set", "app1", "push-on-release", "yes"}, code: 1,
			stderr: " !     Invalid push-on-release value specified, valid values include: true, false\n"},
		{name: "set", argv: []string{"registry:set", "app1", "push-on-release", "true"}, stdout: "=====> Setting push-on-release to true\n"},
		{name: "unset", argv: []string{"registry:set", "app1", "push-on-release"}, stdout: "=====> Unsetting push-on-release\n"},
		{name: "unset again", argv: []string{"registry:set", "app1", "push-on-release"}, stdout: "=====> Unsetting push-on-release\n"},
	})
	if v, set, _ := d.cfg.Store.LookupProperty(registry.Plugin, "app1", registry.PropPushOnRelease); set {
		t.Fatalf("push-on-release still set: %q", v)
	}
}

// TestRegistryLoginErrors checks registry:login's argument handling as
// Dokku's: every bad input fails before any registry is asked.
func TestRegistryLoginErrors(t *testing.T) {
	d := configDispatcher(t)
	noDocker := " !     Unable to run docker login: Docker is not available on this server\n"
	runSteps(t, d, local, []cfgStep{
		{name: "nothing", argv: []string{"registry:login"}, code: 1, stderr: " !     Missing server argument\n"},
		{name: "server only", argv: []string{"registry:login", "--global", "r.example.com"}, code: 1, stderr: " !     Missing username argument\n"},
		{name: "no password", argv: []string{"registry:login", "--global", "r.example.com", "u"}, code: 1, stderr: " !     Missing password argument\n"},
		{name: "empty stdin", argv: []string{"registry:login", "--global", "--password-stdin", "r.example.com", "u"}, stdin: "\n", code: 1, stderr: " !     Missing password argument\n"},
		{name: "two words are nothing", argv: []string{"registry:login", "r.example.com", "u"}, code: 1, stderr: " !     Missing server argument\n"},
		{name: "deprecated global", argv: []string{"registry:login", "r.example.com", "u", "p"}, code: 1,
			stderr: " !     Deprecated: please use --global flag for global registry login\n" + noDocker},
		{name: "missing app", argv: []string{"registry:login", "nope", "r.example.com", "u", "p"}, code: 20, stderr: " !     App nope does not exist\n"},
		{name: "missing app, stdin", argv: []string{"registry:login", "--password-stdin", "nope", "r.example.com", "u"}, stdin: "p\n", code: 20, stderr: " !     App nope does not exist\n"},
		{name: "bad server", argv: []string{"registry:login", "app1", "not a host", "u", "p"}, code: 1, stderr: " !     Invalid registry server specified: not a host\n"},
		{name: "no docker", argv: []string{"registry:login", "--global", "r.example.com", "u", "p"}, code: 1, stderr: noDocker},
		{name: "unknown flag", argv: []string{"registry:login", "--nope"}, code: 2,
			stderr: "Usage of registry:login:\n      --global           --global: login globally instead of per-app\n      --password-stdin   --password-stdin: read password from stdin\nunknown flag: --nope\n"},
	})
	if _, err := os.Stat(registry.GlobalConfigPath(d.cfg.Store)); err == nil {
		t.Fatal("a failed login wrote credentials")
	}
}

func TestRegistryLogout(t *testing.T) {
	d := configDispatcher(t)
	st := d.cfg.Store
	for _, app := range []string{store.Global, "app1"} {
		if err := registry.SaveLogin(st, app, "r.example.com", registry.Credential{Username: "u", Password: "p"}); err != nil {
			t.Fatal(err)
		}
	}
	runSteps(t, d, local, []cfgStep{
		{name: "no server", argv: []string{"registry:logout"}, code: 1, stderr: " !     Missing server argument\n"},
		{name: "app without logins", argv: []string{"registry:logout", "app2", "r.example.com"}, code: 1, stderr: " !     No registry credentials found for app app2\n"},
		{name: "missing app", argv: []string{"registry:logout", "nope", "r.example.com"}, code: 20, stderr: " !     App nope does not exist\n"},
		{name: "app", argv: []string{"registry:logout", "app1", "https://r.example.com/"}},
	})
	if _, ok, _ := registry.Lookup(st, "app1", "r.example.com"); !ok {
		t.Fatal("the global login should serve app1 after its own logout")
	}
	data, _ := os.ReadFile(registry.AppConfigPath(st, "app1"))
	if strings.Contains(string(data), "r.example.com") {
		t.Fatalf("app1's login kept: %s", data)
	}
	runSteps(t, d, local, []cfgStep{{name: "global", argv: []string{"registry:logout", "--global", "r.example.com"}}})
	if _, ok, _ := registry.Lookup(st, "app1", "r.example.com"); ok {
		t.Fatal("global login kept")
	}
}

// TestRegistryLoginFollowsApp: an app's login moves with it on
// apps:rename, is copied by apps:clone (as Dokku's registry plugin does)
// still readable by the server's user only, and goes on apps:destroy.
func TestRegistryLoginFollowsApp(t *testing.T) {
	d := configDispatcher(t)
	st := d.cfg.Store
	if err := registry.SaveLogin(st, "app1", "r.example.com", registry.Credential{Username: "u", Password: "p"}); err != nil {
		t.Fatal(err)
	}
	runSteps(t, d, local, []cfgStep{
		{name: "clone", argv: []string{"apps:clone", "--skip-deploy", "app1", "app3"}, stdout: "-----> Cloning app1 to app3\n-----> Creating app3...\n"},
		{name: "rename", argv: []string{"apps:rename", "--skip-deploy", "app1", "app4"}, stdout: "-----> Renaming app1 to app4\n-----> Creating app4...\n"},
	})
	for _, app := range []string{"app3", "app4"} {
		fi, err := os.Stat(registry.AppConfigPath(st, app))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s's login: %v, %v", app, fi, err)
		}
		if c, ok, _ := registry.Lookup(st, app, "r.example.com"); !ok || c.Username != "u" {
			t.Fatalf("%s's login = %+v, %v", app, c, ok)
		}
	}
	if _, err := os.Stat(registry.AppConfigPath(st, "app1")); err == nil {
		t.Fatal("app1's login left behind by the rename")
	}
	runSteps(t, d, local, []cfgStep{{name: "destroy", argv: []string{"apps:destroy", "app3", "--force"}, stdout: "-----> Destroying app3 (including all add-ons)\n"}})
	if _, err := os.Stat(registry.AppConfigPath(st, "app3")); err == nil {
		t.Fatal("app3's login left behind by apps:destroy")
	}
}
