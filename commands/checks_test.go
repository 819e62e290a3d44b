package commands

import "testing"

// TestChecks covers the checks commands that need no running app: the
// disabled/skipped lists (Dokku's rules: one list per type, "_all_",
// enable removing types), the report, set and their messages. checks:run
// against containers is tested end to end on Docker
// (integration/docker_checks_test.go).
func TestChecks(t *testing.T) {
	d := configDispatcher(t)
	prop := func(key string) string {
		t.Helper()
		v, err := d.cfg.Store.Property("checks", "app1", key)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	steps := []struct {
		name              string
		argv              []string
		stdout, stderr    string
		code              int
		golden            string // compare stdout with testdata/<golden>.golden instead
		disabled, skipped string // the properties after the step
		checkProps        bool
	}{
		{name: "report", argv: []string{"checks:report", "app1"}, golden: "checks-report"},
		{name: "report global", argv: []string{"checks:report", "--global"}, golden: "checks-report-global"},
		{name: "report json", argv: []string{"checks:report", "app1", "--format", "json"},
			stdout: `{"computed-wait-to-retire":"60","disabled-list":"none","global-wait-to-retire":"","skipped-list":"none","wait-to-retire":""}` + "\n"},
		{name: "help", argv: []string{"checks:help"}, golden: "checks-help"},

		{name: "disable all", argv: []string{"checks:disable", "app1"}, stdout: "-----> Disabling zero downtime for app (app1)\n", disabled: "_all_", checkProps: true},
		{name: "report disabled", argv: []string{"checks:report", "app1", "--checks-disabled-list"}, stdout: "_all_\n"},
		{name: "skip all", argv: []string{"checks:skip", "app1"}, stdout: "-----> Skipping zero downtime for app (app1)\n", skipped: "_all_", checkProps: true},
		{name: "disable types", argv: []string{"checks:disable", "app1", "web,worker"}, stdout: "-----> Disabling zero downtime for app's (app1) proctypes (web,worker)\n",
			disabled: "web,worker", skipped: "_all_", checkProps: true},
		{name: "disable again", argv: []string{"checks:disable", "app1", "worker,web"}, stdout: "-----> Disabling zero downtime for app's (app1) proctypes (worker,web)\n",
			disabled: "web,worker", skipped: "_all_", checkProps: true},
		{name: "skip a disabled type", argv: []string{"checks:skip", "app1", "web"}, stdout: "-----> Skipping zero downtime for app's (app1) proctypes (web)\n",
			disabled: "worker", skipped: "web", checkProps: true},
		{name: "enable one", argv: []string{"checks:enable", "app1", "worker"}, stdout: "-----> Enabling zero downtime for app's (app1) proctypes (worker)\n",
			skipped: "web", checkProps: true},
		{name: "skip lists", argv: []string{"checks:report", "app1", "--checks-skipped-list"}, stdout: "web\n"},
		{name: "enable all", argv: []string{"checks:enable", "app1"}, stdout: "-----> Enabling zero downtime for app's (app1)\n", checkProps: true},
		// Naming a type leaves a list of _all_ as it is (Dokku).
		{name: "disable all again", argv: []string{"checks:disable", "app1", "_all_"}, stdout: "-----> Disabling zero downtime for app (app1)\n", disabled: "_all_", checkProps: true},
		{name: "enable a type of _all_", argv: []string{"checks:enable", "app1", "web"}, stdout: "-----> Enabling zero downtime for app's (app1) proctypes (web)\n", disabled: "_all_", checkProps: true},
		{name: "enable all at last", argv: []string{"checks:enable", "app1"}, stdout: "-----> Enabling zero downtime for app's (app1)\n", checkProps: true},

		{name: "disable missing app", argv: []string{"checks:disable", "nosuch"}, stderr: " !     App nosuch does not exist\n", code: 20},
		{name: "disable no app", argv: []string{"checks:disable"}, stderr: " !     App  does not exist\n", code: 20},
		{name: "skip bad type", argv: []string{"checks:skip", "app1", "web;rm"}, stderr: " !     Invalid process type specified (app1.web;rm)\n", code: 1, checkProps: true},
		{name: "enable unknown flag", argv: []string{"checks:enable", "app1", "--all"}, stderr: " !     Invalid process type specified (app1.--all)\n", code: 1, checkProps: true},
		{name: "report missing app", argv: []string{"checks:report", "nosuch"}, stderr: " !     App nosuch does not exist\n", code: 20},
		{name: "report bad flag", argv: []string{"checks:report", "app1", "--checks-nope"}, code: 1,
			stderr: " !     Invalid flag passed, valid flags: --checks-computed-wait-to-retire, --checks-disabled-list, --checks-global-wait-to-retire, --checks-skipped-list, --checks-wait-to-retire\n"},

		{name: "set wait", argv: []string{"checks:set", "app1", "wait-to-retire", "5"}, stdout: "=====> Setting wait-to-retire to 5\n"},
		{name: "set global wait", argv: []string{"checks:set", "--global", "wait-to-retire", "30"}, stdout: "=====> Setting wait-to-retire to 30\n"},
		{name: "report wait", argv: []string{"checks:report", "app1"}, golden: "checks-report-set"},
		{name: "unset wait", argv: []string{"checks:set", "app1", "wait-to-retire"}, stdout: "=====> Unsetting wait-to-retire\n"},
		{name: "computed from global", argv: []string{"checks:report", "app1", "--checks-computed-wait-to-retire"}, stdout: "30\n"},
		{name: "set attempts", argv: []string{"checks:set", "app1", "attempts", "7"}, stdout: "=====> Setting attempts to 7\n"},
		{name: "set default-wait", argv: []string{"checks:set", "--global", "default-wait", "3"}, stdout: "=====> Setting default-wait to 3\n"},
		{name: "set default-wait on an app", argv: []string{"checks:set", "app1", "default-wait", "3"}, stderr: " !     Property can only be specified globally\n", code: 1},
		{name: "set bad wait", argv: []string{"checks:set", "app1", "wait-to-retire", "soon"}, stderr: " !     Invalid wait-to-retire specified, must be a non-negative integer\n", code: 1},
		{name: "set negative wait", argv: []string{"checks:set", "app1", "wait-to-retire", "-1"}, stderr: " !     Invalid wait-to-retire specified, must be a non-negative integer\n", code: 1},
		{name: "set zero attempts", argv: []string{"checks:set", "app1", "attempts", "0"}, stderr: " !     Invalid attempts specified, must be a positive integer\n", code: 1},
		{name: "set bad key", argv: []string{"checks:set", "app1", "disabled", "web"}, stderr: " !     Invalid key specified, valid keys include: attempts, default-wait, wait-to-retire\n", code: 1},
		{name: "set no key", argv: []string{"checks:set", "app1"}, stderr: " !     No key specified\n", code: 1},
		{name: "set missing app", argv: []string{"checks:set", "nosuch", "wait-to-retire", "1"}, stderr: " !     App nosuch does not exist\n", code: 20},

		{name: "run missing app", argv: []string{"checks:run", "nosuch"}, stderr: " !     App nosuch does not exist\n", code: 20},
		{name: "run bad type", argv: []string{"checks:run", "app1", "web/x"}, stderr: " !     Invalid process type specified (app1.web/x)\n", code: 1},
		{name: "run bad index", argv: []string{"checks:run", "app1", "web.0"}, stderr: " !     Invalid container index specified (app1.web.0)\n", code: 1},
		{name: "run without a scheduler", argv: []string{"checks:run", "app1"}, stderr: " !     The docker-local scheduler is not available on this server (available: none)\n", code: 1},
	}
	for _, s := range steps {
		r := run(d, local, false, "", s.argv...)
		if s.golden != "" {
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("%s: %+v", s.name, r)
			}
			golden(t, s.golden, r.stdout)
			continue
		}
		if r.stdout != s.stdout || r.stderr != s.stderr || r.code != s.code {
			t.Errorf("%s %q:\n got stdout=%q stderr=%q code=%d\nwant stdout=%q stderr=%q code=%d",
				s.name, s.argv, r.stdout, r.stderr, r.code, s.stdout, s.stderr, s.code)
		}
		if s.checkProps {
			if got := prop("disabled"); got != s.disabled {
				t.Errorf("%s: disabled = %q, want %q", s.name, got, s.disabled)
			}
			if got := prop("skipped"); got != s.skipped {
				t.Errorf("%s: skipped = %q, want %q", s.name, got, s.skipped)
			}
		}
	}
}
