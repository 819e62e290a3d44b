package commands

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"dokku-sshd/deploy"
	"dokku-sshd/domains"
	"dokku-sshd/keys"
	"dokku-sshd/output"
	"dokku-sshd/schedulers"
	"dokku-sshd/schedulers/null"
	"dokku-sshd/store"
)

// TestDomains runs the domains commands in sequence through the dispatcher,
// with Dokku's output and exit codes, and checks the files where Dokku
// keeps them.
func TestDomains(t *testing.T) {
	d := configDispatcher(t)
	root := d.cfg.Store.Paths.RootDir
	usage := func(cmd string) string {
		return " !     Please specify a domain name. Usage: dokku " + cmd + " <app> <domain> [<domain> ...]\n"
	}
	runSteps(t, d, user, []cfgStep{
		{name: "add", argv: []string{"domains:add", "app1", "a.example.com", "*.b.example.com", "a.example.com"},
			stdout: "-----> Added a.example.com to app1\n-----> Added *.b.example.com to app1\n-----> Skipping: a.example.com already added to app1\n"},
		{name: "add no domain", argv: []string{"domains:add", "app1"}, stderr: usage("domains:add"), code: 1},
		{name: "add nothing", argv: []string{"domains:add"}, stderr: usage("domains:add"), code: 1},
		{name: "add missing app", argv: []string{"domains:add", "nope", "x.com"}, stderr: " !     App nope does not exist\n", code: 20},
		{name: "add invalid app", argv: []string{"domains:add", "Bad_App", "x.com"}, stderr: " !     App Bad_App does not exist\n", code: 20},
		{name: "add invalid domain", argv: []string{"domains:add", "app1", "ok.com", "bad_domain.com"}, stderr: " !     bad_domain.com is invalid. exiting...\n", code: 1},
		{name: "add trailing dot", argv: []string{"domains:add", "app1", "x.com."}, stderr: " !     x.com. is invalid. exiting...\n", code: 1},
		{name: "add unknown flag", argv: []string{"domains:add", "app1", "--wild", "x.com"}, code: 2,
			stderr: "Usage of domains:add:\nunknown flag: --wild\n"},
		{name: "nothing written on failure", argv: []string{"domains:report", "app1", "--domains-app-vhosts"}, stdout: "a.example.com *.b.example.com\n"},
		{name: "--app", argv: []string{"--app", "app1", "domains:remove", "a.example.com", "zzz.com"},
			stdout: "-----> Removed a.example.com from app1\n-----> Removed zzz.com from app1\n"},
		{name: "set", argv: []string{"domains:set", "app1", "x.com", "y.com"}, stdout: "-----> Set x.com y.com for app1\n"},
		{name: "report json", argv: []string{"domains:report", "app1", "--format", "json"},
			stdout: `{"app-enabled":"true","app-vhosts":"x.com y.com","global-enabled":"false","global-vhosts":""}` + "\n"},
		{name: "report bad flag", argv: []string{"domains:report", "app1", "--nope"}, code: 1,
			stderr: " !     Invalid flag passed, valid flags: --domains-app-enabled, --domains-app-vhosts, --domains-global-enabled, --domains-global-vhosts\n"},
		{name: "report missing app", argv: []string{"domains:report", "nope"}, stderr: " !     App nope does not exist\n", code: 20},
		{name: "report bad format", argv: []string{"domains:report", "app1", "--format", "xml"}, stderr: " !     Format must be \"stdout\" or \"json\": \"xml\"\n", code: 1},
		{name: "disable", argv: []string{"domains:disable", "app1"}, stdout: "-----> App virtual host support disabled\n"},
		{name: "disable again", argv: []string{"domains:disable", "app1"}, stdout: "-----> Domains (VHOST) support is already disabled for app (app1)\n"},
		{name: "disabled in config", argv: []string{"config:get", "app1", "NO_VHOST"}, stdout: "1\n"},
		{name: "disable missing app", argv: []string{"domains:disable", "nope"}, stderr: " !     App nope does not exist\n", code: 20},
		{name: "enable", argv: []string{"domains:enable", "app1"}},
		{name: "enable again", argv: []string{"domains:enable", "app1"}, stdout: "-----> Domains (VHOST) support is already enabled for app (app1)\n"},
		{name: "enabled in config", argv: []string{"config:get", "app1", "NO_VHOST"}, stdout: "0\n"},
		{name: "clear", argv: []string{"domains:clear", "app1"}, stdout: "-----> Cleared domains in app1\n"},
		{name: "clear no app", argv: []string{"domains:clear"}, stderr: " !     App  does not exist\n", code: 20},
		{name: "clear all", argv: []string{"domains:clear", "--all"}, stdout: "-----> Cleared domains in app1\n-----> Cleared domains in app2\n"},
		{name: "global add", argv: []string{"domains:add-global", "example.com", "10.0.0.1", "example.com"},
			stdout: "-----> Added example.com\n-----> Added 10.0.0.1\n-----> Skipping example.com: already added\n"},
		{name: "global add none", argv: []string{"domains:add-global"}, code: 1,
			stderr: " !     Please specify a domain name. Usage: dokku domains:add-global <domain> [<domain> ...]\n"},
		{name: "global add invalid", argv: []string{"domains:add-global", "a b"}, stderr: " !     a b is invalid. exiting...\n", code: 1},
		{name: "reset", argv: []string{"domains:reset", "app2"},
			stdout: "-----> Cleared domains in app2\n-----> Creating new app virtual host file...\n-----> Reset domains for app2\n"},
		{name: "reset default", argv: []string{"domains:report", "app2", "--domains-app-vhosts"}, stdout: "app2.example.com\n"},
		{name: "new app gets the default", argv: []string{"apps:create", "app3"},
			stdout: "-----> Creating app3...\n-----> Creating new app virtual host file...\n"},
		{name: "default of the new app", argv: []string{"domains:report", "app3", "--domains-app-vhosts"}, stdout: "app3.example.com\n"},
		{name: "clone gets its own", argv: []string{"apps:clone", "--skip-deploy", "app3", "app4"},
			stdout: "-----> Cloning app3 to app4\n-----> Creating app4...\n"},
		{name: "default of the clone", argv: []string{"domains:report", "app4", "--domains-app-vhosts"}, stdout: "app4.example.com\n"},
		{name: "rename follows", argv: []string{"apps:rename", "--skip-deploy", "app4", "app5"},
			stdout: "-----> Renaming app4 to app5\n-----> Creating app5...\n"},
		{name: "default of the renamed", argv: []string{"domains:report", "app5", "--domains-app-vhosts"}, stdout: "app5.example.com\n"},
		{name: "global remove", argv: []string{"domains:remove-global", "10.0.0.1"}, stdout: "-----> Removed 10.0.0.1\n"},
		{name: "global set", argv: []string{"domains:set-global", "one.org", "two.org"}, stdout: "-----> Set one.org two.org\n"},
		{name: "global clear quiet", argv: []string{"--quiet", "domains:clear-global"}},
		{name: "reset without global", argv: []string{"domains:reset", "--quiet", "app2"}, stdout: "-----> Cleared domains in app2\n"},
		{name: "reset disabled it", argv: []string{"domains:report", "app2", "--domains-app-enabled"}, stdout: "false\n"},
		{name: "add enables", argv: []string{"domains:add", "app2", "back.org"}, stdout: "-----> Added back.org to app2\n"},
		{name: "enabled again", argv: []string{"domains:report", "app2", "--domains-app-enabled"}, stdout: "true\n"},
	})
	for path, want := range map[string]string{
		filepath.Join(root, "VHOST"):         "",
		filepath.Join(root, "app2", "VHOST"): "back.org\n",
		filepath.Join(root, "app3", "VHOST"): "app3.example.com\n",
	} {
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", path, got, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "app1", "VHOST")); !os.IsNotExist(err) {
		t.Errorf("domains:clear left app1's VHOST file: %v", err)
	}
}

// TestDomainsGolden compares help and reports with testdata/domains-*.golden
// (go test -run TestDomainsGolden -update rewrites them).
func TestDomainsGolden(t *testing.T) {
	d := configDispatcher(t)
	steps := []struct {
		golden string
		argv   []string
	}{
		{"domains-help", []string{"domains:help"}},
		{"domains-help", []string{"domains"}},
		{"domains-report-empty", []string{"domains:report", "app1"}},
		{"", []string{"domains:set-global", "example.com", "10.0.0.1"}},
		{"", []string{"domains:set", "app1", "x.com", "*.y.com"}},
		{"domains-report", []string{"domains:report", "app1"}},
		{"domains-report-global", []string{"domains:report", "--global"}},
		{"domains-report-all", []string{"domains:report"}},
	}
	for _, s := range steps {
		r := run(d, user, false, "", s.argv...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("%q: %+v", s.argv, r)
		}
		if s.golden != "" {
			golden(t, s.golden, r.stdout)
		}
	}
}

// routingScheduler is the null scheduler that also routes domains
// (schedulers.DomainsUpdater): it prints what it would route, or fails.
type routingScheduler struct {
	null.Scheduler
	st   *store.Store
	fail bool
}

func (routingScheduler) Name() string { return "routing" }

func (r routingScheduler) DomainsUpdated(_ context.Context, app string, out io.Writer) error {
	if r.fail {
		return output.Userf("cluster gone")
	}
	list, err := domains.List(r.st, app)
	fmt.Fprintf(out, "routing %s: %q\n", app, list)
	return err
}

// TestDomainsUpdated: every change of an app's domains is passed on to a
// scheduler that routes them, after it is stored; other apps' schedulers
// and global changes are not told.
func TestDomainsUpdated(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	reg := schedulers.NewRegistry(null.Scheduler{}, routingScheduler{st: st})
	d := New(Config{Store: st, Keys: keys.Open(st.Paths.AuthorizedKeys, nil),
		Pipeline: &deploy.Pipeline{Store: st, Schedulers: reg}})
	for _, app := range []string{"routed", "plain"} {
		if err := st.CreateApp(app, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetProperty("scheduler", "routed", "selected", "routing"); err != nil {
		t.Fatal(err)
	}
	runSteps(t, d, user, []cfgStep{
		{name: "add", argv: []string{"domains:add", "routed", "a.com"}, stdout: "-----> Added a.com to routed\nrouting routed: [\"a.com\"]\n"},
		{name: "docker-local app", argv: []string{"domains:add", "plain", "a.com"}, stdout: "-----> Added a.com to plain\n"},
		{name: "set", argv: []string{"domains:set", "routed", "b.com", "c.com"}, stdout: "-----> Set b.com c.com for routed\nrouting routed: [\"b.com\" \"c.com\"]\n"},
		{name: "remove", argv: []string{"domains:remove", "routed", "b.com"}, stdout: "-----> Removed b.com from routed\nrouting routed: [\"c.com\"]\n"},
		{name: "disable", argv: []string{"domains:disable", "routed"}, stdout: "-----> App virtual host support disabled\nrouting routed: []\n"},
		{name: "enable", argv: []string{"domains:enable", "routed"}, stdout: "routing routed: []\n"},
		{name: "clear all", argv: []string{"domains:clear", "--all"}, stdout: "-----> Cleared domains in plain\n-----> Cleared domains in routed\nrouting routed: []\n"},
		{name: "global not passed on", argv: []string{"domains:set-global", "example.com"}, stdout: "-----> Set example.com\n"},
		{name: "reset", argv: []string{"domains:reset", "routed"},
			stdout: "-----> Cleared domains in routed\n-----> Creating new app virtual host file...\nrouting routed: [\"routed.example.com\"]\n-----> Reset domains for routed\n"},
	})
	reg.Register(routingScheduler{st: st, fail: true})
	runSteps(t, d, user, []cfgStep{
		{name: "failure", argv: []string{"domains:add", "routed", "d.com"}, stdout: "-----> Added d.com to routed\n",
			stderr: " !     Unable to route the domains of routed: cluster gone\n", code: 1},
		{name: "stored all the same", argv: []string{"domains:report", "routed", "--domains-app-vhosts"}, stdout: "routed.example.com d.com\n"},
	})
}

// unreachable is the null scheduler whose Destroy and Status fail, as
// k3s's do when its cluster cannot be reached.
type unreachable struct{ null.Scheduler }

func (unreachable) Name() string { return "unreachable" }

var errUnreachable = output.Userf("Unable to reach the Kubernetes API server at https://127.0.0.1:1 while listing the Deployments of app: connection refused")

func (unreachable) Destroy(context.Context, string) error { return errUnreachable }

func (unreachable) Status(context.Context, string) (int, string, error) { return 0, "", errUnreachable }

// TestSchedulerDestroyFails: a scheduler that cannot remove an app's
// processes leaves the app whole on apps:destroy and apps:rename (no
// half-made copy with the same domains), and says how to let it go;
// ps:report says why it has no processes to show.
func TestSchedulerDestroyFails(t *testing.T) {
	st, err := store.New(store.Paths{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	reg := schedulers.NewRegistry(null.Scheduler{}, unreachable{})
	d := New(Config{Store: st, Keys: keys.Open(st.Paths.AuthorizedKeys, nil),
		Pipeline: &deploy.Pipeline{Store: st, Schedulers: reg}})
	if err := st.CreateApp("gone", 1); err != nil {
		t.Fatal(err)
	}
	if err := st.SetProperty("scheduler", "gone", "selected", "unreachable"); err != nil {
		t.Fatal(err)
	}
	cause := " !     Unable to reach the Kubernetes API server at https://127.0.0.1:1 while listing the Deployments of app: connection refused\n"
	runSteps(t, d, user, []cfgStep{
		{name: "domains", argv: []string{"domains:add", "gone", "a.com"}, stdout: "-----> Added a.com to gone\n"},
		{name: "report", argv: []string{"ps:report", "gone", "--processes"}, stdout: "-1\n",
			stderr: " !     Unable to read the processes of gone: Unable to reach the Kubernetes API server at https://127.0.0.1:1 while listing the Deployments of app: connection refused\n"},
		{name: "rename", argv: []string{"apps:rename", "gone", "other"}, stdout: "-----> Renaming gone to other\n-----> Creating other...\n",
			stderr: cause + " !     The app gone is kept. To rename it all the same, leaving what the unreachable scheduler runs for it, select the null scheduler first: scheduler:set gone selected null\n", code: 1},
		{name: "no copy left", argv: []string{"apps:exists", "other"}, stderr: " !     App other does not exist\n", code: 20},
		{name: "destroy", argv: []string{"--force", "apps:destroy", "gone"}, stdout: "-----> Destroying gone (including all add-ons)\n",
			stderr: cause + " !     The app gone is kept. To destroy it all the same, leaving what the unreachable scheduler runs for it, select the null scheduler first: scheduler:set gone selected null\n", code: 1},
		{name: "kept", argv: []string{"domains:report", "gone", "--domains-app-vhosts"}, stdout: "a.com\n"},
		{name: "null", argv: []string{"scheduler:set", "gone", "selected", "null"}, stdout: "=====> Setting selected to null\n"},
		{name: "then it goes", argv: []string{"--force", "apps:destroy", "gone"}, stdout: "-----> Destroying gone (including all add-ons)\n"},
	})
}
